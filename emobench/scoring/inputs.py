"""What the scorer scores: the run's images (checked against the manifest's sha256) and the dataset's
held-out real images, as ``Entry`` objects with lazy image loaders.

Which real images serve what (docs/metrics.md, "Controls"): the FID/KID reference (and any metric's
``reference_features``) is the **test** split; the judges and every learning method train on **train**; the
real and shuffled controls are drawn from the **val** split, disjoint from both, so no control is scored
against itself (a control drawn from the reference flattered its FID, KID and any recall or coverage).
``val`` is used elsewhere only to choose the ``clip-probe`` judge's L2 strength (one number)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from safetensors.torch import load_file

from emobench.api import ImageRecord, ScoreItem, render, stable_hash
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.rundir.layout import ALL
from emobench.io.files import atomic_save_tensors, sha256_bytes, sha256_file
from emobench.io.images import decode_png
from emobench.scoring.cache import FeatureStore
from emobench.scoring.fits import fit_label

from emobench.rundir.layout import CONTROL_REAL, CONTROL_SHUFFLED  # noqa: F401  (the scorer's names for them)

REAL_SPLIT = "val"          # the controls' split: disjoint from the reference (test) and from training (train)
REFERENCE_SPLIT = "test"


@dataclass
class Entry:
    """One image to score: a generated image of the run, or a real held-out image (controls, references)."""

    method: str
    cell: str                      # alignment key across methods (cell id); sample id for real images
    item: ScoreItem
    loader: Callable[[], torch.Tensor]   # → [3, H, W] float in [0, 1]
    record: ImageRecord | None = None


def verified_entries(run_dir: Path, records: Sequence[ImageRecord], problems: list[str]) -> list[Entry]:
    """Entries for records whose PNG exists and matches its sha256; one problem line per bad image."""
    entries = []
    for rec in records:
        path = run_dir / rec.path
        where = f"{rec.method} / {rec.cell.cell_id}"
        if not path.is_file():
            problems.append(f"missing image {rec.path} ({where}): skipped")
            continue
        data = path.read_bytes()
        if sha256_bytes(data) != rec.sha256:
            problems.append(f"corrupt image {rec.path} ({where}): sha256 does not match the manifest; skipped "
                            "(re-run `emobench run --resume RUN_DIR` to regenerate it)")
            continue
        item = ScoreItem(emotion=rec.emotion, prompt=rec.prompt, image_id=rec.sha256, plan_prompt=rec.plan_prompt,
                         content=rec.content)
        label = rec.method if rec.fit_seed is None else fit_label(rec.method, rec.fit_seed)
        entries.append(Entry(label, rec.cell.cell_id, item, lambda p=path: decode_png(p.read_bytes()), rec))
    return entries


def _real_content(sample, contents: Sequence[str]) -> str | None:
    """A real image's content on a content track: its first annotated object that the run plans, else None."""
    words = [o.replace("_", " ") for o in getattr(sample, "objects", ()) or ()]
    return next((w for w in words if w in contents), None)


def real_entries(dataset, emotions: Sequence[str], per_emotion: int | None, size: int, template: str,
                 method: str = CONTROL_REAL, contents: Sequence[str] = (), split: str = REAL_SPLIT,
                 problems: list[str] | None = None) -> list[Entry]:
    """Held-out images of each emotion from ``split`` (the first ``per_emotion`` in split order, or all): the
    **val** split for the controls, the **test** split for the reference.

    On a content track (``contents`` given) only images whose annotated object is a planned content are
    taken, each carrying that object as its content: the real control's content accuracy is then the
    content judge's accuracy on real images."""
    entries = []
    for emotion in emotions:
        samples = dataset.by_emotion(split, emotion)
        if contents:   # only images that show a planned content: the control is scored for content too
            samples = [s for s in samples if _real_content(s, contents) is not None]
        if per_emotion is not None:
            if problems is not None and len(samples) < per_emotion:
                problems.append(f"the real control has {len(samples)} {split} image(s) of {emotion!r}, fewer than "
                                f"the run's {per_emotion} per emotion (the {REFERENCE_SPLIT} split is the reference "
                                "and is never a control)")
            samples = samples[:per_emotion]
        for s in samples:
            sha = sha256_file(s.image_path)
            content = _real_content(s, contents) if contents else None
            prompt = render(template, emotion, content if content is not None else "") \
                if "{content}" in template else template.format(emotion=emotion)
            item = ScoreItem(emotion=emotion, prompt=prompt, image_id=f"{sha}@{size}", content=content)
            entries.append(Entry(method, s.id, item,
                                 lambda s=s: dataset.load_images([s], size=size)[0]))
    return entries


def shuffled_entries(real: Sequence[Entry], template: str, seed: int) -> list[Entry]:
    """The same real images with their emotion labels shuffled (seeded): the chance-level control.

    The shuffle is *balanced*: images are dealt the labels round-robin, true emotion by true emotion (both the
    emotion order and the image order within an emotion seeded-random, from a random starting label). Each
    label then gets as many images as in the real set (±1), each true emotion's images are spread over the
    labels as evenly as possible, and the expected Emo-A over seeds is exactly 1/8 whatever the judge (a plain
    permutation has the same expectation but more spread).
    """
    rng = np.random.default_rng(seed)
    labels = [e for e in EMOTIONS if any(x.item.emotion == e for x in real)]
    out: list[Entry] = []
    j = int(rng.integers(len(labels))) if labels else 0
    for t in rng.permutation(len(labels)):
        group = [e for e in real if e.item.emotion == labels[t]]
        for i in rng.permutation(len(group)):
            e = group[i]
            emotion = labels[j % len(labels)]
            j += 1
            prompt = render(template, emotion, e.item.content if e.item.content is not None else "") \
                if "{content}" in template else template.format(emotion=emotion)
            item = ScoreItem(emotion=emotion, prompt=prompt, image_id=e.item.image_id, content=e.item.content)
            out.append(Entry(CONTROL_SHUFFLED, e.cell, item, e.loader))
    return out


class Reference:
    """The dataset's held-out test images per emotion, as the FID/KID reference.

    Its features are cached per emotion by (dataset content hash, size, metric feature id + judges hash), so a
    warm scoring run neither hashes nor decodes the reference images.
    """

    def __init__(self, dataset, emotions: Sequence[str], size: int, template: str, root: Path,
                 per_emotion: int | None = None):
        self.dataset, self.emotions, self.size, self.template = dataset, list(emotions), size, template
        self.per_emotion = per_emotion
        self.dir = root / "reference"
        self.memo: dict[tuple[str, str], torch.Tensor] = {}

    def identity(self) -> list:
        return [getattr(self.dataset, "content_hash", None), self.size, self.per_emotion, REFERENCE_SPLIT]

    def _key(self, store: FeatureStore, emotion: str) -> str:
        return stable_hash([getattr(self.dataset, "content_hash", None), self.size, self.per_emotion, REFERENCE_SPLIT,
                            emotion, store.prefix], n=32)

    def features(self, store: FeatureStore, emotion: str) -> torch.Tensor:
        if emotion == ALL:   # the emotions that have test images (a method lacking one has no pooled row)
            parts = []
            for e in self.emotions:
                try:
                    parts.append(self.features(store, e))
                except EmobenchError:
                    continue
            if not parts:
                raise EmobenchError("the dataset has no held-out test images", "use a dataset with a test split")
            return torch.cat(parts)
        memo_key = (store.prefix, emotion)
        if memo_key in self.memo:
            return self.memo[memo_key]
        path = self.dir / f"{self._key(store, emotion)}.safetensors"
        feats = None
        if path.is_file():
            try:
                feats = load_file(path)["f"]
            except Exception:
                feats = None
        if feats is None:
            entries = real_entries(self.dataset, [emotion], self.per_emotion, self.size, self.template,
                                   split=REFERENCE_SPLIT)
            if not entries:
                raise EmobenchError(f"the dataset has no held-out test images of {emotion!r}",
                                    "use a dataset whose test split covers every emotion of the run")
            feats = store.get(entries)
            atomic_save_tensors({"f": feats.contiguous()}, path)
        self.memo[memo_key] = feats
        return feats


