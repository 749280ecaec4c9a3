"""CLIP score between each image and its plan cell's prompt.

Every method's image is scored against the same text, the plan prompt (the cell's template rendered with the
plain emotion word, ``ScoreItem.plan_prompt``), not against the prompt the method fed its pipeline (EmoGen's
``<fear>``, TI's learned token): otherwise the score compares different texts and says nothing about the
images.

Per image ``100 · max(cos(image embedding, text embedding), 0)`` with the zoo's CLIP (projected embeddings,
L2-normalised here) — torchmetrics' ``clip_score`` on a single image–text pair. torchmetrics clamps the
*mean* over a batch at 0, we clamp each image (Hessel et al.'s per-image CLIPScore); the two agree whenever
no cosine is negative, which is the usual case. Texts longer than the CLIP context are truncated by the
zoo's tokenizer, as torchmetrics does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn.functional as F

from emobench.api import PerImageMetric, ScoreItem

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo


class ClipScore(PerImageMetric):
    name = "clip-score"
    label, decimals, headline, order = "CLIP score", 3, True, 6
    requires = ("clip",)
    higher_is_better = True

    def item_key(self, item: ScoreItem) -> str:
        return item.plan_prompt   # the score depends on the text as well as the image

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        with torch.no_grad():
            img = F.normalize(zoo.clip.encode_images(images).double(), dim=-1)
            txt = F.normalize(zoo.clip.encode_texts([it.plan_prompt for it in items]).double(), dim=-1)
        return (100 * (img * txt).sum(-1).clamp_min(0))[:, None].float()

    def values(self, feats: torch.Tensor, items: Sequence[ScoreItem]) -> dict[str, torch.Tensor]:
        return {"clip-score": feats[:, 0].double()}
