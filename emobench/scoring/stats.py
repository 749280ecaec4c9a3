"""Honest statistics for emobench: bootstrap CIs over cells, paired differences, Holm correction.

Design (see docs/metrics.md):

* The resampling unit is the **cell** (emotion, template, seed). Resamples are stratified by emotion, so
  every resample keeps the plan's balance, and "all" statistics are computed from the same per-emotion draws.
* The draws of an emotion depend only on ``(seed, stream, n)`` — not on the method — so every method is
  evaluated on the *same* resampled cell indices. A difference of two methods' bootstrap statistics is then
  a **paired** bootstrap of the difference.
* Draws are multiplicity weights ``[B, n]`` (multinomial counts); statistics take weights (see
  ``emobench.api.GroupStat``), so set metrics (FID, Sem-D, LPIPS) are recomputed per resample from
  cached features at matrix-product cost.
* CIs are percentile intervals; the p-value of a paired difference is the two-sided bootstrap p-value
  (twice the smaller tail share of resampled differences on either side of 0, with the +1 correction), and
  p-values are Holm-corrected within a family of comparisons.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch


@dataclass(frozen=True)
class BootstrapConfig:
    n_resamples: int = 1000
    seed: int = 0
    alpha: float = 0.05       # 95 % intervals


def _stream_seed(seed: int, stream: str) -> int:
    digest = hashlib.sha256(f"{seed}|{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def draw_weights(n: int, stream: str, cfg: BootstrapConfig) -> torch.Tensor:
    """Multinomial resample counts ``[B, n]`` (float64), deterministic in (cfg.seed, stream, n)."""
    if n == 0:
        return torch.zeros(cfg.n_resamples, 0, dtype=torch.float64)
    rng = np.random.default_rng(_stream_seed(cfg.seed, stream))
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=cfg.n_resamples)
    return torch.from_numpy(counts.astype(np.float64))


def percentile_ci(samples: np.ndarray, alpha: float) -> tuple[float, float]:
    """Percentile interval of bootstrap samples; nan samples (undefined resamples) are dropped."""
    s = np.asarray(samples, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return (math.nan, math.nan)
    lo, hi = np.percentile(s, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return (float(lo), float(hi))


def bootstrap_p_value(diff_samples: np.ndarray) -> float:
    """Two-sided p-value for H0: difference = 0 from the paired bootstrap distribution, by its normal
    approximation (z = mean / sd of the resampled differences).

    The percentile form (share of resamples on the far side of 0) cannot go below 2 / (B + 1); Holm over a
    leaderboard's 20–30 comparisons turns that floor into "never significant" at B = 1000, however large the
    effect. The normal form has no such floor."""
    d = np.asarray(diff_samples, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return math.nan
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:   # a degenerate resampling distribution carries no p-value (it used to give p = 0)
        return 1.0 if mean == 0.0 else math.nan
    return float(min(1.0, 2 * normal_sf(abs(mean) / sd)))


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z, bit for bit ``scipy.stats.norm.sf`` (which is ``ndtr(-z)``), from
    ``scipy.special`` alone: a warm re-score then never imports scipy.stats (2 s of a finished run's resume)."""
    from scipy.special import ndtr

    return float(ndtr(-z))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (monotone step-down); nan entries stay nan and are not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.where(np.isfinite(p))[0]
    m = idx.size
    if m == 0:
        return out.tolist()
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


@dataclass
class Estimate:
    value: float
    ci_low: float
    ci_high: float
    samples: np.ndarray          # the bootstrap statistics (kept for paired differences)
    interval: str = "percentile"


def shift_to(samples: np.ndarray, point: float) -> np.ndarray:
    """Bootstrap statistics moved by the bootstrap's bias estimate (mean of the finite ones − ``point``)."""
    s = np.asarray(samples, dtype=np.float64)
    ok = np.isfinite(s)
    return s - (s[ok].mean() - point) if ok.any() else s


def estimate(point: float, samples: torch.Tensor | np.ndarray, cfg: BootstrapConfig,
             interval: str = "percentile") -> Estimate:
    """Point value and 95 % interval. ``interval="shifted"``: the percentile interval of the statistics moved
    by the bootstrap's bias estimate (they keep their spread and skew, centred on ``point``); the raw
    statistics are kept in ``samples`` (paired differences subtract them resample by resample)."""
    s = samples.numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    lo, hi = percentile_ci(shift_to(s, point) if interval == "shifted" else s, cfg.alpha)
    return Estimate(float(point), lo, hi, s, interval)


@dataclass
class Difference:
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    samples: np.ndarray | None = None   # the resampled differences (``significance.decide`` reads them)


def paired_difference(a: Estimate, b: Estimate, cfg: BootstrapConfig) -> Difference:
    """a − b from estimates computed on the same resampled cells (shifted statistics: the differences are
    centred on a.value − b.value, as each side's interval is on its value)."""
    d = a.samples - b.samples
    if "shifted" in (a.interval, b.interval):
        d = shift_to(d, a.value - b.value)
    lo, hi = percentile_ci(d, cfg.alpha)
    return Difference(a.value - b.value, lo, hi, bootstrap_p_value(d), d)
