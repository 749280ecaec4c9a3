"""Training data for both stages: images of a split (preloaded as uint8 when small, else read per batch) and
stage 2's attribute lists (the official ``{object,scene}_norepeat`` lists, rebuilt from the annotations).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from emobench.errors import EmobenchError

PRELOAD_BYTES = 768 * 2**20   # preload a split as uint8 below this size; above it, read images per batch
LOAD_CHUNK = 256


def load_framed(dataset: Any, samples: Sequence[Any], size: int, framing: str = "crop", crop: float = 1.0
                ) -> torch.Tensor:
    """Images at ``size``×``size``, float [0,1]. ``crop`` with ``crop = 1``: the dataset's own centre crop of the
    whole short side (emobench's default). ``crop < 1``: the centre ``crop`` fraction of the short side (official
    stage 1: Resize 256 → CenterCrop 224 = 0.875). ``squash``: the whole image resized to a square, aspect ratio
    not kept (official stage 2: ``Resize((512, 512))`` without ``--center_crop``)."""
    if framing == "crop" and crop == 1.0:
        return dataset.load_images(samples, size)
    out = []
    for s in samples:   # native sizes differ: one image at a time
        x = dataset.load_images([s])[0]
        if framing == "crop":
            _, h, w = x.shape
            m = max(1, round(min(h, w) * crop))
            top, left = (h - m) // 2, (w - m) // 2
            x = x[:, top : top + m, left : left + m]
        x = F.interpolate(x[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
        out.append(x.clamp_(0, 1))
    return torch.stack(out) if out else torch.zeros(0, 3, size, size)


class ImageBank:
    """Images of ``samples`` at ``size`` px as float [0,1], by index (what ``dataset.load_images`` returns, or
    with another ``framing`` / ``crop``: see :func:`load_framed`)."""

    def __init__(self, dataset: Any, samples: Sequence[Any], size: int, framing: str = "crop", crop: float = 1.0):
        self.dataset, self.samples, self.size = dataset, list(samples), size
        self.framing, self.crop = framing, crop
        self._cache: torch.Tensor | None = None
        if len(self.samples) * 3 * size * size <= PRELOAD_BYTES:
            chunks = [
                (self._load(self.samples[s : s + LOAD_CHUNK]) * 255).round().to(torch.uint8)
                for s in range(0, len(self.samples), LOAD_CHUNK)
            ]
            self._cache = torch.cat(chunks) if chunks else torch.zeros(0, 3, size, size, dtype=torch.uint8)

    def __len__(self) -> int:
        return len(self.samples)

    def get(self, idx: Sequence[int] | torch.Tensor) -> torch.Tensor:
        idx = [int(i) for i in idx]
        if self._cache is not None:
            return self._cache[idx].float() / 255.0
        return self._load([self.samples[i] for i in idx])

    def _load(self, samples: Sequence[Any]) -> torch.Tensor:
        return load_framed(self.dataset, samples, self.size, self.framing, self.crop)

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
    def from_dataset(cls, dataset: Any, style: str = "raw") -> "AttributeVocabulary":
        """``style`` ``snake`` stores the official strings (:func:`snake_case`); names that become equal merge,
        keeping the first (an object before a scene)."""
        objects = list(getattr(dataset, "objects", []) or [])
        scenes = list(getattr(dataset, "scenes", []) or [])
        if style == "snake":
            return cls.from_lists([snake_case(o) for o in objects], [snake_case(x) for x in scenes], dedupe=True)
        return cls(tuple(objects + scenes), tuple(["object"] * len(objects) + ["scene"] * len(scenes)))

    @classmethod
    def from_lists(cls, objects: Sequence[str], scenes: Sequence[str], dedupe: bool = False
                   ) -> "AttributeVocabulary":
        """Objects then scenes. The official bank (278 names, ``read_attr``) keeps its repeats, since the target is
        the first occurrence anyway; ``dedupe`` drops them."""
        names, kinds = [], []
        for kind, lst in (("object", objects), ("scene", scenes)):
            for n in lst:
                if not (dedupe and n in names):
                    names.append(n)
                    kinds.append(kind)
        return cls(tuple(names), tuple(kinds))

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            return -1

    def texts(self, style: str = "raw") -> list[str]:
        """raw: the names as stored (as annotated, or already snake_case); snake: the official strings
        (``billiard_table``); words: "city street". No template in any."""
        if style == "snake":
            return [snake_case(n) for n in self.names]
        return [n if style == "raw" else n.replace("_", " ").strip() for n in self.names]


def snake_case(name: str) -> str:
    """The official attribute string: ``name.lower().replace(' ', '_')`` (``main.py:444,493``,
    ``dataset_balance.py:16-26``): EmoSet's "Billiard table" becomes "billiard_table"."""
    return name.lower().replace(" ", "_")


@dataclass(frozen=True)
class TrainItem:
    """One stage-2 sample: an image (index into the train bank), its emotion, attribute kind and name."""

    image: int
    emotion: int
    kind: str          # "object" | "scene" | "none"
    attribute: str | None


def attribute_items(samples: Sequence[Any], labels: torch.Tensor, n_emotions: int, which: str,
                    balance: bool, generator: torch.Generator, need_attributes: bool, rule: str = "overlap",
                    names: str = "raw") -> list[TrainItem]:
    """The training lists, one per property; every emotion oversampled to the majority count
    (``dataset_balance.py``, here seeded); the lists concatenated and shuffled.

    ``rule`` ``norepeat`` is the official one (``dataset_balance.py:19-30``): an image goes under its scene, and
    under its first object only when it has no scene, so each image is in one list. ``overlap`` (emobench's
    pre-refit default) puts an image with both annotations into both lists. ``names`` ``snake`` stores the
    attribute as the official string (:func:`snake_case`).

    Without annotations (and ``need_attributes`` false) every image is one item with no attribute.
    """
    kinds = ("object", "scene") if which == "both" else (which,)
    lists: list[list[TrainItem]] = []
    for kind in kinds:
        items = []
        for i, s in enumerate(samples):
            name = (s.objects[0] if s.objects else None) if kind == "object" else s.scene
            if kind == "object" and rule == "norepeat" and s.scene:
                name = None   # officially filed under its scene
            if name and names == "snake":
                name = snake_case(name)
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
