"""The contracts between the core and plugins: the data that flows (cells, requests, records) and the
``Method`` / ``Metric`` base classes. Plugins import from here and nowhere deeper in the core.

Images cross every boundary as float tensors ``[N, 3, H, W]`` in ``[0, 1]`` on CPU (what diffusers'
``output_type="pt"`` returns); the store quantises them to uint8 PNG, and metrics get them back the same way.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import torch

if TYPE_CHECKING:  # pragma: no cover
    from emobench.data.emoset import EmoSetDataset
    from emobench.zoo.base import Zoo


@dataclass(frozen=True)
class NoConfig:
    """Config of a plugin that takes no options."""


@dataclass(frozen=True)
class Cell:
    """One unit of the plan: every method gets exactly the same cells, and the same latent for each.

    ``template`` holds the ``{emotion}`` placeholder; each method renders it with its own emotion
    representation (a word, a learned token, a mapped embedding).
    """

    emotion: str
    template: str
    seed: int

    @property
    def cell_id(self) -> str:
        return f"{self.emotion}|{self.template}|{self.seed}"

    def prompt(self, emotion_text: str | None = None) -> str:
        return self.template.format(emotion=self.emotion if emotion_text is None else emotion_text)


@dataclass(frozen=True)
class GenerationRequest:
    cell: Cell
    latents: torch.Tensor  # (C, h, w) float32 on CPU, drawn by the plan from cell.seed; pass as ``latents=``


@dataclass(frozen=True)
class ImageRecord:
    """One line of ``manifest.jsonl``."""

    method: str
    emotion: str
    template: str
    seed: int
    prompt: str          # the prompt text the method reports it used (for CLIP score and the report)
    key: str             # content address: hash(method name, method config, zoo weights hash, cell)
    sha256: str          # of the PNG file
    path: str            # relative to the run directory

    @property
    def cell(self) -> Cell:
        return Cell(self.emotion, self.template, self.seed)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> "ImageRecord":
        payload = json.loads(line)
        payload.pop("extras", None)  # a store's per-image record keeps method extras beside the manifest fields
        return cls(**payload)


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})


def stable_hash(obj: Any, n: int = 16) -> str:
    """sha256 of canonical JSON, truncated; the one hash used for config, plan and content keys."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:n]


@dataclass
class FitContext:
    """What a learning method gets to fit on. ``artifact_dir`` is empty and owned by this fit."""

    zoo: "Zoo"
    dataset: "EmoSetDataset"
    emotions: Sequence[str]
    artifact_dir: Path
    seed: int = 0
    progress: Callable[[str, int, int], None] | None = None  # (stage, done, total)


class Method(ABC):
    """A text-to-image method under test.

    Lifecycle: ``Method(config)`` → [``fit(ctx)`` once, artifacts cached by the core] →
    ``load(zoo, artifact_dir)`` → ``generate(requests)`` many times.
    """

    name: ClassVar[str]
    Config: ClassVar[type] = NoConfig
    learns: ClassVar[bool] = False  # True: the core calls fit() (or reuses cached / shipped artifacts)
    # Emotion judges this method optimised against (judge names, judge families such as "clip-linear-probe", or
    # "primary" for the zoo's Emo-A judge): their verdicts on it are not independent evidence (docs/judges.md).
    trained_against: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    def fit_config(self) -> dict[str, Any]:
        """The options that change what ``fit`` writes; the artifact cache is keyed on them, so options that
        only affect generation (guidance, prompts, fusion) reuse the same fit. Default: the whole config."""
        return config_to_dict(self.config)

    def fit(self, ctx: FitContext) -> dict[str, Any]:
        """Train on ``ctx.dataset`` and write artifacts (safetensors + json) into ``ctx.artifact_dir``.

        Returns a small JSON-able dict of facts (steps, wall time, held-out figures) stored beside them.
        """
        raise NotImplementedError(f"method {self.name!r} does not learn")

    @abstractmethod
    def load(self, zoo: "Zoo", artifact_dir: Path | None) -> None:
        """Prepare for generation on ``zoo`` (and the fitted artifacts, for learning methods)."""

    @abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> "GenerationResult":
        """Images for ``requests`` in order. Must not depend on batch composition: use request.latents."""


@dataclass
class GenerationResult:
    images: torch.Tensor              # [N, 3, H, W] float in [0, 1]
    prompts: list[str]                # the prompt text used per image (after rendering the emotion)
    extras: list[dict[str, Any]] = field(default_factory=list)  # optional per-image facts for the manifest


class Metric(ABC):
    """A metric plugin. The contract in detail lives in ``emobench/metrics/base.py``."""

    name: ClassVar[str]
    Config: ClassVar[type] = NoConfig
    requires: ClassVar[tuple[str, ...]] = ()   # zoo parts needed, e.g. ("judges.emotion",)
    higher_is_better: ClassVar[bool] = True

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()
