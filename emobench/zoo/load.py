"""``load_zoo("mini" | FOLDER | paper.toml)``: the one way every command gets its models.

* ``"mini"``: the zoo shipped in ``emobench/zoo_weights/mini/``;
* a zoo folder (``zoo.json`` + ``pipeline/`` + ``clip/`` + ``judges/`` [+ ``dataset/``]);
* a bare diffusers ``StableDiffusionPipeline`` folder (``model_index.json``): a zoo with only the pipeline,
  scale ``"custom"``;
* a ``.toml`` file: paper-scale parts, handed to ``emobench.zoo.paper.load_paper_zoo``.

The pipeline always loads through ``StableDiffusionPipeline.from_pretrained(..., use_safetensors=True)``,
the same code that loads SD 1.5. Only safetensors are read; a folder holding only pickled checkpoints is
refused with the file named.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from emobench.errors import EmobenchError
from emobench.zoo.base import Judges, PendingPipeline, Zoo
from emobench.zoo.pipeline import (PICKLED_SUFFIXES, check_safetensors, load_pipeline,  # noqa: F401
                                    sampling_from_meta, sampling_from_pipeline)
from emobench.zoo.hashing import file_sha256, folder_hash  # noqa: F401  (file_sha256: re-exported)
from emobench.zoo.clip_lazy import LazyClip, load_clip_checked as _load_clip_checked

# diffusers and transformers are imported inside the functions that need them: ``emobench score`` loads a
# zoo without its pipeline (and its CLIP only when a CLIP feature is not cached), and importing those two
# libraries is most of a warm scoring run's time.

SHIPPED_MINI = Path(__file__).resolve().parent.parent / "zoo_weights" / "mini"
ZOO_FORMAT = "emobench-zoo"
REBUILD = "rebuild it with `emobench zoo build mini --out DIR` (or pass a complete zoo folder)"


def load_zoo(spec: str | Path = "mini", device: str | torch.device = "cpu", *, with_dataset: bool = True,
             with_pipeline: bool = True, lazy: bool = False) -> Zoo:
    """Load a zoo. ``with_dataset=False`` skips materialising the EmoSet-mini dataset (it is generated
    deterministically into the cache on first use when the zoo folder does not carry one).
    ``with_pipeline=False`` is for scoring: the generator is not loaded (its hashes still are) and the CLIP
    model is loaded on first use. ``lazy=True`` (a zoo folder) loads the generator and CLIP on first use of
    ``zoo.pipeline`` / ``zoo.clip`` instead (what ``emobench run`` does: a finished run's resume loads neither)."""
    device = torch.device(device)
    spec_str = str(spec)
    if spec_str == "mini":
        if not (SHIPPED_MINI / "zoo.json").is_file():
            raise EmobenchError(f"the shipped mini zoo is missing from {SHIPPED_MINI}",
                                "reinstall emobench, or build one with `emobench zoo build mini --out DIR` "
                                "and pass --zoo DIR")
        return _load_zoo_folder(SHIPPED_MINI, device, name="mini", with_dataset=with_dataset,
                                with_pipeline=with_pipeline, lazy=lazy)
    path = Path(spec_str).expanduser()
    if path.suffix == ".toml":
        # Paper-scale zoos (SD 1.5, CLIP ViT-L/14, EmoSet, ResNet judges) are described by a TOML file of
        # local paths; that loader lives in emobench.zoo.paper (kit area).
        try:
            from emobench.zoo.paper import load_paper_zoo
        except ModuleNotFoundError as err:
            if err.name != "emobench.zoo.paper":
                raise
            raise EmobenchError(f"cannot load {path}: paper-scale zoos (.toml) are not available in this build",
                                "use --zoo mini or a zoo / diffusers folder") from err
        if not path.is_file():
            raise EmobenchError(f"zoo file {path} does not exist", "pass the path of an existing paper.toml")
        return load_paper_zoo(path, device=device, lazy=lazy or not with_pipeline,
                              needs=None if with_dataset else [k for k in _paper_parts() if k != "dataset"])
    if not path.exists():
        raise EmobenchError(f"zoo {spec_str!r} does not exist",
                            "pass 'mini', a zoo folder, a diffusers StableDiffusionPipeline folder or a paper .toml")
    if not path.is_dir():
        raise EmobenchError(f"zoo {path} is a file, not a folder",
                            "pass 'mini', a zoo folder, a diffusers pipeline folder or a paper .toml")
    if (path / "zoo.json").is_file():
        return _load_zoo_folder(path, device, name=str(path), with_dataset=with_dataset,
                                with_pipeline=with_pipeline, lazy=lazy)
    if (path / "model_index.json").is_file():
        pipe = load_pipeline(path, device)
        hashes = {f"pipeline.{k}": v for k, v in component_hashes(path).items()}
        return Zoo(name=str(path), scale="custom", pipeline=pipe, sampling=sampling_from_pipeline(pipe),
                   root=path, hashes=hashes, device=device)
    raise EmobenchError(f"{path} is neither a zoo folder (no zoo.json) nor a diffusers pipeline folder "
                        "(no model_index.json)",
                        "pass 'mini', a folder written by `emobench zoo build`, or a StableDiffusionPipeline folder")


def _paper_parts() -> list[str]:
    from emobench.zoo.paper_spec import PART_KEYS

    return list(PART_KEYS)


def zoo_scale(spec: str | Path) -> str | None:
    """The scale a zoo spec names, without loading anything: "paper" for a .toml, a folder's zoo.json scale,
    "mini" for the shipped zoo, "custom" for a bare pipeline folder; None when the spec names nothing."""
    spec_str = str(spec)
    if spec_str == "mini":
        return "mini"
    path = Path(spec_str).expanduser()
    if path.suffix == ".toml":
        return "paper"
    if (path / "zoo.json").is_file():
        try:
            return str(json.loads((path / "zoo.json").read_text()).get("scale", "mini"))
        except (OSError, ValueError):
            return None
    return "custom" if (path / "model_index.json").is_file() else None


# ---------------------------------------------------------------------------------------------- zoo folder

def read_zoo_json(root: Path) -> dict[str, Any]:
    f = root / "zoo.json"
    try:
        meta = json.loads(f.read_text())
    except (OSError, ValueError) as err:
        raise EmobenchError(f"cannot read {f}: {err}", f"the zoo folder is damaged; {REBUILD}") from err
    if not isinstance(meta, dict) or meta.get("format") != ZOO_FORMAT:
        raise EmobenchError(f"{f} is not an emobench zoo file (format != {ZOO_FORMAT!r})", REBUILD)
    if int(meta.get("version", 0)) != 1:
        raise EmobenchError(f"{f} has zoo format version {meta.get('version')}, this emobench reads version 1",
                            "upgrade emobench or rebuild the zoo with this version")
    return meta


def _load_zoo_folder(root: Path, device: torch.device, name: str, with_dataset: bool,
                     with_pipeline: bool = True, lazy: bool = False) -> Zoo:
    from emobench.zoo.judges import load_judges

    meta = read_zoo_json(root)
    components = meta.get("components", {})
    pipe_dir = root / components.get("pipeline", {}).get("path", "pipeline")
    if not (pipe_dir / "model_index.json").is_file():
        raise EmobenchError(f"zoo {root} has no pipeline ({pipe_dir / 'model_index.json'} missing)", REBUILD)
    sampling_meta = meta.get("sampling", {})

    def load():
        pipe = load_pipeline(pipe_dir, device)
        want_vae = components.get("pipeline", {}).get("vae_class")
        if want_vae and type(pipe.vae).__name__ != want_vae:
            raise EmobenchError(f"{pipe_dir / 'vae'} loaded as {type(pipe.vae).__name__}, zoo.json says {want_vae}",
                                f"the pipeline's model_index.json or vae/ was changed; {REBUILD}")
        if sampling_from_meta(sampling_meta, pipe).channels_last:
            # a memory layout only: same weights, same maths; ~8 % faster oneDNN convolutions on CPU
            pipe.unet.to(memory_format=torch.channels_last)
        return pipe

    pipe: Any = None
    if with_pipeline and lazy:
        pipe = _pending(pipe_dir, load)
        sampling = sampling_from_meta(sampling_meta, _ConfigView(pipe_dir, pipe.vae_scale_factor))
    else:
        pipe = load() if with_pipeline else None
        sampling = sampling_from_meta(sampling_meta, pipe)
    hashes = {f"pipeline.{k}": v for k, v in component_hashes(pipe_dir).items()}

    clip = None
    clip_dir = root / components.get("clip", {}).get("path", "clip")
    if clip_dir.is_dir():
        check_safetensors(clip_dir)
        clip = _load_clip_checked(clip_dir, device) if (with_pipeline and not lazy) else LazyClip(clip_dir, device)
        hashes["clip"] = folder_hash(clip_dir)
    judges = Judges()
    judges_dir = root / components.get("judges", {}).get("path", "judges")
    if judges_dir.is_dir():
        check_safetensors(judges_dir)
        judges = load_judges(judges_dir, device)
        hashes["judges"] = folder_hash(judges_dir)

    dataset = _zoo_dataset(root, meta.get("dataset"), with_dataset)
    return Zoo(name=name, scale=str(meta.get("scale", "mini")), pipeline=pipe, sampling=sampling, clip=clip,
               judges=judges, dataset=dataset, root=root, hashes=hashes, device=device)


def _pending(pipe_dir: Path, load) -> PendingPipeline:
    """The generator of ``pipe_dir`` as a ``PendingPipeline``: shape facts from its configs, weights on first use."""
    unet = json.loads((pipe_dir / "unet" / "config.json").read_text())
    vae = json.loads((pipe_dir / "vae" / "config.json").read_text())
    # diffusers' own rule: vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
    sched = pipe_dir / "scheduler" / "scheduler_config.json"
    name = str(json.loads(sched.read_text()).get("_class_name", "")) if sched.is_file() else ""
    return PendingPipeline(load, int(unet["in_channels"]), 2 ** (len(vae.get("block_out_channels", [0] * 4)) - 1),
                           name)


class _ConfigView:
    """Just enough of a pipeline for ``sampling_from_pipeline`` (image size), read from the unet config."""

    def __init__(self, pipe_dir: Path, vae_scale_factor: int):
        from types import SimpleNamespace

        unet = json.loads((pipe_dir / "unet" / "config.json").read_text())
        self.unet = SimpleNamespace(config=SimpleNamespace(sample_size=unet["sample_size"]))
        self.vae_scale_factor = vae_scale_factor


def _zoo_dataset(root: Path, spec: dict[str, Any] | None, with_dataset: bool):
    """The zoo's emotion dataset: ``root/<path>`` if the folder carries one, else EmoSet-mini generated from
    the recorded seed/sizes into ``$EMOBENCH_CACHE/emoset-mini`` (deterministic, so it is the data the zoo
    was trained on; a world whose key differs from the recorded one is refused)."""
    if not with_dataset or not spec:
        return None
    from emobench.data.emoset import EmoSetDataset

    if spec.get("path") and (root / spec["path"]).is_dir():
        return EmoSetDataset(root / spec["path"])
    if spec.get("kind") != "emoset-mini":
        return None
    from emobench.world import WorldConfig, ensure_emoset_mini
    from emobench.world.write import world_key

    sizes = (int(spec["seed"]), int(spec["n_train"]), int(spec["n_val"]), int(spec["n_test"]))
    if spec.get("world_key") and spec["world_key"] != world_key(*sizes, WorldConfig()):
        raise EmobenchError(f"{root / 'zoo.json'} was built on a different EmoSet-mini world "
                            f"(key {spec['world_key'][:12]}…, this emobench draws {world_key(*sizes, WorldConfig())[:12]}…)",
                            "rebuild the zoo with `emobench zoo build mini --out DIR` or use the emobench "
                            "version it was built with")
    return EmoSetDataset(ensure_emoset_mini(*sizes))


# ---------------------------------------------------------------------------------------------- pipeline

def component_hashes(pipe_dir: Path) -> dict[str, str]:
    index = json.loads((pipe_dir / "model_index.json").read_text())
    return {k: folder_hash(pipe_dir / k) for k, v in sorted(index.items())
            if isinstance(v, list) and v[0] is not None and (pipe_dir / k).is_dir()}


__all__ = ["load_zoo", "load_pipeline", "component_hashes", "folder_hash", "read_zoo_json", "SHIPPED_MINI", "LazyClip"]
