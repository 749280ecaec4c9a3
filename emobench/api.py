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

from emobench.cells import Cell, GenerationRequest, PlanContext, render  # noqa: F401  (re-exported)
from emobench.emotions import EMOTIONS  # noqa: F401  (re-exported: plugins import it from here)
from emobench.hashing import stable_hash  # noqa: F401  (re-exported: plugins import it from here)
from emobench.options import convert_option, type_name  # noqa: F401  (re-exported: plugins import them from here)
from emobench.group_stats import GroupStat, MeanOfStats, MeanStat, PairwiseMeanStat  # noqa: F401  (re-exported)
# the one safe reader of EmoGen's official pickled lists (the EmoGen plugin's importer and `zoo stats` use it)
from emobench.data.official_lists import (SafeUnpickler, lists_hash, parse_train_list, read_real,  # noqa: F401
                                          read_train_lists, safe_pickle)

if TYPE_CHECKING:  # pragma: no cover
    from emobench.data.emoset import EmoSetDataset
    from emobench.zoo.base import Zoo

# The public surface of emobench for plugins: the one list (docs/plugin-api.md shows it, a test holds the
# built-in methods to it). Everything else may move between releases.
PUBLIC_MODULES: tuple[str, ...] = ("emobench.api", "emobench.errors", "emobench.emotions", "emobench.zoo.base",
                                   "emobench.sampling", "emobench.training", "emobench.judges", "emobench.testing")

__all__ = ["PUBLIC_MODULES", "EMOTIONS", "stable_hash", "convert_option", "type_name", "NoConfig", "Cell", "render",
           "GenerationRequest", "PlanContext", "ImageRecord", "config_to_dict", "FitContext", "Method", "GenerationResult",
           "BadOutput", "check_output", "ScoreItem", "Group", "ScoringContext", "Metric", "PerImageMetric",
           "SetMetric", "batched", "GroupStat", "MeanStat", "PairwiseMeanStat", "MeanOfStats", "read_train_lists",
           "lists_hash", "safe_pickle"]


@dataclass(frozen=True)
class NoConfig:
    """Config of a plugin that takes no options."""


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
    plan_prompt: str = ""  # the cell's template + plain emotion word (text metrics score it); derived if absent
    fit_seed: int | None = None  # --fit-seeds K > 1 only; None (absent from the JSON) keeps one-fit manifests as-is
    content: str | None = None   # the cell's content (``content`` track); absent from the JSON when None

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan_prompt", self.plan_prompt or self.cell.prompt())

    @property
    def cell(self) -> Cell:
        return Cell(self.emotion, self.template, self.seed, self.content)

    def to_json(self) -> str:
        # fit_seed and content are left out when None: one-fit, emotion-track manifests read as before
        payload = {k: v for k, v in dataclasses.asdict(self).items()
                   if k not in ("fit_seed", "content") or v is not None}
        return json.dumps(payload, sort_keys=True)

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
    # A pilot's cap (``emobench run --pilot``): run at most this many steps of each training loop, but report
    # the loop's full length as ``total`` to ``progress``, so the pilot can time steps and project the full fit.
    max_steps: int | None = None

    def loop_steps(self, total: int) -> int:
        """How many of a loop's ``total`` steps to run: all of them, except under a pilot's ``max_steps``."""
        return total if self.max_steps is None else max(1, min(int(total), int(self.max_steps)))


class Method(ABC):
    """A text-to-image method under test.

    Lifecycle: ``Method(config)`` → [``fit(ctx)`` once, artifacts cached by the core] →
    ``load(zoo, artifact_dir)`` → ``generate(requests)`` many times.
    """

    name: ClassVar[str]
    Config: ClassVar[type] = NoConfig
    # The name reports print ("Stable Diffusion"); None: the plugin id. A run records it in methods.json,
    # with the options appended ("EmoGen (mapper=fc)"), so the report never loads a plugin.
    display_name: ClassVar[str | None] = None
    learns: ClassVar[bool] = False  # True: the core calls fit() (or reuses cached / shipped artifacts)
    # Options with which this method's images are byte-identical to the plain SD baseline's (``sd``) on the same
    # cells, e.g. {"strength": 0.0}; ``{}``: as configured. The contract kit then generates both and compares
    # the stored bytes, which catches a method that does not take the plan's step noise (``generator=``).
    # None: the method does not reduce to the baseline (the check is skipped).
    reduces_to_baseline: ClassVar[Mapping[str, Any] | None] = None
    # True for the plain text-to-image baseline (the built-in ``sd``): a run's default --baseline, and the method
    # ``reduces_to_baseline`` promises byte-identical images to. The core never names it.
    is_baseline: ClassVar[bool] = False
    # Emotion judges this method optimised against (judge names, judge families such as "clip-linear-probe", or
    # "primary" for the zoo's Emo-A judge): their verdicts on it are not independent evidence (docs/judges.md).
    trained_against: ClassVar[tuple[str, ...]] = ()
    # True: a control (e.g. built to game one judge), not a contender: `emobench run` without --methods skips
    # it, and the report shows its row apart from the ranked methods.
    control: ClassVar[bool] = False
    # True: the method reads the zoo's emotion dataset (its annotations or captions) without training on it, e.g.
    # an attribute sampler counting p(attribute | emotion). A run records it in methods.json (the report can
    # footnote the row) and binds the method's image keys to the dataset's content hash.
    uses_dataset_statistics: ClassVar[bool] = False
    # True: the images come from outside emobench (a submitted folder or bundle), not from the zoo's pipeline:
    # never in the default method list; methods.json records it with ``provenance()``; tables mark the row.
    external: ClassVar[bool] = False
    # Defaults of some options at one zoo scale, e.g. {"paper": {"steps": 3000}}: applied to the options a method
    # spec leaves unset when it runs on a zoo of that scale (the spec's label does not change). Mini-scale budgets
    # stay the Config's defaults, so their fits keep their artifact keys.
    scale_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    def run_label(self) -> str | None:
        """The label of this method's rows (tables, summary.csv, manifest); None: its canonical spec
        (``sd:guidance_scale=7``). A submission names its own row (``folder:NAME=DIR`` → ``NAME``)."""
        return None

    def check_plan(self, plan: PlanContext) -> None:
        """Called once per run with the whole plan before any file is written: raise ``EmobenchError`` when
        the method cannot serve it (a submission missing cells, a bundle of another protocol)."""

    def provenance(self) -> dict[str, Any] | None:
        """Where the images come from, recorded in methods.json (asked after ``check_plan``). An external
        method returns ``declares_plan_latents`` and ``digest`` (of its files: it binds the image keys)."""
        return None

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
#   weightings of the items (the interval's jackknife leaves cells out), from precomputed features or distance
#   matrices, so its replicates cost matrix products, never network forwards. ``GroupStat.covariance`` may
#   offer the statistic's own unbiased covariance estimate (docs/write-a-metric.md).
#
# Weights: a float tensor ``[B, n]`` of non-negative weights over the group's items (0 = left out, or missing
# for this method). Row ``torch.ones(1, n)`` is the plain point estimate.

@dataclass(frozen=True)
class ScoreItem:
    """One image as a metric sees it."""

    emotion: str    # the requested emotion (generated) or the label (real / shuffled control)
    prompt: str     # the prompt the image was made from (CLIP score); a template prompt for real images
    image_id: str   # content id: sha256 of the PNG; real images resized for scoring add "@<size>"
    plan_prompt: str = ""   # the plan cell's prompt, the same for every method: what text metrics score against
    content: str | None = None   # what the image should show (``content`` track; a real image's object)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan_prompt", self.plan_prompt or self.prompt)


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
    role: ClassVar[str] = ""                 # "emotion" or "diversity": the axes of the emotion-vs-diversity figure

    kind: ClassVar[str] = "per_image"
    batch_size: ClassVar[int] = 64
    min_images: ClassVar[int] = 1            # per group; fewer → a clear message, other metrics go on
    uses_features: ClassVar[bool] = True     # False: works on images directly (LPIPS)
    needs_reference: ClassVar[bool] = False  # True: compares with the dataset's held-out test images
    needs_content: ClassVar[bool] = False    # True: scores cells' content (only on tracks whose cells have one)

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    def display(self) -> dict[str, dict[str, Any]]:
        """How each column this metric writes is shown: ``{column: facts}``; the first is the metric itself.
        Metrics that write extra columns (``values`` returning several) add an entry per extra column."""
        return {self.name: {"label": self.label or self.name, "unit": self.unit, "decimals": self.decimals,
                            "percent": self.percent, "higher_is_better": self.higher_is_better,
                            "headline": self.headline, "order": self.order, "role": self.role}}

    def scale_note(self, zoo: Any) -> str | None:
        """One sentence for readers when this metric's values on ``zoo`` lie on another scale than the paper's
        (e.g. LPIPS without learned weights, FID on a small judge's features); printed under every table. It is
        recorded in ``summary.json``'s display facts (``"scale_note"``). Default: a judge the metric uses may
        declare it (``scale_note_from``)."""
        return None

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

    # A set metric with several columns (precision, recall, density and coverage of one k-NN computation)
    # overrides these two: ``{column: statistic}``, the metric's own column first, every column in display().
    def group_stats(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> dict[str, GroupStat]:
        """Every column's statistic of one (method, emotion) group; default: ``{name: group_stat(...)}``."""
        return {self.name: self.group_stat(group, ctx, zoo)}

    def pooled_stats(self, groups: Sequence[Group], stats: Mapping[str, Sequence[GroupStat]],
                     ctx: ScoringContext, zoo: "Zoo") -> dict[str, GroupStat]:
        """Every column's "all" statistic from its per-emotion ones; default: ``pooled_stat`` per column."""
        if set(stats) == {self.name}:
            return {self.name: self.pooled_stat(groups, stats[self.name], ctx, zoo)}
        return {col: MeanOfStats(s) for col, s in stats.items()}


def batched(fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Apply ``fn`` to ``images`` in batches under ``no_grad`` (memory stays bounded at paper scale)."""
    outs = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            outs.append(fn(images[start:start + batch_size]).detach().float().cpu())
    return torch.cat(outs) if outs else torch.zeros(0)
