"""The emotion–attribute table behind ``attribute-prompt``: counts of (emotion, attribute) in an emotion
dataset's annotations, the tempered p(attribute | emotion) the method draws from, and how each attribute is
written in a prompt.

Counts (one per image and distinct attribute):
* from a dataset (``EmoSetDataset``: EmoSet-mini or EmoSet): its **train** split; an image counts once for each
  distinct name in its ``object`` list and once for its ``scene``;
* from the files ``python -m emogen.official import`` writes: the balanced training lists (``train_lists.json``,
  rows [emotion, image id, attribute]), de-duplicated to unique (emotion, image id, attribute) — the lists
  oversample every emotion to the largest, so raw rows would count copies.

Temperature ``T`` interpolates between the data and its most emotion-typical attribute:

    q_T(a | e)  ∝  p(a | e) · typ(a, e)^((1 − T) / T),      typ(a, e) = p(a | e) · p(e | a)

T = 1 is the data's p(a | e); T → 0 puts all mass on argmax_a typ(a, e), which is what T = 0 draws (ties: the
larger p(a | e), then the name). ``typ`` is recall × precision of "the image shows a" as a detector of emotion e:
a frequent but unspecific attribute (EmoSet's "plant" for fear) and a rare one seen once with e only both score
low; ``count(e, a)² / (count(e) · count(a))`` in counts.
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from emobench.api import EMOTIONS
from emobench.errors import EmobenchError

KINDS = ("object", "scene")
SOURCES = {"objects": ("object",), "scenes": ("scene",), "both": ("object", "scene")}
ARTICLES = ("a", "an", "the")


@dataclass(frozen=True)
class Attribute:
    """One attribute as a prompt writes it: ``noun`` ("a trash bag", "a graveyard") fills ``{attribute}``;
    ``where`` ("in a graveyard") follows a content cell's object (scenes only)."""

    kind: str      # "object" | "scene"
    name: str      # as the annotations spell it: "trash_bag", "night_sky"
    noun: str
    where: str = ""


def words(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


def article(text: str) -> str:
    return "an" if text[:1] in "aeiou" else "a"


def generic_attribute(kind: str, name: str) -> Attribute:
    """Plain English from the name alone (real EmoSet has no captions): "a trash bag", "in an amusement park"
    (the form of the loader's own EmoSet caption, "a photo of a {object} in a {scene}")."""
    w = words(name)
    noun = f"{article(w)} {w}"
    return Attribute(kind, name, noun, f"in {noun}" if kind == "scene" else "")


def noun_of_place(phrase: str) -> str:
    """"on the beach" → "the beach", "under a night sky" → "a night sky": the place without its preposition."""
    toks = phrase.split()
    for i, t in enumerate(toks):
        if t in ARTICLES:
            return " ".join(toks[i:])
    return " ".join(toks[1:]) if len(toks) > 1 else phrase


def scene_phrases(samples: Iterable[Any]) -> dict[str, str]:
    """How the dataset's own captions place each scene ("in a graveyard", "under a night sky"), read from
    captions that name an image's object and then its scene ("a spider in a graveyard, a photo"); the most
    frequent phrase per scene. Scenes never found that way are absent (they get the generic wording)."""
    found: dict[str, Counter] = defaultdict(Counter)
    # a place phrase that does not name its scene ("under the sea" for underwater): the words after the object
    # up to a comma or the end, used only for a scene no caption names
    unnamed: dict[str, Counter] = defaultdict(Counter)
    for s in samples:
        if not s.caption or not s.scene or not s.objects:
            continue
        text, place = s.caption.lower(), re.escape(words(s.scene))
        for obj in dict.fromkeys(s.objects):
            # the object's words, then up to three words (preposition, article) and the scene's words
            m = re.search(rf"\b{re.escape(words(obj))}\s+((?:[\w'-]+\s+){{0,3}}{place})\b", text)
            if m:
                found[s.scene][m.group(1)] += 1
                break
            m = re.search(rf"\b{re.escape(words(obj))}\s+((?:[\w'-]+\s+){{0,3}}[\w'-]+)\s*(?:,|$)", text)
            if m:
                unnamed[s.scene][m.group(1)] += 1
                break
    for scene, c in unnamed.items():
        found.setdefault(scene, c)
    return {scene: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for scene, c in found.items()}


def wording(kind: str, name: str, phrases: dict[str, str]) -> Attribute:
    if kind == "scene" and name in phrases:
        return Attribute(kind, name, noun_of_place(phrases[name]), phrases[name])
    return generic_attribute(kind, name)


@dataclass
class AttributeTable:
    """Counts ``[8, A]`` (rows in ``EMOTIONS`` order) over ``attributes`` (objects first, then scenes, each
    sorted by name), and where they came from."""

    attributes: list[Attribute]
    counts: np.ndarray
    source: str          # e.g. "dataset train split (20000 images)"

    def select(self, kinds: Sequence[str]) -> "AttributeTable":
        keep = [i for i, a in enumerate(self.attributes) if a.kind in kinds]
        return AttributeTable([self.attributes[i] for i in keep], self.counts[:, keep], self.source)

    def p_given_emotion(self) -> np.ndarray:
        """[8, A] p(a | e); an emotion without any count has a row of zeros."""
        tot = self.counts.sum(axis=1, keepdims=True)
        return np.divide(self.counts, tot, out=np.zeros_like(self.counts, dtype=np.float64), where=tot > 0)

    def p_emotion_given(self) -> np.ndarray:
        """[8, A] p(e | a) (columns sum to 1 for every attribute seen at all)."""
        tot = self.counts.sum(axis=0, keepdims=True)
        return np.divide(self.counts, tot, out=np.zeros_like(self.counts, dtype=np.float64), where=tot > 0)

    def typicality(self) -> np.ndarray:
        """[8, A] typ(a, e) = p(a | e) · p(e | a)."""
        return self.p_given_emotion() * self.p_emotion_given()

    def most_typical(self, emotion: str) -> int:
        """argmax_a typ(a, e); ties broken by the larger p(a | e), then by (kind, name)."""
        e = EMOTIONS.index(emotion)
        typ, p = self.typicality()[e], self.p_given_emotion()[e]
        return min(range(len(self.attributes)), key=lambda i: (-typ[i], -p[i], self.attributes[i].kind,
                                                               self.attributes[i].name))

    def tempered(self, emotion: str, temperature: float) -> np.ndarray:
        """q_T(a | e) over ``attributes`` (the module docstring's formula); T = 0: one-hot on ``most_typical``."""
        e = EMOTIONS.index(emotion)
        p = self.p_given_emotion()[e]
        if not (p > 0).any():
            raise EmobenchError(f"no {self._kinds()} of the emotion table ({self.source}) is annotated on a "
                                f"'{emotion}' image", "use another attribute-prompt:source= or a dataset with "
                                "those annotations")
        if temperature == 0:
            q = np.zeros_like(p)
            q[self.most_typical(emotion)] = 1.0
            return q
        # log q = (1/T)·log p(a|e) + (1/T − 1)·log p(e|a) = (1/T)·log typ − log p(e|a), shifted by the largest
        # log typ before scaling so a tiny T underflows to the argmax instead of overflowing
        seen = p > 0
        lt, lpe = np.log(self.typicality()[e][seen]), np.log(self.p_emotion_given()[e][seen])
        logq = (lt - lt.max()) / temperature - lpe
        q = np.zeros_like(p)
        q[seen] = np.exp(logq - logq.max())
        return q / q.sum()

    def _kinds(self) -> str:
        kinds = sorted({a.kind for a in self.attributes})
        return " or ".join(f"{k}" for k in kinds) or "attribute"


def draw_index(q: np.ndarray, u: float) -> int:
    """Inverse CDF: the attribute whose cumulative mass first exceeds ``u`` in [0, 1) (zero-mass ones never)."""
    cdf = np.cumsum(q)
    i = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
    i = min(i, len(q) - 1)
    while q[i] == 0:          # float round-off at the top end: step back to the last attribute with mass
        i -= 1
    return i


def _table(pairs: dict[tuple[str, str], Counter], phrases: dict[str, str], source: str) -> AttributeTable:
    """``pairs[(kind, name)][emotion] = count`` → an ``AttributeTable``."""
    keys = sorted(pairs, key=lambda k: (KINDS.index(k[0]), k[1]))
    if not keys:
        raise EmobenchError(f"the {source} has no object or scene annotations to count",
                            "use a dataset whose annotations carry 'object' / 'scene', or official files")
    counts = np.array([[pairs[k][e] for k in keys] for e in EMOTIONS], dtype=np.float64)
    return AttributeTable([wording(kind, name, phrases) for kind, name in keys], counts, source)


def from_dataset(dataset: Any) -> AttributeTable:
    """Counts over the dataset's train split (the held-out splits stay unseen, as for every learning method)."""
    train = dataset.split("train")
    pairs: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for s in train:
        for obj in dict.fromkeys(s.objects):
            if obj:
                pairs[("object", str(obj))][s.emotion] += 1
        if s.scene:
            pairs[("scene", str(s.scene))][s.emotion] += 1
    return _table(pairs, scene_phrases(train), f"train split of {dataset!r} ({len(train)} images)")


def from_official(lists: dict[str, list[list[str]]], where: str) -> AttributeTable:
    """Counts from imported official training lists ``{"object": [[emotion, id, attribute], ...], "scene": ...}``,
    one per unique (emotion, image id, attribute)."""
    pairs: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for kind in KINDS:
        rows = lists.get(kind) or []
        for emotion, image_id, name in sorted({tuple(map(str, r)) for r in rows}):
            if emotion not in EMOTIONS:
                raise EmobenchError(f"{where}: row {[emotion, image_id, name]} names no emotion",
                                    "re-import the official files with `python -m emogen.official import`")
            pairs[(kind, name)][emotion] += 1
    return _table(pairs, {}, f"official EmoGen training lists in {where}")


def check_temperature(t: float) -> None:
    if not (math.isfinite(t) and 0 <= t <= 1):
        raise EmobenchError(f"attribute-prompt:temperature={t} is outside [0, 1]",
                            "pass 1 (the data's distribution), 0 (always the most typical attribute) or between")
    if t > 0 and not math.isfinite(1.0 / t):   # a subnormal T: 1/T overflows
        raise EmobenchError(f"attribute-prompt:temperature={t} is too small to compute",
                            "pass temperature=0 for the most typical attribute")
