"""``emobench audit RUN``: how each judge of the panel behaves on a run, beside its accuracy.

Per judge and method (targets from the run's manifest, i.e. from the plan, never from file names):

* ``emo_a``: 8-class accuracy; ``emo_s``: mean probability of the target emotion;
* ``polarity_accuracy``: the judged emotion has the target's polarity (positive vs negative);
* ``positive_accuracy`` / ``negative_accuracy`` and their ``pos_neg_gap`` (a judge that prefers one side
  shows a gap on every method alike);
* ``histogram``: how often each emotion is the judged one.

Per judge, on neutral prompts (``"an image"``, ``"a photo"``: no emotion asked for), drawn with the zoo's own
pipeline from the run's seeds: the histogram of judged emotions and the mean probabilities. A uniform judge
would say 1/8 each; a skew (Mehta & Buntain report fear) is the judge's prior, not the images' emotion.

The result is written to ``RUN/audit.json`` and printed.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from emobench.emotions import EMOTION_INDEX, EMOTIONS, polarity
from emobench.errors import EmobenchError
from emobench.judges.base import Judge
from emobench.judges.registry import load_panel
from emobench.io.files import atomic_write_text
from emobench.rundir.layout import load_images, read_manifest

NEUTRAL_PROMPTS: tuple[str, ...] = ("an image", "a photo")
AUDIT_FILE = "audit.json"


@dataclass(frozen=True)
class AuditSettings:
    neutral_prompts: tuple[str, ...] = NEUTRAL_PROMPTS
    neutral_seeds: int = 16            # images per neutral prompt (0: skip; needs the zoo's pipeline)
    judges: tuple[str, ...] | None = None
    batch_size: int = 64
    micro_batch: int = 8               # cells per pipeline call, padded (the same images as ``sd``'s for that prompt)


def judge_figures(probs: torch.Tensor, targets: Sequence[str]) -> dict[str, Any]:
    """Emo-A, Emo-S, polarity accuracy, positive/negative accuracies and gap, judged-emotion histogram."""
    p = probs.double()
    y = torch.tensor([EMOTION_INDEX[e] for e in targets], dtype=torch.long)
    pred = p.argmax(1)
    pol = torch.tensor([polarity(e) for e in EMOTIONS])
    correct = (pred == y).double()
    pos_mask = pol[y].bool()

    def mean(x: torch.Tensor) -> float | None:
        return round(float(x.mean()), 4) if x.numel() else None

    pos, neg = mean(correct[pos_mask]), mean(correct[~pos_mask])
    return {"n": len(y), "emo_a": mean(correct), "emo_s": mean(p.gather(1, y[:, None])[:, 0]),
            "polarity_accuracy": mean((pol[pred] == pol[y]).double()),
            "positive_accuracy": pos, "negative_accuracy": neg,
            "pos_neg_gap": None if pos is None or neg is None else round(pos - neg, 4),
            "histogram": {e: int((pred == i).sum()) for i, e in enumerate(EMOTIONS)}}


def neutral_figures(probs: torch.Tensor) -> dict[str, Any]:
    pred = probs.argmax(1)
    n = max(len(pred), 1)
    hist = {e: round(int((pred == i).sum()) / n, 4) for i, e in enumerate(EMOTIONS)}
    top = max(hist, key=hist.get)
    return {"n": len(pred), "judged_share": hist, "mean_proba": {e: round(float(probs[:, i].mean()), 4)
                                                                   for i, e in enumerate(EMOTIONS)},
            "top": top, "top_share": hist[top],
            "positive_share": round(sum(v for e, v in hist.items() if polarity(e)), 4)}


def neutral_images(zoo: Any, prompt: str, seeds: Sequence[int], micro_batch: int = 8) -> torch.Tensor:
    """Images for a prompt without emotion, from the plan's latents and per-cell step noise of ``seeds``
    (padded micro-batches, as the ``sd`` baseline draws them)."""
    from emobench.spec.plan import cell_latent
    from emobench.sampling import cell_generators

    zoo.require("pipeline")
    s, pipe, out = zoo.sampling, zoo.pipeline, []
    shape = zoo.latent_shape()
    for start in range(0, len(seeds), micro_batch):
        chunk = list(seeds[start:start + micro_batch])
        pad = micro_batch - len(chunk)
        latents = torch.stack([cell_latent(sd, shape) for sd in chunk] + [torch.zeros(shape)] * pad)
        with torch.no_grad():
            images = pipe(prompt=[prompt] * len(chunk) + [""] * pad,
                          latents=latents.to(device=zoo.device, dtype=pipe.unet.dtype),
                          generator=cell_generators(chunk, pad), num_inference_steps=s.num_inference_steps,
                          guidance_scale=s.guidance_scale, height=s.height, width=s.width, output_type="pt").images
        out.append(images[:len(chunk)].float().cpu())
    return torch.cat(out) if out else torch.zeros(0, 3, s.height, s.width)


def _probs(judge: Judge, images: torch.Tensor) -> torch.Tensor:
    return judge.predict_proba(images)


def audit_run(run_dir: str | Path, zoo: Any, settings: AuditSettings = AuditSettings()) -> dict[str, Any]:
    run_dir = Path(run_dir)
    if not (run_dir / "manifest.jsonl").is_file():
        raise EmobenchError(f"{run_dir} has no manifest.jsonl", "pass a run directory written by `emobench run`")
    records = read_manifest(run_dir)
    panel = load_panel(zoo, settings.judges)
    if not panel.judges:
        raise EmobenchError(f"zoo {zoo.name!r} provides no emotion judge", "use a zoo with judges (`emobench list judges`)")
    methods = sorted({r.method for r in records})
    probs: dict[str, list[torch.Tensor]] = {j.name: [] for j in panel.judges}
    for start in range(0, len(records), settings.batch_size):
        images = load_images(records[start:start + settings.batch_size], run_dir)
        for j in panel.judges:
            probs[j.name].append(_probs(j, images))
    per_judge: dict[str, Any] = {}
    for j in panel.judges:
        p = torch.cat(probs[j.name]) if probs[j.name] else torch.zeros(0, len(EMOTIONS))
        per_judge[j.name] = {"judge": j.describe(), "methods": {}}
        for m in methods:
            idx = [i for i, r in enumerate(records) if r.method == m]
            per_judge[j.name]["methods"][m] = judge_figures(p[idx], [records[i].emotion for i in idx])
    neutral: dict[str, Any] = {}
    if settings.neutral_seeds > 0 and zoo.pipeline is not None:
        base = int(_run_seed(run_dir))
        seeds = list(range(base, base + settings.neutral_seeds))
        for prompt in settings.neutral_prompts:
            images = neutral_images(zoo, prompt, seeds, settings.micro_batch)
            neutral[prompt] = {j.name: neutral_figures(_probs(j, images)) for j in panel.judges}
    result = {"format": "emobench-audit", "version": 1, "run": str(run_dir), "zoo": zoo.name,
              "judges_hash": zoo.judges_hash, "settings": asdict(settings),
              "neutral_seeds": settings.neutral_seeds if neutral else 0,
              "panel": [j.describe() for j in panel.judges], "unavailable": panel.unavailable,
              "per_judge": per_judge, "neutral": neutral}
    atomic_write_text(run_dir / AUDIT_FILE, json.dumps(result, indent=1))
    return result


def _run_seed(run_dir: Path) -> int:
    try:
        return int(json.loads((run_dir / "config.json").read_text()).get("seed", 0))
    except (OSError, ValueError):
        return 0


def format_audit(result: dict[str, Any]) -> str:
    lines = []
    for name, block in result["per_judge"].items():
        fam = block["judge"]["family"] + (", primary" if block["judge"]["primary"] else "")
        lines.append(f"judge {name} ({fam})")
        lines.append(f"  {'method':<28} {'Emo-A':>6} {'Emo-S':>6} {'polar':>6} {'pos':>6} {'neg':>6} {'gap':>7}")
        for m, f in block["methods"].items():
            cells = [f[k] for k in ("emo_a", "emo_s", "polarity_accuracy", "positive_accuracy", "negative_accuracy")]
            gap = f["pos_neg_gap"]
            lines.append(f"  {m:<28} " + " ".join(f"{c:6.3f}" if c is not None else f"{'-':>6}" for c in cells)
                         + (f" {gap:+7.3f}" if gap is not None else f" {'-':>7}"))
    for prompt, by_judge in result["neutral"].items():
        lines.append(f"neutral prompt {prompt!r} ({result['neutral_seeds']} images): judged emotion shares")
        for name, f in by_judge.items():
            shares = " ".join(f"{e[:4]} {f['judged_share'][e]:.2f}" for e in EMOTIONS)
            lines.append(f"  {name:<16} {shares}  (top {f['top']} {f['top_share']:.2f}, chance 0.125)")
    for name, why in result["unavailable"].items():
        lines.append(f"(judge {name} not in this zoo: {why})")
    return "\n".join(lines)
