"""``emobench zoo fit-judges --zoo paper.toml``: train the paper zoo's Emo-A judge.

EmoGen's Emo-A is a linear probe (Linear(768 → 8)) on CLIP ViT-L/14 image features (projected, not
normalised), trained on EmoSet; its weights were never released with training code. This trains the same
probe on EmoSet's training split:

1. CLIP image features of every train / val image (centre-crop + resize to CLIP's input, the same view the
   probe gets at scoring time), cached as safetensors beside the probe so an interrupted fit resumes;
2. multinomial logistic regression, full-batch L-BFGS on standardised features (deterministic on CPU), the
   L2 strength chosen on the val split from a small grid;
3. the standardisation folded back into the weights, so the saved probe applies to raw CLIP features
   exactly like the official ``fc`` layer: ``probe.safetensors`` (``fc.weight`` [8, D], ``fc.bias`` [8]) and
   ``probe.json`` (labels, hashes, accuracies).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from emobench.hashing import stable_hash
from emobench.emotions import EMOTION_INDEX, EMOTIONS
from emobench.errors import EmobenchError
from emobench.zoo.paper_spec import PROBE_CONFIG, PROBE_WEIGHTS


@dataclass(frozen=True)
class ProbeSettings:
    l2_grid: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1)   # weight of 0.5·‖W‖² per training example
    max_iter: int = 200                                       # L-BFGS iterations per grid point
    batch_size: int = 64                                      # images per CLIP forward
    max_per_emotion: int | None = None                        # cap per emotion and split (None: all)


def _samples(dataset: Any, split: str, cap: int | None) -> list[Any]:
    rows = dataset.split(split)
    if cap is None:
        return rows
    out, seen = [], {e: 0 for e in EMOTIONS}
    for s in rows:  # split files are in a fixed order, so the cap takes the same images every time
        if seen.get(s.emotion, cap) < cap:
            seen[s.emotion] += 1
            out.append(s)
    return out


def clip_features(zoo: Any, samples: Sequence[Any], cache: Path, batch_size: int,
                  progress: Callable[[str, int, int], None] | None = None, stage: str = "features") -> torch.Tensor:
    """``[N, D]`` float32 CLIP image features, cached in ``cache`` (keyed by CLIP weights and image ids)."""
    key = stable_hash({"clip": zoo.hashes.get("clip"), "ids": [s.id for s in samples]})
    if cache.is_file():
        stored = load_file(str(cache))
        if json.loads(bytes(stored["key"].tolist()).decode()) == key:
            return stored["features"]
    size = int(getattr(zoo.clip, "image_size", 224))
    feats = []
    with torch.no_grad():
        for start in range(0, len(samples), batch_size):
            images = zoo.dataset.load_images(samples[start:start + batch_size], size=size)
            feats.append(zoo.clip.encode_images(images).float().cpu())
            if progress:
                progress(stage, min(start + batch_size, len(samples)), len(samples))
    out = torch.cat(feats) if feats else torch.zeros(0, 0)
    cache.parent.mkdir(parents=True, exist_ok=True)
    save_file({"features": out.contiguous(), "key": torch.tensor(list(json.dumps(key).encode()), dtype=torch.uint8)},
              str(cache))
    return out


def fit_logistic(x: torch.Tensor, y: torch.Tensor, l2: float, max_iter: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression by full-batch L-BFGS (float64, zero init: deterministic)."""
    x, n_classes = x.double(), len(EMOTIONS)
    w = torch.zeros(n_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x @ w.T + b, y) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def _accuracy(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> float:
    return float(((x.double() @ w.T + b).argmax(1) == y).double().mean()) if len(y) else float("nan")


def fit_emotion_probe(zoo: Any, out_dir: str | Path, settings: ProbeSettings = ProbeSettings(),
                      progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Train the Emo-A probe on ``zoo.dataset`` (train split; L2 chosen on val) and write it to ``out_dir``."""
    zoo.require("clip", "dataset")
    out = Path(out_dir)
    t0 = time.perf_counter()
    splits = {name: _samples(zoo.dataset, name, settings.max_per_emotion) for name in ("train", "val")}
    if not splits["train"]:
        raise EmobenchError(f"the dataset {zoo.dataset.root} has an empty train split",
                            "point [dataset] path at a complete EmoSet root (train.json lists the images)")
    feats = {name: clip_features(zoo, rows, out / "cache" / f"clip-{name}.safetensors", settings.batch_size,
                                 progress, f"clip features ({name})") for name, rows in splits.items()}
    labels = {name: torch.tensor([EMOTION_INDEX[s.emotion] for s in rows], dtype=torch.long)
              for name, rows in splits.items()}
    mu = feats["train"].double().mean(0)
    sd = feats["train"].double().std(0).clamp_min(1e-6)
    z = {name: (f.double() - mu) / sd for name, f in feats.items()}

    results = []
    for l2 in settings.l2_grid:
        w, b = fit_logistic(z["train"], labels["train"], l2, settings.max_iter)
        results.append((l2, _accuracy(z["val"], labels["val"], w, b), _accuracy(z["train"], labels["train"], w, b), w, b))
        if progress:
            progress("probe l2 grid", len(results), len(settings.l2_grid))
    # best val accuracy; a tie goes to the stronger regularisation
    best = max(results, key=lambda r: (r[1] if r[1] == r[1] else -1.0, r[0]))
    l2, val_acc, train_acc, w, b = best
    weight = (w / sd).float()                   # fold the standardisation into the layer
    bias = (b - (w / sd) @ mu).float()
    out.mkdir(parents=True, exist_ok=True)
    save_file({"fc.weight": weight.contiguous(), "fc.bias": bias.contiguous()}, str(out / PROBE_WEIGHTS))
    facts = {
        "format": "emobench-emotion-probe", "version": 1, "labels": list(EMOTIONS),
        "input": "CLIP get_image_features (projected, not L2-normalised)",
        "clip_hash": zoo.hashes.get("clip"), "dataset_hash": zoo.dataset.content_hash,
        "n_train": len(splits["train"]), "n_val": len(splits["val"]), "l2": l2,
        "train_accuracy": train_acc, "val_accuracy": val_acc,
        "grid": [{"l2": r[0], "val_accuracy": r[1], "train_accuracy": r[2]} for r in results],
        "settings": asdict(settings), "wall_seconds": round(time.perf_counter() - t0, 2),
    }
    (out / PROBE_CONFIG).write_text(json.dumps(facts, indent=1))
    return facts


def fit_judges(toml: str | Path, out: str | Path | None = None, settings: ProbeSettings = ProbeSettings(),
               device: str | None = None, progress: Callable[[str, int, int], None] | None = None) -> tuple[Path, dict]:
    """Load the paper zoo without its probe, train the probe, and write it where the TOML expects it
    (or to ``out``)."""
    from emobench.zoo.paper import PARTS_FOR_FIT_JUDGES, load_paper_zoo, read_paper_toml

    spec = read_paper_toml(toml)
    target = Path(out) if out is not None else spec.parts["judges.emotion"].path
    if out is None and "<" in target.name:
        raise EmobenchError(f"{spec.toml} sets no [judges.emotion] path for the probe",
                            "add [judges.emotion] path = \"emo-a-probe\" to the TOML, or pass --out DIR")
    # only what the probe is trained from must exist (Places365, Inception, SD 1.5 may come later)
    zoo = load_paper_zoo(spec.toml, device=device, with_probe=False, needs=PARTS_FOR_FIT_JUDGES)
    return target, fit_emotion_probe(zoo, target, settings, progress)


def add_parser(sub: Any) -> None:
    from emobench.cliargs import BATCH, POSITIVE   # range-checked while parsing

    """Adds ``fit-judges`` to the ``emobench zoo`` sub-commands."""
    p = sub.add_parser("fit-judges", help="train the paper zoo's Emo-A probe on EmoSet's train split")
    p.add_argument("--zoo", required=True, help="the paper zoo .toml")
    p.add_argument("--out", default=None, help="write the probe here (default: the TOML's [judges.emotion] path)")
    p.add_argument("--device", default=None, help="cuda / cpu (default: the TOML's [runtime] device)")
    p.add_argument("--max-per-emotion", type=POSITIVE, default=None,
                   help="use at most this many images per emotion and split (default: all)")
    p.add_argument("--batch-size", type=BATCH, default=ProbeSettings.batch_size)
    p.set_defaults(func=main)


def main(args: Any) -> int:
    if not str(args.zoo).endswith(".toml"):
        raise EmobenchError(f"fit-judges trains the paper zoo's probe; {args.zoo!r} is not a .toml",
                            "pass --zoo paper.toml (the mini zoo ships its judges already trained)")
    settings = ProbeSettings(batch_size=args.batch_size, max_per_emotion=args.max_per_emotion)

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or done % (20 * settings.batch_size) == 0:
            print(f"  {stage}: {done}/{total}", flush=True)

    target, facts = fit_judges(args.zoo, args.out, settings, args.device, progress)
    print(f"Emo-A probe written to {target}: train accuracy {facts['train_accuracy']:.3f}, "
          f"val accuracy {facts['val_accuracy']:.3f} (n_train={facts['n_train']}, l2={facts['l2']:g})")
    return 0
