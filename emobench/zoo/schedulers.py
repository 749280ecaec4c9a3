"""The mini zoo's sampler: DDPM ancestral sampling whose noise is a function of each image's own start latent.

Why ancestral DDPM rather than DDIM: the card, the shipped prefits' checks and the leaderboards were all
measured with it. On the first (ε) mini UNet it was the only sampler that worked (object ~75–85 % against
~10–20 % for DDIM, Euler, DPM-Solver and UniPC: the ε UNet's error at the noisiest steps, amplified on its way
to the implied image, and fresh noise at every step corrected it). On the shipped v UNet every sampler works:
DDIM (without ``clip_sample``), UniPC, DPM-Solver++ and Euler all put the prompted object and scene in
99.5–100 % of 192 images, as DDPM does (``docs/emoset-mini.md``). Switching samplers goes through
``swap_scheduler``, which knows the one trap (below).

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
import inspect

import torch
from diffusers import DDPMScheduler
from diffusers import SchedulerMixin  # noqa: F401  (diffusers looks the loader base class up in this module)


def row_seed(row: torch.Tensor) -> int:
    """A 63-bit seed from one latent's float32 bytes (identical on every CPU for identical latents)."""
    data = row.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "little") & ((1 << 63) - 1)


def swap_scheduler(current, cls: type | str):
    """A ``cls`` scheduler on ``current``'s noise schedule and prediction type.

    ``clip_sample`` is kept only for DDPM-family schedulers. diffusers' ``DDIMScheduler`` clips the predicted
    x0 but, unless ``step`` is called with ``use_clipped_model_output=True`` (which ``StableDiffusionPipeline``
    never passes), steps along the *unclipped* noise estimate; the two disagree wherever x0 was clipped. On
    the mini zoo's pixel-space UNet that took DDIM from object/scene 1.00/1.00 (192 images) to 0.01/0.12 (96; the
    known trap of kohya-ss/sd-scripts#1432). SD's own pipeline forces ``clip_sample=False`` for the same reason,
    but only when it is constructed, not when a scheduler is swapped in afterwards.
    """
    import diffusers

    if isinstance(cls, str):
        found = getattr(diffusers, cls, None)
        if not (isinstance(found, type) and hasattr(found, "from_config") and hasattr(found, "step")):
            raise ValueError(f"{cls!r} is not a diffusers scheduler class")
        cls = found
    overrides = {}
    takes_clip = "clip_sample" in inspect.signature(cls.__init__).parameters
    if takes_clip and current.config.get("clip_sample") and not issubclass(cls, DDPMScheduler):
        overrides["clip_sample"] = False
    return cls.from_config(current.config, **overrides)


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


__all__ = ["LatentSeededDDPMScheduler", "row_seed", "swap_scheduler"]
