"""The plan owns prompts and seeds: cells ``(emotion, template, seed)`` and one initial latent per cell.

For each emotion and ``i in range(n_per_emotion)``: ``template = templates[i % T]``, ``seed = base_seed + i // T``.
A cell's latent is ``torch.randn(zoo.latent_shape(), generator=torch.Generator("cpu").manual_seed(seed))``:
it depends on the seed only (never on batch, device or method), so every method starts from the very same
tensor and a comparison grid shows the same starting noise across methods and emotions.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from emobench.api import Cell, GenerationRequest, stable_hash
from emobench.spec.config import RunConfig
from emobench.spec.tracks import get_track


def cell_latent(seed: int, shape: Sequence[int]) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=torch.Generator("cpu").manual_seed(int(seed)), dtype=torch.float32)


@dataclass(frozen=True)
class Plan:
    cells: tuple[Cell, ...]
    latent_shape: tuple[int, int, int]

    @classmethod
    def from_config(cls, cfg: RunConfig, latent_shape: Sequence[int], contents: Sequence[str] = ()) -> "Plan":
        """The cells of ``cfg``'s track (``emobench.spec.tracks``); ``contents``: the content track's list."""
        cells = get_track(cfg.track).cells(cfg, contents)
        return cls(cells, tuple(int(x) for x in latent_shape))  # type: ignore[arg-type]

    @property
    def plan_hash(self) -> str:
        return stable_hash({"cells": [c.cell_id for c in self.cells], "latent_shape": list(self.latent_shape)})

    def latent(self, cell: Cell) -> torch.Tensor:
        return cell_latent(cell.seed, self.latent_shape)

    def requests(self, cells: Sequence[Cell]) -> list[GenerationRequest]:
        return [GenerationRequest(cell=c, latents=self.latent(c)) for c in cells]

    def batches(self, cells: Sequence[Cell], batch_size: int) -> Iterator[list[Cell]]:
        for start in range(0, len(cells), batch_size):
            yield list(cells[start : start + batch_size])

    def to_json(self) -> dict:
        return {
            "plan_hash": self.plan_hash,
            "latent_shape": list(self.latent_shape),
            "cells": [
                {"emotion": c.emotion, "template": c.template, "seed": c.seed,
                 "latent_sha256": hashlib.sha256(self.latent(c).numpy().tobytes()).hexdigest(),
                 **({} if c.content is None else {"content": c.content})}
                for c in self.cells
            ],
        }
