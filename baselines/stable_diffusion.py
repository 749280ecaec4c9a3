"""``sd``: plain Stable Diffusion with the emotion as a word in the prompt (the paper's SD baseline).

Prompt: the cell's template with the emotion word (default template ``"an image of {emotion}"``). Initial
noise: the plan's latent for the cell (``latents=``), so every method starts from the same tensor. Sampling
follows the zoo's defaults (steps, guidance, size, autocast dtype) unless overridden by options.

Batch invariance: CPU (and GPU) GEMM/conv kernels choose their blocking by batch size, so one UNet call
on 8 cells gives float results ~1e-6 away from 8 calls on one cell — enough to flip PNG pixels. A row's
result does not depend on the *other* rows of a call of the same size, though, so every pipeline call holds
exactly ``micro_batch`` cells, the last call padded with zero latents and empty prompts. Images then depend
on neither the runner's ``--batch-size`` nor on which cells share a call (tested), and sampling still runs
batched. ``micro_batch=1`` is the slow one-cell-per-call form; changing it changes the images' store keys.
Stochastic schedulers get one ``torch.Generator`` per cell, seeded from the cell, for the same reason.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from emobench.api import GenerationRequest, GenerationResult, Method
from emobench.errors import EmobenchError
from emobench.plan import cell_generators


@dataclass(frozen=True)
class SDConfig:
    guidance_scale: float | None = None        # None: the zoo's default
    num_inference_steps: int | None = None     # None: the zoo's default
    micro_batch: int = 8                       # cells per pipeline call, padded: fixes the kernels' batch size


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
        pad = cfg.micro_batch - len(requests)
        latents = torch.stack([r.latents for r in requests])
        if pad:
            latents = torch.cat([latents, latents.new_zeros((pad, *latents.shape[1:]))])
        generators = cell_generators([r.cell.seed for r in requests], pad)
        with self._autocast():
            out = self.pipe(
                prompt=list(prompts) + [""] * pad,
                latents=latents.to(device=device, dtype=self.pipe.unet.dtype),
                generator=generators,
                num_inference_steps=cfg.num_inference_steps or s.num_inference_steps,
                guidance_scale=cfg.guidance_scale if cfg.guidance_scale is not None else s.guidance_scale,
                height=s.height,
                width=s.width,
                output_type="pt",
            )
        return out.images[: len(requests)].float().cpu()

    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        if self.config.micro_batch < 1:
            raise EmobenchError(f"sd:micro_batch must be at least 1, got {self.config.micro_batch}",
                                "pass sd:micro_batch=8 (the default) or another positive number")
        prompts = [r.cell.prompt() for r in requests]  # the emotion as a plain word
        mb = self.config.micro_batch
        chunks = [self._sample(requests[i : i + mb], prompts[i : i + mb]) for i in range(0, len(requests), mb)]
        images = torch.cat(chunks) if chunks else torch.zeros(0, 3, self.zoo.sampling.height, self.zoo.sampling.width)
        return GenerationResult(images=images, prompts=prompts)
