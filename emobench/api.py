"""The contracts between the core and plugins: the data that flows (cells, requests, records) and the
``Method`` / ``Metric`` base classes. Plugins import from here, ``emobench.errors``,
``emobench.zoo.base`` and the toolkit (``emobench.sampling``, ``emobench.training``), nowhere deeper in the core.

Images cross every boundary as float tensors ``[N, 3, H, W]`` in ``[0, 1]`` on CPU (what diffusers'
``output_type="pt"`` returns); the store quantises them to uint8 PNG, and metrics get them back the same way.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence, Union

import torch

from emobench.emotions import EMOTIONS  # noqa: F401  (re-exported: plugins import it from here)
from emobench.hashing import stable_hash  # noqa: F401  (re-exported: plugins import it from here)

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
    # Options with which this method's images are byte-identical to the plain SD baseline's (``sd``) on the same
    # cells, e.g. {"strength": 0.0}; ``{}``: as configured. The contract kit then generates both and compares
    # the stored bytes, which catches a method that does not take the plan's step noise (``generator=``).
    # None: the method does not reduce to the baseline (the check is skipped).
    reduces_to_baseline: ClassVar[Mapping[str, Any] | None] = None

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


def type_name(tp: Any) -> str:
    """How an option's type reads in an error message."""
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def convert_option(raw: str, tp: Any) -> Any:
    """``raw`` (the text of ``name:key=raw``) as type ``tp``: int/float/str/bool, Optional, Literal, and
    ``+``-joined tuples/lists. Raises ValueError/TypeError; callers name the option in their error."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if raw.lower() in ("none", "null", "") and len(args) < len(typing.get_args(tp)):
            return None
        errors = []
        for arg in args:
            try:
                return convert_option(raw, arg)
            except (TypeError, ValueError) as err:
                errors.append(str(err))
        raise ValueError("; ".join(errors))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis] or [str]
        items = [convert_option(s.strip(), args[0]) for s in raw.split("+") if s.strip()]
        return tuple(items) if origin is tuple else items
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        for c in choices:
            if str(c) == raw:
                return c
        raise ValueError(f"choose one of {choices}")
    if tp is bool:
        low = raw.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true/false")
    if tp in (int, float, str):
        return tp(raw)
    if tp is Any:
        return raw
    raise TypeError(f"options of type {type_name(tp)} cannot be given on the command line")
