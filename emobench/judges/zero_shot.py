"""``clip-zero-shot``: the zoo's CLIP as a zero-shot emotion classifier with a logged prompt ensemble.

Per emotion, the text embeddings of every prompt of the ensemble (``"an image that evokes {emotion}"``, ...)
are L2-normalised, averaged and normalised again (CLIP's own ImageNet recipe); an image's logits are
``logit_scale · cos(image, class)``. Nothing is trained, so it shares no training data with any method; but
it is the same CLIP whose text tower conditions Stable Diffusion at paper scale, which a method tuned through
that text encoder may exploit (see docs/judges.md).

* mini scale: ``judges/panel/clip-zero-shot.json`` holds the ensemble and its measured test-split accuracy
  (written by ``emobench zoo fit-panel``);
* paper scale: ``[panel.clip-zero-shot]`` in the TOML (``prompts = [...]`` optional; default ensemble below).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emobench.hashing import stable_hash
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.judges.base import Judge, JudgePlugin, JudgeUnavailable
from emobench.judges.sources import panel_card, toml_section

DEFAULT_PROMPTS: tuple[str, ...] = (
    "an image that evokes {emotion}",
    "a photo that evokes {emotion}",
    "an image of {emotion}",
    "a picture that makes people feel {emotion}",
)


class ClipZeroShot(nn.Module):
    """The class embeddings are made on the first forward, not when the panel is built: a warm re-score (every
    image's logits cached) then never loads CLIP, which was most of a finished run's resume."""

    def __init__(self, clip: Any, prompts: Sequence[str], labels: Sequence[str] = EMOTIONS):
        super().__init__()
        self.clip, self.prompts, self.labels = clip, tuple(prompts), tuple(labels)
        self.classes: torch.Tensor | None = None
        self.logit_scale = 100.0

    def _prepare(self) -> None:
        with torch.no_grad():
            texts = [p.format(emotion=e) for e in self.labels for p in self.prompts]
            t = F.normalize(self.clip.encode_texts(texts).float(), dim=-1).view(len(self.labels), len(self.prompts), -1)
            self.classes = F.normalize(t.mean(1), dim=-1)
        scale = getattr(getattr(self.clip, "model", None), "logit_scale", None)
        self.logit_scale = float(scale.detach().exp()) if scale is not None else 100.0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.classes is None:
            self._prepare()
        feats = F.normalize(self.clip.encode_images(images).float(), dim=-1)
        return self.logit_scale * feats @ self.classes.to(feats.device).T


def check_prompts(prompts: Any, where: str) -> tuple[str, ...]:
    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) and "{emotion}" in p for p in prompts):
        raise EmobenchError(f"{where}: prompts must be a non-empty list of strings with an {{emotion}} placeholder",
                            'e.g. prompts = ["an image that evokes {emotion}", "a photo of {emotion}"]')
    return tuple(prompts)


def zero_shot_judge(name: str, family: str, clip: Any, clip_hash: str, prompts: Sequence[str],
                    card: dict[str, Any]) -> Judge:
    net = ClipZeroShot(clip, prompts)
    whash = stable_hash({"clip": clip_hash, "prompts": list(prompts), "labels": list(EMOTIONS)}, n=64)
    return Judge(name, family, tuple(EMOTIONS), whash, net, {**card, "prompts": list(prompts)})


class ClipZeroShotJudge(JudgePlugin):
    name = "clip-zero-shot"
    family = "clip-zero-shot"
    description = "the zoo's CLIP, zero-shot, with a logged prompt ensemble"

    def build(self, zoo) -> Judge:
        if zoo.clip is None:
            raise JudgeUnavailable(f"zoo {zoo.name!r} has no CLIP")
        if zoo.source is not None:
            sec = toml_section(zoo, self.name)
            prompts = check_prompts(sec.get("prompts", list(DEFAULT_PROMPTS)), f"{zoo.source}: [panel.{self.name}]")
            card = {"architecture": "CLIP ViT-L/14 zero-shot (mean of normalised prompt embeddings per emotion)",
                    "trained_on": "nothing (zero-shot)", "validated_on": sec.get("validated_on"),
                    "held_out_accuracy": sec.get("held_out_accuracy")}
        else:
            path, card = panel_card(zoo, self.name)
            prompts = check_prompts(card.get("prompts"), str(path))
        return zero_shot_judge(self.name, self.family, zoo.clip, zoo.hashes.get("clip", ""), prompts, card)
