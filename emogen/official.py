"""The authors' released EmoGen files, read safely and turned into safetensors + JSON.

    python -m emogen.official import EmoGen/ --out official/      # a clone of JingyuanYY/EmoGen
    python -m emogen.official mapper mapper.pth --official official/ --zoo paper.toml --out my-fit/

``import`` reads (nothing is downloaded; SRC is a local clone):
- ``emo_space/{emotion}_{mean,std}_v2.pt``: 16 float32 (768,) tensors → ``space.safetensors`` (``mean``, ``std``,
  [8, 768], rows in ``emobench.emotions.EMOTIONS`` order);
- ``weights/Clip_emotion_classifier/*.pth`` (``fc.weight`` 8×768, ``fc.bias``), the paper's Emo-A judge →
  ``emo_a/probe.safetensors`` + ``emo_a/probe.json`` (labels in the official ``label2idx`` order, which is
  ``EMOTIONS``): the paper zoo's Emo-A probe format, so ``[judges.emotion] path = "official/emo_a"`` works;
- ``dataset_balance/*.pkl`` → ``attributes.json`` (the 278-name bank), ``coefficients.json`` (the emotion
  confidences) and ``train_lists.json`` (the balanced ``*_norepeat`` lists as [emotion, image id, attribute]);
- ``official.json``: what was imported, with the sha256 of every source and output file.

``.pt`` / ``.pth`` are read with ``torch.load(weights_only=True)``; the pickles with :class:`SafeUnpickler`,
which admits only str, int, float, list, dict (and the tuples/bytes inside them) and numpy arrays: a pickle
that names any other callable is refused before anything runs.

``mapper`` converts a mapper trained with the official code (``mlp.{0,2}.*``; the FC ablation ``fc.*``) into an
emobench artifact folder that ``EmoGenMethod.load`` reads, with the official space. The official mapper itself
was never released (EmoGen#10, #17).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch

# the safe pickle reader and the norepeat-list parser live in the core (emobench.data.official_lists), which
# also reads the lists for `emobench zoo stats --official`; one reader, re-exported through the plugin surface
from emobench.api import EMOTIONS, SafeUnpickler, parse_train_list, read_real, safe_pickle  # noqa: F401
from emobench.errors import EmobenchError

FORMAT = "emogen-official-import"
SPACE, PROBE_DIR, ATTRIBUTES, COEFFICIENTS, TRAIN_LISTS, MANIFEST = (
    "space.safetensors", "emo_a", "attributes.json", "coefficients.json", "train_lists.json", "official.json")
CLASSIFIER_GLOB = "weights/Clip_emotion_classifier/*.pth"
KINDS = ("object", "scene")


def safe_torch(path: Path) -> Any:
    read_real(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:   # weights_only refuses code: report it as bad input
        raise EmobenchError(f"{path} is not a tensors-only checkpoint ({type(err).__name__})",
                            "use the unmodified files of the official EmoGen repository") from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------- import
def import_official(src: str | Path, out: str | Path) -> dict[str, Any]:
    """Convert the files of a local clone of the official repository; returns the manifest. Written into a
    scratch folder first: a failed import leaves ``out`` as it was and no temporary files."""
    import shutil
    import tempfile

    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise EmobenchError(f"{src} is not a folder", "pass a local clone of github.com/JingyuanYY/EmoGen")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".emogen-import-", dir=out.parent))
    try:
        manifest = _import_into(src, tmp)
        out.mkdir(exist_ok=True)
        for name in [*manifest["files"], MANIFEST]:   # the manifest last: its presence means a complete import
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).replace(out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _import_into(src: Path, out: Path) -> dict[str, Any]:
    sources: dict[str, str] = {}
    written: list[str] = []

    # emotion space: {emotion}_{mean,std}_v2.pt, one (768,) tensor each
    from safetensors.torch import save_file

    rows: dict[str, list[torch.Tensor]] = {"mean": [], "std": []}
    for e in EMOTIONS:
        for stat in ("mean", "std"):
            p = src / "emo_space" / f"{e}_{stat}_v2.pt"
            t = safe_torch(p)
            if not isinstance(t, torch.Tensor) or t.dim() != 1:
                raise EmobenchError(f"{p} holds {type(t).__name__}, not a 1-D tensor", "use the official emo_space")
            rows[stat].append(t.float())
            sources[str(p.relative_to(src))] = _sha256(p)
    save_file({k: torch.stack(v).contiguous() for k, v in rows.items()}, str(out / SPACE))
    written.append(SPACE)

    # Emo-A classifier → the paper zoo's probe format
    heads = sorted(src.glob(CLASSIFIER_GLOB))
    if heads:
        state = safe_torch(heads[-1])
        state = {k.removeprefix("module."): v for k, v in state.items()} if isinstance(state, dict) else {}
        if not {"fc.weight", "fc.bias"} <= set(state):
            raise EmobenchError(f"{heads[-1]} has no fc.weight / fc.bias", "use the official classifier .pth")
        w, b = state["fc.weight"].float(), state["fc.bias"].float()
        if w.shape[0] != len(EMOTIONS) or b.shape != (len(EMOTIONS),):
            raise EmobenchError(f"{heads[-1]}: fc.weight is {tuple(w.shape)}, expected (8, D)",
                                "use the official 8-emotion classifier")
        (out / PROBE_DIR).mkdir(exist_ok=True)
        save_file({"fc.weight": w.contiguous(), "fc.bias": b.contiguous()}, str(out / PROBE_DIR / "probe.safetensors"))
        (out / PROBE_DIR / "probe.json").write_text(json.dumps({
            "labels": list(EMOTIONS), "features": "CLIP ViT-L/14 get_image_features, projected, not normalised",
            "source": str(heads[-1].relative_to(src)),
            "note": "the authors' Emo-A classifier; its training split is unknown and may include EmoSet test images",
        }, indent=2))
        sources[str(heads[-1].relative_to(src))] = _sha256(heads[-1])
        written += [f"{PROBE_DIR}/probe.safetensors", f"{PROBE_DIR}/probe.json"]

    # dataset_balance pickles
    db = src / "dataset_balance"
    attrs = {k: _attr_lists(db / f"{k}_attr.pkl") for k in KINDS}
    coefs = {k: _coefficients(db / f"attr_coefficient_emotion_{k}.pkl") for k in KINDS}
    lists = {k: _train_list(db / f"{k}_norepeat.pkl") for k in KINDS}
    for name in [f"{k}_attr.pkl" for k in KINDS] + [f"attr_coefficient_emotion_{k}.pkl" for k in KINDS] + \
            [f"{k}_norepeat.pkl" for k in KINDS]:
        sources[f"dataset_balance/{name}"] = _sha256(db / name)
    (out / ATTRIBUTES).write_text(json.dumps(attrs, indent=1))
    (out / COEFFICIENTS).write_text(json.dumps(coefs))
    (out / TRAIN_LISTS).write_text(json.dumps(lists))
    written += [ATTRIBUTES, COEFFICIENTS, TRAIN_LISTS]

    manifest = {"format": FORMAT, "version": 1, "emotions": list(EMOTIONS), "sources": sources,
                "files": {name: _sha256(out / name) for name in written},
                "caveat": "the official space and Emo-A classifier were fitted on all of EmoSet, test split included"}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def _attr_lists(path: Path) -> dict[str, list[str]]:
    """``{attr_<emotion>: [name, ...]}`` → ``{emotion: [name, ...]}`` in EMOTIONS order."""
    raw = safe_pickle(path)
    if not isinstance(raw, dict):
        raise EmobenchError(f"{path} is not a dict of attribute lists", "use the official object/scene_attr.pkl")
    return {e: [str(n) for n in raw.get(f"attr_{e}", [])] for e in EMOTIONS}


def _coefficients(path: Path) -> dict[str, list[float]]:
    raw = safe_pickle(path)
    if not isinstance(raw, dict):
        raise EmobenchError(f"{path} is not a dict of coefficients", "use the official attr_coefficient_*.pkl")
    out = {}
    for name, value in raw.items():
        vals = [float(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]
        if len(vals) != len(EMOTIONS):
            raise EmobenchError(f"{path}: {name!r} has {len(vals)} values, expected 8", "use the official file")
        out[str(name)] = vals
    return out


def _train_list(path: Path) -> list[list[str]]:
    """Absolute paths ``…/<kind>/(<count>)<attribute>/<emotion>_<nnnnn>.jpg`` → [emotion, id, attribute]."""
    return parse_train_list(safe_pickle(path), path)


# ---------------------------------------------------------------------------------------------- reading
class OfficialFiles:
    """An imported folder (``import_official``'s output), read back."""

    def __init__(self, folder: str | Path):
        self.root = Path(folder)
        try:
            self.manifest = json.loads((self.root / MANIFEST).read_text())
        except (OSError, ValueError):
            raise EmobenchError(f"{self.root} holds no imported official EmoGen files ({MANIFEST} missing)",
                                "write it with `python -m emogen.official import EmoGen/ --out DIR`") from None
        if self.manifest.get("format") != FORMAT:
            raise EmobenchError(f"{self.root / MANIFEST} is not an import manifest", "re-import the official files")

    @property
    def files_hash(self) -> str:
        """Identifies the imported content (not its path): part of an artifact key that uses it."""
        return hashlib.sha256(json.dumps(self.manifest["files"], sort_keys=True).encode()).hexdigest()[:16]

    def _json(self, name: str) -> Any:
        path = self.root / name
        if _sha256(path) != self.manifest["files"].get(name):
            raise EmobenchError(f"{path} does not match {MANIFEST} (altered since the import)",
                                "re-import the official files")
        return json.loads(path.read_text())

    def space(self, emotions: list[str]) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        t = load_file(str(self.root / SPACE))
        rows = [EMOTIONS.index(e) for e in emotions]
        return {"mean": t["mean"][rows].contiguous(), "std": t["std"][rows].contiguous()}

    def bank(self) -> tuple[list[str], list[str]]:
        """(object names, scene names), each the concatenation over emotions as ``read_attr`` builds it."""
        a = self._json(ATTRIBUTES)
        return ([n for e in EMOTIONS for n in a["object"][e]], [n for e in EMOTIONS for n in a["scene"][e]])

    def coefficients(self) -> dict[str, list[float]]:
        """The merged dict ``get_coefficient`` builds: scene values, then object values overwrite (``main.py:360``)."""
        c = self._json(COEFFICIENTS)
        return {**c["scene"], **c["object"]}

    def train_lists(self) -> dict[str, list[list[str]]]:
        return self._json(TRAIN_LISTS)


# ---------------------------------------------------------------------------------------------- mapper
def convert_mapper_state(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str, int, int]:
    """An official mapper's state dict → (emobench keys, kind, layers, hidden). ``mlp.<i>.*`` (the MLP; index 1
    is the ReLU) → ``<i>.*``; the FC ablation's ``fc.*`` → ``0.*``; a DDP ``module.`` prefix is dropped."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith("fc.") for k in state):
        mapped = {k.replace("fc.", "0.", 1): v.float() for k, v in state.items()}
        return mapped, "fc", 1, int(mapped["0.weight"].shape[0])
    if not state or not all(k.startswith("mlp.") for k in state):
        raise EmobenchError(f"the mapper file has keys {sorted(state)[:4]}…, not mlp.* or fc.*",
                            "pass the mapper.pth written by the official training/main.py")
    mapped = {k.removeprefix("mlp."): v.float() for k, v in state.items()}
    linears = sorted({int(k.split(".")[0]) for k in mapped if k.endswith(".weight") and mapped[k].dim() == 2})
    if len(mapped) != 2 * len(linears) or linears != list(range(0, 2 * len(linears), 2)):
        raise EmobenchError("the mapper has LayerNorm/Dropout layers or an unexpected layout",
                            "only the released configuration (Linear, ReLU, …, Linear) converts")
    return mapped, "mlp", len(linears), int(mapped["0.weight"].shape[0])


def convert_mapper(mapper_path: str | Path, official: str | Path, zoo: Any, out: str | Path) -> dict[str, Any]:
    """Write an artifact folder (``mapper.safetensors``, ``space.safetensors``, ``emogen.json``) that
    ``EmoGenMethod.load(zoo, out)`` accepts, with ``emogen:space=official`` and the mapper's shape."""
    from safetensors.torch import save_file

    from emogen.config import OFFICIAL_RECIPE, EmoGenConfig
    from emogen.version import FORMAT as ART_FORMAT
    from emogen.version import VERSION as ART_VERSION
    from emogen.mapper import build_mapper

    state = safe_torch(Path(mapper_path))
    if not isinstance(state, dict):
        raise EmobenchError(f"{mapper_path} is not a state dict", "pass the official mapper.pth")
    mapped, kind, layers, hidden = convert_mapper_state(state)
    width = int(zoo.pipeline.text_encoder.config.hidden_size)
    files = OfficialFiles(official)
    space = files.space(list(EMOTIONS))
    if space["mean"].shape[1] != width or mapped["0.weight"].shape[1] != width:
        raise EmobenchError(f"the mapper/space are {space['mean'].shape[1]}-d, the zoo's text encoder {width}-d",
                            "use the paper zoo (SD 1.5, 768-d)")
    mapper = build_mapper(kind, width, width, hidden, max(layers, 2) if kind == "mlp" else 1)
    mapper.load_state_dict(mapped)   # strict: shapes and keys must match exactly
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in mapper.state_dict().items()}, str(out / "mapper.safetensors"))
    save_file(space, str(out / "space.safetensors"))
    cfg = EmoGenConfig(mapper=kind, mapper_layers=max(layers, 2), space="official", official_dir=str(official))
    meta = {"format": ART_FORMAT, "version": ART_VERSION, "emotions": list(EMOTIONS),
            # the official code trained it: its recipe options are the official ones, recorded so the loader
            # does not fill them with emobench's pre-refit values
            "config": {k: v for k, v in cfg.training_dict().items()
                       if k in ("mapper", "mapper_layers", "space") or k in OFFICIAL_RECIPE},
            "resolved": {"mapper_hidden": hidden}, "width": width, "zoo_weights_hash": zoo.weights_hash,
            "converted_from": {"mapper": str(mapper_path), "sha256": _sha256(Path(mapper_path)),
                               "official_files": files.files_hash}}
    (out / "emogen.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    return meta


# ---------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emogen.official", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    imp = sub.add_parser("import", help="convert a local clone of the official repository")
    imp.add_argument("src")
    imp.add_argument("--out", required=True)
    mp = sub.add_parser("mapper", help="convert a mapper trained with the official code")
    mp.add_argument("mapper")
    mp.add_argument("--official", required=True, help="the folder `import` wrote")
    mp.add_argument("--zoo", required=True, help="the zoo it was trained for (paper.toml)")
    mp.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "import":
            m = import_official(args.src, args.out)
            print(f"imported {len(m['sources'])} official files into {args.out}")
        else:
            from emobench.training import load_zoo

            convert_mapper(args.mapper, args.official, load_zoo(args.zoo), args.out)
            print(f"wrote an emogen artifact folder to {args.out}")
    except EmobenchError as err:
        print(f"emobench: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":   # pragma: no cover
    sys.exit(main())
