"""The metric contract kit: the checks every metric plugin must pass, against any zoo (a tiny one in tests).

The twin of the method kit (``emobench.testing.contract``), after torchmetrics' ``MetricTester``:

* ``check_metric("mine", zoo)`` returns a :class:`ContractReport` (used by ``emobench validate-plugin``);
* ``class TestMine(MetricContractTests): metric = "mine"`` gives one pytest test per check.

The images are the zoo dataset's held-out test images (two emotions), at the zoo's image size, so the judges
see what they were trained on; the metric's own statistics are not judged, only the contract the scorer
relies on: features once per image and independent of the batch, the right shapes, finite values, bootstrap
weights honoured, display facts and extra tables the report can read.
"""
from __future__ import annotations

import json
import math
import time
import traceback
from typing import Any, Callable, ClassVar, Mapping, Sequence

import torch

from emobench.api import Group, Metric, PerImageMetric, ScoreItem, ScoringContext, SetMetric
from emobench.errors import EmobenchError
from emobench.testing.contract import CheckResult, ContractReport, shared_tiny_zoo

METRIC_CHECKS: tuple[str, ...] = (
    "resolve",             # the name resolves through the entry point; one kind (per-image or set)
    "display",             # display facts: the metric's own column first, the types the report reads
    "features",            # [N, K] finite features, one row per image, deterministic
    "batch_independence",  # an image's features do not depend on what else is in its batch
    "values",              # (per-image) {column: [N]} with the metric first; extra tables are JSON
    "group_stat",          # (set) a statistic per bootstrap row; unit weights give the point estimate
)
DISPLAY_TYPES = {"label": str, "unit": str, "decimals": int, "percent": bool,
                 "higher_is_better": (bool, type(None)),   # None: a column with no better direction (k-NN density)
                 "headline": bool, "order": int}


class _Failed(Exception):
    pass


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise _Failed(message)


def resolve_metric(name_or_class: str | type[Metric], options: Mapping[str, Any] | None = None) -> Metric:
    """An instance of the metric behind ``name_or_class`` (an ``emobench.metrics`` entry point, or the class)."""
    from emobench import registry

    if isinstance(name_or_class, str):
        spec = name_or_class + (":" + ",".join(f"{k}={v}" for k, v in options.items()) if options else "")
        return registry.metrics().create(spec)[1]
    cfg = name_or_class.Config(**dict(options or {})) if options else None
    return name_or_class(cfg)


class MetricHarness:
    """Runs the metric checks for one metric on one zoo; each check returns a detail line or raises."""

    def __init__(self, name_or_class: str | type[Metric], zoo: Any, options: Mapping[str, Any] | None = None,
                 emotions: tuple[str, str] = ("amusement", "fear"), per_emotion: int = 3):
        self.target, self.zoo, self.options = name_or_class, zoo, dict(options or {})
        self.emotions, self.per_emotion = emotions, per_emotion
        self._metric: Metric | None = None
        self._data: tuple[torch.Tensor, list[ScoreItem]] | None = None

    @property
    def name(self) -> str:
        return self.target if isinstance(self.target, str) else getattr(self.target, "name", self.target.__name__)

    @property
    def metric(self) -> Metric:
        if self._metric is None:
            self._metric = resolve_metric(self.target, self.options)
            self._metric.prepare(self.zoo)   # as the scorer does, before features and display
        return self._metric

    def data(self) -> tuple[torch.Tensor, list[ScoreItem]]:
        """Held-out test images of two emotions and their items (image ids are unique per image)."""
        if self._data is None:
            ds, size = self.zoo.dataset, int(self.zoo.sampling.height)
            images, items = [], []
            for emotion in self.emotions:
                samples = ds.by_emotion("test", emotion)[: self.per_emotion]
                _expect(len(samples) >= 2, f"the zoo's dataset has fewer than 2 test images of {emotion!r}")
                images.append(ds.load_images(samples, size=size))
                items += [ScoreItem(emotion=emotion, prompt=f"an image of {emotion}", image_id=f"{s.id}@{size}")
                          for s in samples]
            self._data = (torch.cat(images), items)
        return self._data

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem]) -> torch.Tensor:
        with torch.no_grad():
            return self.metric.features(images, list(items), self.zoo)

    def run(self, check: str) -> CheckResult:
        start = time.perf_counter()
        try:
            out = getattr(self, f"check_{check}")()
            passed, skipped, detail = (True, False, out) if isinstance(out, str) else (True, True, out[1])
        except _Failed as err:
            passed, skipped, detail = False, False, str(err)
        except EmobenchError as err:
            passed, skipped, detail = False, False, f"EmobenchError: {err}"
        except Exception as err:  # noqa: BLE001 — a crashing plugin is a failed check, not a crashed kit
            frames = traceback.extract_tb(err.__traceback__)
            where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
            passed, skipped, detail = False, False, f"{type(err).__name__}: {err}{where}"
        return CheckResult(check, passed, detail, round(time.perf_counter() - start, 3), skipped)

    def _needs(self) -> tuple[bool, str] | None:
        missing = [p for p in self.metric.requires if not self.zoo.has(p)]
        if self.zoo.dataset is None:
            missing.append("dataset")
        return (True, f"zoo {self.zoo.name!r} has no {', '.join(missing)}") if missing else None

    # ------------------------------------------------------------------------------------------ checks
    def check_resolve(self) -> str:
        m = self.metric
        _expect(isinstance(m, Metric), f"{type(m).__name__} is not an emobench.api.Metric")
        _expect(isinstance(getattr(m, "name", None), str) and bool(m.name), "the metric has no name")
        kinds = (isinstance(m, PerImageMetric), isinstance(m, SetMetric))
        _expect(sum(kinds) == 1, "subclass exactly one of PerImageMetric and SetMetric")
        _expect(m.kind == ("per_image" if kinds[0] else "set"), f"kind {m.kind!r} contradicts the base class")
        _expect(m.batch_size >= 1 and m.min_images >= 1, "batch_size and min_images must be at least 1")
        return f"{m.name}: {type(m).__name__} ({m.kind}), requires {list(m.requires) or 'nothing'}"

    def check_display(self) -> str:
        facts = self.metric.display()
        _expect(isinstance(facts, dict) and next(iter(facts), None) == self.metric.name,
                f"display() must be a dict whose first key is the metric's name {self.metric.name!r}")
        for col, f in facts.items():
            for key, typ in DISPLAY_TYPES.items():
                _expect(key in f and isinstance(f.get(key), typ), f"display()[{col!r}][{key!r}] must be "
                        f"{getattr(typ, '__name__', 'bool or None')}, got {f.get(key)!r}")
            _expect(f["decimals"] >= 0, f"display()[{col!r}]['decimals'] must be >= 0")
        json.dumps(facts)
        return f"{len(facts)} column(s): " + ", ".join(f"{c} ({f['label']})" for c, f in facts.items())

    def check_features(self) -> str | tuple[bool, str]:
        if (skip := self._needs()) is not None:
            return skip
        if not self.metric.uses_features:
            return True, "works on images directly (uses_features = False)"
        images, items = self.data()
        a = self.features(images, items)
        _expect(isinstance(a, torch.Tensor) and a.ndim == 2 and a.shape[0] == len(items),
                f"features must be [N, K] with N = {len(items)}, got "
                f"{tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__}")
        _expect(bool(torch.isfinite(a).all()), "features contain NaN or inf")
        b = self.features(images, items)
        _expect(torch.equal(a, b), "features differ between two calls on the same images")
        return f"[{a.shape[0]}, {a.shape[1]}] features, deterministic"

    def check_batch_independence(self) -> str | tuple[bool, str]:
        if (skip := self._needs()) is not None:
            return skip
        if not self.metric.uses_features:
            return True, "works on images directly (uses_features = False)"
        images, items = self.data()
        full = self.features(images, items)
        alone = torch.cat([self.features(images[i:i + 1], items[i:i + 1]) for i in range(len(items))])
        err = float((full - alone).abs().max())
        _expect(torch.allclose(full, alone, rtol=1e-4, atol=1e-5),
                f"an image's features depend on its batch (max difference {err:.3g})")
        return f"batch of {len(items)} = one at a time (max difference {err:.2g})"

    def check_values(self) -> str | tuple[bool, str]:
        if not isinstance(self.metric, PerImageMetric):
            return True, "a set metric"
        if (skip := self._needs()) is not None:
            return skip
        images, items = self.data()
        feats = self.features(images, items)
        cols = self.metric.values(feats, items)
        _expect(isinstance(cols, dict) and next(iter(cols), None) == self.metric.name,
                f"values() must be a dict whose first column is {self.metric.name!r}")
        for col, v in cols.items():
            _expect(isinstance(v, torch.Tensor) and tuple(v.shape) == (len(items),),
                    f"values()[{col!r}] must be a [{len(items)}] tensor")
            _expect(not bool(torch.isinf(v).any()), f"values()[{col!r}] contains inf")
        tables: dict[str, Any] = {}
        self.metric.extra_tables("contract", feats, items, tables)
        json.dumps(tables)
        return f"columns {list(cols)}; {self.metric.name} mean {float(cols[self.metric.name].double().mean()):.4g}" + (
            f"; extra tables {sorted(tables)}" if tables else "")

    def check_group_stat(self) -> str | tuple[bool, str]:
        if not isinstance(self.metric, SetMetric):
            return True, "a per-image metric"
        if (skip := self._needs()) is not None:
            return skip
        images, items = self.data()
        m, emotion = self.metric, self.emotions[0]
        idx = [i for i, it in enumerate(items) if it.emotion == emotion]
        feats = self.features(images[idx], [items[i] for i in idx]) if m.uses_features else None
        group = Group("contract", emotion, [items[i] for i in idx], features=lambda: feats,
                      images=lambda: images[idx])
        ds, size = self.zoo.dataset, int(self.zoo.sampling.height)

        def reference(e: str) -> torch.Tensor:
            samples = ds.by_emotion("test", e)
            return self.features(ds.load_images(samples, size=size),
                                 [ScoreItem(e, f"an image of {e}", f"{s.id}@{size}") for s in samples])

        stat = m.group_stat(group, ScoringContext(reference), self.zoo)
        n = len(idx)
        _expect(stat.n == n, f"the statistic covers {stat.n} items, the group has {n}")
        point = stat.evaluate(torch.ones(1, n, dtype=torch.float64))
        _expect(tuple(point.shape) == (1,) and math.isfinite(float(point[0])),
                f"evaluate(ones(1, n)) must be one finite value, got {point!r}")
        g = torch.Generator().manual_seed(0)
        w = torch.multinomial(torch.ones(n), n * 4, replacement=True, generator=g).view(4, n)
        weights = torch.stack([torch.bincount(r, minlength=n) for r in w]).double()
        boot = stat.evaluate(weights)
        _expect(tuple(boot.shape) == (4,), f"evaluate(weights [4, n]) must give [4], got {tuple(boot.shape)}")
        twice = stat.evaluate(torch.cat([torch.ones(1, n, dtype=torch.float64), weights]))
        _expect(torch.allclose(twice, torch.cat([point, boot]), equal_nan=True),
                "a resample's value depends on the other rows of the weights")
        json.dumps(getattr(stat, "extra", {}))
        cols = m.group_stats(group, ScoringContext(reference), self.zoo)   # a multi-column set metric's columns
        _expect(isinstance(cols, dict) and next(iter(cols), None) == m.name and set(cols) <= set(m.display()),
                f"group_stats() must be a dict whose first column is {m.name!r}, every column in display()")
        for col, s in cols.items():
            v = s.evaluate(weights)
            _expect(s.n == n and tuple(v.shape) == (4,), f"group_stats()[{col!r}] must cover the group's {n} items")
        more = f"; columns {list(cols)}" if len(cols) > 1 else ""
        return (f"{emotion}: {float(point[0]):.4g} on {n} images; 4 resamples {[round(float(x), 4) for x in boot]}"
                + more)


def check_metric(name_or_class: str | type[Metric], zoo: Any, *, options: Mapping[str, Any] | None = None,
                 checks: Sequence[str] | None = None,
                 progress: Callable[[CheckResult], None] | None = None) -> ContractReport:
    """Run the metric contract checks on ``zoo``; never raises for a plugin's failure (it is in the report)."""
    harness = MetricHarness(name_or_class, zoo, options)
    report = ContractReport(harness.name)
    unresolved = False
    for check in checks or METRIC_CHECKS:
        result = CheckResult(check, False, "not run: the metric did not resolve", ran=False) if unresolved \
            else harness.run(check)
        report.results.append(result)
        if progress is not None:
            progress(result)
        unresolved = unresolved or (check == "resolve" and not result.passed)
    return report


try:
    import pytest
except ImportError:  # pragma: no cover - the mixin is only for pytest users
    pytest = None  # type: ignore[assignment]


if pytest is not None:

    class MetricContractTests:
        """Subclass in your plugin's tests (class name starting with ``Test``)::

            from emobench.testing import MetricContractTests

            class TestMine(MetricContractTests):
                metric = "mine"                      # entry-point name, or the class itself
                options = {}                         # config options for the check

        Override the ``contract_zoo`` fixture to run against another zoo (default: the tiny test zoo).
        """

        metric: ClassVar[str | type[Metric]]
        options: ClassVar[Mapping[str, Any]] = {}
        emotions: ClassVar[tuple[str, str]] = ("amusement", "fear")

        @pytest.fixture(scope="class")
        @classmethod
        def contract_zoo(cls, tmp_path_factory: Any) -> Any:
            return shared_tiny_zoo(tmp_path_factory)

        @pytest.fixture(scope="class")
        @classmethod
        def metric_harness(cls, contract_zoo: Any) -> MetricHarness:
            return MetricHarness(cls.metric, contract_zoo, cls.options, cls.emotions)

        def _run(self, harness: MetricHarness, check: str) -> None:
            result = harness.run(check)
            if result.skipped:
                pytest.skip(result.detail)
            assert result.passed, f"{harness.name}: {check}: {result.detail}"

        def test_resolve(self, metric_harness: MetricHarness) -> None:
            self._run(metric_harness, "resolve")

        def test_display(self, metric_harness: MetricHarness) -> None:
            self._run(metric_harness, "display")

        def test_features(self, metric_harness: MetricHarness) -> None:
            self._run(metric_harness, "features")

        def test_batch_independence(self, metric_harness: MetricHarness) -> None:
            self._run(metric_harness, "batch_independence")

        def test_values(self, metric_harness: MetricHarness) -> None:
            self._run(metric_harness, "values")

        def test_group_stat(self, metric_harness: MetricHarness) -> None:
            self._run(metric_harness, "group_stat")
