"""The public sampling toolkit for method plugins: one call from requests to images that honours the plan.

``sample(zoo, requests, prompt=[...])`` (or ``prompt_embeds=``) runs the zoo's pipeline (or a private view of
it) on the plan's latents and returns ``[N, 3, H, W]`` floats in ``[0, 1]`` on CPU. It owns what every
method must get right for images to be comparable and reproducible:

- **the plan's noise**: ``latents=`` from the requests, and one step-noise ``torch.Generator`` per cell seeded
  from ``cell.seed`` (``cell_generators``), for stochastic schedulers (the mini zoo's is ancestral);
- **batch invariance**: CPU and GPU GEMM/conv kernels choose their blocking by batch size, so one UNet call on
  8 cells gives float results ~1e-6 away from 8 calls on one cell — enough to flip PNG pixels. A row's result
  does not depend on the *other* rows of a call of the same size, so every call holds exactly
  ``micro_batch`` cells, the last one padded with zero latents and the empty prompt. Images then depend on
  neither the runner's ``--batch-size`` nor on which cells share a call;
- **the zoo's sampling defaults** (steps, guidance, size) unless overridden, and its autocast dtype.

A method that changes a pipeline component (a LoRA, a learned token, another scheduler) samples from
``private_pipeline(zoo.pipeline, ...)`` so the pipeline every other method uses stays untouched.
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import math
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ContextManager, Iterator, Sequence

import torch

from emobench.api import GenerationRequest
from emobench.errors import EmobenchError
from emobench.zoo.schedulers import swap_scheduler

if TYPE_CHECKING:  # pragma: no cover
    from diffusers import StableDiffusionPipeline

    from emobench.zoo.base import Zoo

__all__ = ["sample", "cell_generators", "autocast", "private_pipeline", "empty_prompt_embeds", "swap_scheduler",
           "check_sampling_options"]


def cell_generators(seeds: Sequence[int], pad: int = 0) -> list[torch.Generator]:
    """One CPU generator per row of a pipeline call: each cell's from its seed, then ``pad`` padding rows
    seeded 0. Every method that passes these draws the same step noise for the same cell, whatever its batch
    neighbours."""
    return [torch.Generator("cpu").manual_seed(int(s)) for s in [*seeds, *([0] * pad)]]


def autocast(zoo: "Zoo") -> ContextManager[Any]:
    """The zoo's autocast (``zoo.sampling.autocast_dtype``, e.g. fp16 at paper scale), or nothing."""
    dtype = zoo.sampling.autocast_dtype
    if not dtype:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(zoo.device).type, dtype=getattr(torch, dtype))


def private_pipeline(pipe: "StableDiffusionPipeline", **replace: Any) -> "StableDiffusionPipeline":
    """A shallow copy of ``pipe`` with some components swapped for private ones (its progress bar is off).

    Not a new ``StableDiffusionPipeline(**components)``: its constructor rewrites the *shared* scheduler's
    config (``clip_sample=False``), which would silently change every other method's images.
    """
    view = copy.copy(pipe)
    for name, module in replace.items():
        setattr(view, name, module)
    view.set_progress_bar_config(disable=True)
    return view


@dataclass
class Truncations:
    """Prompts the zoo's tokenizer cut while one method generated: the cut-off text of each distinct prompt."""

    max_tokens: int = 0
    cut: dict[str, str] = field(default_factory=dict)    # prompt → the text the tokenizer dropped

    def message(self, label: str) -> str:
        first = next(iter(self.cut.items()))
        more = f" (and {len(self.cut) - 1} more prompts)" if len(self.cut) > 1 else ""
        return (f"{len(self.cut)} prompt(s) of {label!r} cut at the text encoder's {self.max_tokens} tokens; "
                f"{first[0]!r} lost {first[1]!r}{more}")


_TRUNCATIONS: contextvars.ContextVar[Truncations | None] = contextvars.ContextVar("emobench_truncations",
                                                                                    default=None)
_WARNED: set[str] = set()


@contextlib.contextmanager
def collect_truncations() -> Iterator[Truncations]:
    """Inside: ``sample`` records cut prompts here instead of warning (the runner warns once per method)."""
    sink = Truncations()
    token = _TRUNCATIONS.set(sink)
    try:
        yield sink
    finally:
        _TRUNCATIONS.reset(token)


def truncated_text(tokenizer: Any, prompts: Sequence[str]) -> dict[str, str]:
    """prompt → what the tokenizer cuts off at ``model_max_length`` (as diffusers computes it), for cut ones.

    The zoo's text encoder may be short (the mini zoo's takes 16 tokens): a long or rewritten prompt then loses
    its tail with only a transformers log line, and the method is silently scored on another prompt."""
    limit = int(getattr(tokenizer, "model_max_length", 0) or 0)
    if not limit or limit > 100_000:
        return {}
    out: dict[str, str] = {}
    for p in dict.fromkeys(prompts):
        ids = tokenizer(p, truncation=False, add_special_tokens=True).input_ids
        if len(ids) > limit:
            out[p] = tokenizer.decode(ids[limit - 1 : -1]).strip()   # the last kept slot holds the end token
    return out


def _note_truncations(tokenizer: Any, prompts: Sequence[str]) -> None:
    cut = truncated_text(tokenizer, [p for p in prompts if p])
    if not cut:
        return
    sink = _TRUNCATIONS.get()
    if sink is not None:
        sink.max_tokens = int(tokenizer.model_max_length)
        sink.cut.update(cut)
        return
    news = {p: c for p, c in cut.items() if p not in _WARNED}   # outside a run: once per prompt and process
    if news:
        _WARNED.update(news)
        print("emobench: warning: " + Truncations(int(tokenizer.model_max_length), news).message("sample()"),
              file=sys.stderr)


@torch.no_grad()
def empty_prompt_embeds(pipe: "StableDiffusionPipeline", device: torch.device | str) -> torch.Tensor:
    """``[1, L, D]``: the text encoder's output for the empty prompt (padding rows and the unconditional
    branch of classifier-free guidance when a method passes ``prompt_embeds``)."""
    tok = pipe.tokenizer
    ids = tok([""], padding="max_length", max_length=tok.model_max_length, truncation=True,
              return_tensors="pt").input_ids
    return pipe.text_encoder(ids.to(device))[0]


def check_sampling_options(num_inference_steps: int | None = None, guidance_scale: float | None = None,
                           micro_batch: int | None = None) -> None:
    """Range checks for the sampling options every method shares; a method's ``Config.__post_init__`` calls
    this so a bad value (``steps=0``, ``guidance_scale=nan``) is refused when the spec is parsed, before any
    file is written. ``None`` means "the zoo's default". Raises ``ValueError``."""
    if num_inference_steps is not None and int(num_inference_steps) < 1:
        raise ValueError(f"num_inference_steps must be at least 1 (got {num_inference_steps})")
    if guidance_scale is not None and not math.isfinite(float(guidance_scale)):
        raise ValueError(f"guidance_scale must be a finite number (got {guidance_scale})")
    if micro_batch is not None and int(micro_batch) < 1:
        raise ValueError(f"micro_batch must be at least 1 (got {micro_batch})")


def sample(
    zoo: "Zoo",
    requests: Sequence[GenerationRequest],
    *,
    prompt: Sequence[str] | None = None,
    prompt_embeds: torch.Tensor | None = None,
    negative_prompt_embeds: torch.Tensor | None = None,
    pipe: "StableDiffusionPipeline | None" = None,
    micro_batch: int = 8,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
) -> torch.Tensor:
    """Images ``[N, 3, H, W]`` (float, ``[0, 1]``, CPU) for ``requests`` in order.

    Give exactly one of ``prompt`` (N strings) or ``prompt_embeds`` (``[N, L, D]``, e.g. with a learned
    token spliced in); with embeddings, ``negative_prompt_embeds`` (``[1, L, D]``, default: the empty
    prompt's) is the unconditional branch and the padding. ``pipe`` defaults to ``zoo.pipeline``;
    ``num_inference_steps`` / ``guidance_scale`` default to the zoo's. ``micro_batch`` is part of what an
    image depends on: a method exposes it as an option and keeps it in its config (so in the store key).
    """
    if (prompt is None) == (prompt_embeds is None):
        raise TypeError("sample() takes exactly one of prompt= or prompt_embeds=")
    if micro_batch < 1:
        raise EmobenchError(f"micro_batch must be at least 1, got {micro_batch}",
                            "pass micro_batch=8 (the default) or another positive number")
    n = len(requests)
    given = len(prompt) if prompt is not None else int(prompt_embeds.shape[0])  # type: ignore[union-attr]
    if given != n:
        raise ValueError(f"sample(): {given} prompts for {n} requests")
    pipe = pipe if pipe is not None else zoo.pipeline
    s = zoo.sampling
    if n == 0:
        return torch.zeros(0, 3, s.height, s.width)
    if prompt_embeds is not None and negative_prompt_embeds is None:
        negative_prompt_embeds = empty_prompt_embeds(pipe, zoo.device)
    check_sampling_options(num_inference_steps, guidance_scale, micro_batch)
    steps = num_inference_steps if num_inference_steps is not None else s.num_inference_steps
    guidance = guidance_scale if guidance_scale is not None else s.guidance_scale
    if prompt is not None and getattr(pipe, "tokenizer", None) is not None:
        _note_truncations(pipe.tokenizer, prompt)
    chunks = []
    for start in range(0, n, micro_batch):
        chunk = requests[start : start + micro_batch]
        pad = micro_batch - len(chunk)
        latents = torch.stack([r.latents for r in chunk])
        if pad:
            latents = torch.cat([latents, latents.new_zeros((pad, *latents.shape[1:]))])
        if prompt is not None:
            text: dict[str, Any] = {"prompt": list(prompt[start : start + micro_batch]) + [""] * pad}
        else:
            neg = negative_prompt_embeds
            text = {"prompt_embeds": torch.cat([prompt_embeds[start : start + micro_batch],  # type: ignore[index]
                                                neg.expand(pad, -1, -1)]),
                    "negative_prompt_embeds": neg.expand(micro_batch, -1, -1)}
        with torch.no_grad(), autocast(zoo):
            out = pipe(
                **text,
                latents=latents.to(device=zoo.device, dtype=pipe.unet.dtype),
                generator=cell_generators([r.cell.seed for r in chunk], pad),
                num_inference_steps=steps,
                guidance_scale=guidance,
                height=s.height,
                width=s.width,
                output_type="pt",
            )
        chunks.append(out.images[: len(chunk)].float().cpu().clamp(0, 1))
    return torch.cat(chunks)
