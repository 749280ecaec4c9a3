"""The mini zoo's sampler: DDPM ancestral sampling whose noise is a function of each image's own start latent.

Why not DDIM: the mini UNet (a few million parameters trained for ~50 CPU minutes) gives washed-out,
speckled images under deterministic ODE samplers. On the first (ε) mini UNet the judges recognised the
prompted object in ~10–20 % of DDIM, Euler, DPM-Solver and UniPC samples but ~75–85 % under ancestral DDPM with
``clip_sample``; on the shipped v UNet, DDIM 2 % and ancestral DDPM 100 % (192 images) (``docs/emoset-mini.md``). Fresh
noise at every step corrects the small model's errors; clipping keeps pixel values in range.

Why not plain ``DDPMScheduler``: its step noise comes from the pipeline's ``generator`` or, without one,
torch's global generator. The built-in methods pass one CPU generator per row, seeded by the cell's seed, so
with them every method draws the same step noise for the same cell; but a caller that passes only
``latents=`` (``emobench zoo check``, plain diffusers, a third-party plugin) would get images that depend on
what ran before and on their batch neighbours. So, when no ``generator`` is given, the noise of row ``i``
comes from a CPU generator seeded by a hash of row ``i`` of the first ``sample`` the scheduler steps (the
start latent, which a run plan draws from the cell's seed): the image is then a function of its start
latent and prompt alone — batch size, neighbours and global RNG state do not matter. A ``generator`` passed
to the pipeline takes precedence (diffusers' own behaviour).

The class is named in ``model_index.json`` as ``["emobench.zoo.schedulers", "LatentSeededDDPMScheduler"]``
(like the pixel autoencoder, diffusers resolves it once this module is imported, which ``load_pipeline``
does) and reads/writes the ordinary ``scheduler_config.json``.
"""
from __future__ import annotations

import hashlib

import torch
from diffusers import DDPMScheduler
from diffusers import SchedulerMixin  # noqa: F401  (diffusers looks the loader base class up in this module)


def row_seed(row: torch.Tensor) -> int:
    """A 63-bit seed from one latent's float32 bytes (identical on every CPU for identical latents)."""
    data = row.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "little") & ((1 << 63) - 1)


class LatentSeededDDPMScheduler(DDPMScheduler):
    """``DDPMScheduler`` whose per-step noise is drawn per image from a generator seeded by that image's
    start latent (see the module docstring)."""

    _row_generators: list[torch.Generator] | None = None

    def set_timesteps(self, *args, **kwargs):
        self._row_generators = None      # a new sampling run: seed again from its first sample
        return super().set_timesteps(*args, **kwargs)

    def step(self, model_output: torch.Tensor, timestep, sample: torch.Tensor, generator=None,
             return_dict: bool = True):
        if generator is None:
            if self._row_generators is None or len(self._row_generators) != sample.shape[0]:
                self._row_generators = [torch.Generator("cpu").manual_seed(row_seed(r)) for r in sample]
            generator = self._row_generators
        return super().step(model_output, timestep, sample, generator=generator, return_dict=return_dict)


__all__ = ["LatentSeededDDPMScheduler", "row_seed"]
