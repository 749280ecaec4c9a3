"""EmoGen's losses (``main.py:813-872``), per sample: L = (1 − c)·L_LDM + λ·c·L_attr + μ·L_emo.

- L_LDM: MSE between the UNet's prediction and its target (ε, or v for v-prediction zoos) at t ~ U{0..T-1}.
- L_attr: cross-entropy over cos(s, bank) / T, with s the CLIP text feature of the mapped prompt
  (``text_projection`` of the pooled hidden state) and the bank the CLIP text features of the attribute names.
- L_emo: cross-entropy of a linear emotion probe (on CLIP image features) applied to s; μ = 0 by default.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from emobench.errors import EmobenchError


def attribute_logits(s: torch.Tensor, bank: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """cos(s_i, bank_j) / T: [B, A]. Faithful T = 1 (no temperature): the loss then stays near log A."""
    return F.normalize(s.float(), dim=-1) @ F.normalize(bank.float(), dim=-1).T / temperature


def attribute_loss(s: torch.Tensor, bank: torch.Tensor, target: torch.Tensor, temperature: float = 1.0
                   ) -> torch.Tensor:
    """One L_attr per sample; a target of -1 (attribute not in the bank) gives 0, as official."""
    logits = attribute_logits(s, bank, temperature)
    valid = target >= 0
    loss = F.cross_entropy(logits, target.clamp(min=0), reduction="none")
    return torch.where(valid, loss, torch.zeros_like(loss))


def combine(l_ldm: torch.Tensor, l_attr: torch.Tensor | None, c: torch.Tensor, attr_weight: float,
            use_confidence: bool, l_emo: torch.Tensor | None = None, emo_weight: float = 0.0) -> torch.Tensor:
    """Batch mean of the per-sample objective.

    - faithful: (1 − c)·L_LDM + λ·c·L_attr (c re-weights each sample; (1 − c) applies even where L_attr = 0);
    - ``confidence=false`` ablation: L_LDM + λ·L_attr;
    - ``attr_weight=0`` ablation: L_LDM alone (c only exists to trade L_LDM against L_attr).
    """
    if l_attr is None or attr_weight == 0:
        total = l_ldm
    elif use_confidence:
        total = (1 - c) * l_ldm + attr_weight * c * l_attr
    else:
        total = l_ldm + attr_weight * l_attr
    if l_emo is not None and emo_weight:
        total = total + emo_weight * l_emo
    return total.mean()
