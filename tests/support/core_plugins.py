"""Plugins and helpers for the core tests (no tests here). Registered per test through ``EMOBENCH_PLUGINS``,
which is also how the subprocess tests load them (``PYTHONPATH=tests``)."""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from emobench.api import GenerationRequest, GenerationResult, Method

PLUGINS = ",".join([
    "method:noise=support.core_plugins:NoiseMethod",
    "method:broken=support.core_plugins:BrokenMethod",
    "method:nan=support.core_plugins:NaNMethod",
    "method:short=support.core_plugins:ShortMethod",
    "method:learner=support.core_plugins:Learner",
    "method:mutator=support.core_plugins:Mutator",
    "method:missing=support.core_plugins_nonexistent:Nope",
])


def _prompt_offset(prompt: str) -> float:
    return int(hashlib.sha256(prompt.encode()).hexdigest()[:4], 16) / 65535.0 - 0.5


@dataclass(frozen=True)
class NoiseConfig:
    scale: float = 1.0
    tags: tuple[str, ...] = ()
    flag: bool = False
    steps: int | None = None


class NoiseMethod(Method):
    """Images straight from the plan latents (no diffusion): fast, deterministic, latent- and prompt-dependent.
    ``EMOBENCH_TEST_SLEEP`` seconds per batch lets a test kill a run mid-generation."""

    name = "noise"
    Config = NoiseConfig

    def load(self, zoo, artifact_dir: Path | None) -> None:
        self.size = (zoo.sampling.height, zoo.sampling.width)

    def render(self, requests: Sequence[GenerationRequest], shift: Sequence[float] | None = None) -> torch.Tensor:
        out = []
        for i, r in enumerate(requests):
            x = r.latents[:3].unsqueeze(0).float()
            x = F.interpolate(x, size=self.size, mode="nearest")[0]
            extra = shift[i] if shift is not None else 0.0
            out.append(torch.sigmoid(self.config.scale * x + _prompt_offset(r.cell.prompt()) + extra))
        return torch.stack(out)

    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        time.sleep(float(os.environ.get("EMOBENCH_TEST_SLEEP", "0")))
        if os.environ.get("EMOBENCH_TEST_INTERRUPT_METHOD") == str(self.config.scale):   # Ctrl-C mid-run
            raise KeyboardInterrupt
        return GenerationResult(images=self.render(requests), prompts=[r.cell.prompt() for r in requests])


class BrokenMethod(NoiseMethod):
    name = "broken"

    def generate(self, requests):
        raise RuntimeError("boom in generate")


class NaNMethod(NoiseMethod):
    name = "nan"

    def generate(self, requests):
        res = super().generate(requests)
        res.images[0, 0, 0, 0] = float("nan")
        return res


class ShortMethod(NoiseMethod):
    name = "short"

    def generate(self, requests):
        res = super().generate(requests)
        return GenerationResult(images=res.images[:-1], prompts=res.prompts[:-1])


class Mutator(NoiseMethod):
    """Breaks the rule that methods leave the shared pipeline as they found it."""

    name = "mutator"

    def load(self, zoo, artifact_dir):
        super().load(zoo, artifact_dir)
        with torch.no_grad():
            zoo.pipeline.unet.conv_in.bias.add_(0.5)


@dataclass(frozen=True)
class LearnerConfig:
    fail_on: str = ""      # emotion whose fit raises while EMOBENCH_TEST_FAIL=1
    scale: float = 1.0


FIT_CALLS: list[str] = []


class Learner(NoiseMethod):
    """Fits one number per emotion (mean brightness of its training images) into ``<emotion>/`` subfolders,
    skipping emotions whose ``_complete`` marker survived a failed attempt."""

    name = "learner"
    Config = LearnerConfig
    learns = True

    def fit(self, ctx):
        for i, emotion in enumerate(ctx.emotions):
            sub = ctx.artifact_dir / emotion
            if (sub / "_complete").exists():
                continue
            if emotion == self.config.fail_on and os.environ.get("EMOBENCH_TEST_FAIL", "1") == "1":
                raise RuntimeError(f"fit failed on {emotion}")
            if emotion == os.environ.get("EMOBENCH_TEST_INTERRUPT_ON"):   # Ctrl-C in the middle of a fit
                raise KeyboardInterrupt
            FIT_CALLS.append(emotion)
            samples = ctx.dataset.by_emotion("train", emotion)[:4]
            mean = ctx.dataset.load_images(samples).mean().reshape(1) if samples else torch.full((1,), 0.5)
            sub.mkdir(parents=True, exist_ok=True)
            save_file({"mean": mean}, str(sub / "mean.safetensors"))
            (sub / "_complete").write_text("")
            if ctx.progress:
                ctx.progress("emotions", i + 1, len(ctx.emotions))
        return {"emotions": list(ctx.emotions)}

    def load(self, zoo, artifact_dir):
        super().load(zoo, artifact_dir)
        self.means = {p.name: float(load_file(str(p / "mean.safetensors"))["mean"])
                      for p in Path(artifact_dir).iterdir() if p.is_dir()}

    def generate(self, requests):
        imgs = self.render(requests, [self.means[r.cell.emotion] for r in requests])
        return GenerationResult(images=imgs, prompts=[r.cell.prompt() for r in requests])
