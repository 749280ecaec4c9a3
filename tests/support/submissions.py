"""Helpers for the submission tests (images made outside emobench): the plan's file ids, folders of valid images,
and the hand-made bad files of the bad-input table. No tests here."""
from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from emobench.api import Cell
from emobench.spec.config import DEFAULT_TEMPLATE

EMOTIONS = ("awe", "fear")
N = 2   # cells per emotion: 4 cells, far under one micro-batch


def plan_ids(emotions: Sequence[str] = EMOTIONS, n: int = N, seed: int = 0) -> list[str]:
    return [Cell(e, DEFAULT_TEMPLATE, seed + i).file_id for e in emotions for i in range(n)]


def pixels(i: int, size: int = 32, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(i)
    return rng.integers(0, 256, size=(size, size, channels), dtype=np.uint8)


def png(arr: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, **kw).save(buf, format="PNG")
    return buf.getvalue()


def write_folder(folder: Path, ids: Sequence[str], size: int = 32) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, fid in enumerate(ids):
        (folder / f"{fid}.png").write_bytes(png(pixels(i, size)))
    return folder


def png_chunks(width: int, height: int, bit_depth: int, colour: int, raw: bytes) -> bytes:
    """A PNG written chunk by chunk (what Pillow will not write: huge headers, 16-bit RGB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def rgb16_png(size: int = 32) -> bytes:
    row = b"\x00" + bytes(size * 6)
    return png_chunks(size, size, 16, 2, row * size)


def bomb_png() -> bytes:
    """A few hundred bytes that declare 100 000 × 100 000 pixels."""
    return png_chunks(100_000, 100_000, 8, 2, b"\x00" * 64)


def jpeg(arr: np.ndarray, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def methods_json(run: Path) -> dict:
    return json.loads((run / "methods.json").read_text())
