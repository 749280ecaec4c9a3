"""When a paired difference may carry a p-value, and which test gives it.

The paired bootstrap (``stats.paired_difference``) resamples cells stratified by emotion. With very few cells
per emotion its distribution has a handful of distinct values (at 2 images per emotion a pair metric has one
pair per group, and every resample is identical), and its normal-approximation p-value is then meaningless
(``sd == 0`` gave p = 0, "***" on every pilot run). So:

* **bootstrap** (the default): needs at least ``MIN_CELLS_PER_EMOTION`` cells in every emotion of both
  groups and at least ``MIN_DISTINCT`` distinct resampled differences. Its p-value is clipped below at
  ``P_FLOOR_NORMAL``: beyond that the normal tail is an extrapolation that B = 1000 resamples cannot check.
* **sign-flip** (per-image metrics whose groups are too small for the bootstrap): the exact paired
  permutation test of the per-cell differences (``scipy.stats.permutation_test``, ``permutation_type=
  "samples"``: each cell's two images swap labels), over all cells pooled; needs ``MIN_PAIRS`` cells. Its
  p-value is exact and cannot go below ``1 / 2**n``: the test's own resolution.
* otherwise **no test**: the row keeps its Δ and interval, carries no p-value and no mark, and ``p_note`` says
  why.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

MIN_CELLS_PER_EMOTION = 5     # bootstrap: fewer cells per stratum give too few distinct resamples
MIN_DISTINCT = 20             # bootstrap: distinct resampled differences below this = degenerate
MIN_PAIRS = 20                # sign-flip: fewer pairs cannot reach a Holm-corrected 0.05 in a leaderboard family
P_FLOOR_NORMAL = 1e-6         # |z| ≈ 4.9: the deepest normal tail trusted from 1000 resamples
EXACT_LIMIT = 16              # sign-flip: enumerate all 2**n sign patterns up to this n, else sample
SIGN_FLIP_RESAMPLES = 99_999


@dataclass
class Verdict:
    p_value: float            # nan: no test
    note: str                 # which test, or why none


def clip_bootstrap_p(p: float) -> float:
    return p if not math.isfinite(p) else max(P_FLOOR_NORMAL, min(1.0, p))


def bootstrap_verdict(diff_samples: np.ndarray, p_value: float, cells_per_emotion: Sequence[int]) -> Verdict | None:
    """The bootstrap's p-value when it may be shown; None when the data cannot carry it (see ``decide``)."""
    d = np.asarray(diff_samples, dtype=np.float64)
    d = d[np.isfinite(d)]
    if not cells_per_emotion or min(cells_per_emotion) < MIN_CELLS_PER_EMOTION:
        return None
    if np.unique(d).size < MIN_DISTINCT:
        return None
    return Verdict(clip_bootstrap_p(p_value), "paired bootstrap")


def sign_flip_p(diffs: np.ndarray, seed: int = 0) -> float:
    """Two-sided paired permutation (sign-flip) p-value of mean(diffs) = 0; exact for n ≤ EXACT_LIMIT."""
    from scipy.stats import permutation_test

    d = np.asarray(diffs, dtype=np.float64)
    if d.size == 0 or np.all(d == 0):
        return 1.0
    n_res = math.inf if d.size <= EXACT_LIMIT else SIGN_FLIP_RESAMPLES
    res = permutation_test((d, np.zeros_like(d)), lambda x, y, axis: np.mean(x - y, axis=axis),
                           permutation_type="samples", alternative="two-sided", n_resamples=n_res, vectorized=True,
                           random_state=np.random.default_rng(seed))
    floor = 2.0 ** -d.size if d.size <= EXACT_LIMIT else 1.0 / (SIGN_FLIP_RESAMPLES + 1)
    return float(max(floor, min(1.0, res.pvalue)))


def decide(diff_samples: np.ndarray, p_value: float, cells_per_emotion: Sequence[int],
           paired_values: tuple[np.ndarray, np.ndarray] | None, seed: int = 0) -> Verdict:
    """The p-value a summary row may show and why. ``paired_values``: per-cell values of both groups on the
    same cells (per-image metrics), or None (set metrics, or groups that are not cell-aligned)."""
    v = bootstrap_verdict(diff_samples, p_value, cells_per_emotion)
    if v is not None:
        return v
    small = f"{min(cells_per_emotion) if cells_per_emotion else 0} cell(s) in an emotion < {MIN_CELLS_PER_EMOTION}"
    if not cells_per_emotion or min(cells_per_emotion) >= MIN_CELLS_PER_EMOTION:
        d = np.asarray(diff_samples, dtype=np.float64)
        small = f"degenerate bootstrap ({np.unique(d[np.isfinite(d)]).size} distinct resampled values)"
    if paired_values is not None:
        a, b = paired_values
        if a.size >= MIN_PAIRS:
            return Verdict(sign_flip_p(a - b, seed), f"sign-flip permutation ({small})")
        return Verdict(math.nan, f"no test: {small}, {a.size} pairs < {MIN_PAIRS}")
    return Verdict(math.nan, f"no test: {small}")
