"""The storage formats of a run's images (``emobench run --image-format``), as pure data (no torch, no PIL):
``png`` (the default; lossless), ``webp`` (lossless WebP: the same pixels in less space) and ``jpeg`` (quality
95, 4:4:4 chroma: lossy). Each has a protocol name that ``protocol.json`` records, so runs stored in different
formats never share a leaderboard column. ``emobench.io.images`` encodes and decodes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ImageFormat:
    """How a run stores its images: file suffix, PIL's encoder settings and the protocol's name for it."""

    name: str                   # the --image-format value
    suffix: str                 # ".png"
    pil_format: str             # PIL's format name
    options: tuple[tuple[str, Any], ...]   # PIL save() options (fixed: the bytes are part of the record)
    protocol: str               # recorded in protocol.json (part of the fingerprint)
    lossless: bool


IMAGE_FORMATS: dict[str, ImageFormat] = {
    # compress_level 6, no optimize: the settings every PNG of a run has had (image bytes must not change)
    "png": ImageFormat("png", ".png", "PNG", (("optimize", False), ("compress_level", 6)),
                       "png-uint8-round", True),
    # libwebp's lossless mode (exact pixels). In lossless mode "quality" is the effort: measured on a 512² photo
    # crop, 50 gives the size of 100 (64 % of the PNG) at a quarter of the encoding time (160 vs 680 ms)
    "webp": ImageFormat("webp", ".webp", "WEBP", (("lossless", True), ("quality", 50), ("method", 4),
                                                  ("exact", True)), "webp-lossless-uint8-round", True),
    # quality 95 with full-resolution chroma (subsampling 0 = 4:4:4): a third of the PNG on the same crop
    "jpeg": ImageFormat("jpeg", ".jpg", "JPEG", (("quality", 95), ("subsampling", 0), ("optimize", False)),
                        "jpeg-q95-444-uint8-round", False),
}
DEFAULT_FORMAT = "png"


def image_format(name: str) -> ImageFormat:
    """The format called ``name``; a ``ValueError`` naming the known ones otherwise."""
    try:
        return IMAGE_FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown image format {name!r} (known: {', '.join(IMAGE_FORMATS)})") from None
