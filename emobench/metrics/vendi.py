"""The Vendi score (Friedman & Dieng, TMLR 2023) within each emotion, truncated (Ospanov & Farnia,
arXiv 2410.21719): the effective number of distinct images, a diversity score beside Sem-D and LPIPS.

With the cosine kernel on the zoo's CLIP image features (``K_ij = cos(f_i, f_j)``, so ``K_ii = 1``), the
eigenvalues λ of ``K / n`` sum to 1 and Vendi = exp(−Σ λ log λ): 1 when every image is the same, n when all are
orthogonal. The t-truncated score keeps the t largest eigenvalues and spreads the rest of the mass evenly over
them (``λ_i + (1 − Σ_{j≤t} λ_j) / t``), so it lies in [1, t] and converges at n = O(t) samples, where the plain
score keeps growing with n; ``truncation = 0`` gives the plain score. The ``all`` row is the mean over
emotions (as Sem-D's).

Bootstrap: a resample's multiset is the weighted kernel ``W^½ K W^½ / Σw`` (the kernel matrix of the repeated
images has exactly these eigenvalues), so repeats lower the score as they would in a set that holds them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from emobench.api import Group, GroupStat, ScoringContext, SetMetric
from emobench.metrics.clip_features import ClipImageFeatures
from emobench.errors import EmobenchError

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo


@dataclass(frozen=True)
class VendiConfig:
    truncation: int = 16   # t: keep the t largest eigenvalues; 0: the plain (untruncated) Vendi score


def vendi_from_eigenvalues(ev: torch.Tensor, truncation: int) -> torch.Tensor:
    """``ev [B, n]`` eigenvalues of unit-trace kernels → ``[B]`` (truncated) Vendi scores, order q = 1."""
    ev = ev.double().clamp_min(0)
    ev = ev / ev.sum(1, keepdim=True)
    if 0 < truncation < ev.shape[1]:
        top = ev.sort(1, descending=True).values[:, :truncation]
        ev = top + (1 - top.sum(1, keepdim=True)) / truncation
    ent = -(torch.where(ev > 0, ev * torch.log(torch.where(ev > 0, ev, 1.0)), torch.zeros_like(ev))).sum(1)
    return torch.exp(ent)


class VendiStat(GroupStat):
    def __init__(self, feats: torch.Tensor, truncation: int):
        x = feats.double()
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        self.x, self.truncation = x, truncation
        self.n, d = x.shape
        self.gram = x @ x.T if self.n <= d else None                 # eigen-problem on the smaller side
        self.extra = {"truncation": truncation, "kernel": "cosine"}

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        side = min(self.n, self.x.shape[1])
        chunk = max(1, int(2e7 // (side * side)))
        return torch.cat([self._evaluate(weights[i:i + chunk].double()) for i in range(0, weights.shape[0], chunk)])

    def _evaluate(self, w: torch.Tensor) -> torch.Tensor:
        sw = w.sum(1)
        if self.gram is not None:
            s = w.sqrt()
            k = self.gram[None] * s[:, :, None] * s[:, None, :]
        else:   # Xᵀ W X has the same non-zero eigenvalues as W^½ X Xᵀ W^½
            k = (w[:, :, None] * self.x[None]).transpose(1, 2) @ self.x   # batched matrix products, not einsum
        ev = torch.linalg.eigvalsh(k / sw[:, None, None])
        return vendi_from_eigenvalues(ev, self.truncation)


class Vendi(ClipImageFeatures, SetMetric):
    name = "vendi"
    Config = VendiConfig
    label, decimals, order = "Vendi", 2, 9
    role = "diversity"   # a diversity score; the emotion-vs-diversity figure keeps the lowest order (Sem-D)
    requires = ("clip",)
    higher_is_better = True

    def __init__(self, config: Any = None):
        super().__init__(config)
        if int(self.config.truncation) < 0:
            raise EmobenchError(f"vendi: truncation must be 0 (none) or positive, got {self.config.truncation}",
                                "pass truncation=16 (or 0 for the plain Vendi score)")

    def display(self) -> dict[str, dict[str, Any]]:
        facts = super().display()
        t = int(self.config.truncation)
        facts[self.name].update(label=f"Vendi (t={t})" if t else "Vendi", truncation=t)
        return facts

    def group_stat(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        return VendiStat(group.features(), int(self.config.truncation))
