"""The metric contract: what a metric plugin implements and what the scorer gives it.

Every metric computes **per-image features once** (``features``: judge outputs, embeddings — cached by the
scorer under (image content id, judges hash, metric name + config)), and turns them into numbers in one of
two ways:

* ``PerImageMetric``: one value per image (Emo-A, Sem-C, CLIP score). The aggregate is the mean over
  cells; the scorer writes each value to ``scores.csv``.
* ``SetMetric``: a statistic of a set of images (FID, KID, Sem-D, LPIPS). ``group_stat`` builds a
  ``GroupStat`` for one (method, emotion) group; its ``evaluate(weights)`` recomputes the statistic for
  bootstrap resamples given as multiplicity weights, from precomputed features or distance matrices, so
  1000 resamples cost matrix products, never network forwards.

Weights: a float tensor ``[B, n]`` of resample counts over the group's items (0 = not drawn, or missing
for this method). Row ``torch.ones(1, n)`` is the plain point estimate.
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar, Sequence

import torch

from emobench import api

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo


@dataclass(frozen=True)
class ScoreItem:
    """One image as a metric sees it."""

    emotion: str    # the requested emotion (generated) or the label (real / shuffled control)
    prompt: str     # the prompt the image was made from (CLIP score); a template prompt for real images
    image_id: str   # content id: sha256 of the PNG; real images resized for scoring add "@<size>"


class GroupStat:
    """A statistic of one group of items, re-evaluable under bootstrap weights."""

    n: int = 0
    warning: str = ""                 # e.g. "n=25 < D=128: FID is biased at this n; compare KID"
    extra: dict = {}                  # facts written to summary.json (n_real, feature dim, ...)

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

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        out, start = [], 0
        for s in self.stats:
            out.append(s.evaluate(weights[:, start:start + s.n]))
            start += s.n
        return torch.stack(out, 1).mean(1)


@dataclass
class Group:
    """A set of items handed to a set metric, with lazy access to what the scorer holds for them."""

    method: str
    emotion: str                                   # an emotion, or "all"
    items: list[ScoreItem]
    features: Callable[[], torch.Tensor]           # this metric's cached per-image features [n, K]
    images: Callable[[], torch.Tensor]             # decoded images [n, 3, H, W] (only for image-pair metrics)
    cache_get: Callable[[str], dict[str, torch.Tensor] | None] = field(default=lambda key: None)
    cache_put: Callable[[str, dict[str, torch.Tensor]], None] = field(default=lambda key, value: None)

    @property
    def n(self) -> int:
        return len(self.items)


class ScoringContext:
    """What the scorer offers a set metric besides the group: features of the real reference images."""

    def __init__(self, reference_features: Callable[[str], torch.Tensor], seed: int = 0):
        self._reference_features = reference_features
        self.seed = seed

    def reference_features(self, emotion: str) -> torch.Tensor:
        """This metric's features ``[m, K]`` of the dataset's held-out **test** images of ``emotion`` (all
        emotions for ``"all"``); cached by (dataset content hash, judges hash, metric features)."""
        return self._reference_features(emotion)


class Metric(api.Metric):
    """Base of every built-in metric. Subclass ``PerImageMetric`` or ``SetMetric``."""

    kind: ClassVar[str] = "per_image"
    batch_size: ClassVar[int] = 64
    min_images: ClassVar[int] = 1            # per group; fewer → a clear message, other metrics go on
    uses_features: ClassVar[bool] = True     # False: works on images directly (LPIPS)
    needs_reference: ClassVar[bool] = False  # True: compares with the dataset's held-out test images

    def feature_id(self) -> list:
        """What the cached features depend on besides the image and the judges. Metrics that share a feature
        network return the same id (``sem-d`` and ``sem-d-cos`` share CLIP image features; ``fid`` and ``kid``
        share the FID features), so each image goes through that network once."""
        return [self.name, api.config_to_dict(self.config)]

    def item_key(self, item: ScoreItem) -> str:
        """Extra part of an item's feature cache key beyond the image (e.g. the prompt for CLIP score)."""
        return ""

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        """Float images ``[N,3,H,W]`` in [0,1] → per-image features ``[N, K]`` (one forward per image)."""
        raise NotImplementedError


class PerImageMetric(Metric):
    kind: ClassVar[str] = "per_image"

    @abstractmethod
    def values(self, feats: torch.Tensor, items: Sequence[ScoreItem]) -> dict[str, torch.Tensor]:
        """Features ``[N, K]`` → ``{column: [N] values}``; the first column is the metric itself."""


class SetMetric(Metric):
    kind: ClassVar[str] = "set"
    min_images: ClassVar[int] = 2

    @abstractmethod
    def group_stat(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        """The statistic of one (method, emotion) group."""

    def pooled_stat(self, groups: Sequence[Group], stats: Sequence[GroupStat], ctx: ScoringContext,
                    zoo: "Zoo") -> GroupStat:
        """The "all" statistic; default: mean of the per-emotion statistics (as the paper pools LPIPS)."""
        return MeanOfStats(stats)


def batched(fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Apply ``fn`` to ``images`` in batches under ``no_grad`` (memory stays bounded at paper scale)."""
    outs = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            outs.append(fn(images[start:start + batch_size]).detach().float().cpu())
    return torch.cat(outs) if outs else torch.zeros(0)
