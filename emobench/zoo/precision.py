"""Mixed-precision training for methods whose trainable parameters sit behind frozen half-precision models.

The paper zoo on CUDA holds the whole pipeline (UNet, VAE, text encoder) in float16. A mapper or a learned
token stays float32, but the loss gradient must travel back through the frozen fp16 UNet: with ``reduction=mean``
over 4·64·64 latents and batch 8, dL/dpred ≈ 1e-5·δ, below float16's smallest normal number (6.1e-5), so a plain
``loss.backward()`` hands the trainable parameters mostly zeros and quantisation noise. The official EmoGen
code scales the loss (accelerate's fp16 AMP with a ``GradScaler``); :class:`ScaledBackward` does the same.

When no frozen module computes in float16 (every CPU fit, bfloat16 zoos, which have float32's exponent range)
it is exactly ``loss.backward(); optimizer.step()``: fp32 fits stay byte-identical.
"""
from __future__ import annotations

from typing import Iterable

import torch

# Half precision that underflows in the backward pass. bfloat16 keeps float32's exponent range: no scaling.
UNDERFLOWING = (torch.float16,)


def computes_in_fp16(modules: Iterable[torch.nn.Module | None]) -> bool:
    """True when any of ``modules`` has a float16 parameter (the backward pass then runs through fp16)."""
    return any(p.dtype in UNDERFLOWING for m in modules if m is not None for p in m.parameters())


class ScaledBackward:
    """``step(loss, optimizer)``: backward + optimiser step, through a ``torch.amp.GradScaler`` when the frozen
    parts are float16 (scaled loss, unscaled float32 gradients, steps with inf/NaN gradients skipped and the
    scale lowered, as in accelerate / ``torch.amp``); plain otherwise.

    The trainable parameters must be float32 (GradScaler refuses to unscale fp16 gradients), which is what every
    emobench method keeps them in.
    """

    def __init__(self, frozen: Iterable[torch.nn.Module | None], device: torch.device | str):
        self.enabled = computes_in_fp16(frozen)
        self.scaler = torch.amp.GradScaler(torch.device(device).type, enabled=True) if self.enabled else None
        self.skipped = 0   # optimiser steps skipped because the scaled gradients overflowed

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        scale = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        if self.scaler.get_scale() < scale:   # update() lowers the scale only after a skipped (overflowed) step
            self.skipped += 1

    def facts(self) -> dict[str, object]:
        """What to record in a fit's facts."""
        if self.scaler is None:
            return {"loss_scaling": False}
        return {"loss_scaling": True, "loss_scale_final": float(self.scaler.get_scale()),
                "steps_skipped_overflow": self.skipped}
