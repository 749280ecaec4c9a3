"""Several fits of one learning method (``--fit-seeds K``): their series, merged into one two-level estimate.

Each fit's images are scored as their own population member, labelled ``fit_label(method, fit_seed)``, on the
run's shared cell draws. ``merge_fits`` combines them: the point value is the mean over fits; each bootstrap
resample first draws K fits with replacement (a stream per method, so two multi-fit methods draw their fits
independently: fits are not paired across methods) and averages the chosen fits' statistics on that
resample's cells. That is the two-level (fits × cells) bootstrap; a paired difference against the baseline
subtracts the baseline's statistic on the same resampled cells, so it resamples both fits and cells.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from emobench.scoring.stats import BootstrapConfig, Estimate, draw_weights, estimate

from emobench.rundir.layout import FIT_SEP, fit_label, split_label  # noqa: F401  (the scorer's names for them)


def combine(estimates: list[Estimate], stream: str, cfg: BootstrapConfig, interval: str = "percentile") -> Estimate:
    """The across-fit mean and its two-level bootstrap distribution from per-fit estimates on shared cells."""
    k = len(estimates)
    samples = np.stack([np.asarray(e.samples, dtype=np.float64) for e in estimates], 1)   # [B, K]
    wf = draw_weights(k, stream, cfg).numpy()                                              # [B, K] fit counts
    ok = np.isfinite(samples)
    num = (wf * np.where(ok, samples, 0.0)).sum(1)
    den = (wf * ok).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        combined = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return estimate(float(np.mean([e.value for e in estimates])), combined, cfg, interval)


def merge_fits(series: dict, estimate_of: Callable, cfg: BootstrapConfig, problems: list[str]) -> dict:
    """``series`` keyed by (label, column, emotion) with fit labels replaced by one merged series per method.

    The merged series keeps fit 0's layout (cells, weights) for pairing, carries ``n_fits`` and the per-fit
    values in its ``extra``, and holds its combined estimate, so ``RunScorer.estimate`` never recomputes it."""
    out, groups = {}, {}
    for key, s in series.items():
        base, fit = split_label(key[0])
        if fit is None:
            out[key] = s
        else:
            groups.setdefault((base, key[1], key[2]), []).append((fit, s))
    for (base, col, emotion), parts in groups.items():
        parts.sort(key=lambda p: p[0])
        first = parts[0][1]
        if any(s.cells != first.cells for _, s in parts):
            problems.append(f"{col}: {base} / {emotion}: its fits cover different cells (a missing or corrupt "
                            "image); the fits are merged on their own cells and no paired difference is taken")
        ests = [estimate_of(s) for _, s in parts]
        stat = _StatView(first.stat, {"n_fits": len(parts),
                                      "per_fit": [{"fit_seed": f, "value": e.value} for (f, _), e in zip(parts, ests)]})
        interval = getattr(first.stat, "interval", "percentile")
        merged = replace(first, stat=stat, est=combine(ests, f"fits|{base}", cfg, interval), key=None)
        merged.n_fits = len(parts)
        merged.aligned = all(s.cells == first.cells for _, s in parts)
        out[(base, col, emotion)] = merged
    return out


class _StatView:
    """Fit 0's statistic seen with the merged row's facts (n, warning, extra + n_fits, per_fit)."""

    def __init__(self, stat, facts: dict):
        self._stat = stat
        self.n = stat.n
        self.warning = getattr(stat, "warning", "")
        self.extra = {**dict(getattr(stat, "extra", {})), **facts}
        self.interval = getattr(stat, "interval", "percentile")

    def evaluate(self, weights):   # only reached for unaligned cells, which merge_fits refuses to pair
        raise RuntimeError("a merged multi-fit statistic is not re-evaluated")
