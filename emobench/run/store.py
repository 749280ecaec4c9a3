"""Content-addressed image store of a run directory.

``images/<key>.png`` holds the image (uint8, ``round(x*255)``; ``.webp`` / ``.jpg`` under ``--image-format``);
``images/<key>.json`` beside it holds its ``ImageRecord`` and is written last, so an image counts as stored only
once both exist and the image file's sha256 matches the record. A run killed at any point therefore resumes per image, and a method that
failed half-way keeps the images it did make. ``manifest.jsonl`` is the sorted view over the records of
the methods that finished, rewritten atomically at the end of a run. The file I/O lives in
``emobench.io`` and ``emobench.rundir.layout``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import torch

from emobench.api import Cell, ImageRecord, config_to_dict, stable_hash
from emobench.io.files import atomic_write_bytes, atomic_write_text, sha256_bytes, sha256_file
from emobench.io.images import DEFAULT_FORMAT, encode_pixels, image_format, to_hwc_uint8
from emobench.rundir.layout import write_manifest


def image_key(method_name: str, method_config: Any, weights_hash: str, cell: Cell,
              artifact_key: str | None = None) -> str:
    """Content address of one image. ``artifact_key`` (learning methods) pins the fitted artifacts used."""
    parts: dict[str, Any] = {"method": method_name, "config": config_to_dict(method_config),
                             "weights": weights_hash, "cell": [cell.emotion, cell.template, cell.seed]}
    if cell.content is not None:   # only when present: emotion-track keys are unchanged
        parts["cell"].append(cell.content)
    if artifact_key:
        parts["artifact"] = artifact_key
    return stable_hash(parts, n=24)


class ImageStore:
    def __init__(self, run_dir: str | Path, image_format_name: str = DEFAULT_FORMAT):
        self.run_dir = Path(run_dir)
        self.images_dir = self.run_dir / "images"
        self.format = image_format(image_format_name)

    def _image(self, key: str) -> Path:
        return self.images_dir / f"{key}{self.format.suffix}"

    def _rec(self, key: str) -> Path:
        return self.images_dir / f"{key}.json"

    def lookup(self, key: str) -> ImageRecord | None:
        """The stored record of ``key`` if both files exist and agree, else None (then it is regenerated)."""
        try:
            rec = ImageRecord.from_json(self._rec(key).read_text())
            ok = (rec.key == key and rec.path == f"images/{key}{self.format.suffix}"
                  and sha256_file(self._image(key)) == rec.sha256)
        except (OSError, ValueError, TypeError, KeyError):
            return None
        return rec if ok else None

    def put(self, key: str, image: torch.Tensor, *, method: str, cell: Cell, prompt: str,
            extras: dict[str, Any] | None = None, fit_seed: int | None = None) -> ImageRecord:
        """Store one ``[3,H,W]`` float image (encoded here, in the calling thread)."""
        return self.put_pixels(key, to_hwc_uint8(image), method=method, cell=cell, prompt=prompt, extras=extras,
                               fit_seed=fit_seed)

    def put_pixels(self, key: str, pixels: Any, *, method: str, cell: Cell, prompt: str,
                   extras: dict[str, Any] | None = None, fit_seed: int | None = None) -> ImageRecord:
        """Store one image given as uint8 ``[H,W,3]`` pixels: encode, hash, write the file, then its record.
        Thread-safe for distinct keys (``emobench.run.writer`` calls it from worker threads)."""
        data = encode_pixels(pixels, self.format)
        atomic_write_bytes(self._image(key), data)
        rec = ImageRecord(method=method, emotion=cell.emotion, template=cell.template, seed=cell.seed,
                          prompt=prompt, key=key, sha256=sha256_bytes(data),
                          path=f"images/{key}{self.format.suffix}", fit_seed=fit_seed, content=cell.content)
        payload = json.loads(rec.to_json())
        if extras:
            payload["extras"] = extras  # kept beside the image only; the manifest line is the plain record
        atomic_write_text(self._rec(key), json.dumps(payload, sort_keys=True) + "\n")
        return rec

    def write_manifest(self, records: Iterable[ImageRecord]) -> Path:
        return write_manifest(self.run_dir, records)
