"""Shared pieces of the learning baselines (textual inversion, DreamBooth): training data as latents, the
denoising loss, prompt encoding, atomic per-emotion artifacts, and per-emotion sampling. The generic pieces
(seeds, generators, latent encoding, epoch sampler, the sampler itself) come from the public toolkit,
``emobench.training`` and ``emobench.sampling``.

The training procedure follows diffusers' ``examples/textual_inversion/textual_inversion.py`` and
``examples/dreambooth/train_dreambooth_lora.py``: ε- (or v-) prediction MSE at uniformly drawn timesteps of a
``DDPMScheduler`` built from the zoo's scheduler config, on VAE latents times ``scaling_factor``.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterator, Sequence

import torch

from emobench.api import FitContext, GenerationRequest
from emobench.errors import EmobenchError
from emobench.sampling import sample
from emobench.training import atomic_write_text, cpu_generator, encode_latents, owned_tmpdir, sweep
from emobench.training import denoising_loss as per_sample_denoising_loss

if TYPE_CHECKING:  # pragma: no cover
    from diffusers import DDPMScheduler, StableDiffusionPipeline

    from emobench.zoo.base import Zoo

ENCODE_CHUNK = 16  # images per VAE call while caching latents (bounds memory at 512 px)


# ---------------------------------------------------------------------------------------------- data


def require_dataset(ctx: FitContext, method: str) -> None:
    if ctx.dataset is None:
        raise EmobenchError(
            f"{method} needs an emotion dataset to fit on, and none was given",
            "use a zoo with a dataset (the default mini zoo has one) or pass --emoset PATH to EmoSet",
        )


def training_latents(
    zoo: "Zoo", dataset: Any, emotion: str, max_images: int, generator: torch.Generator
) -> torch.Tensor:
    """Latents ``[N, C, h, w]`` (already times ``scaling_factor``) of up to ``max_images`` training images.

    Encoded once up front (diffusers' examples re-encode every step; with a frozen VAE the only difference is
    which posterior sample is drawn, and caching makes a step cost the UNet only). The subset is a seeded
    draw from the id-sorted list, so it does not depend on how the dataset lists its files.
    """
    samples = sorted(dataset.by_emotion("train", emotion), key=lambda s: s.id)
    if not samples:
        raise EmobenchError(
            f"the emotion dataset at {getattr(dataset, 'root', '?')} has no training images for {emotion!r}",
            f"add images of {emotion} to its train split, or leave {emotion} out with --emotions",
        )
    if max_images and len(samples) > max_images:
        keep = torch.randperm(len(samples), generator=generator)[:max_images].sort().values.tolist()
        samples = [samples[i] for i in keep]
    pipe = zoo.pipeline
    vae = pipe.vae
    size = zoo.sampling.height
    chunks = []
    with torch.no_grad():
        for start in range(0, len(samples), ENCODE_CHUNK):
            images = dataset.load_images(samples[start : start + ENCODE_CHUNK], size)
            x = images.to(zoo.device, dtype=vae.dtype) * 2.0 - 1.0   # SD's [-1, 1] image range
            chunks.append(encode_latents(vae, x, generator).float())
    return torch.cat(chunks)


# ---------------------------------------------------------------------------------------------- loss


def training_scheduler(pipe: "StableDiffusionPipeline") -> "DDPMScheduler":
    """The forward process the generator was trained with: the zoo's betas and prediction type in a DDPM."""
    from diffusers import DDPMScheduler

    return DDPMScheduler.from_config(pipe.scheduler.config)


def encode_text(pipe: "StableDiffusionPipeline", prompts: Sequence[str], tokenizer=None, text_encoder=None):
    """``last_hidden_state`` exactly as ``StableDiffusionPipeline.encode_prompt`` computes it (max-length
    padding, truncation, attention mask only where the encoder's config asks for one)."""
    tokenizer = tokenizer or pipe.tokenizer
    text_encoder = text_encoder or pipe.text_encoder
    tok = tokenizer(list(prompts), padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt")
    device = text_encoder.device
    mask = tok.attention_mask.to(device) if getattr(text_encoder.config, "use_attention_mask", False) else None
    return text_encoder(tok.input_ids.to(device), attention_mask=mask)[0]


def denoising_loss(
    unet: torch.nn.Module,
    scheduler: "DDPMScheduler",
    latents: torch.Tensor,
    cond: torch.Tensor,
    generator: torch.Generator,
    reduce: bool = True,
) -> torch.Tensor:
    """The shared denoising MSE (``emobench.training.denoising_loss``), averaged unless ``reduce=False``."""
    err = per_sample_denoising_loss(unet, scheduler, latents, cond, generator)
    return err.mean() if reduce else err


def fixed_batch_loss(unet: torch.nn.Module, scheduler: "DDPMScheduler", latents: torch.Tensor,
                     cond: torch.Tensor, seed: int, n: int = 32) -> float:
    """The denoising loss on the first ``n`` training latents with noise and timesteps fixed by ``seed``:
    computed before and after a fit, it shows whether the fit changed how well the model explains them."""
    with torch.no_grad():
        batch = latents[:n]
        c = cond if cond.shape[0] == len(batch) else cond[:1].expand(len(batch), -1, -1)
        return float(denoising_loss(unet, scheduler, batch, c, cpu_generator(seed)))


# ---------------------------------------------------------------------------------------------- artifacts


@dataclass
class EmotionFit:
    """Facts of one emotion's fit, written beside its weights as ``<emotion>.json``."""

    emotion: str
    steps: int
    n_images: int
    seconds: float
    loss_first: float
    loss_last: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "extra"}
        d.update(self.extra)
        return d


class LossTrace:
    """Mean loss over the first and the last few steps (single steps are too noisy to report)."""

    def __init__(self, window: int = 10):
        self.window = window
        self.values: list[float] = []

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def first(self) -> float:
        v = self.values[: self.window]
        return float(sum(v) / len(v)) if v else float("nan")

    @property
    def last(self) -> float:
        v = self.values[-self.window :]
        return float(sum(v) / len(v)) if v else float("nan")


@dataclass
class ArtifactSlot:
    """Where one emotion's artifact lives. ``path`` (a file or a folder) appears atomically, last, after its
    facts file: its presence means the emotion is fitted, so an interrupted fit leaves no half-written
    artifact and a rerun skips what is done."""

    artifact_dir: Path
    emotion: str
    name: str  # file or folder name inside artifact_dir

    @property
    def path(self) -> Path:
        return self.artifact_dir / self.name

    @property
    def facts_path(self) -> Path:
        return self.artifact_dir / f"{self.emotion}.json"

    def done(self) -> bool:
        return self.path.exists() and self.facts_path.exists()

    def facts(self) -> dict[str, Any]:
        return json.loads(self.facts_path.read_text())

    def commit(self, write: Callable[[Path], None], facts: EmotionFit) -> None:
        """``write(tmp)`` writes ``self.name`` into a scratch folder; then facts, then the artifact, are moved
        into place with ``os.replace`` (atomic within one filesystem)."""
        self.artifact_dir.mkdir(parents=True, exist_ok=True)
        sweep(self.artifact_dir)   # scratch of a killed fit (a live one's is kept)
        tmp = owned_tmpdir(self.artifact_dir, f"tmp-{self.emotion}")
        try:
            write(tmp)
            produced = tmp / self.name
            if not produced.exists():
                raise RuntimeError(f"artifact writer did not produce {self.name}")
            atomic_write_text(self.facts_path, json.dumps(facts.to_dict(), indent=2, sort_keys=True))
            if self.path.is_dir():  # a stale folder from an older fit; a folder cannot be replaced atomically
                shutil.rmtree(self.path)
            os.replace(produced, self.path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def fit_emotions(
    ctx: FitContext,
    method: str,
    slot_name: Callable[[str], str],
    fit_one: Callable[[str, Callable[[int, int], None]], tuple[Callable[[Path], None], EmotionFit]],
) -> dict[str, Any]:
    """Run ``fit_one`` for each emotion not already present in ``ctx.artifact_dir``; return the facts dict.

    ``fit_one(emotion, tick)`` trains and returns (writer, facts); ``tick(done, total)`` reports progress.
    """
    require_dataset(ctx, method)
    start = time.perf_counter()
    per_emotion: dict[str, Any] = {}
    skipped: list[str] = []
    for emotion in ctx.emotions:
        slot = ArtifactSlot(Path(ctx.artifact_dir), emotion, slot_name(emotion))
        if slot.done():
            per_emotion[emotion] = slot.facts()
            skipped.append(emotion)
            continue

        def tick(done: int, total: int, _e: str = emotion) -> None:
            if ctx.progress is not None:
                ctx.progress(_e, done, total)  # the core's bar already names the method

        writer, facts = fit_one(emotion, tick)
        slot.commit(writer, facts)
        per_emotion[emotion] = facts.to_dict()
    fitted = [e for e in ctx.emotions if e not in skipped]
    steps = sum(per_emotion[e]["steps"] for e in fitted)
    secs = sum(per_emotion[e]["seconds"] for e in fitted)
    return {
        "method": method,
        "emotions": per_emotion,
        "skipped": skipped,
        "wall_seconds": round(time.perf_counter() - start, 3),
        "wall_seconds_per_step": round(secs / steps, 4) if steps else None,  # setup included
        "torch_threads": torch.get_num_threads(),
    }


# ---------------------------------------------------------------------------------------------- generation


def group_by_emotion(requests: Sequence[GenerationRequest]) -> Iterator[tuple[str, list[int]]]:
    """(emotion, request indices) in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(requests):
        groups.setdefault(r.cell.emotion, []).append(i)
    yield from groups.items()


def missing_artifact(method: str, emotion: str, artifact_dir: Path | None) -> EmobenchError:
    return EmobenchError(
        f"{method} has no fitted artifact for {emotion!r} in {artifact_dir}",
        f"fit it with `emobench fit {method} --emotions {emotion}` (or run with --refit)",
    )


def sample_by_emotion(
    zoo: "Zoo",
    pipe: "StableDiffusionPipeline",
    requests: Sequence[GenerationRequest],
    emotion_text: Callable[[str], str],
    weights: Callable[[str], ContextManager[Any]],
) -> tuple[torch.Tensor, list[str]]:
    """Images and prompts for ``requests`` in order, sampled one emotion at a time on ``pipe``: each cell's
    template rendered with ``emotion_text(emotion)``, inside ``weights(emotion)`` (which loads that emotion's
    artifact, or raises ``missing_artifact``). Sampling is ``sd``'s: ``emobench.sampling.sample`` with the
    zoo's defaults and the default micro-batch."""
    images: list[torch.Tensor | None] = [None] * len(requests)
    prompts = [""] * len(requests)
    for emotion, idx in group_by_emotion(requests):
        group = [requests[i] for i in idx]
        texts = [r.cell.prompt(emotion_text(emotion)) for r in group]
        with weights(emotion):
            out = sample(zoo, group, prompt=texts, pipe=pipe)
        for j, i in enumerate(idx):
            images[i], prompts[i] = out[j], texts[j]
    return torch.stack(images), prompts  # type: ignore[arg-type]
