"""A lossless pixel-unshuffle "autoencoder" that runs inside the unchanged ``StableDiffusionPipeline``.

The mini zoo diffuses in pixel space, but folded: ``pixel_unshuffle`` with factor 4 turns a 3×32×32 image
into a 48×8×8 latent (16× fewer spatial positions, so the UNet is far cheaper per step at no reconstruction
loss; the test zoo uses factor 2, 12×16×16), and ``pixel_shuffle`` turns it back. Round trip is exact up to
float rounding.

It speaks the ``AutoencoderKL`` interface the pipeline and the training code of methods use:
``config.block_out_channels`` (only its length matters: ``vae_scale_factor = 2**(len-1)``),
``config.scaling_factor``, ``encode(x).latent_dist.sample()``/``.mode()`` and ``decode(z).sample``; both
sides work in SD's ``[-1, 1]`` image range.

Reload safety: ``save_pretrained`` records ``["emobench.zoo.pixel_vae", "PixelShuffleVAE"]`` in
``model_index.json``. diffusers resolves that name only from modules already imported (it never imports a
module named by a repository), so ``StableDiffusionPipeline.from_pretrained`` either builds exactly this class
(after ``import emobench.zoo.pixel_vae``, which ``emobench.zoo.load`` does) or fails loudly — it can never
silently build a random ``AutoencoderKL`` in its place.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import ModelMixin  # noqa: F401  (diffusers looks up ``ModelMixin`` in this module to pick the loader)
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from diffusers.utils import BaseOutput


@dataclass
class PixelEncoderOutput(BaseOutput):
    latent_dist: DiagonalGaussianDistribution


@dataclass
class PixelDecoderOutput(BaseOutput):
    sample: torch.Tensor


class PixelShuffleVAE(ModelMixin, ConfigMixin):
    """Exact ``pixel_unshuffle``/``pixel_shuffle`` autoencoder (no learned weights)."""

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        factor: int = 2,
        in_channels: int = 3,
        latent_channels: int = 12,
        sample_size: int = 32,
        block_out_channels: tuple[int, ...] = (12, 12),
        scaling_factor: float = 1.0,
        shift_factor: float | None = None,
        force_upcast: bool = False,
    ):
        super().__init__()
        if latent_channels != in_channels * factor * factor:
            raise ValueError(f"latent_channels must be in_channels*factor**2 = {in_channels * factor * factor}")
        if 2 ** (len(block_out_channels) - 1) != factor:
            # the pipeline derives its vae_scale_factor from this length, so it must agree with ``factor``
            raise ValueError(f"len(block_out_channels) must be log2(factor)+1 for factor {factor}")
        # The only tensor: carries dtype/device for diffusers' ``ModelMixin.dtype`` and gives
        # ``save_pretrained`` a weight file to write (a model without tensors cannot be reloaded).
        self.register_buffer("dtype_anchor", torch.zeros(1), persistent=True)

    def encode(self, x: torch.Tensor, return_dict: bool = True):
        z = F.pixel_unshuffle(x, self.config.factor)
        # zero log-variance clamps to a deterministic distribution: sample() == mode() == z
        dist = DiagonalGaussianDistribution(torch.cat([z, torch.zeros_like(z)], dim=1), deterministic=True)
        return PixelEncoderOutput(latent_dist=dist) if return_dict else (dist,)

    def decode(self, z: torch.Tensor, return_dict: bool = True, generator: torch.Generator | None = None):
        x = F.pixel_shuffle(z, self.config.factor)
        return PixelDecoderOutput(sample=x) if return_dict else (x,)

    def forward(self, sample: torch.Tensor, return_dict: bool = True):
        x = self.decode(self.encode(sample).latent_dist.mode()).sample
        return PixelDecoderOutput(sample=x) if return_dict else (x,)
