"""Features of a dataset split (the training images, the held-out test images) and nearest-neighbour search in
them: what the memorisation check compares every generated image with.

A split's features are computed once per (dataset content hash, judges + CLIP hash, feature space, image size)
and cached as safetensors under ``$EMOBENCH_CACHE/split-features/``; the search is exact (Euclidean, float64,
chunked so memory stays bounded at paper scale)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from emobench.api import batched, stable_hash
from emobench.errors import EmobenchError

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

SPACES = ("fid-features", "clip-image")   # the memorisation check's two feature spaces


def space_fn(zoo: "Zoo", space: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Float images in [0, 1] → features ``[N, D]`` in ``space`` (the same networks FID and Sem-D use)."""
    if space == "fid-features":
        return lambda x: zoo.judges.fid_features(x).float()
    if space == "clip-image":
        return lambda x: zoo.clip.encode_images(x).float()
    raise ValueError(f"unknown feature space {space!r}")


def image_features(zoo: "Zoo", images: torch.Tensor, batch_size: int = 64) -> dict[str, torch.Tensor]:
    return {space: batched(space_fn(zoo, space), images, batch_size) for space in SPACES}


@dataclass
class SplitFeatures:
    """Features of every image of one split, in split order, per feature space."""

    split: str
    samples: list
    feats: dict[str, torch.Tensor]


def split_features(zoo: "Zoo", split: str, root: Path, limit: int = 0, batch_size: int = 256) -> SplitFeatures:
    """Features of the split's images (``limit`` > 0: an evenly spaced subset of that many), cached."""
    ds = zoo.dataset
    samples = list(ds.split(split))
    if not samples:
        raise EmobenchError(f"the zoo's dataset has no {split} images", f"use a dataset with a {split} split")
    samples = [samples[i] for i in evenly_spaced(len(samples), limit)]
    size = int(zoo.sampling.height)
    key = stable_hash([getattr(ds, "content_hash", None), zoo.judges_hash, list(SPACES), size, split, limit],
                      n=32)
    path = root / "split-features" / f"{key}.safetensors"
    feats = None
    if path.is_file():
        try:
            from safetensors.torch import load_file

            feats = load_file(str(path))
            feats = feats if set(feats) == set(SPACES) and all(len(v) == len(samples) for v in feats.values()) \
                else None
        except Exception:  # noqa: BLE001 — a damaged cache entry is recomputed
            feats = None
    if feats is None:
        parts: dict[str, list[torch.Tensor]] = {s: [] for s in SPACES}
        for start in range(0, len(samples), batch_size):
            images = ds.load_images(samples[start:start + batch_size], size=size)
            for space, f in image_features(zoo, images, batch_size).items():
                parts[space].append(f)
        feats = {s: torch.cat(v).contiguous() for s, v in parts.items()}
        try:
            from emobench.io.files import atomic_save_tensors

            atomic_save_tensors(feats, path)
        except OSError:
            pass   # a read-only cache only costs the recomputation
    return SplitFeatures(split, samples, feats)


def nearest(queries: torch.Tensor, bank: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query row its nearest bank row: (Euclidean distance [Q] float64, index [Q] long)."""
    q = queries.double()
    best_d = torch.full((q.shape[0],), float("inf"), dtype=torch.float64)
    best_i = torch.zeros(q.shape[0], dtype=torch.long)
    for start in range(0, bank.shape[0], chunk):
        d = torch.cdist(q, bank[start:start + chunk].double(), compute_mode="donot_use_mm_for_euclid_dist")
        dmin, imin = d.min(1)
        better = dmin < best_d
        best_d = torch.where(better, dmin, best_d)
        best_i = torch.where(better, imin + start, best_i)
    return best_d, best_i


def evenly_spaced(n: int, k: int) -> list[int]:
    """``min(n, k)`` indices spread evenly over ``range(n)`` (a deterministic subset of a split)."""
    if k <= 0 or k >= n:
        return list(range(n))
    return sorted({int(i * n / k) for i in range(k)})
