"""Stage 2's mapping network: emotion vector → one input token embedding of the text encoder.

Official (``training/model.py:28-62``, config MLP, 2 layers, ReLU, no LayerNorm/Dropout):
Linear(768→1024) → ReLU → Linear(1024→768), 1,574,656 parameters. ``FC`` is one Linear(768→768); more layers
add Linear(hidden→hidden) + ReLU blocks.
"""
from __future__ import annotations

from torch import nn


def build_mapper(kind: str, d_in: int, d_out: int, hidden: int, layers: int = 2) -> nn.Sequential:
    if kind == "fc":
        return nn.Sequential(nn.Linear(d_in, d_out))
    mods: list[nn.Module] = [nn.Linear(d_in, hidden), nn.ReLU()]
    for _ in range(layers - 2):
        mods += [nn.Linear(hidden, hidden), nn.ReLU()]
    mods.append(nn.Linear(hidden, d_out))
    return nn.Sequential(*mods)


def n_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
