"""The one uint8 quantisation every stored image gets, and PNG encode / decode: images written by a method and
read back by a metric go through the same two functions, so scores never depend on where an image came from."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image



def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float in [0,1] (any shape) → uint8 ``round(x*255)``: the one quantisation every stored image gets."""
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)


def png_bytes(image: torch.Tensor) -> bytes:
    """``[3,H,W]`` float in [0,1] → PNG bytes (uint8, as the store writes them)."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image).permute(1, 2, 0).cpu().numpy()).save(buf, format="PNG", optimize=False,
                                                                           compress_level=6)
    return buf.getvalue()


def decode_png(data: bytes) -> torch.Tensor:
    """PNG bytes → ``[3,H,W]`` float in [0,1] (what every metric sees)."""
    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0


def load_image(path: str | Path) -> torch.Tensor:
    return decode_png(Path(path).read_bytes())
