"""The denoising objective shared by every method that trains on the zoo's generator (textual inversion,
DreamBooth, EmoGen's mapper), so all of them optimise exactly the same loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from emobench.errors import EmobenchError


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
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        target = noise
    elif kind == "v_prediction":
        target = scheduler.get_velocity(latents, noise, t)
    elif kind == "sample":
        target = latents
    else:
        raise EmobenchError(f"unknown prediction_type {kind!r} in the zoo's scheduler config",
                            "use a zoo whose scheduler predicts epsilon, v_prediction or sample")
    dtype = next(unet.parameters()).dtype
    pred = unet(noisy.to(dtype), t, encoder_hidden_states=cond.to(dtype)).sample
    return F.mse_loss(pred.float(), target.float(), reduction="none").flatten(1).mean(1)
