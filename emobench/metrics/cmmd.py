"""CMMD (Jayasumana et al., "Rethinking FID", CVPR 2024): the maximum mean discrepancy between the CLIP image
embeddings of generated and real images, with a Gaussian RBF kernel (σ = 10) on L2-normalised embeddings,
scaled by 1000. Real images: the held-out **test** images of the emotion (the FID reference); the ``all`` row
pools every image against every reference image, as FID's does.

Two estimators of MMD² (config ``estimator``):

* ``unbiased`` (default): the U-statistic, each set's kernel mean over distinct pairs (the diagonal
  k(x, x) = 1 left out), as KID does; its expectation is the population MMD² at any n, so two methods compare
  at equal footing whatever their n, and it can be slightly negative.
* ``biased``: the official code's (``cmmd/distance.py``) V-statistic, the means over all pairs including
  each image with itself; it adds about (1 − mean k) / n per set, so it shrinks with n. Labelled "CMMD
  (biased, official)" in reports.

At mini scale the zoo's CLIP is a small model trained on EmoSet-mini, not CLIP ViT-L/14@336: compare methods
with each other, never with published CMMD values.
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

ESTIMATORS = ("unbiased", "biased")


@dataclass(frozen=True)
class CmmdConfig:
    estimator: str = "unbiased"   # "biased": the official code's V-statistic
    sigma: float = 10.0           # RBF bandwidth (the paper's)
    scale: float = 1000.0         # the paper's display scale


def rbf(x: torch.Tensor, y: torch.Tensor, sigma: float) -> torch.Tensor:
    """``exp(−‖x − y‖² / (2σ²))`` for all pairs (float64)."""
    sq = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * x @ y.T
    return torch.exp(-sq.clamp_min(0) / (2 * sigma ** 2))


def normalise(f: torch.Tensor) -> torch.Tensor:
    f = f.double()
    return f / f.norm(dim=1, keepdim=True).clamp_min(1e-12)


class CmmdStat(GroupStat):
    def __init__(self, fake: torch.Tensor, real: torch.Tensor, cfg: CmmdConfig):
        f, r = normalise(fake), normalise(real)
        self.n, self.m, self.cfg = f.shape[0], r.shape[0], cfg
        self.k_ff = rbf(f, f, cfg.sigma)
        self.k_fr_rows = rbf(f, r, cfg.sigma).sum(1)            # Σ_j k(f_i, r_j)
        k_rr = rbf(r, r, cfg.sigma)
        unbiased = cfg.estimator == "unbiased"
        if unbiased and self.m < 2:
            raise EmobenchError("CMMD's unbiased estimator needs at least 2 reference images",
                                "use a dataset with more test images, or estimator=biased")
        self.rr = ((k_rr.sum() - torch.trace(k_rr)) / (self.m * (self.m - 1)) if unbiased
                   else k_rr.mean())
        self.extra = {"n_fake": self.n, "n_real": self.m, "estimator": cfg.estimator, "sigma": cfg.sigma}

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        w = weights.double()
        sw = w.sum(1)
        wkw = ((w @ self.k_ff) * w).sum(1)
        if self.cfg.estimator == "unbiased":   # draws of one image paired with themselves are left out
            ff = (wkw - w @ torch.diagonal(self.k_ff)) / (sw * (sw - 1))
        else:
            ff = wkw / (sw * sw)
        out = self.cfg.scale * (ff + self.rr - 2 * (w @ self.k_fr_rows) / (sw * self.m))
        return torch.where(sw > 1, out, torch.full_like(out, float("nan")))


class CMMD(ClipImageFeatures, SetMetric):
    name = "cmmd"
    Config = CmmdConfig
    label, decimals, order = "CMMD", 3, 3
    requires = ("clip", "dataset")
    needs_reference = True
    higher_is_better = False

    def __init__(self, config: Any = None):
        super().__init__(config)
        if self.config.estimator not in ESTIMATORS:
            raise EmobenchError(f"cmmd: estimator {self.config.estimator!r} is unknown",
                                f"pass estimator={' or estimator='.join(ESTIMATORS)}")

    def display(self) -> dict[str, dict[str, Any]]:
        facts = super().display()
        biased = self.config.estimator == "biased"
        facts[self.name].update(label="CMMD (biased, official)" if biased else "CMMD",
                                estimator=self.config.estimator)
        return facts

    def scale_note(self, zoo: "Zoo") -> str | None:
        if getattr(zoo, "scale", "") == "paper":
            return ("CMMD: on the zoo's CLIP; published CMMD uses CLIP ViT-L/14 at 336 px, so values are close to, "
                    "not the same as, published ones when the zoo's CLIP differs")
        return ("CMMD: computed on the zoo's own small CLIP, not CLIP ViT-L/14@336: its values are not on the scale "
                "of published CMMD; compare methods with each other only")

    def group_stat(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        return CmmdStat(group.features(), ctx.reference_features(group.emotion), self.config)

    def pooled_stat(self, groups, stats, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        fake = torch.cat([g.features() for g in groups])
        return CmmdStat(fake, ctx.reference_features("all"), self.config)
