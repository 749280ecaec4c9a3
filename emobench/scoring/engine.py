"""The scoring engine: per-metric series (a statistic on its cells) for every population.

``RunScorer`` turns a metric and the populations (the run's methods, the real and shuffled controls) into
``Series`` keyed by (method, column, emotion), caches features and each series' point value and jackknife
replicates under ``$EMOBENCH_CACHE``, and hands them to ``scoring.inference`` as ``Member``s (which pairs
them by cell for the differences). ``emobench.scoring.run`` drives it.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from emobench.api import Group, GroupStat, MeanStat, Metric, ScoringContext, config_to_dict, stable_hash
from emobench.errors import EmobenchError
from emobench.rundir.layout import ALL
from emobench.io.files import cache_root
from emobench.scoring.cache import FeatureStore, GroupCache, PackCache
from emobench.scoring.inference import Member
from emobench.scoring.inputs import Entry, Reference
from emobench.scoring.jackknife import Replicates, replicate_values
from emobench.scoring.stats import BootstrapConfig
from emobench.scoring.validate import per_image_values

__all__ = ["RunScorer", "Series", "Layout", "Population", "group_entries"]
JACKKNIFE = "jackknife-v1"   # in the cache key of replicate values (bootstrap statistics never collide with them)


# ------------------------------------------------------------------------------------------------ series

@dataclass
class Series:
    """One (population, column, emotion) statistic with the cells it was computed on (a fit of a learning
    method is its own population: ``scoring.fits`` groups them)."""

    stat: GroupStat
    cells: list[str]          # alignment keys of the stat's items, in order
    key: str | None = None    # cache key of the point value and jackknife replicates (None: not cached)
    parts: list = field(default_factory=list)   # [(emotion, entries)] the statistic was built from

    @property
    def strata(self) -> list[int]:
        """Cells per emotion, in the statistic's column order."""
        return [len(entries) for _, entries in self.parts] if self.parts else [len(self.cells)]


class Layout:
    """Canonical cells per emotion of one population (part of every series' cache key)."""

    def __init__(self, entries_by_group: dict[tuple[str, str], list[Entry]], cfg: BootstrapConfig, stream: str):
        self.cfg, self.stream = cfg, stream
        self.cells: dict[str, list[str]] = {}
        for (_, emotion), es in entries_by_group.items():
            self.cells.setdefault(emotion, [])
            self.cells[emotion].extend(e.cell for e in es)
        self.cells = {e: sorted(set(c)) for e, c in self.cells.items()}


# ------------------------------------------------------------------------------------------------ scoring

@dataclass
class Population:
    """A set of methods (the run's, or one control) scored on a shared cell layout."""

    kind: str
    groups: dict[tuple[str, str], list[Entry]]       # (method, emotion) → entries in cell order
    layout: Layout


def group_entries(entries: Sequence[Entry], emotions: Sequence[str]) -> dict[tuple[str, str], list[Entry]]:
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        groups.setdefault((e.method, e.item.emotion), []).append(e)
    order = {e: i for i, e in enumerate(emotions)}
    keys = sorted(groups, key=lambda k: (k[0], order.get(k[1], len(order))))
    return {k: sorted(groups[k], key=lambda e: e.cell) for k in keys}


class RunScorer:
    """Does the work of ``score_run``; kept as an object so tests can inspect forwards and series."""

    def __init__(self, zoo, bootstrap: BootstrapConfig = BootstrapConfig(), cache_dir: Path | None = None,
                 log: Callable[[str], None] | None = None, progress: bool = False):
        self.zoo = zoo
        self.progress = progress   # per-metric bars over the images whose features are computed
        self.cfg = bootstrap
        self.root = Path(cache_dir) if cache_dir is not None else cache_root()
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.stores: dict[str, FeatureStore] = {}
        self.problems: list[str] = []
        self.tables: dict[str, dict[str, Any]] = {}   # file name → {method: table} (Metric.extra_tables)
        self.boot = PackCache(self.root / "bootstrap")
        self.boot_memo: dict[str, torch.Tensor] = {}
        self.boot_new: dict[str, torch.Tensor] = {}
        self.probed: set[str] = set()   # metrics whose values were checked against the images' order

    # ---- per-metric
    def score_metric(self, metric: Metric, pops: Sequence[Population], reference: "Reference | None",
                     score_rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], Series]:
        """Series keyed by (method, column, emotion) for every population; raises EmobenchError on failure."""
        self.zoo.require(*metric.requires)
        metric.prepare(self.zoo)
        if metric.needs_reference:
            self.zoo.require("dataset")
            if reference is None or not reference.emotions:
                raise EmobenchError(f"{metric.name} needs the dataset's held-out test images, and none were found",
                                    "use a zoo whose dataset has a test split")
        fresh = FeatureStore(metric, self.zoo, self.root)
        fresh.progress = self.progress
        store = self.stores.setdefault(fresh.prefix, fresh)   # metrics with one feature_id share a store
        groups_cache = GroupCache(metric, self.zoo, self.root)
        out: dict[tuple[str, str, str], Series] = {}

        def make_group(method: str, emotion: str, entries: list[Entry]) -> Group:
            return Group(method, emotion, [e.item for e in entries],
                         features=(lambda es=entries: store.get(es)) if metric.uses_features else _no_features,
                         images=lambda es=entries: torch.stack([e.loader() for e in es]),
                         cache_get=groups_cache.get, cache_put=groups_cache.put)

        ctx = ScoringContext(lambda emotion: reference.features(store, emotion), seed=self.cfg.seed)
        if metric.uses_features:   # one batched pass over every image the metric will see
            store.get([e for pop in pops for es in pop.groups.values() for e in es])
        for pop in pops:
            methods = sorted({m for m, _ in pop.groups})
            for method in methods:
                keys = [k for k in pop.groups if k[0] == method]
                if metric.kind == "per_image":
                    self._per_image(metric, store, pop, method, keys, out, score_rows)
                else:
                    self._set(metric, pop, method, keys, make_group, ctx, out)
            for (method, col, emotion), ser in out.items():
                if ser.key is None and ser.parts and ser.parts[0][1][0].method == method:
                    ser.key = self._series_key(metric, store, pop, col, emotion, ser.parts, reference)
        return out

    def _series_key(self, metric: Metric, store: FeatureStore, pop: "Population", col: str, emotion: str,
                    parts: list, reference: "Reference | None") -> str:
        """Everything a series' value and replicates depend on: the metric and judges, each item's content,
        label and cell, the population (stream, canonical cells, settings) and the reference."""
        ref = reference.identity() if (metric.needs_reference and reference is not None) else None
        return stable_hash([metric.name, config_to_dict(metric.config), store.prefix, col, emotion,
                            pop.layout.stream, self.cfg.n_resamples, self.cfg.seed, ref,
                            [[em, pop.layout.cells[em], [[e.cell, e.item.emotion, store.key(e.item)] for e in es]]
                             for em, es in parts]], n=32)

    def _per_image(self, metric, store, pop, method, keys, out, score_rows) -> None:
        all_cols: dict[str, list[tuple[str, torch.Tensor, list[Entry]]]] = {}
        for key in keys:
            entries = pop.groups[key]
            feats = store.get(entries)
            # checked: one finite value per image, matched by key (once per metric: the reverse-order probe)
            probe = metric.name not in self.probed and len(entries) >= 2
            cols = per_image_values(metric, feats, [e.item for e in entries], probe=probe)
            if probe:
                self.probed.add(metric.name)
            metric.extra_tables(method, feats, [e.item for e in entries], self.tables)
            for col, vals in cols.items():
                all_cols.setdefault(col, []).append((key[1], vals, entries))
                if pop.kind == "method":
                    for e, v in zip(entries, vals.tolist()):
                        r = e.record
                        score_rows.append({"method": r.method, "emotion": r.emotion, "template": r.template,
                                           "seed": r.seed, "key": r.key, "metric": col, "value": v})
        for col, parts in all_cols.items():
            for emotion, vals, entries in parts:
                out[(method, col, emotion)] = Series(MeanStat(vals), [e.cell for e in entries],
                                                      parts=[(emotion, entries)])
            vals = torch.cat([v for _, v, _ in parts])
            cells = [c for _, _, es in parts for c in (e.cell for e in es)]
            out[(method, col, ALL)] = Series(MeanStat(vals), cells, parts=[(em, es) for em, _, es in parts])

    def _set(self, metric, pop, method, keys, make_group, ctx, out) -> None:
        groups, cells_all = [], []
        stats: dict[str, list[GroupStat]] = {}   # column → its per-emotion statistics (``SetMetric.group_stats``)
        for key in keys:
            entries = pop.groups[key]
            emotion = key[1]
            cells = [e.cell for e in entries]
            if len(entries) < metric.min_images:
                self.problems.append(f"{metric.name}: {method} / {emotion} has {len(entries)} image(s), "
                                     f"needs at least {metric.min_images}; skipped")
                continue
            g = make_group(method, emotion, entries)
            try:
                by_col = metric.group_stats(g, ctx, self.zoo)
            except EmobenchError as err:   # e.g. no reference images of this emotion: the other groups go on
                self.problems.append(f"{metric.name}: {method} / {emotion}: {err}")
                continue
            for col, stat in by_col.items():
                out[(method, col, emotion)] = Series(stat, cells, parts=[(emotion, entries)])
                stats.setdefault(col, []).append(stat)
            groups.append(g)
            cells_all.extend(f"{emotion}|{c}" for c in cells)
        if groups and len(groups) == len(keys):
            parts = [(g.emotion, pop.groups[(method, g.emotion)]) for g in groups]
            for col, pooled in metric.pooled_stats(groups, stats, ctx, self.zoo).items():
                out[(method, col, ALL)] = Series(pooled, cells_all, parts=parts)

    # ---- values and replicates
    def prefetch(self, series: Sequence[Series]) -> None:
        """Load cached point values and replicates of unchanged series (a warm re-score evaluates nothing)."""
        keys = [k for x in series if x.key is not None for k in (self._point_key(x.key),)
                if k not in self.boot_memo]
        if keys:
            self.boot_memo.update(self.boot.get_many(keys))

    @staticmethod
    def _point_key(key: str) -> str:
        return stable_hash([key, "point"], n=32)

    def value(self, s: Series) -> float:
        ck = self._point_key(s.key) if s.key is not None else None
        cached = self.boot_memo.get(ck) if ck is not None else None
        if cached is not None and cached.numel() == 1:
            return float(cached[0])
        with torch.no_grad():
            v = s.stat.evaluate(torch.ones(1, s.stat.n, dtype=torch.float64)).double()
        if ck is not None:
            self.boot_memo[ck] = self.boot_new[ck] = v
        return float(v[0])

    def replicates(self, s: Series, rep: Replicates) -> np.ndarray:
        """The statistic's jackknife replicates on ``rep`` (cached by the series and the replicate layout)."""
        ck = stable_hash([s.key, JACKKNIFE, rep.per_stratum, list(rep.strata)], n=32) if s.key is not None else None
        if ck is not None and ck not in self.boot_memo:
            self.boot_memo.update(self.boot.get_many([ck]))
        cached = self.boot_memo.get(ck) if ck is not None else None
        if cached is not None and cached.numel() == rep.count:
            return cached.double().numpy()
        values = replicate_values(s.stat, rep)
        if ck is not None:
            self.boot_memo[ck] = self.boot_new[ck] = torch.from_numpy(values)
        return values

    def member(self, s: Series) -> Member:
        return Member(s.stat, s.cells, s.strata, self.value(s), lambda rep, s=s: self.replicates(s, rep))

    def flush(self) -> None:
        self.boot.put_many(self.boot_new)
        self.boot_new = {}


def _no_features() -> torch.Tensor:
    raise RuntimeError("this metric works on images, not cached features")
