"""Score a run directory: per-image scores, per-method × metric × emotion summaries with paired intervals.

``score_run(run_dir, zoo, metrics, baseline)`` reads only the run directory (manifest + PNGs), so it can be
re-run at any time without regenerating images. Each image is checked against its sha256; each metric
computes its per-image features once per image and caches them under ``$EMOBENCH_CACHE/scores/`` keyed by
(image content id, judges hash, metric name + config). A problem with one image or one metric is reported and
skipped; everything else completes. Outputs (see docs/ARCHITECTURE.md "Run directory" and docs/metrics.md):
``scores.csv``, ``summary.csv``, ``summary.json`` (with each column's display facts), and any run-level
tables a metric adds through ``Metric.extra_tables`` (Emo-A's ``confusion.json``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

from tqdm.auto import tqdm

from emobench import registry
from emobench.spec import protocol
from emobench.api import ImageRecord, Metric, config_to_dict
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.rundir.layout import ALL, LOGS, SCORE_COLUMNS, SUMMARY_COLUMNS, SummaryRow, read_manifest, read_methods
from emobench.io.files import atomic_write_csv, atomic_write_text
from emobench.io.lock import run_lock
from emobench.scoring.engine import Layout, Population, RunScorer, Series, group_entries
from emobench.scoring.family import apply_holm
from emobench.scoring.fits import group_fits, split_label
from emobench.scoring.inference import difference_interval, value_interval
from emobench.scoring.inputs import (CONTROL_REAL, CONTROL_SHUFFLED, REAL_SPLIT, Reference, real_entries,
                                     shuffled_entries, verified_entries)
from emobench.scoring.merge import PROCEDURES, Previous, metric_columns, read_previous
from emobench.scoring.merge import merge as merge_previous
from emobench.scoring.significance import verdict
from emobench.scoring.stats import BootstrapConfig
from emobench.scoring.validate import MetricOutputError
from emobench.io.sweep import sweep

__all__ = ["score_run", "load_metrics", "CONTROL_REAL", "CONTROL_SHUFFLED", "ALL"]


def _run_template(records: Sequence[ImageRecord]) -> str:
    templates = sorted({r.template for r in records})
    return templates[0] if templates else "an image of {emotion}"


def load_metrics(names: Sequence[str] | None, problems: list[str]) -> list[Metric]:
    """Metric instances for ``names`` (specs, ``NAME[:option=value]``; all installed when None). A metric the
    user named that cannot be loaded (a typo, a bad option) is an error, raised before anything is written;
    an installed one that fails to load when none were named is a problem line, and the others are scored."""
    reg = registry.metrics()
    out = []
    for name in (list(names) if names else reg.names()):
        try:
            out.append(reg.create(name)[1])
        except EmobenchError as err:
            if names:
                raise
            problems.append(f"metric {name!r}: {err}")
    return out


def score_run(run_dir: str | Path, zoo, metrics: list[str] | None = None, baseline: str | None = None, *,
              bootstrap: BootstrapConfig = BootstrapConfig(), cache_dir: str | Path | None = None,
              controls: bool = True, control_per_emotion: int | None = None, progress: bool = True,
              merge: bool | None = None) -> None:
    """Score ``run_dir`` while holding its lock (see ``_score_run``). ``merge`` (default: when ``metrics`` are
    named) keeps the rows of every other metric already in the run's tables."""
    with run_lock(run_dir):
        sweep(Path(run_dir))   # temp files of a killed scorer or report
        _score_run(Path(run_dir), zoo, metrics, baseline, bootstrap=bootstrap, cache_dir=cache_dir,
                   controls=controls, control_per_emotion=control_per_emotion, progress=progress,
                   merge=bool(metrics) if merge is None else merge)


def _score_run(run_dir: Path, zoo, metrics: list[str] | None, baseline: str | None, *, bootstrap: BootstrapConfig,
               cache_dir: str | Path | None, controls: bool, control_per_emotion: int | None,
               progress: bool, merge: bool) -> None:
    """Score every image of ``run_dir`` with ``metrics`` (all registered when None) and write the tables.

    ``baseline``: method to compare every other method with (paired differences, Holm-corrected p-values).
    ``control_per_emotion``: real test images per emotion in the control rows (default: the run's largest
    number of images per emotion, so controls and methods have comparable CIs).
    """
    run_dir = Path(run_dir)
    problems: list[str] = []
    records = read_manifest(run_dir)
    methods_info = read_methods(run_dir)
    if not records:
        failed = [m for m, i in methods_info.items() if str(i.get("status", "ok")) != "ok"]
        raise EmobenchError(f"{run_dir} has no images to score (its manifest is empty"
                            f"{'; failed methods: ' + ', '.join(failed) if failed else ''})",
                            "generate first: `emobench run --resume RUN_DIR` (reasons in methods.json and logs/)")
    run_methods = sorted({r.method for r in records})
    if baseline is not None and baseline not in run_methods:
        if baseline not in methods_info:
            raise EmobenchError(f"baseline {baseline!r} is not a method of this run",
                                f"pick one of: {', '.join(run_methods) or '(no images)'}")
        problems.append(f"baseline {baseline!r} has no images (it failed): no paired differences")
        baseline = None
    metric_objs = load_metrics(metrics, problems)   # a named metric that cannot load fails here, before any work
    prev = read_previous(run_dir, metric_objs, baseline=baseline, bootstrap=bootstrap,
                         judges_hash=zoo.judges_hash) if merge else None
    scorer = RunScorer(zoo, bootstrap, Path(cache_dir) if cache_dir is not None else None, progress=progress)
    entries = verified_entries(run_dir, records, problems)
    emotions = [e for e in EMOTIONS if any(r.emotion == e for r in records)]
    template = _run_template(records)
    contents = sorted({r.content for r in records if r.content is not None})
    if not contents:   # content metrics do not apply to a track without content (named ones: say so)
        problems += [f"metric {m.name}: the run's cells have no content; skipped" for m in metric_objs
                     if getattr(m, "needs_content", False) and metrics]
        metric_objs = [m for m in metric_objs if not getattr(m, "needs_content", False)]

    run_groups = group_entries(entries, emotions)
    pops = [Population("method", run_groups, Layout(run_groups, bootstrap, "cells"))]
    reference: Reference | None = None
    if getattr(zoo, "dataset", None) is not None and emotions:
        size = int(zoo.sampling.height)
        reference = Reference(zoo.dataset, emotions, size, template, scorer.root)
        per_emotion = control_per_emotion or max((len(v) for v in run_groups.values()), default=0) or None
        real = real_entries(zoo.dataset, emotions, per_emotion, size, template, contents=contents,
                            problems=problems) if controls else []
        if real:
            real_groups = group_entries(real, emotions)
            shuf_groups = group_entries(shuffled_entries(real, template, bootstrap.seed), emotions)
            pops.append(Population("control", real_groups, Layout(real_groups, bootstrap, "real")))
            pops.append(Population("control", shuf_groups, Layout(shuf_groups, bootstrap, "shuffled")))
    elif controls:
        problems.append("the zoo has no dataset: real and shuffled control rows are skipped")

    rows: list[SummaryRow] = []
    score_rows: list[dict[str, Any]] = []
    kinds = {split_label(m)[0]: pop.kind for pop in pops for m, _ in pop.groups}
    learners = {m for m, info in methods_info.items() if _learns(info)}
    columns: dict[str, list[str]] = {m.name: metric_columns(m) for m in metric_objs}
    # on a terminal (tqdm's own test) unless progress is off; per-metric image bars below (FeatureStore), as
    # scoring a paper run takes minutes
    bar = tqdm(metric_objs, desc="scoring", unit="metric", disable=None if progress else True, leave=True)
    for metric in bar:
        bar.set_postfix_str(metric.name)
        n_score_rows = len(score_rows)
        try:
            series = scorer.score_metric(metric, pops, reference, score_rows)
            scorer.prefetch(list(series.values()))
            new_rows = _rows_for(scorer, metric, group_fits(series), kinds, learners, baseline, emotions, progress)
        except Exception as err:  # noqa: BLE001 — one failing metric (plugin) never costs the others
            reason = str(err) if isinstance(err, EmobenchError) else f"crashed: {type(err).__name__}: {err}"
            reason = reason.splitlines()[0] if reason else type(err).__name__
            if isinstance(err, EmobenchError) and not isinstance(err, MetricOutputError):
                problems.append(f"metric {metric.name}: {reason}")   # a zoo part it needs, say: nothing broke
            else:   # the plugin broke (a crash, or output the scorer cannot trust): one line and a log
                log = _failure_log(run_dir, metric.name, err)
                problems.append(f"metric {metric.name} failed: {reason}" + (f" (traceback in {log})" if log else ""))
            del score_rows[n_score_rows:]
            rows.extend(SummaryRow(m, "method", "failed", metric.name, ALL, reason=reason) for m in run_methods)
            continue
        have = {(r.method, r.emotion) for r in new_rows}
        for m in run_methods:   # a group with no valid image still gets a row, saying why it has no value
            new_rows.extend(SummaryRow(m, "method", "skipped", metric.name, e,
                                reason="no value for some emotion" if e == ALL else "no valid images")
                            for e in list(emotions) + [ALL] if (m, e) not in have)
        rows.extend(new_rows)
        columns[metric.name] = list(dict.fromkeys([*metric_columns(metric), *(r.metric for r in new_rows)]))
    problems = problems + scorer.problems

    for name, info in methods_info.items():
        if str(info.get("status", "ok")) != "ok":
            reason = str(info.get("reason") or "failed")
            rows = [r for r in rows if r.method != name]
            rows.extend(SummaryRow(name, "method", "failed", m.name, ALL, reason=reason) for m in metric_objs)
    names = [m.name for m in metric_objs]
    if prev is not None:   # a subset of metrics: keep the other metrics' rows as they were
        failed = [n for n, i in methods_info.items() if str(i.get("status", "ok")) != "ok"]
        rows, score_rows, names = merge_previous(prev, columns, [*prev.metric_names, *columns], rows, score_rows,
                                                 failed)
        problems = [p for p in prev.summary.get("problems", []) if p not in problems] + problems
    apply_holm(rows, bootstrap.alpha, _same_per_emotion(metric_objs, prev))
    stored = protocol.read(run_dir)
    if stored is not None:   # the scores' protocol: the run's, with the judges that scored it
        scored = stored.with_judges(zoo)
        protocol.write(run_dir, scored)
        for r in rows:
            r.protocol = scored.fingerprint
    scorer.flush()
    _write_outputs(run_dir, rows, score_rows, scorer, problems, baseline, bootstrap, zoo, metric_objs, prev, names,
                   columns)
    for p in problems:
        scorer.log(f"emobench score: {p}")


def _failure_log(run_dir: Path, name: str, err: BaseException) -> Path | None:
    """``RUN/logs/metric-<name>.log``: the failed metric's traceback (its one problem line points here)."""
    import traceback

    safe = "".join(ch if ch.isalnum() or ch in "-_.=" else "_" for ch in name)
    path = run_dir / LOGS / f"metric-{safe}.log"
    try:
        atomic_write_text(path, f"emobench: metric {name!r} failed\n"
                          + "".join(traceback.format_exception(type(err), err, err.__traceback__)))
    except OSError:
        return None
    return path


def _same_per_emotion(metrics: Sequence[Metric], prev: Previous | None) -> dict[str, str]:
    """column → the column whose per-emotion rows it repeats (display fact ``same_per_emotion_as``), for the
    scored metrics and the kept ones of a merged subset: one test in each emotion's Holm family, not two."""
    facts = dict(prev.summary.get("display", {})) if prev is not None else {}
    for m in metrics:
        facts.update(m.display())
    return {col: str(f["same_per_emotion_as"]) for col, f in facts.items()
            if isinstance(f, dict) and f.get("same_per_emotion_as")}


def _learns(info: dict[str, Any]) -> bool:
    """A learning method (methods.json): it has fits, or an artifact (runs before ``learns`` was recorded)."""
    return bool(info.get("learns", bool(info.get("fits")) or bool(info.get("artifact_key"))))


def _rows_for(scorer: RunScorer, metric: Metric, groups: dict[tuple[str, str, str], list[tuple[int | None, Series]]],
              kinds: dict[str, str], learners: set[str], baseline: str | None, emotions: Sequence[str],
              progress: bool = False) -> list[SummaryRow]:
    """One summary row per (method, column, emotion): the value (mean over fits), its interval, and the paired
    difference against the baseline with its interval and p-value (``scoring.inference``)."""
    alpha = scorer.cfg.alpha
    cap = scorer.cfg.n_resamples
    members = {key: [scorer.member(s) for _, s in parts] for key, parts in groups.items()}
    rows = []
    for key, parts in tqdm(groups.items(), desc=f"intervals {metric.name}", unit="series",
                           disable=None if progress else True, leave=False):
        method, col, emotion = key
        ms, first = members[key], parts[0][1]
        learner = method in learners and kinds.get(method) == "method"
        value = sum(m.value for m in ms) / len(ms)
        row = SummaryRow(method, kinds.get(method, "method"), "ok", col, emotion, value,
                         n=first.stat.n, warning=getattr(first.stat, "warning", ""),
                         extra=dict(getattr(first.stat, "extra", {})), n_fits=len(ms))
        if len(ms) > 1:
            row.extra["per_fit"] = [{"fit_seed": f, "value": m.value} for (f, _), m in zip(parts, ms)]
            if any(m.cells != ms[0].cells for m in ms):
                scorer.problems.append(f"{col}: {method} / {emotion}: its fits cover different cells (a missing "
                                       "or corrupt image); its interval and Δ use the cells every fit has")
        iv = value_interval(ms, list(range(len(ms))), learner, cap)
        if isinstance(iv, str):
            row.ci_note = iv
        else:
            row.ci_low, row.ci_high = iv.bounds(alpha)
            row.interval = iv.procedure
        b = members.get((baseline, col, emotion)) if baseline else None
        if b is not None and method != baseline and kinds.get(method) == "method":
            d = difference_interval(ms, b, learner, baseline in learners, cap)
            row.diff = value - sum(m.value for m in b) / len(b)
            if not isinstance(d, str):
                row.diff = d.value
                row.diff_ci_low, row.diff_ci_high = d.bounds(alpha)
                row.extra["diff_spec"] = d.spec()
            v = verdict(d, first.strata + groups[(baseline, col, emotion)][0][1].strata)
            row.p_value, row.p_note = v.p_value, v.note
        rows.append(row)
    order = {e: i for i, e in enumerate(list(emotions) + [ALL])}
    return sorted(rows, key=lambda r: (r.kind != "method", r.method, r.metric, order.get(r.emotion, 99)))


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def display_facts(metrics: Sequence[Metric], zoo: Any = None) -> dict[str, dict[str, Any]]:
    """Every column's display facts, as the metrics declare them (the report reads these, never a plugin),
    with the metric's scale note for this zoo, if any."""
    out: dict[str, dict[str, Any]] = {}
    for m in metrics:
        note = m.scale_note(zoo) if zoo is not None else None
        for i, (col, facts) in enumerate(m.display().items()):
            out.setdefault(col, dict(facts, **({"scale_note": note} if note and i == 0 else {})))
    return out


def _write_outputs(run_dir: Path, rows: list[SummaryRow], score_rows: list[dict[str, Any]], scorer: RunScorer,
                   problems: list[str], baseline: str | None, cfg: BootstrapConfig, zoo,
                   metrics: Sequence[Metric], prev: Previous | None = None, names: Sequence[str] = (),
                   columns: dict[str, list[str]] | None = None) -> None:
    facts = {m.name: {"config": config_to_dict(m.config), "higher_is_better": m.higher_is_better,
                      "columns": (columns or {}).get(m.name, metric_columns(m))} for m in metrics}
    display = {m.name: display_facts([m], zoo) for m in metrics}
    if prev is not None:   # the kept metrics' facts, in the merged order
        old_display = prev.summary.get("display", {})
        for n, info in prev.summary.get("metrics", {}).items():
            if n not in facts:
                facts[n] = info
                display[n] = {c: old_display[c] for c in info.get("columns", [n]) if c in old_display}
    order = list(names) or list(facts)
    facts = {n: facts[n] for n in order if n in facts}
    display_all: dict[str, Any] = {}
    for n in order:
        for col, f in display.get(n, {}).items():
            display_all.setdefault(col, f)
    atomic_write_csv(run_dir / "scores.csv", SCORE_COLUMNS, score_rows)
    atomic_write_csv(run_dir / "summary.csv", SUMMARY_COLUMNS, [r.as_dict() for r in rows])
    summary = {
        "baseline": baseline,
        "bootstrap": {"n_resamples": cfg.n_resamples, "seed": cfg.seed, "alpha": cfg.alpha, "procedures": PROCEDURES,
                      "unit": "cell, stratified by emotion; paired across methods",
                      "interval": "by statistic kind and fits (docs/metrics.md): Wilson / Newcombe score for "
                                  "proportions, t on a jackknife or U-statistic variance otherwise, random effects "
                                  "over fits; at most n_resamples jackknife replicates per series",
                      "p_value": "dual of the difference's own interval",
                      "correction": "Holm within each emotion level, each distinct test once",
                      "real_control": f"the dataset's {REAL_SPLIT} split (disjoint from the test reference)"},
        "judges_hash": zoo.judges_hash,
        "metrics": facts,
        "display": display_all,
        "problems": problems,
        "rows": [{k: _clean(v) for k, v in r.as_dict().items()} for r in rows],
    }
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=1, sort_keys=False))
    for name, table in scorer.tables.items():
        if table:
            atomic_write_text(run_dir / name, json.dumps(table, indent=1))
