"""``sd``: plain Stable Diffusion with the emotion as a word in the prompt (the paper's SD baseline).

Prompt: the cell's template with the emotion word (default template ``"an image of {emotion}"``). Initial
noise: the plan's latent for the cell (``latents=``), so every method starts from the same tensor. Sampling
follows the zoo's defaults (steps, guidance, size, autocast dtype) unless overridden by options.

Sampling is ``emobench.sampling.sample``: padded micro-batches of a fixed size (images depend neither on the
runner's ``--batch-size`` nor on which cells share a call), one step-noise generator per cell, the zoo's autocast.
``micro_batch=1`` is the slow one-cell-per-call form; changing it changes the images' store keys.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from emobench.api import GenerationRequest, GenerationResult, Method
from emobench.sampling import check_sampling_options, sample


@dataclass(frozen=True)
class SDConfig:
    guidance_scale: float | None = None        # None: the zoo's default
    num_inference_steps: int | None = None     # None: the zoo's default
    micro_batch: int = 8                       # cells per pipeline call, padded: fixes the kernels' batch size

    def __post_init__(self) -> None:  # refused when the spec is parsed, before anything is written
        check_sampling_options(self.num_inference_steps, self.guidance_scale, self.micro_batch)


class StableDiffusionMethod(Method):
    name = "sd"
    display_name = "Stable Diffusion"
    Config = SDConfig
    learns = False
    is_baseline = True   # the default --baseline of every run that includes it

    def load(self, zoo, artifact_dir: Path | None) -> None:
        self.zoo = zoo
        self.pipe = zoo.pipeline
        self.pipe.set_progress_bar_config(disable=True)

    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        prompts = [r.cell.prompt() for r in requests]  # the emotion as a plain word
        c = self.config
        images = sample(self.zoo, requests, prompt=prompts, pipe=self.pipe, micro_batch=c.micro_batch,
                        num_inference_steps=c.num_inference_steps, guidance_scale=c.guidance_scale)
        return GenerationResult(images=images, prompts=prompts)
