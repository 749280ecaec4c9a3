"""A generator of small but realistic scored run directories for the report tests (real PNGs, a manifest
consistent with the plan, per-image scores, a summary with bootstrap CIs and paired differences, controls,
a confusion matrix, a failed method), plus tests that the generated runs are self-consistent.

The layout follows docs/ARCHITECTURE.md ("Run directory"); the values are synthetic and derived from a seed.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from emobench.api import ImageRecord, stable_hash
from emobench.emotions import EMOTIONS

PER_IMAGE = ("emo-a", "sem-c", "clip-score")
PER_SET = ("fid", "kid", "lpips", "sem-d")


def _png(rng: np.random.Generator, hue: int, size: int) -> bytes:
    base = np.array([(hue * 53) % 256, (hue * 97) % 256, (hue * 151) % 256], dtype=np.float64)
    px = np.clip(base + rng.normal(0, 40, (size, size, 3)), 0, 255).astype(np.uint8)
    px[size // 4: size // 2, size // 4: 3 * size // 4] = 255 - base.astype(np.uint8)  # a shape, so grids look like images
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format="PNG")
    return buf.getvalue()


def _boot(values: np.ndarray, rng: np.random.Generator, reps: int = 200) -> tuple[float, float]:
    idx = rng.integers(0, len(values), (reps, len(values)))
    means = values[idx].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def display_facts(names: tuple[str, ...] = PER_SET + PER_IMAGE) -> dict:
    """The display facts the scorer writes into summary.json, as the built-in metrics declare them."""
    from emobench import registry
    from emobench.scoring.run import display_facts as facts

    return facts([registry.metrics().create(n)[1] for n in names])


def make_run(root: Path, methods: tuple[str, ...] = ("sd", "emogen", "textual-inversion"),
             failed: dict[str, str] | None = None, emotions: tuple[str, ...] = EMOTIONS[:3],
             n_per_emotion: int = 4, templates: tuple[str, ...] = ("an image of {emotion}",),
             scale: str = "mini", size: int = 32, seed: int = 0, baseline: str = "sd",
             judges: str = "judges-v1", scored: bool = True) -> Path:
    """Write a scored run directory into ``root`` and return it."""
    failed = dict(failed or {})
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    cells = [{"emotion": e, "template": templates[i % len(templates)], "seed": i // len(templates)}
             for e in emotions for i in range(n_per_emotion)]
    config = {"methods": list(methods) + sorted(failed), "baseline": baseline, "emotions": list(emotions),
              "n_per_emotion": n_per_emotion, "templates": list(templates), "base_seed": 0, "zoo": scale}
    config["config_hash"] = stable_hash(config)
    weights_hash = stable_hash(["weights", scale])
    zoo = {"name": scale, "scale": scale, "weights_hash": weights_hash, "judges_hash": stable_hash(judges)}
    plan = {"cells": cells, "plan_hash": stable_hash(cells)}
    for name, obj in (("config", config), ("zoo", zoo), ("plan", plan)):
        (root / f"{name}.json").write_text(json.dumps(obj, indent=2, sort_keys=True))

    records, score_rows, confusion = [], [], {}
    strength = {m: 0.35 + 0.15 * i for i, m in enumerate(methods)}  # methods differ, so marks are testable
    for m_i, method in enumerate(methods):
        counts = np.zeros((len(EMOTIONS), len(EMOTIONS)), dtype=int)
        for c in cells:
            key = stable_hash([method, weights_hash, c])
            data = _png(rng, m_i * 8 + EMOTIONS.index(c["emotion"]), size)
            (root / "images" / f"{key}.png").write_bytes(data)
            prompt = c["template"].format(emotion=c["emotion"] if method == "sd" else f"<{c['emotion']}>")
            records.append(ImageRecord(method, c["emotion"], c["template"], c["seed"], prompt, key,
                                       hashlib.sha256(data).hexdigest(), f"images/{key}.png"))
            true = EMOTIONS.index(c["emotion"])
            pred = true if rng.random() < strength[method] else int(rng.integers(0, len(EMOTIONS)))
            counts[true, pred] += 1
            vals = {"emo-a": float(pred == true), "sem-c": float(rng.uniform(0.3, 0.9)),
                    "clip-score": float(rng.normal(0.25 + 0.02 * m_i, 0.03))}
            for metric, v in vals.items():
                score_rows.append([method, c["emotion"], c["template"], c["seed"], key, metric, v])
        confusion[method] = {"labels": list(EMOTIONS), "counts": counts.tolist()}
    records.sort(key=lambda r: (r.method, r.emotion, r.template, r.seed))
    (root / "manifest.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    status = {m: {"status": "ok", "reason": None, "wall_seconds": 1.0} for m in methods}
    status.update({m: {"status": "failed", "reason": why, "wall_seconds": 0.1} for m, why in failed.items()})
    (root / "methods.json").write_text(json.dumps(status, indent=2, sort_keys=True))
    if not scored:
        return root
    scores = pd.DataFrame(score_rows, columns=["method", "emotion", "template", "seed", "key", "metric", "value"])
    scores.to_csv(root / "scores.csv", index=False)

    summary = []
    for method in list(methods) + ["real (control)", "shuffled (control)"]:
        for emo in list(emotions) + ["all"]:
            for metric in PER_IMAGE + PER_SET:
                if method in methods and metric in PER_IMAGE:
                    sel = scores[(scores.method == method) & (scores.metric == metric)
                                 & ((scores.emotion == emo) if emo != "all" else True)]
                    v = sel["value"].to_numpy()
                    base = scores[(scores.method == baseline) & (scores.metric == metric)
                                  & ((scores.emotion == emo) if emo != "all" else True)]["value"].to_numpy()
                    value, (lo, hi), n = float(v.mean()), _boot(v, rng), len(v)
                    d = v - base
                else:
                    n = n_per_emotion * (len(emotions) if emo == "all" else 1)
                    value = {"fid": 60.0, "kid": 0.02, "lpips": 0.5, "sem-d": 0.1, "emo-a": 0.4,
                             "sem-c": 0.6, "clip-score": 0.27}[metric] * float(rng.uniform(0.7, 1.3))
                    lo, hi = value * 0.9, value * 1.1
                    d = rng.normal(0.0, value * 0.1, n)
                row = {"method": method, "metric": metric, "emotion": emo, "value": value, "ci_low": lo,
                       "ci_high": hi, "n": n}
                if method in methods and method != baseline:
                    dlo, dhi = _boot(d, rng)
                    row.update(diff=float(d.mean()), diff_ci_low=dlo, diff_ci_high=dhi,
                               p_value=float(min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean()) + 1e-3)))
                summary.append(row)
    sdf = pd.DataFrame(summary)
    for col in ("diff", "diff_ci_low", "diff_ci_high", "p_value"):
        if col not in sdf:  # a run with the baseline only has no differences
            sdf[col] = np.nan
    mask = sdf["p_value"].notna() & (sdf["emotion"] == "all")
    order = sdf[mask].sort_values("p_value").index
    k, running = len(order), 0.0
    sdf["p_holm"] = np.nan
    for i, idx in enumerate(order):  # Holm step-down, over methods × metrics
        running = max(running, min(1.0, (k - i) * sdf.at[idx, "p_value"]))
        sdf.at[idx, "p_holm"] = running
    sdf.loc[sdf["p_value"].notna() & ~mask, "p_holm"] = sdf["p_value"]
    sdf.to_csv(root / "summary.csv", index=False)
    (root / "summary.json").write_text(json.dumps({"display": display_facts(), "rows": json.loads(sdf.to_json(orient="records"))}, indent=1))
    (root / "confusion.json").write_text(json.dumps(confusion, sort_keys=True))
    return root
