"""Does a method draw the emotion, or only its most typical picture? k-NN precision, recall, density and coverage
of each emotion's generated images against the held-out real **test** images of that emotion (the FID
reference), on two feature spaces:

* ``coverage`` (+ ``recall``, ``precision``, ``density``): the zoo's FID features — at mini scale the primary
  emotion judge's pooled penultimate layer, at paper scale Inception-v3's pool features;
* ``coverage-clip`` (+ ``recall-clip``, ...): the zoo's CLIP image features (at paper scale the CLIP ViT-L/14
  the primary Emo-A probe reads).

Per emotion against that emotion's real images; the ``all`` row is the mean over emotions. A method that draws
one prototype per emotion gets high precision (the prototype is a real-looking image) and recall and coverage
near 0 (it reaches one corner of the real distribution). The statistics are in ``emobench.metrics.knn``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import torch

from emobench.api import Group, GroupStat, ScoreItem, ScoringContext, SetMetric, batched
from emobench.metrics.clip_features import ClipImageFeatures
from emobench.metrics.knn import COLUMNS, KnnManifolds, KnnStat

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

# column facts: (label, headline, order offset, role); coverage first (the metric's own column)
# recall first by order: the emotion-vs-coverage scatter's x axis (it separates prototype-drawers most at small n)
_FACTS = {"coverage": ("Coverage", True, 1, "coverage"), "recall": ("Recall", True, 0, "coverage"),
          "precision": ("Precision", False, 2, ""), "density": ("Density", False, 3, "")}


@dataclass(frozen=True)
class KnnConfig:
    k: int = 5   # neighbours defining each ball (Naeem et al.'s and Kynkäänniemi et al.'s default)


class KnnCoverage(SetMetric):
    """precision / recall / density / coverage on the zoo's FID features."""

    name = "coverage"
    Config = KnnConfig
    requires = ("judges.fid_features", "dataset")
    needs_reference = True
    higher_is_better = True
    decimals, order = 3, 20
    suffix, space = "", "the zoo's FID features"

    @property
    def min_images(self) -> int:   # type: ignore[override]
        return self.config.k + 1

    def column(self, stat: str) -> str:
        return f"{stat}{self.suffix}"

    def display(self) -> dict[str, dict[str, Any]]:
        out = {}
        for stat in ("coverage", "recall", "precision", "density"):
            label, headline, offset, role = _FACTS[stat]
            out[self.column(stat)] = {
                "label": label + (" (CLIP)" if self.suffix else ""), "unit": "", "decimals": self.decimals,
                # density is best near 1 (a set drawn like the real one): no direction, no "best" mark
                "percent": False, "higher_is_better": None if stat == "density" else True,
                "headline": headline and not self.suffix,
                "order": self.order + offset, "role": role if not self.suffix else "",
                "k": self.config.k, "features": self.space, "reference": "held-out test images of the emotion",
                # per-emotion bar charts for the two headline columns only (figures cost seconds each)
                "bars": headline and not self.suffix}
        return out

    def feature_id(self) -> list:
        return ["fid-features"]   # the same cached features as FID and KID

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        return batched(zoo.judges.fid_features, images, self.batch_size)

    def group_stat(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        return self.group_stats(group, ctx, zoo)[self.name]

    def group_stats(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> dict[str, GroupStat]:
        real = ctx.reference_features(group.emotion)
        manifolds = KnnManifolds.build(real, group.features(), self.config.k)
        extra = {"n_fake": group.n, "n_real": int(real.shape[0]), "k": self.config.k}
        stats = {self.column(c): KnnStat(manifolds, c, extra) for c in COLUMNS}
        return {c: stats[c] for c in self.display()}   # the metric's own column first


class KnnCoverageClip(ClipImageFeatures, KnnCoverage):
    """The same four statistics on the zoo's CLIP image features."""

    name = "coverage-clip"
    requires = ("clip", "dataset")
    order = 24
    suffix, space = "-clip", "the zoo's CLIP image features"
