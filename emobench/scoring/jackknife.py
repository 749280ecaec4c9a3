"""Stratified delete-one-cell jackknife: the sampling covariance of any statistic that takes cell weights.

The unit of sampling is the cell (emotion, template, seed); emotions are strata of fixed size. A replicate
leaves out one cell (or, past ``max_replicates`` per series, one group of cells taken round-robin, so a
group mixes the plan's templates) and gives the rest of *its emotion* the weight the left-out cells had, so
every replicate keeps the plan's balance of emotions: for a mean over cells this is exactly the stratified
unbiased variance Σ_e (n_e/N)² s_e²/n_e, and for a set statistic (FID, KID, any plugin's) it is the usual
delete-one jackknife. The covariance of two statistics on the same cells (two methods, two fits) comes from
their replicates taken on the same left-out cells, so differences stay paired.

Per stratum e with G_e replicates: cov_e = (G_e − 1)/G_e · Σ_g (θ_(g) − θ̄)(φ_(g) − φ̄); the parts are kept
per stratum (their Satterthwaite degrees of freedom need them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch


@dataclass(frozen=True)
class Replicates:
    """The left-out groups of one cell layout: ``groups[e]`` lists, per replicate of stratum e, the column
    indices (into the concatenated cells) it leaves out."""

    strata: tuple[int, ...]                      # cells per stratum, in column order
    groups: tuple[tuple[np.ndarray, ...], ...]

    @property
    def count(self) -> int:
        return sum(len(g) for g in self.groups)

    @property
    def per_stratum(self) -> list[int]:
        return [len(g) for g in self.groups]


def replicates(strata: Sequence[int], max_replicates: int = 1000) -> Replicates:
    """Delete-one replicates, or round-robin groups when the cells exceed ``max_replicates`` (shared out over
    the strata in proportion to their size, at least 2 each)."""
    strata = tuple(int(n) for n in strata)
    total = sum(strata)
    groups, start = [], 0
    for n in strata:
        g = n if total <= max_replicates else min(n, max(2, (max_replicates * n) // max(total, 1)))
        idx = np.arange(start, start + n)
        groups.append(tuple(idx[k::g] for k in range(g)) if n else ())
        start += n
    return Replicates(strata, tuple(groups))


def replicate_weights(rep: Replicates) -> torch.Tensor:
    """``[R, n]`` weights: a left-out group gets 0, the rest of its stratum n_e / (n_e − |group|), others 1."""
    n = sum(rep.strata)
    w = torch.ones(rep.count, n, dtype=torch.float64)
    row, start = 0, 0
    for n_e, groups in zip(rep.strata, rep.groups):
        for g in groups:
            keep = n_e - len(g)
            w[row, start:start + n_e] = n_e / keep if keep > 0 else 0.0
            w[row, torch.from_numpy(g)] = 0.0
            row += 1
        start += n_e
    return w


def replicate_values(stat, rep: Replicates, chunk: int = 250) -> np.ndarray:
    """The statistic on every replicate ``[R]`` (float64; nan where undefined)."""
    w = replicate_weights(rep)
    with torch.no_grad():
        parts = [stat.evaluate(w[i:i + chunk]) for i in range(0, w.shape[0], chunk)]
    return torch.cat(parts).double().numpy() if parts else np.zeros(0)


def stratum_covariance(a: np.ndarray, b: np.ndarray, rep: Replicates) -> np.ndarray:
    """Jackknife covariance per stratum ``[S]`` of two statistics' replicates on the same layout (nan where a
    replicate is undefined, e.g. a pairwise statistic left with one image)."""
    out, start = [], 0
    for n_e, g in zip(rep.strata, rep.per_stratum):
        x, y = a[start:start + g], b[start:start + g]
        start += g
        if n_e < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
            out.append(np.nan)
            continue
        out.append((g - 1) / g * float(((x - x.mean()) * (y - y.mean())).sum()))
    return np.asarray(out, dtype=np.float64)
