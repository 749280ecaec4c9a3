"""CLIP-A and EC-A: does the image show the requested content, and both content and emotion at once?

EmoCtrl's content metrics (its ``metrics/joint.py``), for runs of the ``content`` track:

* ``clip-a``: for an element (a word: "spider"), 1 if it is among CLIP's top-``k`` (k = 5) of
  ``"a photo of a {c}"`` over the elements of the zoo's content list (``emobench.spec.tracks.zoo_contents``:
  EmoSet-mini's 12 objects at mini scale, EmoCtrl's 45 elements at paper scale); for a caption (a sentence
  ending with a full stop, ``emobench.data.content_lists.is_caption``), 1 if the cosine similarity of CLIP's
  image and caption embeddings (the caption as written, both L2-normalised, not scaled by CLIP's logit
  scale) is above ``threshold`` (0.15), as in EmoCtrl; else 0;
* ``ec-a``: 1 if the content is right **and** the emotion judge's argmax is the requested emotion.

Per image the features are the emotion judge's softmax (canonical order) and the content hit, so EC-A costs
no extra forward. The candidate list is the zoo's whole content list, not the contents a run happens to
plan: a run of 3 contents is scored against the same candidates as one of all of them. Chance level is
k / len(list) (5/12 at mini scale, 5/45 for EmoCtrl's elements); the real control (held-out images that show
a planned object) gives the judge's accuracy on real images. A caption has no candidates: its rule is an
absolute cosine threshold, so it does not depend on the list.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import torch
import torch.nn.functional as F

from emobench.api import PerImageMetric, ScoreItem, batched
from emobench.data.content_lists import elements_of, is_caption
from emobench.emotions import EMOTION_INDEX, EMOTIONS
from emobench.errors import EmobenchError
from emobench.metrics.emotion_accuracy import _canonical_order
from emobench.spec.tracks import zoo_contents

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

TEXT_TEMPLATE = "a photo of a {}"   # EmoCtrl's element prompt for CLIP


@dataclass(frozen=True)
class ContentConfig:
    top_k: int = 5              # an element: right if in CLIP's top-k over the zoo's elements
    threshold: float = 0.15     # a caption: right if CLIP's image-caption cosine is above this (EmoCtrl's value)


class ContentAccuracy(PerImageMetric):
    name = "clip-a"
    Config = ContentConfig
    label, decimals, percent, unit, headline, order = "CLIP-A", 1, True, "%", True, 4
    requires = ("clip", "judges.emotion")
    needs_content = True
    higher_is_better = True

    def item_key(self, item: ScoreItem) -> str:
        return item.content or ""   # the hit depends on which content was asked for

    def display(self) -> dict[str, dict[str, Any]]:
        return {**super().display(),
                "ec-a": {"label": "EC-A", "unit": "%", "decimals": 1, "percent": True,
                         "higher_is_better": True, "headline": True, "order": 4}}

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        contents = [it.content or "" for it in items]
        caption = torch.tensor([is_caption(c) for c in contents], dtype=torch.bool)
        judge = zoo.judges.emotion
        emo = torch.softmax(batched(judge, images, self.batch_size).double(), 1)[:, _canonical_order(judge.labels)]
        with torch.no_grad():
            img = F.normalize(zoo.clip.encode_images(images).double(), dim=-1)
        hit = torch.zeros(len(items), dtype=torch.float64)
        if caption.any():   # EmoCtrl: cos(image, caption) > 0.15, each caption on its own
            texts = [c for c, cap in zip(contents, caption.tolist()) if cap]
            with torch.no_grad():
                txt = F.normalize(zoo.clip.encode_texts(texts).double(), dim=-1)
            hit[caption] = ((img[caption] * txt).sum(1) > self.config.threshold).double()
        if not caption.all():
            hit[~caption] = self._element_hits(img[~caption], [c for c, cap in zip(contents, caption.tolist())
                                                                 if not cap], zoo)
        return torch.cat([emo, hit[:, None]], 1).float()   # [N, 9]: emotion probs, content hit

    def _element_hits(self, img: torch.Tensor, contents: list[str], zoo: "Zoo") -> torch.Tensor:
        """1 where the element is among CLIP's top-k of "a photo of a {c}" over the zoo's elements."""
        candidates = list(elements_of(zoo_contents(zoo)))
        if not candidates:
            raise EmobenchError(f"zoo {zoo.name!r} has no content list for CLIP-A",
                                "use a zoo whose dataset annotates objects (the mini zoo does)")
        missing = sorted({c for c in contents if c not in candidates})
        if missing:
            raise EmobenchError(f"content {missing[0]!r} is not in the zoo's content list",
                                f"plan contents from: {', '.join(candidates)}")
        with torch.no_grad():
            txt = F.normalize(zoo.clip.encode_texts([TEXT_TEMPLATE.format(c) for c in candidates]).double(), dim=-1)
        top = (img @ txt.T).topk(min(self.config.top_k, len(candidates)), dim=1).indices   # [N, k]
        target = torch.tensor([candidates.index(c) for c in contents], dtype=torch.long)
        return (top == target[:, None]).any(1).double()

    def values(self, feats: torch.Tensor, items: Sequence[ScoreItem]) -> dict[str, torch.Tensor]:
        target = torch.tensor([EMOTION_INDEX[it.emotion] for it in items], dtype=torch.long)
        emotion_ok = feats[:, : len(EMOTIONS)].argmax(1) == target
        hit = feats[:, len(EMOTIONS)].double()
        return {"clip-a": hit, "ec-a": hit * emotion_ok.double()}
