"""The emotion-judge contract: what every member of the judge panel is and declares.

A ``Judge`` wraps one network that maps images to emotion logits, together with the facts a reader needs to
weigh its verdicts: its ``family`` (what kind of model it is, so that agreement between two judges of the
same family is not read as independent evidence), its ``labels`` (the order of its logits: checkpoints
disagree on it, so it is declared, never assumed), its ``weights_hash`` and its ``card`` (how it was trained
and its held-out accuracy).

``predict_proba(images)`` is the one call scoring uses: float ``[N,3,H,W]`` images in ``[0,1]`` (or uint8)
of any size → ``[N, 8]`` softmax probabilities in ``EMOTIONS`` order, whatever the judge's own label order.

Judges come from plugins (``JudgePlugin``, entry-point group ``emobench.judges``): a plugin knows how to
build its judge from a zoo, or says why this zoo cannot provide it (``JudgeUnavailable``).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import torch

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

PRIMARY = "primary"   # in a method's ``trained_against``: the zoo's Emo-A judge, whichever it is at this scale
CARD_KEYS = ("trained_on", "validated_on", "held_out_accuracy")


class JudgeUnavailable(Exception):
    """This zoo cannot provide the judge (a part missing, not configured); the reason is one line."""


def canonical_order(labels: Sequence[str], who: str = "the emotion judge") -> list[int]:
    """Index into a judge's logits for each emotion of ``EMOTIONS``; every one of the eight must be there."""
    labels = list(labels)
    missing = [e for e in EMOTIONS if e not in labels]
    if missing:
        raise EmobenchError(f"{who} has no label for {', '.join(missing)} (its labels: {', '.join(labels)})",
                            "declare the judge's label order with the eight Mikels emotion names")
    if len(set(labels)) != len(labels):
        raise EmobenchError(f"{who} lists a label twice ({', '.join(labels)})", "give each logit one label")
    return [labels.index(e) for e in EMOTIONS]


@dataclass
class Judge:
    """One emotion judge of the panel. ``logits_fn``: images → ``[N, len(labels)]`` logits (it resizes and
    normalises the images itself; it may be differentiable, see ``differentiable``)."""

    name: str
    family: str                       # "pixel-cnn", "clip-linear-probe", "clip-zero-shot", "torchvision-resnet50", ...
    labels: tuple[str, ...]           # the order of ``logits_fn``'s columns
    weights_hash: str                 # sha256 (or stable hash) over what determines its outputs
    logits_fn: Callable[[torch.Tensor], torch.Tensor]
    card: dict[str, Any] = field(default_factory=dict)   # trained_on, validated_on, held_out_accuracy, ...
    primary: bool = False             # True: this is the zoo's Emo-A judge (``zoo.judges.emotion``)
    differentiable: bool = True       # gradients flow from logits to the input images
    batch_size: int = 64

    def __post_init__(self) -> None:
        self.labels = tuple(self.labels)
        self._order = canonical_order(self.labels, f"judge {self.name!r}")

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, 8]`` logits in ``EMOTIONS`` order, one forward (gradients flow if the network allows)."""
        return self.logits_fn(images).float()[:, self._order]

    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, 8]`` float32 probabilities in ``EMOTIONS`` order on CPU, in batches of ``batch_size``."""
        outs = []
        with torch.no_grad():
            for start in range(0, images.shape[0], self.batch_size):
                out = self.logits_fn(images[start:start + self.batch_size]).double().cpu()
                outs.append(torch.softmax(out, dim=1)[:, self._order].float())
        return torch.cat(outs) if outs else torch.zeros(0, len(EMOTIONS))

    def describe(self) -> dict[str, Any]:
        """JSON-able facts (for ``emobench list judges``, audit files and the report)."""
        return {"name": self.name, "family": self.family, "labels": list(self.labels),
                "weights_hash": self.weights_hash, "primary": self.primary, "card": dict(self.card)}


class JudgePlugin(ABC):
    """Builds one judge from a zoo. Subclasses set ``name`` and ``family`` and implement ``build``; a plugin
    registered under the entry-point group ``emobench.judges`` is part of every panel whose zoo it fits."""

    name: ClassVar[str]
    family: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def build(self, zoo: "Zoo") -> Judge:
        """The judge for ``zoo``; raise ``JudgeUnavailable(reason)`` when this zoo cannot provide it."""


def is_trained_against(trained_against: Sequence[str], judge: Judge) -> bool:
    """Whether a method that declares ``trained_against`` optimised against ``judge``: it names the judge, its
    family, or ``"primary"`` and the judge is the zoo's Emo-A judge. Such a judge's verdict on that method
    is not independent evidence (the report greys it)."""
    names = set(trained_against)
    return judge.name in names or judge.family in names or (judge.primary and PRIMARY in names)


__all__ = ["Judge", "JudgePlugin", "JudgeUnavailable", "canonical_order", "is_trained_against", "PRIMARY",
           "CARD_KEYS"]
