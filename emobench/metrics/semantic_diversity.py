"""Sem-D: semantic diversity within an emotion — mean distance between CLIP image features of image pairs.

Two variants, both from the official ``Semantic_metrics.py``:

* ``sem-d``: the paper's printed number, the **MSE** variant — mean over feature dimensions of the squared
  difference of the (projected, not normalised) CLIP image features;
* ``sem-d-cos``: 1 − cosine similarity.

Fixes relative to the official script (docs/metrics.md): pairs are drawn within each emotion only (the
script never reset its image list, so emotion k pooled emotions 1..k), all pairs are used when affordable
(else a seeded sample, not 10 unseeded pairs with repeats), images reach CLIP once with the right scaling
(the script rescaled [0,1] tensors by 1/255 again, so CLIP saw near-blank images), and each image's features
are computed once and shared by both variants. The pooled value is the mean of the per-emotion values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from emobench.api import Group, GroupStat, PairwiseMeanStat, ScoringContext, SetMetric
from emobench.metrics.clip_features import ClipImageFeatures
from emobench.metrics.pairs import pair_mask

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo


@dataclass(frozen=True)
class SemDConfig:
    max_pairs: int = 100_000   # per emotion; n=25 has 300 pairs, so all pairs are used at the default plan
    seed: int = 0


def mse_distances(f: torch.Tensor) -> torch.Tensor:
    """``d[i, j] = mean_k (f_ik − f_jk)²`` for all pairs at once."""
    f = f.double()
    sq = (f * f).sum(1)
    return ((sq[:, None] + sq[None, :] - 2 * f @ f.T).clamp_min(0)) / f.shape[1]


def cosine_distances(f: torch.Tensor) -> torch.Tensor:
    u = F.normalize(f.double(), dim=1)
    return 1 - u @ u.T


class SemanticDiversity(ClipImageFeatures, SetMetric):
    name = "sem-d"
    label, decimals, headline, order = "Sem-D", 4, True, 5
    role = "diversity"
    Config = SemDConfig
    requires = ("clip",)
    higher_is_better = True

    def distances(self, feats: torch.Tensor) -> torch.Tensor:
        return mse_distances(feats)

    def group_stat(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        feats = group.features()
        mask = pair_mask(group.n, self.config.max_pairs, self.config.seed, group.emotion)
        return PairwiseMeanStat(self.distances(feats), mask)


class SemanticDiversityCos(SemanticDiversity):
    name = "sem-d-cos"
    label, decimals, headline, order = "Sem-D (cos)", 4, False, 8
    role = ""   # a variant of Sem-D: the figure pairs the primary one

    def distances(self, feats: torch.Tensor) -> torch.Tensor:
        return cosine_distances(feats)
