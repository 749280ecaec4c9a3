"""``ClipLike`` over a transformers ``CLIPModel``: the tiny mini-scale CLIP and ViT-L/14 alike.

Takes float images in ``[0,1]`` of any size (resizes and normalises them itself, differentiably, so methods
may backpropagate through it) and raw texts (tokenises them itself). Returns *projected, not normalised*
embeddings. transformers 5 returns output objects from ``get_text_features``/``get_image_features`` (the
projected embedding in ``.pooler_output``); 4.x returns tensors: both are handled.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import CLIPModel, CLIPTokenizer

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _as_tensor(out) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    for name in ("pooler_output", "image_embeds", "text_embeds"):
        value = getattr(out, name, None)
        if isinstance(value, torch.Tensor):
            return value
    raise TypeError(f"unexpected CLIP output type {type(out).__name__}")


class ClipWrapper(nn.Module):
    def __init__(self, model: CLIPModel, tokenizer: CLIPTokenizer,
                 mean: Sequence[float] = OPENAI_CLIP_MEAN, std: Sequence[float] = OPENAI_CLIP_STD,
                 image_size: int | None = None):
        super().__init__()
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.image_size = int(image_size or model.config.vision_config.image_size)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def max_length(self) -> int:
        return min(int(self.tokenizer.model_max_length), int(self.model.config.text_config.max_position_embeddings))

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        x = x.to(self.device)
        if x.shape[-2:] != (self.image_size, self.image_size):
            # shorter side to image_size, then centre crop (CLIP's own preprocessing, on tensors)
            h, w = x.shape[-2:]
            s = self.image_size / min(h, w)
            nh, nw = max(self.image_size, round(h * s)), max(self.image_size, round(w * s))
            x = F.interpolate(x, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False)
            top, left = (nh - self.image_size) // 2, (nw - self.image_size) // 2
            x = x[..., top:top + self.image_size, left:left + self.image_size]
        return (x - self.mean) / self.std

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(list(texts), padding="max_length", truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        return {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return _as_tensor(self.model.get_image_features(pixel_values=self.preprocess(images)))

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return _as_tensor(self.model.get_text_features(**self.tokenize(texts)))


def load_clip(folder: str | Path, device: str | torch.device = "cpu") -> ClipWrapper:
    """Load a CLIPModel + CLIPTokenizer folder (safetensors only) as a ``ClipWrapper``."""
    folder = Path(folder)
    model = CLIPModel.from_pretrained(folder, use_safetensors=True, local_files_only=True,
                                      dtype=torch.float32)
    tokenizer = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    mean, std, size = OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, None
    pre = folder / "preprocessor_config.json"
    if pre.is_file():
        cfg = json.loads(pre.read_text())
        mean, std = cfg.get("image_mean", mean), cfg.get("image_std", std)
        crop = cfg.get("crop_size")
        size = crop.get("height") if isinstance(crop, dict) else crop
    return ClipWrapper(model, tokenizer, mean, std, size).to(device)
