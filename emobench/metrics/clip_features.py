"""The zoo's CLIP image features, one cache entry shared by every metric that reads them (Sem-D, CMMD,
Vendi, k-NN coverage on CLIP): the scorer caches features under ``feature_id``, so metrics that name the same
id compute them once per image."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

from emobench.api import ScoreItem

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

FEATURE_ID = "clip-image"


class ClipImageFeatures:
    """Mixin for a metric plugin: ``feature_id`` and ``features`` of the zoo's CLIP image encoder."""

    def feature_id(self) -> list:
        return [FEATURE_ID]   # independent of the metric's own settings: they act on the features

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        with torch.no_grad():
            return zoo.clip.encode_images(images).float()
