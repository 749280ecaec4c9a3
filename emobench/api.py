"""The contracts between the core and plugins: the data that flows (cells, requests, records) and the
``Method`` / ``Metric`` base classes. Plugins import from here, ``emobench.errors``,
``emobench.zoo.base`` and the toolkit (``emobench.sampling``, ``emobench.training``), nowhere deeper in the core.

Images cross every boundary as float tensors ``[N, 3, H, W]`` in ``[0, 1]`` on CPU (what diffusers'
``output_type="pt"`` returns); the store quantises them to uint8 PNG, and metrics get them back the same way.
"""
from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

import torch

from emobench.emotions import EMOTIONS  # noqa: F401  (re-exported: plugins import it from here)
from emobench.hashing import stable_hash  # noqa: F401  (re-exported: plugins import it from here)
from emobench.options import convert_option, type_name  # noqa: F401  (re-exported: plugins import them from here)

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
    # Emotion judges this method optimised against (judge names, judge families such as "clip-linear-probe", or
    # "primary" for the zoo's Emo-A judge): their verdicts on it are not independent evidence (docs/judges.md).
    trained_against: ClassVar[tuple[str, ...]] = ()
    # True: a control (e.g. built to game one judge), not a contender: `emobench run` without --methods skips
    # it, and the report shows its row apart from the ranked methods.
    control: ClassVar[bool] = False

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


class BadOutput(ValueError):
    """A method returned something that is not ``len(requests)`` valid images."""


def check_output(result: Any, n: int, size: tuple[int, int], *, strict: bool = False) -> torch.Tensor:
    """The output contract of ``Method.generate`` for ``n`` requests at ``size`` = (height, width), checked
    by the runner (lenient: values within 1e-3 of [0, 1] are clamped) and by the contract test kit
    (``strict``: exactly float32 on CPU within [0, 1], non-empty prompt strings, 0 or n JSON-able extras).
    Returns the images as float on CPU clamped to [0, 1]; raises ``BadOutput`` with the reason."""
    if not isinstance(result, GenerationResult):
        raise BadOutput(f"generate() returned {type(result).__name__}, not GenerationResult")
    imgs = result.images
    if not isinstance(imgs, torch.Tensor):
        raise BadOutput(f"images is {type(imgs).__name__}, not a tensor")
    if imgs.ndim != 4 or imgs.shape[0] != n or imgs.shape[1] != 3 or tuple(imgs.shape[2:]) != tuple(size):
        raise BadOutput(f"images have shape {tuple(imgs.shape)}, expected ({n}, 3, {size[0]}, {size[1]})")
    if not imgs.is_floating_point() or (strict and imgs.dtype != torch.float32):
        raise BadOutput(f"images have dtype {imgs.dtype}, expected {'torch.float32' if strict else 'float'} in [0, 1]")
    if strict and imgs.device.type != "cpu":
        raise BadOutput(f"images on {imgs.device}, expected cpu")
    imgs = imgs.detach().float().cpu()
    if not torch.isfinite(imgs).all():
        raise BadOutput("images contain NaN or inf")
    lo, hi, tol = imgs.min().item(), imgs.max().item(), 0.0 if strict else 1e-3
    if lo < -tol or hi > 1 + tol:
        raise BadOutput(f"image values span [{lo:.3g}, {hi:.3g}], expected [0, 1]")
    if len(result.prompts) != n:
        raise BadOutput(f"{len(result.prompts)} prompts returned for {n} images")
    if strict:
        if not isinstance(result.prompts, list) or not all(isinstance(p, str) and p for p in result.prompts):
            raise BadOutput(f"prompts must be a list of {n} non-empty strings, got {result.prompts!r}")
        if len(result.extras) not in (0, n):
            raise BadOutput(f"extras has {len(result.extras)} entries, expected 0 or {n}")
        json.dumps(result.extras)
    return imgs.clamp(0, 1)


# ------------------------------------------------------------------------------------------------ metrics
# Every metric computes **per-image features once** (``features``: judge outputs, embeddings — cached by the
# scorer under (image content id, judges hash, metric name + config)), and turns them into numbers in one of
# two ways:
#
# * ``PerImageMetric``: one value per image (Emo-A, Sem-C, CLIP score). The aggregate is the mean over cells;
#   the scorer writes each value to ``scores.csv``.
# * ``SetMetric``: a statistic of a set of images (FID, KID, Sem-D, LPIPS). ``group_stat`` builds a
#   ``GroupStat`` for one (method, emotion) group; its ``evaluate(weights)`` recomputes the statistic for
#   bootstrap resamples given as multiplicity weights, from precomputed features or distance matrices, so
#   1000 resamples cost matrix products, never network forwards.
#
# Weights: a float tensor ``[B, n]`` of resample counts over the group's items (0 = not drawn, or missing for
# this method). Row ``torch.ones(1, n)`` is the plain point estimate.

@dataclass(frozen=True)
class ScoreItem:
    """One image as a metric sees it."""

    emotion: str    # the requested emotion (generated) or the label (real / shuffled control)
    prompt: str     # the prompt the image was made from (CLIP score); a template prompt for real images
    image_id: str   # content id: sha256 of the PNG; real images resized for scoring add "@<size>"


class GroupStat:
    """A statistic of one group of items, re-evaluable under bootstrap weights."""

    n: int = 0
    warning: str = ""                 # e.g. "n=25 < D=128: FID is biased at this n; compare KID"
    extra: dict = {}                  # facts written to summary.json (n_real, feature dim, ...)

    @abstractmethod
    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        """``weights [B, n]`` → statistic per resample ``[B]`` (float64; nan when undefined)."""


class MeanStat(GroupStat):
    """Weighted mean of per-image values: the aggregate of every per-image metric."""

    def __init__(self, values: torch.Tensor):
        self.values = values.double()
        self.n = int(values.numel())
        self.extra = {}

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        w = weights.double()
        return (w @ self.values) / w.sum(1)


class PairwiseMeanStat(GroupStat):
    """Mean of a symmetric distance over distinct image pairs (Sem-D, LPIPS diversity).

    ``dist[i, j]`` holds the distance for the pairs in ``mask`` (all i≠j, or a seeded sample of pairs when all
    pairs are too many). A resample counts each pair of draws of *different* images, weighted by the
    multiplicities: duplicates of one image are not a pair (their distance 0 would fake low diversity).
    """

    def __init__(self, dist: torch.Tensor, mask: torch.Tensor | None = None):
        n = dist.shape[0]
        if mask is None:
            mask = ~torch.eye(n, dtype=torch.bool)
        self.mask = mask.double()
        self.dist = dist.double() * self.mask
        self.n = n
        self.extra = {"pairs": int(mask.triu(1).sum())}

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        w = weights.double()
        num = ((w @ self.dist) * w).sum(1)
        den = ((w @ self.mask) * w).sum(1)
        return num / den


class MeanOfStats(GroupStat):
    """Mean of per-emotion statistics (the paper's pooled Sem-D / LPIPS); weights are concatenated groups."""

    def __init__(self, stats: Sequence[GroupStat]):
        self.stats = list(stats)
        self.n = sum(s.n for s in self.stats)
        self.extra = {}

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        out, start = [], 0
        for s in self.stats:
            out.append(s.evaluate(weights[:, start:start + s.n]))
            start += s.n
        return torch.stack(out, 1).mean(1)


@dataclass
class Group:
    """A set of items handed to a set metric, with lazy access to what the scorer holds for them."""

    method: str
    emotion: str                                   # an emotion, or "all"
    items: list[ScoreItem]
    features: Callable[[], torch.Tensor]           # this metric's cached per-image features [n, K]
    images: Callable[[], torch.Tensor]             # decoded images [n, 3, H, W] (only for image-pair metrics)
    cache_get: Callable[[str], dict[str, torch.Tensor] | None] = field(default=lambda key: None)
    cache_put: Callable[[str, dict[str, torch.Tensor]], None] = field(default=lambda key, value: None)

    @property
    def n(self) -> int:
        return len(self.items)


class ScoringContext:
    """What the scorer offers a set metric besides the group: features of the real reference images."""

    def __init__(self, reference_features: Callable[[str], torch.Tensor], seed: int = 0):
        self._reference_features = reference_features
        self.seed = seed

    def reference_features(self, emotion: str) -> torch.Tensor:
        """This metric's features ``[m, K]`` of the dataset's held-out **test** images of ``emotion`` (all
        emotions for ``"all"``); cached by (dataset content hash, judges hash, metric features)."""
        return self._reference_features(emotion)


class Metric(ABC):
    """A metric plugin. Subclass ``PerImageMetric`` or ``SetMetric`` (docs/write-a-metric.md).

    Display facts (``label``, ``unit``, ``decimals``, ``percent``, ``higher_is_better``, ``headline``,
    ``order``) are written into ``summary.json`` by the scorer; the report reads them from there and never
    loads a metric plugin.
    """

    name: ClassVar[str]
    Config: ClassVar[type] = NoConfig
    requires: ClassVar[tuple[str, ...]] = ()   # zoo parts needed, e.g. ("judges.emotion",)
    higher_is_better: ClassVar[bool] = True
    label: ClassVar[str | None] = None       # column title (default: the name)
    unit: ClassVar[str] = ""                 # e.g. "%" or "" (shown in the report's legend only)
    decimals: ClassVar[int] = 4              # fixed decimals, so report bytes do not depend on magnitude
    percent: ClassVar[bool] = False          # stored as a fraction, shown as a percentage
    headline: ClassVar[bool] = False         # True: a column of the leaderboard's main table
    order: ClassVar[int] = 100               # column position among metrics (ties: by name)

    kind: ClassVar[str] = "per_image"
    batch_size: ClassVar[int] = 64
    min_images: ClassVar[int] = 1            # per group; fewer → a clear message, other metrics go on
    uses_features: ClassVar[bool] = True     # False: works on images directly (LPIPS)
    needs_reference: ClassVar[bool] = False  # True: compares with the dataset's held-out test images

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    def display(self) -> dict[str, dict[str, Any]]:
        """How each column this metric writes is shown: ``{column: facts}``; the first is the metric itself.
        Metrics that write extra columns (``values`` returning several) add an entry per extra column."""
        return {self.name: {"label": self.label or self.name, "unit": self.unit, "decimals": self.decimals,
                            "percent": self.percent, "higher_is_better": self.higher_is_better,
                            "headline": self.headline, "order": self.order}}

    def extra_tables(self, method: str, feats: torch.Tensor, items: Sequence["ScoreItem"],
                     tables: dict[str, Any]) -> None:
        """Per-image metrics may accumulate run-level tables (e.g. a confusion matrix) into ``tables``
        (``{file name: {method: json}}``); the scorer writes each as ``<file name>`` in the run directory."""

    def prepare(self, zoo: "Zoo") -> None:
        """Called by the scorer once per run, with the zoo, before ``feature_id``, ``features`` and
        ``display``: a metric whose columns depend on the zoo (one per judge of its panel) loads that here."""

    def feature_id(self) -> list:
        """What the cached features depend on besides the image and the judges. Metrics that share a feature
        network return the same id (``sem-d`` and ``sem-d-cos`` share CLIP image features; ``fid`` and ``kid``
        share the FID features), so each image goes through that network once."""
        return [self.name, config_to_dict(self.config)]

    def item_key(self, item: ScoreItem) -> str:
        """Extra part of an item's feature cache key beyond the image (e.g. the prompt for CLIP score)."""
        return ""

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        """Float images ``[N,3,H,W]`` in [0,1] → per-image features ``[N, K]`` (one forward per image)."""
        raise NotImplementedError


class PerImageMetric(Metric):
    kind: ClassVar[str] = "per_image"

    @abstractmethod
    def values(self, feats: torch.Tensor, items: Sequence[ScoreItem]) -> dict[str, torch.Tensor]:
        """Features ``[N, K]`` → ``{column: [N] values}``; the first column is the metric itself."""


class SetMetric(Metric):
    kind: ClassVar[str] = "set"
    min_images: ClassVar[int] = 2

    @abstractmethod
    def group_stat(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        """The statistic of one (method, emotion) group."""

    def pooled_stat(self, groups: Sequence[Group], stats: Sequence[GroupStat], ctx: ScoringContext,
                    zoo: "Zoo") -> GroupStat:
        """The "all" statistic; default: mean of the per-emotion statistics (as the paper pools LPIPS)."""
        return MeanOfStats(stats)


def batched(fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Apply ``fn`` to ``images`` in batches under ``no_grad`` (memory stays bounded at paper scale)."""
    outs = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            outs.append(fn(images[start:start + batch_size]).detach().float().cpu())
    return torch.cat(outs) if outs else torch.zeros(0)
