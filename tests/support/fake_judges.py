"""Judges for panel tests with known answers (registered through EMOBENCH_JUDGES):

* ``colour``: a fixed function of the image's mean brightness (a family that sees only colour);
* ``colour-copy``: the same map under another name and family, so its judged emotions equal ``colour``'s on
  every image (Cohen's κ = 1 wherever κ is defined).
"""
from __future__ import annotations

import torch

from emobench.emotions import EMOTIONS
from emobench.judges import Judge, JudgePlugin

PLUGINS = "colour-copy=support.fake_judges:CopyJudge,colour=support.fake_judges:ColourJudge"


class ColourJudge(JudgePlugin):
    name = "colour"
    family = "colour-stat"

    def build(self, zoo) -> Judge:
        k = torch.arange(8, dtype=torch.float32)

        def logits(images: torch.Tensor) -> torch.Tensor:
            # argmax = round(40 · mean brightness) mod 8: small brightness differences change the label, so
            # the judged labels vary even over a handful of similar images
            v = images.float().mean((1, 2, 3))[:, None]
            return torch.cos(2 * torch.pi * (40 * v - k) / 8)

        return Judge(self.name, self.family, tuple(EMOTIONS), "colour-v1", logits_fn=logits,
                     card={"trained_on": "-", "validated_on": "-", "held_out_accuracy": None})


class CopyJudge(ColourJudge):
    name = "colour-copy"
    family = "copy-of-colour"

    def build(self, zoo) -> Judge:
        j = super().build(zoo)
        j.name, j.family, j.weights_hash = self.name, self.family, "colour-copy-v1"
        return j
