"""The public fit toolkit for learning method plugins: what any method that trains on the zoo's generator needs
to get reproducible, device-independent fits.

- ``derive_seed(*parts)`` / ``emotion_seed(seed, emotion)``: seeds derived from named parts, so a fit's
  randomness depends on what it is (fit seed, emotion, stage) and not on the order things are fitted in;
- ``cpu_generator(seed)`` and ``device_generator(generator, device)``: draws on CPU (the same on any device),
  with a derived generator where a library samples on the model's device (the VAE posterior);
- ``encode_latents(vae, x, generator)``: images in ``[-1, 1]`` → the latents the UNet trains on (VAE
  ``shift_factor`` and ``scaling_factor`` applied, as diffusers' training examples do);
- ``denoising_loss``: the one per-sample denoising MSE every built-in fit optimises;
- ``EpochSampler`` / ``InOrderEpochSampler``: seeded batches without replacement within an epoch;
- ``quiet_loading()``: silences the diffusers/transformers notices expected while loading one's own artifacts.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch

from emobench.zoo.diffusion import denoising_loss
from emobench.hashing import stable_hash
from emobench.zoo.precision import ScaledBackward  # loss scaling behind a frozen fp16 pipeline
from emobench.io.files import atomic_write_text# fit facts are written atomically like every run file
from emobench.io.files import sha256_file# checking a downloaded weight file against its published hash
from emobench.io.sweep import owned_tmpdir, sweep  # scratch folders a killed fit leaves are swept by the next one

__all__ = ["ScaledBackward", "atomic_write_text", "sha256_file", "load_zoo", "owned_tmpdir", "sweep", "derive_seed", "emotion_seed", "cpu_generator", "device_generator", "encode_latents", "denoising_loss",
           "EpochSampler", "InOrderEpochSampler", "quiet_loading"]


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed derived from JSON-able named parts, e.g. ``derive_seed("emogen", "init", fit_seed)``."""
    return int(stable_hash(list(parts)), 16) % (2**63 - 1)


def emotion_seed(seed: int, emotion: str) -> int:
    """The seed of one emotion's fit: independent of which other emotions are fitted, or in what order,
    so refitting one emotion (or resuming after a crash) reproduces exactly what a full fit would write."""
    return derive_seed("fit", seed, emotion)


def cpu_generator(seed: int) -> torch.Generator:
    return torch.Generator("cpu").manual_seed(seed)


def device_generator(generator: torch.Generator, device: torch.device | str) -> torch.Generator:
    """``generator`` itself on CPU; elsewhere a generator on ``device`` seeded from one draw of it (for
    libraries that sample on the model's device, such as the VAE posterior)."""
    if torch.device(device).type == "cpu":
        return generator
    return torch.Generator(device).manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))


def encode_latents(vae: Any, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Latents of images ``x`` (``[N, 3, H, W]`` in ``[-1, 1]``, on the VAE's device and dtype): one posterior
    sample drawn from ``generator``, minus ``shift_factor`` (if the VAE has one), times ``scaling_factor``."""
    z = vae.encode(x).latent_dist.sample(generator=device_generator(generator, x.device))
    shift = getattr(vae.config, "shift_factor", None)
    if shift is not None:
        z = z - shift
    return z * float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)


class EpochSampler:
    """Batches of indices drawn without replacement within an epoch, reshuffled every epoch (a seeded
    ``DataLoader(shuffle=True, drop_last=False)`` that wraps around instead of returning a short batch).
    ``next()`` returns a tensor of ``batch_size`` indices."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator):
        self.n, self.batch_size, self.generator = n, batch_size, generator
        self._order: list[int] = []

    def next(self) -> torch.Tensor:
        out: list[int] = []
        while len(out) < self.batch_size:
            if not self._order:
                self._order = torch.randperm(self.n, generator=self.generator).tolist()
            out.append(self._order.pop())
        return torch.tensor(out)


class InOrderEpochSampler:
    """Like ``EpochSampler`` but the first epoch walks the items in list order (for lists already shuffled
    by the caller, as EmoGen's official stage-2 loader is); later epochs are reshuffled, and a batch wraps
    across the epoch boundary. ``next()`` returns a list of ``batch_size`` indices."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator):
        self.n, self.batch_size, self.generator = n, batch_size, generator
        self.epoch, self.queue = 0, []

    def next(self) -> list[int]:
        out: list[int] = []
        while len(out) < self.batch_size:
            if not self.queue:
                order = (list(range(self.n)) if self.epoch == 0
                         else torch.randperm(self.n, generator=self.generator).tolist())
                self.queue = order[::-1]
                self.epoch += 1
            out.append(self.queue.pop())
        return out


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence diffusers/transformers notices that are expected when loading a method's own artifacts (the
    text-encoder "no LoRA keys" note, the embedding-resize note)."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    levels = dlog.get_verbosity(), tlog.get_verbosity()
    dlog.set_verbosity_error()
    tlog.set_verbosity_error()
    try:
        yield
    finally:
        dlog.set_verbosity(levels[0])
        tlog.set_verbosity(levels[1])


def load_zoo(spec: Any, **kwargs: Any) -> Any:
    """The zoo a training or conversion script works on (``"mini"``, a pipeline folder or a paper ``.toml``),
    loaded exactly as ``emobench run --zoo`` loads it. Imported on call: loading a zoo pulls in diffusers."""
    from emobench.zoo.load import load_zoo as _load_zoo

    return _load_zoo(spec, **kwargs)
