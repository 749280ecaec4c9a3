"""The ``Zoo``: everything a scale supplies. Methods and metrics take what they need from it and never
know which scale they run on. Loading lives in ``emobench.zoo.load`` (``load_zoo("mini" | PATH | TOML)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

import torch
from torch import nn

from emobench.api import stable_hash

if TYPE_CHECKING:  # pragma: no cover
    from diffusers import StableDiffusionPipeline

    from emobench.data.emoset import EmoSetDataset


@dataclass(frozen=True)
class SamplingDefaults:
    """How the zoo's generator is sampled unless a method overrides it."""

    num_inference_steps: int = 25
    guidance_scale: float = 5.0
    height: int = 32
    width: int = 32
    autocast_dtype: str | None = None   # "bfloat16" to sample under CPU autocast; None = fp32
    channels_last: bool = False         # UNet weights in channels-last memory format (faster oneDNN convs on CPU)


class ImageClassifier(Protocol):
    """A judge: float images ``[N,3,H,W]`` in ``[0,1]`` (any size; it resizes/normalises itself) → logits."""

    labels: Sequence[str]

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


class ImageEncoder(Protocol):
    """Features for FID/KID or Sem-D: float images in ``[0,1]`` → ``[N, D]``."""

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


class ClipLike(Protocol):
    """The zoo's CLIP (tiny at mini scale, ViT-L/14 at paper scale), projected, *not* L2-normalised."""

    def encode_images(self, images: torch.Tensor) -> torch.Tensor: ...   # [N,3,H,W] in [0,1] → [N, D]
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor: ...    # → [N, D]


@dataclass
class Judges:
    """Networks that score images. None of them is shared with a generator."""

    emotion: ImageClassifier | None = None    # logits over EMOTIONS, canonical order (Emo-A)
    object: ImageClassifier | None = None     # Sem-C
    scene: ImageClassifier | None = None      # Sem-C
    fid_features: nn.Module | None = None     # FID/KID features; torchmetrics-compatible module
    lpips: nn.Module | None = None            # perceptual distance net: (x, y) in [0,1] → [N] distances


@dataclass
class Zoo:
    name: str                                  # "mini", "paper" or a folder path
    scale: str                                 # "mini" | "paper" | "custom"
    pipeline: "StableDiffusionPipeline | None"   # None only when loaded for scoring (load_zoo(with_pipeline=False))
    sampling: SamplingDefaults = field(default_factory=SamplingDefaults)
    clip: ClipLike | None = None
    judges: Judges = field(default_factory=Judges)
    dataset: "EmoSetDataset | None" = None
    root: Path | None = None
    source: Path | None = None                 # the file it was described by (a paper .toml); judge plugins read it
    hashes: dict[str, str] = field(default_factory=dict)   # component → sha256 over its weight files
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def weights_hash(self) -> str:
        """Hash of what generates (pipeline parts); part of every image key."""
        return stable_hash({k: v for k, v in sorted(self.hashes.items()) if k.startswith("pipeline")})

    @property
    def judges_hash(self) -> str:
        """Hash of what scores (judges + CLIP); part of every score-cache key."""
        return stable_hash({k: v for k, v in sorted(self.hashes.items()) if not k.startswith("pipeline")})

    def latent_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of the initial latents for ``sampling.height`` × ``sampling.width``."""
        self.require("pipeline")
        p = self.pipeline
        f = p.vae_scale_factor
        return (p.unet.config.in_channels, self.sampling.height // f, self.sampling.width // f)

    def require(self, *parts: str) -> None:
        """Raise a clear error if any dotted part (``"clip"``, ``"judges.emotion"``, ``"dataset"``) is missing."""
        from emobench.errors import EmobenchError

        for part in parts:
            obj = self
            for attr in part.split("."):
                obj = getattr(obj, attr, None)
            if obj is None:
                raise EmobenchError(
                    f"zoo {self.name!r} has no {part}",
                    "use a zoo that provides it (the default mini zoo has every part; a bare diffusers "
                    "folder has only the pipeline)",
                )
