"""``sd``: plain Stable Diffusion with the emotion as a word in the prompt (the paper's SD baseline).

Prompt: the cell's template with the emotion word (default template ``"an image of {emotion}"``). Initial
noise: the plan's latent for the cell (``latents=``), so every method starts from the same tensor. Sampling
follows the zoo's defaults (steps, guidance, size, autocast dtype) unless overridden by options.

Batch invariance: CPU (and GPU) GEMM/conv kernels choose their blocking by batch size, so one UNet call
on 8 cells gives float results ~1e-6 away from 8 calls on one cell — enough to flip PNG pixels. Hence by
default each cell is sampled in its own pipeline call (its CFG pair is the only batch), and the runner's
``--batch-size`` only sets how many cells one ``generate`` call receives. ``batched=true`` samples the whole
request list at once: faster, but images then depend on the batch size (and get their own store keys).
Stochastic schedulers get one ``torch.Generator`` per cell, seeded from the cell, for the same reason.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from emobench.api import GenerationRequest, GenerationResult, Method


@dataclass(frozen=True)
class SDConfig:
    guidance_scale: float | None = None        # None: the zoo's default
    num_inference_steps: int | None = None     # None: the zoo's default
    batched: bool = False                      # True: one pipeline call per request list (batch-dependent)


class StableDiffusionMethod(Method):
    name = "sd"
    Config = SDConfig
    learns = False

    def load(self, zoo, artifact_dir: Path | None) -> None:
        self.zoo = zoo
        self.pipe = zoo.pipeline
        self.pipe.set_progress_bar_config(disable=True)

    def _autocast(self):
        dtype = self.zoo.sampling.autocast_dtype
        if not dtype:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.zoo.device.type, dtype=getattr(torch, dtype))

    def _sample(self, requests: Sequence[GenerationRequest], prompts: list[str]) -> torch.Tensor:
        s, cfg, device = self.zoo.sampling, self.config, self.zoo.device
        latents = torch.stack([r.latents for r in requests]).to(device=device, dtype=self.pipe.unet.dtype)
        generators = [torch.Generator("cpu").manual_seed(r.cell.seed) for r in requests]
        with self._autocast():
            out = self.pipe(
                prompt=prompts,
                latents=latents,
                generator=generators,
                num_inference_steps=cfg.num_inference_steps or s.num_inference_steps,
                guidance_scale=cfg.guidance_scale if cfg.guidance_scale is not None else s.guidance_scale,
                height=s.height,
                width=s.width,
                output_type="pt",
            )
        return out.images.float().cpu()

    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        prompts = [r.cell.prompt() for r in requests]  # the emotion as a plain word
        if self.config.batched:
            images = self._sample(requests, prompts)
        else:
            images = torch.cat([self._sample([r], [p]) for r, p in zip(requests, prompts)])
        return GenerationResult(images=images, prompts=prompts)
