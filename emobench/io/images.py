"""The one uint8 quantisation every stored image gets, and its encode / decode in the run's storage format:
images written by a method and read back by a metric go through the same functions, so scores never depend on
where an image came from.

The storage formats (``emobench run --image-format png|webp|jpeg``) are described in ``emobench.io.formats``.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from emobench.io.formats import DEFAULT_FORMAT, IMAGE_FORMATS, ImageFormat, image_format  # noqa: F401


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float in [0,1] (any shape) → uint8 ``round(x*255)``: the one quantisation every stored image gets."""
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)


def to_hwc_uint8(images: torch.Tensor) -> np.ndarray:
    """``[N,3,H,W]`` (or ``[3,H,W]``) float in [0,1] → uint8 numpy ``[N,H,W,3]`` (``[H,W,3]``) on the CPU: the
    quantised pixels an encoder takes (one device-to-host copy for a whole batch)."""
    u8 = to_uint8(images)
    return (u8.permute(0, 2, 3, 1) if u8.dim() == 4 else u8.permute(1, 2, 0)).contiguous().cpu().numpy()


def encode_pixels(pixels: np.ndarray, fmt: str | ImageFormat = DEFAULT_FORMAT) -> bytes:
    """uint8 ``[H,W,3]`` pixels → file bytes in ``fmt`` (deterministic for a given Pillow build)."""
    f = fmt if isinstance(fmt, ImageFormat) else image_format(fmt)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=f.pil_format, **dict(f.options))
    return buf.getvalue()


def png_bytes(image: torch.Tensor) -> bytes:
    """``[3,H,W]`` float in [0,1] → PNG bytes (uint8, as the store writes them)."""
    return encode_pixels(to_hwc_uint8(image), "png")


def decode_image(data: bytes) -> torch.Tensor:
    """Image file bytes (PNG, WebP, JPEG) → ``[3,H,W]`` float in [0,1] (what every metric sees)."""
    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0


decode_png = decode_image   # the name every caller used while PNG was the only format


def load_image(path: str | Path) -> torch.Tensor:
    return decode_image(Path(path).read_bytes())
