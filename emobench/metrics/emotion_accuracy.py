"""Emo-A: does the emotion judge see the requested emotion?

Per image the judge's softmax over the eight emotions is cached (as features); from it come

* ``emo-a``: 1 if the argmax is the requested emotion, else 0 (the paper's 8-class accuracy, Table 1);
* ``emo-a.p_target``: the judged probability of the requested emotion (the official script's "mean softmax
  of the true class"; graded, so it separates methods when accuracy saturates or sits near chance).

The confusion matrix (requested × judged, counts) is built from the same cached probabilities
(``confusion``), so the shuffled-label control costs no forward at all.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import torch

from emobench.emotions import EMOTION_INDEX, EMOTIONS
from emobench.errors import EmobenchError
from emobench.api import PerImageMetric, ScoreItem, batched
from emobench.rundir.layout import CONTROL_REAL

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo


def _canonical_order(labels: Sequence[str]) -> list[int]:
    """Index into the judge's logits for each canonical emotion (judges may list labels in another order)."""
    labels = list(labels)
    missing = [e for e in EMOTIONS if e not in labels]
    if missing:
        raise EmobenchError(f"the emotion judge has no label for {', '.join(missing)}",
                            "use an emotion judge whose labels are the eight Mikels emotions")
    return [labels.index(e) for e in EMOTIONS]


class EmotionAccuracy(PerImageMetric):
    name = "emo-a"
    label, decimals, percent, unit, headline, order = "Emo-A", 1, True, "%", True, 3
    role = "emotion"
    requires = ("judges.emotion",)
    higher_is_better = True

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        judge = zoo.judges.emotion
        order = _canonical_order(judge.labels)
        logits = batched(judge, images, self.batch_size)
        return torch.softmax(logits.double(), dim=1)[:, order].float()   # [N, 8] in canonical order

    def display(self) -> dict[str, dict[str, Any]]:
        facts = super().display()
        # A ceiling: real images of the emotion are what the judge was trained on. A method above their interval
        # (the report marks it "above real images") usually draws each emotion's most typical picture.
        facts[self.name].update(above_control=CONTROL_REAL, above_control_note=(
            "Emo-A above real images usually means drawing each emotion's most typical picture (a prototype the "
            "judge finds easy), not a wider grasp of the emotion: read the method's coverage and recall"))
        return {**facts,
                "emo-a.p_target": {"label": "Emo-A p(target)", "unit": "", "decimals": 3, "percent": False,
                                   "higher_is_better": True, "headline": False, "order": 7}}

    def extra_tables(self, method: str, feats: torch.Tensor, items: Sequence[ScoreItem],
                     tables: dict[str, Any]) -> None:
        """Adds this group's 8×8 counts to the method's ``confusion.json`` table."""
        conf = tables.setdefault("confusion.json", {}).setdefault(
            method, {"labels": list(EMOTIONS), "counts": [[0] * len(EMOTIONS) for _ in EMOTIONS]})
        add = confusion(feats, items)
        conf["counts"] = [[a + b for a, b in zip(r1, r2)] for r1, r2 in zip(conf["counts"], add)]

    def values(self, feats: torch.Tensor, items: Sequence[ScoreItem]) -> dict[str, torch.Tensor]:
        target = torch.tensor([EMOTION_INDEX[it.emotion] for it in items], dtype=torch.long)
        judged = feats.argmax(1)
        return {
            "emo-a": (judged == target).double(),
            "emo-a.p_target": feats.double().gather(1, target[:, None])[:, 0],
        }


def confusion(feats: torch.Tensor, items: Sequence[ScoreItem]) -> list[list[int]]:
    """8×8 counts: row = requested emotion, column = judged emotion (canonical order)."""
    counts = torch.zeros(len(EMOTIONS), len(EMOTIONS), dtype=torch.long)
    if len(items):
        target = torch.tensor([EMOTION_INDEX[it.emotion] for it in items], dtype=torch.long)
        counts.index_put_((target, feats.argmax(1)), torch.ones(len(items), dtype=torch.long), accumulate=True)
    return counts.tolist()
