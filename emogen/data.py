"""Training data for both stages: images of a split (preloaded as uint8 when small, else read per batch) and
stage 2's attribute lists (the official ``{object,scene}_norepeat`` lists, rebuilt from the annotations).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from emobench.errors import EmobenchError

PRELOAD_BYTES = 768 * 2**20   # preload a split as uint8 below this size; above it, read images per batch
LOAD_CHUNK = 256


class ImageBank:
    """Images of ``samples`` at ``size`` px as float [0,1], by index (what ``dataset.load_images`` returns)."""

    def __init__(self, dataset: Any, samples: Sequence[Any], size: int):
        self.dataset, self.samples, self.size = dataset, list(samples), size
        self._cache: torch.Tensor | None = None
        if len(self.samples) * 3 * size * size <= PRELOAD_BYTES:
            chunks = [
                (dataset.load_images(self.samples[s : s + LOAD_CHUNK], size) * 255).round().to(torch.uint8)
                for s in range(0, len(self.samples), LOAD_CHUNK)
            ]
            self._cache = torch.cat(chunks) if chunks else torch.zeros(0, 3, size, size, dtype=torch.uint8)

    def __len__(self) -> int:
        return len(self.samples)

    def get(self, idx: Sequence[int] | torch.Tensor) -> torch.Tensor:
        idx = [int(i) for i in idx]
        if self._cache is not None:
            return self._cache[idx].float() / 255.0
        return self.dataset.load_images([self.samples[i] for i in idx], self.size)

    def chunks(self, chunk: int = LOAD_CHUNK):
        for s in range(0, len(self), chunk):
            yield self.get(range(s, min(len(self), s + chunk)))


def split_samples(dataset: Any, split: str, emotions: Sequence[str]) -> tuple[list[Any], torch.Tensor]:
    """Samples of ``split`` whose emotion is fitted, sorted by id (independent of listing order), and labels."""
    keep = {e: i for i, e in enumerate(emotions)}
    samples = sorted((s for s in dataset.split(split) if s.emotion in keep), key=lambda s: s.id)
    labels = torch.tensor([keep[s.emotion] for s in samples], dtype=torch.long)
    return samples, labels


@dataclass(frozen=True)
class AttributeVocabulary:
    """The attribute bank of L_attr: objects then scenes (official: object list + scene list concatenated);
    a name in both keeps its first index (the official target is the first occurrence)."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]          # "object" | "scene" per entry

    @classmethod
    def from_dataset(cls, dataset: Any) -> "AttributeVocabulary":
        objects = list(getattr(dataset, "objects", []) or [])
        scenes = list(getattr(dataset, "scenes", []) or [])
        return cls(tuple(objects + scenes), tuple(["object"] * len(objects) + ["scene"] * len(scenes)))

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            return -1

    def texts(self, style: str = "raw") -> list[str]:
        """raw: the names as annotated (official: underscores kept, no template); words: "city street"."""
        return [n if style == "raw" else n.replace("_", " ").strip() for n in self.names]


@dataclass(frozen=True)
class TrainItem:
    """One stage-2 sample: an image (index into the train bank), its emotion, attribute kind and name."""

    image: int
    emotion: int
    kind: str          # "object" | "scene" | "none"
    attribute: str | None


def attribute_items(samples: Sequence[Any], labels: torch.Tensor, n_emotions: int, which: str,
                    balance: bool, generator: torch.Generator, need_attributes: bool) -> list[TrainItem]:
    """The official training list: per property, each image once under its scene (scene list) or its first
    object (object list); every emotion oversampled to the majority count (``dataset_balance.py``, here
    seeded); the lists concatenated and shuffled.

    Without annotations (and ``need_attributes`` false) every image is one item with no attribute.
    """
    kinds = ("object", "scene") if which == "both" else (which,)
    lists: list[list[TrainItem]] = []
    for kind in kinds:
        items = []
        for i, s in enumerate(samples):
            name = (s.objects[0] if s.objects else None) if kind == "object" else s.scene
            if name:
                items.append(TrainItem(i, int(labels[i]), kind, name))
        if items:
            lists.append(_balanced(items, n_emotions, generator) if balance else items)
    if not lists:
        if need_attributes:
            raise EmobenchError(
                "the emotion dataset has no object/scene annotations, so the attribute loss is impossible",
                "train without it: emogen:attr_weight=0 (the paper's 'without attribute loss' ablation)",
            )
        items = [TrainItem(i, int(labels[i]), "none", None) for i in range(len(samples))]
        lists = [_balanced(items, n_emotions, generator) if balance else items]
    allitems = [it for lst in lists for it in lst]
    order = torch.randperm(len(allitems), generator=generator).tolist()
    return [allitems[i] for i in order]


def _balanced(items: list[TrainItem], n_emotions: int, generator: torch.Generator) -> list[TrainItem]:
    """Oversample every emotion present to the majority emotion's count (shuffled indices modulo class size)."""
    by_e: dict[int, list[TrainItem]] = {}
    for it in items:
        by_e.setdefault(it.emotion, []).append(it)
    top = max(len(v) for v in by_e.values())
    out: list[TrainItem] = []
    for e in sorted(by_e):
        group = by_e[e]
        perm = torch.randperm(top, generator=generator).tolist()
        out.extend(group[p % len(group)] for p in perm)
    return out
