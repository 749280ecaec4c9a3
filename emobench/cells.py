"""What the plan hands a method: ``Cell`` (one unit of the plan, its id and its file name), ``render``,
``GenerationRequest`` (a cell with its initial latent) and ``PlanContext`` (the whole plan, shown to a method
before anything is written). Re-exported by ``emobench.api``, where plugins import them from.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping

import torch

FILE_ID_HASH = 10   # hex digits of sha256(cell_id) that end a file id: unique within an (emotion, seed) pair


@dataclass(frozen=True)
class Cell:
    """One unit of the plan: every method gets exactly the same cells, and the same latent for each.

    ``template`` holds ``{emotion}``, which each method renders with its own emotion representation (a word,
    a learned token, a mapped embedding), and on the content track ``{content}`` (``content``, e.g. "spider";
    None on the emotion track, where id, image key and record are those of a cell without the field).
    """

    emotion: str
    template: str
    seed: int
    content: str | None = None

    @property
    def cell_id(self) -> str:
        base = f"{self.emotion}|{self.template}|{self.seed}"
        return base if self.content is None else f"{base}|{self.content}"

    @property
    def file_id(self) -> str:
        """The cell as a safe file name stem, e.g. ``fear-3-1f0c9a2b7d`` or ``fear-a-spider-3-9e41c07a55``:
        ``<emotion>-[<content slug>-]<seed>-<h>``, a slug being lower-case ``[a-z0-9]`` runs joined by ``-``
        (content cut to 32 characters) and ``h`` the first 10 hex digits of sha256 of ``cell_id`` (UTF-8), so
        the template (and the whole content) count. Stable: it depends on the cell alone (docs/submit-images.md)."""
        digest = hashlib.sha256(self.cell_id.encode("utf-8")).hexdigest()[:FILE_ID_HASH]
        parts = [_slug(self.emotion, 32)] + ([] if self.content is None else [_slug(self.content, 32)])
        return "-".join([*parts, str(self.seed), digest])

    def prompt(self, emotion_text: str | None = None) -> str:
        return render(self.template, self.emotion if emotion_text is None else emotion_text, self.content)


def _slug(text: str, limit: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "x"


def render(template: str, emotion: str, content: str | None = None) -> str:
    return template.format(emotion=emotion) if content is None else template.format(emotion=emotion, content=content)


@dataclass(frozen=True)
class GenerationRequest:
    cell: Cell
    latents: torch.Tensor  # (C, h, w) float32 on CPU, drawn by the plan from cell.seed; pass as ``latents=``


@dataclass(frozen=True)
class PlanContext:
    """The run a method is about to serve, shown to ``Method.check_plan`` before any file is written."""

    cells: tuple[Cell, ...]                 # every cell of the plan, in plan order
    latent_shape: tuple[int, int, int]      # the shape of each cell's initial latent
    plan_hash: str                          # plan.json's ``plan_hash``
    protocol: Mapping[str, Any]             # the run's protocol.json (its ``"fingerprint"`` among the keys)
    size: tuple[int, int]                   # (height, width) of the zoo's images: what ``generate`` returns
