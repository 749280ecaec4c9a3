"""Score a run directory: per-image scores, per-method × metric × emotion summaries with paired bootstrap CIs.

``score_run(run_dir, zoo, metrics, baseline)`` reads only the run directory (manifest + PNGs), so it can be
re-run at any time without regenerating images. Each image is checked against its sha256; each metric
computes its per-image features once per image and caches them under ``$EMOBENCH_CACHE/scores/`` keyed by
(image content id, judges hash, metric name + config). A problem with one image or one metric is reported and
skipped; everything else completes. Outputs (see docs/ARCHITECTURE.md "Run directory" and docs/metrics.md):
``scores.csv``, ``summary.csv``, ``summary.json``, ``confusion.json``.

Inputs live in ``emobench.metrics.inputs``, the cache in ``emobench.metrics.cache``, the statistics in
``emobench.stats``.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from emobench.api import ImageRecord, config_to_dict, stable_hash
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.metrics import load_metric, metric_names
from emobench.metrics.base import Group, GroupStat, MeanStat, Metric, ScoringContext
from emobench.metrics.cache import FeatureStore, GroupCache, PackCache, cache_root
from emobench.metrics.inputs import (ALL, CONTROL_REAL, CONTROL_SHUFFLED, Entry, Reference, read_manifest,
                                     read_methods, real_entries, shuffled_entries, verified_entries)
from emobench.stats import BootstrapConfig, Estimate, estimate, holm, paired_difference, draw_weights

__all__ = ["score_run", "RunScorer", "CONTROL_REAL", "CONTROL_SHUFFLED", "ALL"]

SUMMARY_COLUMNS = ["method", "kind", "status", "metric", "emotion", "value", "ci_low", "ci_high", "n",
                   "diff", "diff_ci_low", "diff_ci_high", "p_value", "p_holm", "warning", "reason"]
SCORE_COLUMNS = ["method", "emotion", "template", "seed", "key", "metric", "value"]


# ------------------------------------------------------------------------------------------------ results

@dataclass
class Row:
    method: str
    kind: str                 # "method" | "control"
    status: str               # "ok" | "failed" | "skipped"
    metric: str
    emotion: str
    value: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int = 0
    diff: float = math.nan
    diff_ci_low: float = math.nan
    diff_ci_high: float = math.nan
    p_value: float = math.nan
    p_holm: float = math.nan
    warning: str = ""
    reason: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {c: getattr(self, c) for c in SUMMARY_COLUMNS}
        d.update(self.extra)
        return d


@dataclass
class _Series:
    """One (method, column, emotion) statistic with the weights layout needed to pair it with another."""

    stat: GroupStat
    cells: list[str]          # alignment keys of the stat's items, in order
    weights: torch.Tensor     # [B, n] resample counts for those items
    est: Estimate | None = None
    key: str | None = None    # cache key of the point estimate + bootstrap statistics (None: not cached)
    parts: list = field(default_factory=list)   # [(emotion, entries)] the statistic was built from


class _Layout:
    """Canonical cells per emotion and their shared bootstrap draws (same for every method → paired)."""

    def __init__(self, entries_by_group: dict[tuple[str, str], list[Entry]], cfg: BootstrapConfig, stream: str):
        self.cfg, self.stream = cfg, stream
        self.cells: dict[str, list[str]] = {}
        for (_, emotion), es in entries_by_group.items():
            self.cells.setdefault(emotion, [])
            self.cells[emotion].extend(e.cell for e in es)
        self.cells = {e: sorted(set(c)) for e, c in self.cells.items()}
        self.index = {e: {c: i for i, c in enumerate(cs)} for e, cs in self.cells.items()}
        self.draws = {e: draw_weights(len(cs), f"{stream}|{e}", cfg) for e, cs in self.cells.items()}

    def weights(self, emotion: str, cells: Sequence[str]) -> torch.Tensor:
        idx = torch.tensor([self.index[emotion][c] for c in cells], dtype=torch.long)
        return self.draws[emotion][:, idx]


# ------------------------------------------------------------------------------------------------ scoring

@dataclass
class _Population:
    """A set of methods (the run's, or one control) scored on a shared cell layout."""

    kind: str
    groups: dict[tuple[str, str], list[Entry]]       # (method, emotion) → entries in cell order
    layout: _Layout


def _group_entries(entries: Sequence[Entry], emotions: Sequence[str]) -> dict[tuple[str, str], list[Entry]]:
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        groups.setdefault((e.method, e.item.emotion), []).append(e)
    order = {e: i for i, e in enumerate(emotions)}
    keys = sorted(groups, key=lambda k: (k[0], order.get(k[1], len(order))))
    return {k: sorted(groups[k], key=lambda e: e.cell) for k in keys}


class RunScorer:
    """Does the work of ``score_run``; kept as an object so tests can inspect forwards and series."""

    def __init__(self, zoo, bootstrap: BootstrapConfig = BootstrapConfig(), cache_dir: Path | None = None,
                 log: Callable[[str], None] | None = None):
        self.zoo = zoo
        self.cfg = bootstrap
        self.root = Path(cache_dir) if cache_dir is not None else cache_root()
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.stores: dict[str, FeatureStore] = {}
        self.problems: list[str] = []
        self.confusion: dict[str, dict[str, Any]] = {}
        self.boot = PackCache(self.root / "bootstrap")
        self.boot_memo: dict[str, torch.Tensor] = {}
        self.boot_new: dict[str, torch.Tensor] = {}

    # ---- per-metric
    def score_metric(self, metric: Metric, pops: Sequence[_Population], reference: "Reference | None",
                     score_rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], _Series]:
        """Series keyed by (method, column, emotion) for every population; raises EmobenchError on failure."""
        self.zoo.require(*metric.requires)
        if metric.needs_reference:
            self.zoo.require("dataset")
            if reference is None or not reference.emotions:
                raise EmobenchError(f"{metric.name} needs the dataset's held-out test images, and none were found",
                                    "use a zoo whose dataset has a test split")
        fresh = FeatureStore(metric, self.zoo, self.root)
        store = self.stores.setdefault(fresh.prefix, fresh)   # metrics with one feature_id share a store
        groups_cache = GroupCache(metric, self.zoo, self.root)
        out: dict[tuple[str, str, str], _Series] = {}

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

    def _series_key(self, metric: Metric, store: FeatureStore, pop: "_Population", col: str, emotion: str,
                    parts: list, reference: "Reference | None") -> str:
        """Everything a series' bootstrap statistics depend on: the metric and judges, each item's content,
        label and cell, the population's draws (stream, canonical cells, resamples, seed) and the reference."""
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
            cols = metric.values(feats, [e.item for e in entries])
            if metric.name == "emo-a":
                from emobench.metrics.emotion_accuracy import confusion

                conf = self.confusion.setdefault(method, {"labels": list(EMOTIONS),
                                                           "counts": [[0] * len(EMOTIONS) for _ in EMOTIONS]})
                add = confusion(feats, [e.item for e in entries])
                conf["counts"] = [[a + b for a, b in zip(r1, r2)] for r1, r2 in zip(conf["counts"], add)]
            for col, vals in cols.items():
                all_cols.setdefault(col, []).append((key[1], vals, entries))
                if pop.kind == "method":
                    for e, v in zip(entries, vals.tolist()):
                        r = e.record
                        score_rows.append({"method": r.method, "emotion": r.emotion, "template": r.template,
                                           "seed": r.seed, "key": r.key, "metric": col, "value": v})
        for col, parts in all_cols.items():
            for emotion, vals, entries in parts:
                cells = [e.cell for e in entries]
                out[(method, col, emotion)] = _Series(MeanStat(vals), cells, pop.layout.weights(emotion, cells),
                                                      parts=[(emotion, entries)])
            vals = torch.cat([v for _, v, _ in parts])
            cells = [c for _, _, es in parts for c in (e.cell for e in es)]
            w = torch.cat([pop.layout.weights(em, [e.cell for e in es]) for em, _, es in parts], 1)
            out[(method, col, ALL)] = _Series(MeanStat(vals), cells, w, parts=[(em, es) for em, _, es in parts])

    def _set(self, metric, pop, method, keys, make_group, ctx, out) -> None:
        groups, stats, ws, cells_all = [], [], [], []
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
                stat = metric.group_stat(g, ctx, self.zoo)
            except EmobenchError as err:   # e.g. no reference images of this emotion: the other groups go on
                self.problems.append(f"{metric.name}: {method} / {emotion}: {err}")
                continue
            w = pop.layout.weights(emotion, cells)
            out[(method, metric.name, emotion)] = _Series(stat, cells, w, parts=[(emotion, entries)])
            groups.append(g)
            stats.append(stat)
            ws.append(w)
            cells_all.extend(f"{emotion}|{c}" for c in cells)
        if stats and len(stats) == len(keys):
            pooled = metric.pooled_stat(groups, stats, ctx, self.zoo)
            out[(method, metric.name, ALL)] = _Series(pooled, cells_all, torch.cat(ws, 1),
                                                      parts=[(g.emotion, pop.groups[(method, g.emotion)])
                                                             for g in groups])

    # ---- estimates
    def prefetch(self, series: Sequence[_Series]) -> None:
        """Load cached bootstrap results of unchanged series (a warm re-score skips every resample)."""
        keys = [x.key for x in series if x.key is not None and x.key not in self.boot_memo]
        if keys:
            self.boot_memo.update(self.boot.get_many(keys))

    def estimate(self, s: _Series) -> Estimate:
        if s.est is None:
            cached = self.boot_memo.get(s.key) if s.key is not None else None
            if cached is not None and cached.numel() == self.cfg.n_resamples + 1:
                values = cached.double()
            else:
                point = s.stat.evaluate(torch.ones(1, s.stat.n, dtype=torch.float64))
                values = torch.cat([point, _chunked_eval(s.stat, s.weights)])
                if s.key is not None:
                    self.boot_new[s.key] = values
            s.est = estimate(float(values[0]), values[1:], self.cfg)
        return s.est

    def flush(self) -> None:
        self.boot.put_many(self.boot_new)
        self.boot_new = {}

    def paired(self, a: _Series, b: _Series):
        if a.cells == b.cells:
            return paired_difference(self.estimate(a), self.estimate(b), self.cfg)
        # Different cells survived (a corrupt or missing image): compare on the cells both have.
        common = set(a.cells) & set(b.cells)
        ma = torch.tensor([c in common for c in a.cells], dtype=torch.float64)
        mb = torch.tensor([c in common for c in b.cells], dtype=torch.float64)
        if not common:
            return None
        pa = float(a.stat.evaluate(ma[None])[0])
        pb = float(b.stat.evaluate(mb[None])[0])
        ea = estimate(pa, _chunked_eval(a.stat, a.weights * ma), self.cfg)
        eb = estimate(pb, _chunked_eval(b.stat, b.weights * mb), self.cfg)
        return paired_difference(ea, eb, self.cfg)


def _no_features() -> torch.Tensor:
    raise RuntimeError("this metric works on images, not cached features")


def _chunked_eval(stat: GroupStat, weights: torch.Tensor, chunk: int = 250) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([stat.evaluate(weights[i:i + chunk]) for i in range(0, weights.shape[0], chunk)])


def _run_template(records: Sequence[ImageRecord]) -> str:
    templates = sorted({r.template for r in records})
    return templates[0] if templates else "an image of {emotion}"


def resolve_metrics(names: Sequence[str] | None, problems: list[str]) -> list[Metric]:
    names = list(names) if names else metric_names()
    out = []
    for name in names:
        try:
            out.append(load_metric(name))
        except EmobenchError as err:
            problems.append(f"metric {name!r}: {err}")
    return out


def score_run(run_dir: str | Path, zoo, metrics: list[str] | None = None, baseline: str | None = None, *,
              bootstrap: BootstrapConfig = BootstrapConfig(), cache_dir: str | Path | None = None,
              controls: bool = True, control_per_emotion: int | None = None) -> None:
    """Score every image of ``run_dir`` with ``metrics`` (all registered when None) and write the tables.

    ``baseline``: method to compare every other method with (paired differences, Holm-corrected p-values).
    ``control_per_emotion``: real test images per emotion in the control rows (default: the run's largest
    number of images per emotion, so controls and methods have comparable CIs).
    """
    run_dir = Path(run_dir)
    problems: list[str] = []
    records = read_manifest(run_dir)
    methods_info = read_methods(run_dir)
    run_methods = sorted({r.method for r in records})
    if baseline is not None and baseline not in run_methods:
        if baseline not in methods_info:
            raise EmobenchError(f"baseline {baseline!r} is not a method of this run",
                                f"pick one of: {', '.join(run_methods) or '(no images)'}")
        problems.append(f"baseline {baseline!r} has no images (it failed): no paired differences")
        baseline = None
    scorer = RunScorer(zoo, bootstrap, Path(cache_dir) if cache_dir is not None else None)
    entries = verified_entries(run_dir, records, problems)
    metric_objs = resolve_metrics(metrics, problems)
    emotions = [e for e in EMOTIONS if any(r.emotion == e for r in records)]
    template = _run_template(records)

    run_groups = _group_entries(entries, emotions)
    pops = [_Population("method", run_groups, _Layout(run_groups, bootstrap, "cells"))]
    reference: Reference | None = None
    if getattr(zoo, "dataset", None) is not None and emotions:
        size = int(zoo.sampling.height)
        reference = Reference(zoo.dataset, emotions, size, template, scorer.root)
        per_emotion = control_per_emotion or max((len(v) for v in run_groups.values()), default=0) or None
        real = real_entries(zoo.dataset, emotions, per_emotion, size, template) if controls else []
        if real:
            real_groups = _group_entries(real, emotions)
            shuf_groups = _group_entries(shuffled_entries(real, template, bootstrap.seed), emotions)
            pops.append(_Population("control", real_groups, _Layout(real_groups, bootstrap, "real")))
            pops.append(_Population("control", shuf_groups, _Layout(shuf_groups, bootstrap, "shuffled")))
    elif controls:
        problems.append("the zoo has no dataset: real and shuffled control rows are skipped")

    rows: list[Row] = []
    score_rows: list[dict[str, Any]] = []
    kinds = {m: pop.kind for pop in pops for m, _ in pop.groups}
    for metric in metric_objs:
        n_score_rows = len(score_rows)
        try:
            series = scorer.score_metric(metric, pops, reference, score_rows)
            scorer.prefetch(list(series.values()))
        except Exception as err:  # noqa: BLE001 — one failing metric (plugin) never costs the others
            reason = str(err) if isinstance(err, EmobenchError) else f"crashed: {type(err).__name__}: {err}"
            problems.append(f"metric {metric.name}: {reason}")
            del score_rows[n_score_rows:]
            rows.extend(Row(m, "method", "failed", metric.name, ALL, reason=reason) for m in run_methods)
            continue
        new_rows = _rows_for(scorer, metric, series, kinds, baseline, emotions)
        have = {(r.method, r.emotion) for r in new_rows}
        for m in run_methods:   # a group with no valid image still gets a row, saying why it has no value
            new_rows.extend(Row(m, "method", "skipped", metric.name, e,
                                reason="no value for some emotion" if e == ALL else "no valid images")
                            for e in list(emotions) + [ALL] if (m, e) not in have)
        rows.extend(new_rows)
    problems = problems + scorer.problems

    for name, info in methods_info.items():
        if str(info.get("status", "ok")) != "ok":
            reason = str(info.get("reason") or "failed")
            rows = [r for r in rows if r.method != name]
            rows.extend(Row(name, "method", "failed", m.name, ALL, reason=reason) for m in metric_objs)
    _apply_holm(rows)
    scorer.flush()
    _write_outputs(run_dir, rows, score_rows, scorer, problems, baseline, bootstrap, zoo, metric_objs)
    for p in problems:
        scorer.log(f"emobench score: {p}")


def _rows_for(scorer: RunScorer, metric: Metric, series: dict[tuple[str, str, str], _Series],
              kinds: dict[str, str], baseline: str | None, emotions: Sequence[str]) -> list[Row]:
    rows = []
    for (method, col, emotion), s in series.items():
        est = scorer.estimate(s)
        row = Row(method, kinds.get(method, "method"), "ok", col, emotion, est.value, est.ci_low, est.ci_high,
                  n=s.stat.n, warning=getattr(s.stat, "warning", ""), extra=dict(getattr(s.stat, "extra", {})))
        if baseline and method != baseline and kinds.get(method) == "method":
            b = series.get((baseline, col, emotion))
            if b is not None:
                d = scorer.paired(s, b)
                if d is not None:
                    row.diff, row.diff_ci_low, row.diff_ci_high, row.p_value = d.diff, d.ci_low, d.ci_high, d.p_value
        rows.append(row)
    order = {e: i for i, e in enumerate(list(emotions) + [ALL])}
    return sorted(rows, key=lambda r: (r.kind != "method", r.method, r.metric, order.get(r.emotion, 99)))


def _apply_holm(rows: list[Row]) -> None:
    """Holm across all comparisons of one emotion level (the "all" rows form the headline family)."""
    families: dict[str, list[Row]] = {}
    for r in rows:
        if math.isfinite(r.p_value):
            families.setdefault(r.emotion, []).append(r)
    for fam in families.values():
        for r, p in zip(fam, holm([r.p_value for r in fam])):
            r.p_holm = p


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _write_outputs(run_dir: Path, rows: list[Row], score_rows: list[dict[str, Any]], scorer: RunScorer,
                   problems: list[str], baseline: str | None, cfg: BootstrapConfig, zoo,
                   metrics: Sequence[Metric]) -> None:
    _atomic_write_csv(run_dir / "scores.csv", SCORE_COLUMNS, score_rows)
    _atomic_write_csv(run_dir / "summary.csv", SUMMARY_COLUMNS, [r.as_dict() for r in rows])
    summary = {
        "baseline": baseline,
        "bootstrap": {"n_resamples": cfg.n_resamples, "seed": cfg.seed, "alpha": cfg.alpha,
                      "unit": "cell, stratified by emotion; paired across methods",
                      "p_value": "two-sided paired bootstrap", "correction": "Holm within each emotion level"},
        "judges_hash": zoo.judges_hash,
        "metrics": {m.name: {"config": config_to_dict(m.config), "higher_is_better": m.higher_is_better}
                    for m in metrics},
        "problems": problems,
        "rows": [{k: _clean(v) for k, v in r.as_dict().items()} for r in rows],
    }
    _atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=1, sort_keys=False))
    if scorer.confusion:
        _atomic_write_text(run_dir / "confusion.json", json.dumps(scorer.confusion, indent=1))


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _atomic_write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()})
    _atomic_write_text(path, buf.getvalue())
