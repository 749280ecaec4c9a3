"""Group statistics a set metric returns: re-evaluable under bootstrap weights, so the scorer resamples the
images of a group without recomputing features. Part of the metric contract; re-exported by ``emobench.api``."""
from __future__ import annotations

from abc import abstractmethod
from typing import Sequence

import torch


class GroupStat:
    """A statistic of one group of items, re-evaluable under bootstrap weights."""

    n: int = 0
    warning: str = ""                 # e.g. "n=25 < D=128: FID is biased at this n; compare KID"
    extra: dict = {}                  # facts written to summary.json (n_real, feature dim, ...)
    interval: str = "percentile"      # "shifted": a resample biases it (FID, KID), centre the CI (docs/metrics.md)

    @abstractmethod
    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        """``weights [B, n]`` → statistic per resample ``[B]`` (float64; nan when undefined)."""


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


class MeanOfStats(GroupStat):
    """Mean of per-emotion statistics (the paper's pooled Sem-D / LPIPS); weights are concatenated groups."""

    def __init__(self, stats: Sequence[GroupStat]):
        self.stats = list(stats)
        self.n = sum(s.n for s in self.stats)
        self.extra = {}
        # a mean of statistics that resampling biases (k-NN coverage, Vendi, per-emotion FID) is biased alike
        if any(getattr(s, "interval", "percentile") == "shifted" for s in self.stats):
            self.interval = "shifted"

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        out, start = [], 0
        for s in self.stats:
            out.append(s.evaluate(weights[:, start:start + s.n]))
            start += s.n
        return torch.stack(out, 1).mean(1)
