"""Sem-C: how clearly an image shows *something* — max(top object probability, top scene probability).

The paper uses an ImageNet ResNet-50 and a Places365 ResNet-50; a zoo supplies its own object and scene
judges. Softmax over the class dimension (the official script omits ``dim``; for 2-D logits torch used dim 1,
which is what we do explicitly). Pooled over all emotions, the paper's number is the mean over every image.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

from emobench.api import PerImageMetric, ScoreItem, batched

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo


class SemanticClarity(PerImageMetric):
    name = "sem-c"
    label, decimals, headline, order = "Sem-C", 3, True, 4
    requires = ("judges.object", "judges.scene")
    higher_is_better = True

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        obj = torch.softmax(batched(zoo.judges.object, images, self.batch_size).double(), dim=1).amax(1)
        scene = torch.softmax(batched(zoo.judges.scene, images, self.batch_size).double(), dim=1).amax(1)
        return torch.stack([obj, scene], 1).float()   # [N, 2]: top object prob, top scene prob

    def values(self, feats: torch.Tensor, items: Sequence[ScoreItem]) -> dict[str, torch.Tensor]:
        return {"sem-c": feats.double().amax(1)}
