"""Emotion confidence c = P(emotion | attribute), the weight that moves a sample from L_LDM to L_attr.

The official coefficient files (``attr_coefficient_emotion_{scene,object}.pkl``) have no released recipe; their
values track the label frequencies of the (balanced) training lists with median Pearson r 0.99 but have no
exact zeros. We use exactly that: label frequencies over the balanced attribute lists with additive
(Laplace) smoothing, ``c = (n(a, e) + α) / (n(a) + K·α)``. Tables are kept per kind (object / scene); the
official merge let an object's value overwrite a same-named scene's, which this does not copy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from emogen.data import TrainItem


@dataclass
class ConfidenceTable:
    keys: list[tuple[str, str]]          # (kind, attribute name)
    probs: torch.Tensor                  # [len(keys), K] rows sum to 1

    @classmethod
    def from_items(cls, items: Sequence[TrainItem], n_emotions: int, smoothing: float = 1.0) -> "ConfidenceTable":
        index: dict[tuple[str, str], int] = {}
        for it in items:
            if it.attribute is not None:
                index.setdefault((it.kind, it.attribute), len(index))
        keys = sorted(index)
        pos = {k: i for i, k in enumerate(keys)}
        counts = torch.zeros(len(keys), n_emotions, dtype=torch.float64)
        for it in items:
            if it.attribute is not None:
                counts[pos[(it.kind, it.attribute)], it.emotion] += 1
        probs = (counts + smoothing) / (counts.sum(1, keepdim=True) + n_emotions * smoothing)
        return cls(keys, probs.float())

    def lookup(self, kind: str, attribute: str | None, emotion: int, threshold: float = 0.0) -> float:
        """c for one sample; 0 when the attribute is unknown or c is below ``threshold`` (faithful rules)."""
        if attribute is None:
            return 0.0
        try:
            row = self.keys.index((kind, attribute))
        except ValueError:
            return 0.0
        c = float(self.probs[row, emotion])
        return c if c >= threshold else 0.0

    def weights(self, items: Sequence[TrainItem], threshold: float = 0.0) -> torch.Tensor:
        pos = {k: i for i, k in enumerate(self.keys)}
        out = torch.zeros(len(items))
        for j, it in enumerate(items):
            row = pos.get((it.kind, it.attribute)) if it.attribute is not None else None
            if row is not None:
                c = float(self.probs[row, it.emotion])
                out[j] = c if c >= threshold else 0.0
        return out
