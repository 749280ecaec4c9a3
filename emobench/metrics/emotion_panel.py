"""Emo-A by every judge of the zoo's panel, their mean, and how much the judges agree.

One judge cannot tell "expresses the emotion" from "found what this judge likes" (docs/judges.md). Per image
each panel judge's softmax over the eight emotions is cached as features (``[N, 8 × judges]``; the cache key
holds every judge's name and weights hash), and from them come

* ``emo-a@<judge>``: 1 if that judge's argmax is the requested emotion (the ``emo-a`` recipe per judge; on
  the primary judge it equals ``emo-a`` image for image);
* ``emo-a-mean``: the share of the panel's judges that see the requested emotion (its mean over images is the
  mean of the per-judge Emo-A values).

Being per-image columns, each gets the scorer's bootstrap CI and paired difference against the baseline.
The judges' agreement on the judged emotions (Cohen's κ per pair, Fleiss' κ across the panel; per requested
emotion and pooled) goes to ``judges.json`` through ``extra_tables``, with the panel's description.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import torch

from emobench.api import PerImageMetric, ScoreItem
from emobench.emotions import EMOTION_INDEX, EMOTIONS
from emobench.errors import EmobenchError
from emobench.rundir.layout import ALL
from emobench.metrics.agreement import agreement

if TYPE_CHECKING:  # pragma: no cover
    from emobench.judges import Judge
    from emobench.zoo.base import Zoo

TABLE = "judges.json"
K = len(EMOTIONS)


class EmotionPanel(PerImageMetric):
    name = "emo-a-mean"
    label, decimals, percent, unit, headline, order = "Emo-A panel mean", 1, True, "%", False, 4
    higher_is_better = True

    def __init__(self, config: Any = None):
        super().__init__(config)
        self.judges: list["Judge"] = []
        self._labels: dict[str, dict[str, torch.Tensor]] = {}   # method → emotion → judged labels [n, J]

    def prepare(self, zoo: "Zoo") -> None:
        from emobench.judges import load_panel

        panel = load_panel(zoo)
        if not panel.judges:
            why = "; ".join(f"{k}: {v}" for k, v in panel.unavailable.items())
            raise EmobenchError(f"the zoo provides no emotion judge ({why or 'no judge plugins'})",
                                "use a zoo with an emotion judge (`emobench list judges --zoo Z`)")
        self.judges = list(panel.judges)
        self._labels = {}

    def _judges(self) -> list["Judge"]:
        if not self.judges:
            raise RuntimeError("emo-a-mean: prepare(zoo) was not called before scoring")
        return self.judges

    def feature_id(self) -> list:
        return super().feature_id() + [[[j.name, j.weights_hash] for j in self._judges()]]

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        return torch.cat([j.predict_proba(images) for j in self._judges()], 1)   # [N, 8·J], EMOTIONS order each

    def column(self, judge: str) -> str:
        return f"emo-a@{judge}"

    def values(self, feats: torch.Tensor, items: Sequence[ScoreItem]) -> dict[str, torch.Tensor]:
        judged = self._judged(feats)
        target = torch.tensor([EMOTION_INDEX[it.emotion] for it in items], dtype=torch.long)
        correct = (judged == target[:, None]).double()                       # [N, J]
        out = {self.name: correct.mean(1) if correct.numel() else torch.zeros(0, dtype=torch.float64)}
        out.update({self.column(j.name): correct[:, i] for i, j in enumerate(self._judges())})
        return out

    def _judged(self, feats: torch.Tensor) -> torch.Tensor:
        j = len(self._judges())
        return feats.reshape(feats.shape[0], j, K).argmax(2)                 # [N, J] judged emotion per judge

    def display(self) -> dict[str, dict[str, Any]]:
        base = super().display()
        facts = base[self.name]
        facts["judges"] = [j.name for j in self.judges]
        for i, j in enumerate(self.judges):
            base[self.column(j.name)] = {
                **{k: v for k, v in facts.items() if k != "judges"},
                "label": f"Emo-A {j.name}" + (" (primary)" if j.primary else ""),
                "order": self.order + 1 + i, "judge": j.name, "family": j.family, "primary": j.primary,
                "weights_hash": j.weights_hash}
        return base

    def extra_tables(self, method: str, feats: torch.Tensor, items: Sequence[ScoreItem],
                     tables: dict[str, Any]) -> None:
        """Adds this group's judged labels and rewrites the method's κ table in ``judges.json``."""
        if not items:
            return
        names = [j.name for j in self._judges()]
        by_emotion = self._labels.setdefault(method, {})
        emotion = items[0].emotion if len({it.emotion for it in items}) == 1 else ALL
        labels = self._judged(feats)
        by_emotion[emotion] = torch.cat([by_emotion[emotion], labels]) if emotion in by_emotion else labels
        table = tables.setdefault(TABLE, {"judges": [j.describe() for j in self._judges()], "methods": {}})
        order = {e: i for i, e in enumerate(EMOTIONS)}
        per = {e: agreement(lab, names) for e, lab in sorted(by_emotion.items(), key=lambda kv: order.get(kv[0], K))}
        pooled = agreement(torch.cat(list(by_emotion.values())), names)
        table["methods"][method] = {**pooled, "emotions": per}
