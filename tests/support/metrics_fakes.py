"""Small fake judges, CLIP, dataset and run directories for the metric tests (no tests in this module).

Every fake is an ``nn.Module`` (or plain object) with fixed weights, so expected values can be computed by
hand: the emotion judge recognises eight reference colours; a generated image is a colour plus seeded noise.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from emobench.api import Cell, ImageRecord, stable_hash
from emobench.emotions import EMOTIONS
from emobench.zoo.base import Judges, SamplingDefaults, Zoo

# One reference colour per emotion (canonical order); the fake emotion judge picks the nearest.
CENTERS = torch.tensor([
    [0.9, 0.2, 0.2], [0.2, 0.9, 0.2], [0.2, 0.2, 0.9], [0.9, 0.9, 0.2],
    [0.9, 0.2, 0.9], [0.2, 0.9, 0.9], [0.5, 0.5, 0.5], [0.1, 0.1, 0.1],
])
SHARPNESS = 20.0


def mean_rgb(images: torch.Tensor) -> torch.Tensor:
    return images.float().mean(dim=(2, 3))


class ColourEmotionJudge(nn.Module):
    """logits_k = −SHARPNESS · ‖mean colour − CENTERS[k]‖² (labels in a shuffled order to test re-ordering)."""

    def __init__(self, reverse_labels: bool = False):
        super().__init__()
        self.order = list(range(8))[::-1] if reverse_labels else list(range(8))
        self.labels = [EMOTIONS[i] for i in self.order]
        self.calls = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += images.shape[0]
        d = ((mean_rgb(images)[:, None, :] - CENTERS[None]) ** 2).sum(-1)
        return (-SHARPNESS * d)[:, self.order]


class LinearJudge(nn.Module):
    """logits = W · mean colour, fixed W (object / scene judges)."""

    def __init__(self, n_labels: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("weight", torch.randn(n_labels, 3, generator=g) * 3)
        self.labels = [f"label{i}" for i in range(n_labels)]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return mean_rgb(images) @ self.weight.T


class StatsFeatures(nn.Module):
    """FID/KID features: per-channel mean, std and a fixed random projection of a 4×4 pooled image (D=12)."""

    num_features = 12

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.register_buffer("proj", torch.randn(48, 6, generator=g))
        self.calls = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += images.shape[0]
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        pooled = nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), pooled @ self.proj], 1)


class AbsLPIPS(nn.Module):
    """(x, y) → mean absolute difference per pair: a stand-in perceptual distance."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += x.shape[0]
        return (x.float() - y.float()).abs().mean(dim=(1, 2, 3))


class FakeClip:
    """encode_images: mean colour + 4×4 pooled projection (counts forwards); encode_texts: seeded vectors."""

    dim = 8

    def __init__(self):
        g = torch.Generator().manual_seed(5)
        self.proj = torch.randn(48, 5, generator=g)
        self.image_calls = 0
        self.image_forwards = 0

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        self.image_calls += 1
        self.image_forwards += images.shape[0]
        pooled = nn.functional.adaptive_avg_pool2d(images.float(), 4).flatten(1)
        return torch.cat([mean_rgb(images), pooled @ self.proj], 1)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        out = []
        for t in texts:
            seed = int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)
            out.append(torch.randn(self.dim, generator=torch.Generator().manual_seed(seed)))
        return torch.stack(out)


@dataclass(frozen=True)
class FakeSample:
    id: str
    emotion: str
    image_path: Path


class FakeDataset:
    """Held-out splits of coloured PNGs: image i of emotion k is CENTERS[k] unless i % 4 == 3 (then the next).
    ``test`` (the FID/KID reference) and ``val`` (the controls) have the same colours, different noise."""

    def __init__(self, root: Path, per_emotion: int = 8, size: int = 16):
        self.root = root
        self.samples: dict[str, dict[str, list[FakeSample]]] = {"test": {}, "val": {}}
        root.mkdir(parents=True, exist_ok=True)
        for split, offset in (("test", 0), ("val", 500)):
            for k, emotion in enumerate(EMOTIONS):
                for i in range(per_emotion):
                    colour = CENTERS[(k + 1) % 8] if i % 4 == 3 else CENTERS[k]
                    img = colour_image(colour, seed=1000 * k + i + offset, size=size)
                    name = f"{emotion}_{i:03d}" if split == "test" else f"val_{emotion}_{i:03d}"
                    path = root / f"{name}.png"
                    write_png(img, path)
                    self.samples[split].setdefault(emotion, []).append(FakeSample(name, emotion, path))
        self.content_hash = stable_hash(sorted(s.id for v in self.samples.values() for x in v.values() for s in x))

    def by_emotion(self, split: str, emotion: str) -> list[FakeSample]:
        assert split in ("test", "val"), split
        return list(self.samples[split].get(emotion, []))

    def split(self, name: str) -> list[FakeSample]:
        return [s for e in EMOTIONS for s in self.by_emotion(name, e)]

    def load_images(self, samples, size: int | None = None) -> torch.Tensor:
        imgs = [load_png(s.image_path) for s in samples]
        if size is not None:
            imgs = [nn.functional.interpolate(i[None], size=(size, size), mode="nearest")[0] for i in imgs]
        return torch.stack(imgs)


def colour_image(colour: torch.Tensor, seed: int, size: int = 16, noise: float = 0.05) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    img = colour.view(3, 1, 1).expand(3, size, size) + noise * torch.randn(3, size, size, generator=g)
    return img.clamp(0, 1)


def write_png(img: torch.Tensor, path: Path) -> str:
    arr = (img.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_png(path: Path) -> torch.Tensor:
    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255


def fake_zoo(tmp: Path, *, dataset: bool = True, emotion: bool = True, reverse_labels: bool = False,
             real_per_emotion: int = 8) -> Zoo:
    judges = Judges(emotion=ColourEmotionJudge(reverse_labels) if emotion else None,
                    object=LinearJudge(5, 1), scene=LinearJudge(4, 2),
                    fid_features=StatsFeatures(), lpips=AbsLPIPS())
    ds = FakeDataset(tmp / "dataset", per_emotion=real_per_emotion) if dataset else None
    return Zoo(name="fake", scale="custom", pipeline=None, sampling=SamplingDefaults(height=16, width=16),
               clip=FakeClip(), judges=judges, dataset=ds,
               hashes={"judges": "fake-judges-v1" + ("-noemo" if not emotion else ""), "clip": "fake-clip"})


def method_colour(method: str, emotion: str, seed: int) -> torch.Tensor:
    """"good" always paints the requested emotion's colour; "sd" paints it for even seeds, the next otherwise."""
    k = EMOTIONS.index(emotion)
    if method == "good" or seed % 2 == 0:
        return CENTERS[k]
    return CENTERS[(k + 1) % 8]


def make_run(run_dir: Path, methods: Sequence[str] = ("sd", "good"), emotions: Sequence[str] = EMOTIONS,
             n_per_emotion: int = 4, template: str = "an image of {emotion}", size: int = 16) -> list[ImageRecord]:
    """A run directory (manifest.jsonl, images/, methods.json) of coloured images, as the core writes it."""
    records = []
    for method in methods:
        for emotion in emotions:
            for seed in range(n_per_emotion):
                cell = Cell(emotion, template, seed)
                key = stable_hash([method, {}, "w", cell.cell_id])
                img = colour_image(method_colour(method, emotion, seed), seed=hash_seed(method, cell), size=size)
                rel = f"images/{key}.png"
                sha = write_png(img, run_dir / rel)
                records.append(ImageRecord(method, emotion, template, seed, cell.prompt(), key, sha, rel))
    records.sort(key=lambda r: (r.method, r.emotion, r.template, r.seed))
    (run_dir / "manifest.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    (run_dir / "methods.json").write_text(json.dumps({m: {"status": "ok", "reason": None} for m in methods}))
    return records


def hash_seed(method: str, cell: Cell) -> int:
    return int(stable_hash([method, cell.cell_id])[:8], 16)


def run_from_dataset(run_dir: Path, zoo, methods: Sequence[str] = ("sd", "other"), n_per_emotion: int = 3,
                     template: str = "an image of {emotion}") -> list[ImageRecord]:
    """A run directory whose images are the zoo's own held-out images plus per-method seeded noise."""
    size = int(zoo.sampling.height)
    records = []
    for m, method in enumerate(methods):
        for emotion in EMOTIONS:
            samples = zoo.dataset.by_emotion("test", emotion) or zoo.dataset.split("test")
            for seed in range(n_per_emotion):
                cell = Cell(emotion, template, seed)
                base = zoo.dataset.load_images([samples[seed % len(samples)]], size=size)[0]
                g = torch.Generator().manual_seed(hash_seed(method, cell))
                img = (base + 0.05 * (m + 1) * torch.randn(base.shape, generator=g)).clamp(0, 1)
                key = stable_hash([method, cell.cell_id])
                rel = f"images/{key}.png"
                sha = write_png(img, run_dir / rel)
                records.append(ImageRecord(method, emotion, template, seed, cell.prompt(), key, sha, rel))
    (run_dir / "manifest.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    (run_dir / "methods.json").write_text(json.dumps({m: {"status": "ok"} for m in methods}))
    return records
