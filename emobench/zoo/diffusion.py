"""The denoising objective shared by every method that trains on the zoo's generator (textual inversion,
DreamBooth, EmoGen's mapper), so all of them optimise exactly the same loss; its target and min-SNR weight
are also what ``emobench zoo build mini`` trains the mini UNet with."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from emobench.errors import EmobenchError


def _unknown_kind(kind: str) -> EmobenchError:
    return EmobenchError(f"unknown prediction_type {kind!r} in the zoo's scheduler config",
                         "use a zoo whose scheduler predicts epsilon, v_prediction or sample")


def prediction_target(scheduler, latents: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What a UNet trained under ``scheduler`` predicts for ``latents`` noised with ``noise`` at ``t``."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(latents, noise, t)
    if kind == "sample":
        return latents
    raise _unknown_kind(kind)


def min_snr_weight(scheduler, gamma: float) -> torch.Tensor:
    """Per-timestep loss weight of min-SNR-γ (Hang et al. 2023): the x0-space weight min(SNR, γ), expressed
    for the target ``scheduler`` predicts. ``[num_train_timesteps]``, index it with ``t``."""
    alphas = scheduler.alphas_cumprod
    snr = alphas / (1 - alphas)
    clipped = torch.clamp(snr, max=gamma)
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return clipped / snr
    if kind == "v_prediction":
        return clipped / (snr + 1)
    if kind == "sample":
        return clipped
    raise _unknown_kind(kind)


def denoising_loss(unet: torch.nn.Module, scheduler, latents: torch.Tensor, cond: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
    """One MSE value per sample between the UNet's prediction and its target at uniformly drawn timesteps.

    Noise and timesteps are drawn on CPU from ``generator`` so a fit is the same draw on any device. The UNet
    gets inputs in its own dtype (an fp16 paper-scale UNet on CUDA); the loss is taken in fp32.
    """
    b = latents.shape[0]
    noise = torch.randn(latents.shape, generator=generator).to(latents.device, latents.dtype)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (b,), generator=generator).to(latents.device)
    noisy = scheduler.add_noise(latents, noise, t)
    target = prediction_target(scheduler, latents, noise, t)
    dtype = next(unet.parameters()).dtype
    pred = unet(noisy.to(dtype), t, encoder_hidden_states=cond.to(dtype)).sample
    return F.mse_loss(pred.float(), target.float(), reduction="none").flatten(1).mean(1)
