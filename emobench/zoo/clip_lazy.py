"""A zoo's CLIP loaded with a clear error, and ``LazyClip``: loaded on first use (a warm score cache never needs
it). Shared by the zoo-folder loader (``zoo.load``) and the paper loader (``zoo.paper``)."""
from __future__ import annotations

from pathlib import Path

import torch

from emobench.errors import EmobenchError

REBUILD = "rebuild it with `emobench zoo build mini --out DIR` (or pass a complete zoo folder)"


def load_clip_checked(clip_dir: Path, device: torch.device, rebuild: str = REBUILD):
    from emobench.zoo.arch import quiet_loading
    from emobench.zoo.clip import load_clip

    try:
        with quiet_loading():
            return load_clip(clip_dir, device)
    except EmobenchError:
        raise
    except Exception as err:
        raise EmobenchError(f"cannot load the CLIP model in {clip_dir}: {type(err).__name__}: {err}",
                            rebuild) from err


class LazyClip:
    """A zoo's CLIP, loaded on the first call (a warm score cache never needs it)."""

    def __init__(self, folder: Path, device: torch.device):
        self.folder, self.device, self._clip = folder, device, None

    def _get(self):
        if self._clip is None:
            with torch.inference_mode(False):   # not inference tensors, whatever mode the first call runs in
                self._clip = load_clip_checked(self.folder, self.device)
        return self._clip

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return self._get().encode_images(images)

    def encode_texts(self, texts) -> torch.Tensor:
        return self._get().encode_texts(texts)

    def __getattr__(self, attr: str):
        if attr.startswith("__") or attr in ("folder", "device", "_clip"):
            raise AttributeError(attr)
        return getattr(self._get(), attr)
