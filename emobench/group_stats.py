"""Group statistics a set metric returns: re-evaluable under cell weights, so the scorer resamples (leaves out)
the images of a group without recomputing features. Part of the metric contract; re-exported by ``emobench.api``.

A statistic may also know an unbiased estimate of its own sampling covariance with the same statistic on the
same cells (``GroupStat.covariance``): the pairwise means do (they are U-statistics), and the scorer then uses
it instead of the delete-one-cell jackknife, which overstates the variance of such statistics at small n
(docs/metrics.md, "Which interval each number has")."""
from __future__ import annotations

import math

from abc import abstractmethod
from typing import Sequence

import torch


class GroupStat:
    """A statistic of one group of items, re-evaluable under bootstrap weights."""

    n: int = 0
    warning: str = ""                 # e.g. "n=25 < D=128: FID is biased at this n; compare KID"
    extra: dict = {}                  # facts written to summary.json (n_real, feature dim, ...)
    # the values the statistic can take (recall and coverage: 0 to 1): a t interval is clipped to it
    value_range: tuple[float, float] = (-math.inf, math.inf)

    @abstractmethod
    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        """``weights [B, n]`` → statistic per resample ``[B]`` (float64; nan when undefined)."""

    def covariance(self, other: "GroupStat") -> torch.Tensor | None:
        """Unbiased estimate of the sampling covariance of this statistic and ``other`` (the same statistic on
        the same cells: another method, or another fit), one entry per stratum of the items (an emotion);
        their sum is the covariance. None (the default): unknown, and the scorer estimates it with a
        delete-one-cell jackknife from ``evaluate``."""
        return None


class MeanStat(GroupStat):
    """Weighted mean of per-image values: the aggregate of every per-image metric."""

    def __init__(self, values: torch.Tensor):
        self.values = values.double()
        self.n = int(values.numel())
        self.extra = {}

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        w = weights.double()
        return (w @ self.values) / w.sum(1)


class PairwiseMeanStat(GroupStat):
    """Mean of a symmetric distance over distinct image pairs (Sem-D, LPIPS diversity).

    ``dist[i, j]`` holds the distance for the pairs in ``mask`` (all i≠j, or a seeded sample of pairs when all
    pairs are too many). A resample counts each pair of draws of *different* images, weighted by the
    multiplicities: duplicates of one image are not a pair (their distance 0 would fake low diversity).
    """

    def __init__(self, dist: torch.Tensor, mask: torch.Tensor | None = None):
        n = dist.shape[0]
        if mask is None:
            mask = ~torch.eye(n, dtype=torch.bool)
        self.mask = mask.double()
        self.dist = dist.double() * self.mask
        self.n = n
        self.extra = {"pairs": int(mask.triu(1).sum())}

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        w = weights.double()
        num = ((w @ self.dist) * w).sum(1)
        den = ((w @ self.mask) * w).sum(1)
        return num / den

    def covariance(self, other: GroupStat) -> torch.Tensor | None:
        if not isinstance(other, PairwiseMeanStat) or other.n != self.n or not torch.equal(other.mask, self.mask):
            return None
        return torch.tensor([ustat_covariance(self.dist, other.dist, self.mask)], dtype=torch.float64)


class MeanOfStats(GroupStat):
    """Mean of per-emotion statistics (the paper's pooled Sem-D / LPIPS); weights are concatenated groups."""

    def __init__(self, stats: Sequence[GroupStat]):
        self.stats = list(stats)
        self.n = sum(s.n for s in self.stats)
        self.extra = {}
        ranges = {getattr(s, "value_range", (-math.inf, math.inf)) for s in self.stats}
        if len(ranges) == 1:   # a mean of shares is a share
            self.value_range = ranges.pop()

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        out, start = [], 0
        for s in self.stats:
            out.append(s.evaluate(weights[:, start:start + s.n]))
            start += s.n
        return torch.stack(out, 1).mean(1)

    def covariance(self, other: GroupStat) -> torch.Tensor | None:
        # the groups are independent strata: the covariance of the mean is the sum of theirs over k²
        if not isinstance(other, MeanOfStats) or [s.n for s in other.stats] != [s.n for s in self.stats]:
            return None
        parts = [a.covariance(b) for a, b in zip(self.stats, other.stats)]
        if any(p is None for p in parts):
            return None
        return torch.cat(parts) / len(self.stats) ** 2


def ustat_covariance(h_a: torch.Tensor, h_b: torch.Tensor, mask: torch.Tensor) -> float:
    """Unbiased estimate of Cov(U_a, U_b) for two pairwise means over the same design of pairs ``mask`` on the
    same n items (i.i.d. units: the cells), ``h_a``/``h_b`` symmetric with zeros off the design.

    With M design pairs and Σ_i deg_i(deg_i − 1) ordered pairs of design pairs sharing one item,
    Cov = [M·ζ₂ + Σ deg(deg−1)·ζ₁] / M², where ζ₂ = E[h_a h_b on one pair] − θ_aθ_b and ζ₁ = E[h_a(i,j)
    h_b(i,k)] − θ_aθ_b; each moment is estimated by its average over the design (θ_aθ_b over disjoint pairs
    of pairs), so the estimate is unbiased (Hoeffding). nan when the design has no two disjoint pairs (n < 4).
    The delete-one jackknife counts the ζ₂ part twice and over-covers at a few cells per emotion."""
    a, b, m = h_a.double(), h_b.double(), mask.double()
    a, b = a * m, b * m
    pairs = float(m.sum()) / 2                          # symmetric, zero diagonal
    deg = m.sum(1)
    shared = float((deg * (deg - 1)).sum())
    disjoint = pairs * pairs - pairs - shared
    if pairs == 0 or shared == 0 or disjoint <= 0:
        return float("nan")
    p2 = float((a * b).sum()) / 2                        # Σ_pairs h_a h_b
    q3 = float((a.sum(1) * b.sum(1)).sum()) - 2 * p2     # Σ over ordered pairs of pairs sharing one item
    q4 = float(a.sum()) * float(b.sum()) / 4 - p2 - q3   # Σ over ordered disjoint pairs of pairs
    prod = q4 / disjoint
    return (pairs * (p2 / pairs - prod) + shared * (q3 / shared - prod)) / pairs ** 2
