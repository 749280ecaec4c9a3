"""Content-addressed image store of a run directory, and atomic file writes.

``images/<key>.png`` holds the image (uint8, ``round(x*255)``); ``images/<key>.json`` beside it holds its
``ImageRecord`` and is written last, so an image counts as stored only once both exist and the PNG's
sha256 matches the record. A run killed at any point therefore resumes per image, and a method that
failed half-way keeps the images it did make. ``manifest.jsonl`` is the sorted view over the records of
the methods that finished, rewritten atomically at the end of a run.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from PIL import Image

from emobench.api import Cell, ImageRecord, config_to_dict, stable_hash


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, then rename: readers (and a resumed run after a kill) see the
    old file or the new one, never half of one. No fsync: a kill cannot lose renamed data, and after a power
    loss a damaged image fails its sha256 check on resume and is simply regenerated."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``[3,H,W]`` float in [0,1] → ``[H,W,3]`` uint8, the one quantisation every image goes through."""
    return (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def png_bytes(image: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def image_key(method_name: str, method_config: Any, weights_hash: str, cell: Cell,
              artifact_key: str | None = None) -> str:
    """Content address of one image. ``artifact_key`` (learning methods) pins the fitted artifacts used."""
    parts: dict[str, Any] = {"method": method_name, "config": config_to_dict(method_config),
                             "weights": weights_hash, "cell": [cell.emotion, cell.template, cell.seed]}
    if artifact_key:
        parts["artifact"] = artifact_key
    return stable_hash(parts, n=24)


def record_sort_key(r: ImageRecord) -> tuple:
    return (r.method, r.emotion, r.template, r.seed)


class ImageStore:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.images_dir = self.run_dir / "images"

    def _png(self, key: str) -> Path:
        return self.images_dir / f"{key}.png"

    def _rec(self, key: str) -> Path:
        return self.images_dir / f"{key}.json"

    def lookup(self, key: str) -> ImageRecord | None:
        """The stored record of ``key`` if both files exist and agree, else None (then it is regenerated)."""
        try:
            rec = ImageRecord.from_json(self._rec(key).read_text())
            ok = rec.key == key and sha256_file(self._png(key)) == rec.sha256
        except (OSError, ValueError, TypeError, KeyError):
            return None
        return rec if ok else None

    def put(self, key: str, image: torch.Tensor, *, method: str, cell: Cell, prompt: str,
            extras: dict[str, Any] | None = None) -> ImageRecord:
        data = png_bytes(image)
        atomic_write_bytes(self._png(key), data)
        rec = ImageRecord(method=method, emotion=cell.emotion, template=cell.template, seed=cell.seed,
                          prompt=prompt, key=key, sha256=sha256_bytes(data), path=f"images/{key}.png")
        payload = json.loads(rec.to_json())
        if extras:
            payload["extras"] = extras  # kept beside the image only; the manifest line is the plain record
        atomic_write_text(self._rec(key), json.dumps(payload, sort_keys=True) + "\n")
        return rec

    def write_manifest(self, records: Iterable[ImageRecord]) -> Path:
        lines = [r.to_json() + "\n" for r in sorted(records, key=record_sort_key)]
        path = self.run_dir / "manifest.jsonl"
        atomic_write_text(path, "".join(lines))
        return path

    def read_manifest(self) -> list[ImageRecord]:
        return read_manifest(self.run_dir)

    def load_images(self, records: Sequence[ImageRecord]) -> torch.Tensor:
        return load_images(records, self.run_dir)


def read_manifest(run_dir: str | Path) -> list[ImageRecord]:
    path = Path(run_dir) / "manifest.jsonl"
    return [ImageRecord.from_json(line) for line in path.read_text().splitlines() if line.strip()]


def load_images(records: Sequence[ImageRecord], run_dir: str | Path) -> torch.Tensor:
    """The stored PNGs of ``records`` as float ``[N,3,H,W]`` in [0,1] (what every metric sees)."""
    arrays = [np.asarray(Image.open(Path(run_dir) / r.path).convert("RGB")) for r in records]
    if not arrays:
        return torch.empty(0, 3, 0, 0)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div(255.0)
