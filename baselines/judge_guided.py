"""``judge-guided``: a control built to game one judge. Stable Diffusion with the emotion word in the prompt
(exactly ``sd``'s prompts, plan latents and per-cell step noise), plus classifier guidance on the gradient of
one emotion judge (default: the zoo's primary, Emo-A judge) at every sampling step.

At step ``t`` the CFG noise prediction gives the predicted clean latent ``x̂0``; the zoo's own decoder maps it
to an image, the judge scores it, and ``x̂0`` moves up the gradient of ``log p_judge(target emotion | D(x̂0))``
(normalised to unit RMS per image, times ``scale``). The model output is then rewritten to imply the moved
``x̂0`` at the same ``x_t`` (ε' = (x_t − √ᾱ x̂0')/√(1−ᾱ); v' = (√ᾱ x_t − x̂0')/√(1−ᾱ)) and the scheduler
steps as usual. The gradient runs through the decoder and the judge, not the UNet: the cheap "x̂0" form of
classifier / universal guidance. With ``scale=0`` the images are ``sd``'s, bit for bit (tested).

It declares ``trained_against = (judge,)``: the guided judge's verdict on it is not evidence; the other
judges of the panel say whether it expresses the emotion or found what that one judge likes.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from emobench.api import EMOTIONS, GenerationRequest, GenerationResult, Method
from emobench.errors import EmobenchError
from emobench.sampling import cell_generators


@dataclass(frozen=True)
class JudgeGuidedConfig:
    scale: float = 1.0                         # step of x̂0 along the judge's unit-RMS gradient, per sampling step
    judge: str = "primary"                     # panel judge to guide on ("primary": the zoo's Emo-A judge)
    guidance_scale: float | None = None        # CFG; None: the zoo's default
    num_inference_steps: int | None = None     # None: the zoo's default
    micro_batch: int = 8                       # cells per call, padded (as ``sd``: images independent of batching)


class JudgeGuidedMethod(Method):
    name = "judge-guided"
    Config = JudgeGuidedConfig
    learns = False
    trained_against = ("primary",)
    control = True    # built to game a judge: runs only when named, reported apart from the ranked methods

    def __init__(self, config=None):
        super().__init__(config)
        self.trained_against = (self.config.judge,)

    def load(self, zoo, artifact_dir: Path | None) -> None:
        from emobench.judges import load_panel

        self.zoo, self.pipe = zoo, zoo.pipeline
        self.pipe.set_progress_bar_config(disable=True)
        self.judge = load_panel(zoo, [self.config.judge]).get(self.config.judge)
        if not self.judge.differentiable:
            raise EmobenchError(f"judge {self.judge.name!r} is not differentiable", "guide on another judge (judge=NAME)")
        sched = self.pipe.scheduler
        if getattr(sched, "alphas_cumprod", None) is None or float(getattr(sched, "init_noise_sigma", 1.0)) != 1.0:
            raise EmobenchError(f"judge-guided needs an alphas-cumprod scheduler (DDPM/DDIM/UniPC/PNDM); the zoo has "
                                f"{type(sched).__name__}", "set [sampling] scheduler to DDIMScheduler or UniPCMultistepScheduler")

    def _autocast(self):
        dtype = self.zoo.sampling.autocast_dtype
        if not dtype:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.zoo.device.type, dtype=getattr(torch, dtype))

    def _decode(self, latents: torch.Tensor, generator) -> torch.Tensor:
        return self.pipe.vae.decode(latents / self.pipe.vae.config.scaling_factor, return_dict=False,
                                    generator=generator)[0]

    def _guide(self, model_output: torch.Tensor, t, x_t: torch.Tensor, targets: torch.Tensor,
               generators) -> torch.Tensor:
        """The model output whose implied x̂0 has moved ``scale`` along the judge's normalised gradient."""
        sched = self.pipe.scheduler
        ab = sched.alphas_cumprod.to(device=x_t.device, dtype=torch.float32)[int(t)]
        a, b = ab.sqrt(), (1 - ab).sqrt()
        kind = sched.config.prediction_type
        out, x = model_output.float(), x_t.float()
        x0 = {"epsilon": lambda: (x - b * out) / a, "v_prediction": lambda: a * x - b * out,
              "sample": lambda: out}[kind]()
        # the runner generates under inference_mode; the gradient needs a normal tensor outside it
        with torch.inference_mode(False), torch.enable_grad():
            z = x0.detach().clone().requires_grad_(True)
            images = (self._decode(z.to(x_t.dtype), None).float() / 2 + 0.5).clamp(0, 1)
            logp = torch.log_softmax(self.judge.logits(images), dim=1)
            keep = targets >= 0                                     # padding rows are not guided
            picked = logp[keep].gather(1, targets[keep, None].to(logp.device))
            (grad,) = torch.autograd.grad(picked.sum(), z)
        grad, x0 = grad.detach(), x0.clone()
        rms = grad.flatten(1).pow(2).mean(1).sqrt().clamp_min(1e-12).view(-1, *[1] * (grad.ndim - 1))
        x0 = x0 + self.config.scale * grad / rms
        new = {"epsilon": lambda: (x - a * x0) / b, "v_prediction": lambda: (a * x - x0) / b, "sample": lambda: x0}[kind]()
        return new.to(model_output.dtype)

    @torch.no_grad()
    def _sample(self, requests: Sequence[GenerationRequest], prompts: list[str]) -> torch.Tensor:
        s, cfg, device, pipe = self.zoo.sampling, self.config, self.zoo.device, self.pipe
        pad = cfg.micro_batch - len(requests)
        latents = torch.stack([r.latents for r in requests])
        if pad:
            latents = torch.cat([latents, latents.new_zeros((pad, *latents.shape[1:]))])
        generators = cell_generators([r.cell.seed for r in requests], pad)
        targets = torch.tensor([EMOTIONS.index(r.cell.emotion) for r in requests] + [-1] * pad)
        guidance = cfg.guidance_scale if cfg.guidance_scale is not None else s.guidance_scale
        do_cfg = guidance > 1 and pipe.unet.config.time_cond_proj_dim is None
        with self._autocast():
            # the StableDiffusionPipeline.__call__ loop (diffusers 0.42), step by step, plus the guidance
            pos, neg = pipe.encode_prompt(list(prompts) + [""] * pad, device, 1, do_cfg, None)
            embeds = torch.cat([neg, pos]) if do_cfg else pos
            pipe.scheduler.set_timesteps(cfg.num_inference_steps or s.num_inference_steps, device=device)
            x = latents.to(device=device, dtype=embeds.dtype) * pipe.scheduler.init_noise_sigma
            extra = pipe.prepare_extra_step_kwargs(generators, 0.0)
            for t in pipe.scheduler.timesteps:
                inp = torch.cat([x] * 2) if do_cfg else x
                inp = pipe.scheduler.scale_model_input(inp, t)
                out = pipe.unet(inp, t, encoder_hidden_states=embeds, return_dict=False)[0]
                if do_cfg:
                    uncond, text = out.chunk(2)
                    out = uncond + guidance * (text - uncond)
                if cfg.scale:
                    out = self._guide(out, t, x, targets, generators)
                x = pipe.scheduler.step(out, t, x, **extra, return_dict=False)[0]
            image = self._decode(x, generators)
            image = pipe.image_processor.postprocess(image, output_type="pt", do_denormalize=[True] * image.shape[0])
        return image[: len(requests)].float().cpu()

    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        if self.config.micro_batch < 1:
            raise EmobenchError(f"judge-guided:micro_batch must be at least 1, got {self.config.micro_batch}",
                                "pass judge-guided:micro_batch=8 (the default) or another positive number")
        prompts = [r.cell.prompt() for r in requests]  # the emotion as a plain word, as ``sd``
        mb = self.config.micro_batch
        chunks = [self._sample(requests[i: i + mb], prompts[i: i + mb]) for i in range(0, len(requests), mb)]
        images = torch.cat(chunks) if chunks else torch.zeros(0, 3, self.zoo.sampling.height, self.zoo.sampling.width)
        return GenerationResult(images=images, prompts=prompts)
