"""A fake zoo with train, val and test splits, and run directories of a mode-collapsing method, for the coverage,
memorisation and ceiling tests (no tests in this module).

Images are the colour fakes of ``support.metrics_fakes`` (the fake emotion judge reads the mean colour): image
i of emotion k is CENTERS[k] plus seeded noise, except every fourth held-out (**val** or **test**) image, which
shows the next emotion's colour, so held-out real images score Emo-A 75 %. ``test`` is the reference, ``val``
the real and shuffled controls' split (disjoint from it, as the scorer requires). The ``collapse`` method copies one training image
per emotion into every cell (high Emo-A, one point per emotion); ``varied`` draws a fresh noisy image per cell.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from emobench.api import Cell, ImageRecord, stable_hash
from emobench.emotions import EMOTIONS
from emobench.zoo.base import Judges, SamplingDefaults, Zoo

from support.metrics_fakes import (CENTERS, AbsLPIPS, ColourEmotionJudge, FakeClip, LinearJudge, StatsFeatures,
                                   colour_image, hash_seed, load_png, write_png)

SIZE = 16


@dataclass(frozen=True)
class Sample:
    id: str
    emotion: str
    image_path: Path


class SplitDataset:
    """``train``, ``val`` and ``test`` splits of coloured PNGs (the loader API the scorer and the metrics use)."""

    def __init__(self, root: Path, train_per_emotion: int = 12, test_per_emotion: int = 64, noise: float = 0.05,
                 val_per_emotion: int = 32):
        self.root = root
        self.splits: dict[str, dict[str, list[Sample]]] = {"train": {}, "val": {}, "test": {}}
        for split, n in (("train", train_per_emotion), ("val", val_per_emotion), ("test", test_per_emotion)):
            for k, emotion in enumerate(EMOTIONS):
                for i in range(n):
                    colour = CENTERS[(k + 1) % 8] if split != "train" and i % 4 == 3 else CENTERS[k]
                    sid = f"{split}-{emotion}-{i:03d}"
                    seed = int(stable_hash([split, emotion, i])[:8], 16)
                    path = root / split / f"{sid}.png"
                    write_png(colour_image(colour, seed=seed, size=SIZE, noise=noise), path)
                    self.splits[split].setdefault(emotion, []).append(Sample(sid, emotion, path))
        self.content_hash = stable_hash([[s.id for s in v] for sp in self.splits.values() for v in sp.values()])

    def by_emotion(self, split: str, emotion: str) -> list[Sample]:
        return list(self.splits.get(split, {}).get(emotion, []))

    def split(self, name: str) -> list[Sample]:
        return [s for e in EMOTIONS for s in self.by_emotion(name, e)]

    def load_images(self, samples, size: int | None = None) -> torch.Tensor:
        imgs = [load_png(s.image_path) for s in samples]
        if size is not None:
            imgs = [nn.functional.interpolate(i[None], size=(size, size), mode="nearest")[0] for i in imgs]
        return torch.stack(imgs) if imgs else torch.zeros(0, 3, SIZE, SIZE)


def split_zoo(tmp: Path, **kw) -> Zoo:
    judges = Judges(emotion=ColourEmotionJudge(), object=LinearJudge(5, 1), scene=LinearJudge(4, 2),
                    fid_features=StatsFeatures(), lpips=AbsLPIPS())
    return Zoo(name="fake-splits", scale="custom", pipeline=None, sampling=SamplingDefaults(height=SIZE, width=SIZE),
               clip=FakeClip(), judges=judges, dataset=SplitDataset(tmp / "dataset", **kw),
               hashes={"judges": "fake-split-judges-v1", "clip": "fake-clip"})


def collapse_run(run_dir: Path, zoo: Zoo, methods: Sequence[str] = ("varied", "collapse"), n_per_emotion: int = 24,
                 template: str = "an image of {emotion}") -> list[ImageRecord]:
    """A run folder: ``varied`` paints the emotion's colour with fresh noise per cell; ``collapse`` copies the
    emotion's first training image into every cell; ``sd`` (the baseline) paints the colour with a third of its
    cells in the next emotion's colour."""
    records = []
    for method in methods:
        for k, emotion in enumerate(EMOTIONS):
            for seed in range(n_per_emotion):
                cell = Cell(emotion, template, seed)
                if method == "collapse":
                    img = load_png(zoo.dataset.by_emotion("train", emotion)[0].image_path)
                else:
                    colour = CENTERS[(k + 1) % 8] if method == "sd" and seed % 3 == 2 else CENTERS[k]
                    img = colour_image(colour, seed=hash_seed(method, cell), size=SIZE)
                key = stable_hash([method, cell.cell_id])
                rel = f"images/{key}.png"
                sha = write_png(img, run_dir / rel)
                records.append(ImageRecord(method, emotion, template, seed, cell.prompt(), key, sha, rel))
    records.sort(key=lambda r: (r.method, r.emotion, r.template, r.seed))
    (run_dir / "manifest.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    (run_dir / "methods.json").write_text(json.dumps(
        {m: {"status": "ok", "position": i, "display_name": m.title()} for i, m in enumerate(methods)}))
    return records
