"""Scoring a subset of metrics merges into the run's existing scores instead of replacing them.

``emobench score RUN --metrics emo-a`` recomputes Emo-A's rows and keeps every other metric's rows of
``summary.json`` / ``scores.csv`` as they were, in the order a full scoring writes them (metrics in registry
order, failed methods last), with Holm's correction applied again over the merged family. The other metrics'
rows are kept only when they were made under the same bootstrap settings, baseline and judges; otherwise the
merge is refused before anything is computed (mixing them would make one table of incomparable numbers).
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

from emobench.api import Metric
from emobench.errors import EmobenchError
from emobench.rundir.layout import ALL, SUMMARY_COLUMNS, SummaryRow

_FLOATS = {f.name for f in fields(SummaryRow) if f.type in ("float", float)}
PROCEDURES = "intervals-3"   # summary.json's interval procedures (rows made by others are never merged)


def metric_columns(metric: Metric) -> list[str]:
    """The summary / score columns one metric writes (its name first)."""
    return list(dict.fromkeys([metric.name, *metric.display()]))


@dataclass
class Previous:
    """What an earlier scoring of this run wrote, for the metrics that are not scored again."""

    summary: dict[str, Any]
    score_rows: list[dict[str, str]]
    owners: dict[str, str] = field(default_factory=dict)   # column → metric name

    @property
    def metric_names(self) -> list[str]:
        return list(self.summary.get("metrics", {}))


def read_previous(run_dir: Path, metrics: Sequence[Metric], *, baseline: str | None, bootstrap, judges_hash: str
                  ) -> Previous | None:
    """The earlier scoring's rows of the metrics not in ``metrics``; None when there is nothing to keep."""
    path = run_dir / "summary.json"
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None   # an unreadable summary is replaced (nothing in it can be kept anyway)
    rescored = {m.name for m in metrics}
    keep = [n for n in summary.get("metrics", {}) if n not in rescored]
    if not keep:
        return None
    old_boot = summary.get("bootstrap", {})
    same = (old_boot.get("n_resamples") == bootstrap.n_resamples and old_boot.get("seed") == bootstrap.seed
            and old_boot.get("alpha") == bootstrap.alpha and summary.get("baseline") == baseline
            and old_boot.get("procedures") == PROCEDURES
            and summary.get("judges_hash") == judges_hash)
    if not same:
        raise EmobenchError(
            f"this run's other metrics ({', '.join(keep)}) were scored with different settings (baseline "
            f"{summary.get('baseline')!r}, resamples {old_boot.get('n_resamples')}, seed {old_boot.get('seed')}, "
            f"intervals {old_boot.get('procedures', 'bootstrap (before ' + PROCEDURES + ')')}, "
            f"judges {summary.get('judges_hash')}): a subset cannot be merged into them",
            "score every metric again (omit --metrics), or use the settings they were scored with")
    owners: dict[str, str] = {}
    names = list(summary.get("metrics", {}))
    for name, info in summary.get("metrics", {}).items():
        for col in info.get("columns", [name]):
            owners[col] = name
    for d in summary.get("rows", []):   # summaries written before "columns" was recorded: "emo-a.p_target" → emo-a
        col = str(d.get("metric"))
        owners.setdefault(col, next((n for n in names if col.startswith(n + ".")), col))
    scores_path = run_dir / "scores.csv"
    score_rows: list[dict[str, str]] = []
    if scores_path.is_file():
        with open(scores_path, newline="") as fh:
            score_rows = list(csv.DictReader(fh))
    return Previous(summary, score_rows, owners)


def _row(d: dict[str, Any]) -> SummaryRow:
    kw: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for k, v in d.items():
        if k in SUMMARY_COLUMNS:
            kw[k] = math.nan if (k in _FLOATS and v is None) else v
        else:
            extra[k] = v
    kw["n"] = int(kw.get("n") or 0)
    kw["n_fits"] = int(kw.get("n_fits") or extra.pop("n_fits", None) or 1)
    for k in ("interval", "ci_note"):
        kw[k] = str(kw.get(k) or "")
    return SummaryRow(**kw, extra=extra)


def merge(prev: Previous, columns: dict[str, list[str]], order: Sequence[str], rows: list[SummaryRow],
          score_rows: list[dict[str, Any]], failed: Sequence[str]) -> tuple[list[SummaryRow], list[dict[str, Any]],
                                                                          list[str]]:
    """(summary rows, score rows, metric names) of the merged scoring, in a full scoring's order.
    ``columns``: metric name → the columns it wrote in this scoring."""
    new_owner = {col: name for name, cols in columns.items() for col in cols}
    for col, name in prev.owners.items():   # a column the metric wrote before but not now is replaced too
        if name in columns:
            new_owner.setdefault(col, name)
    names = list(dict.fromkeys([*prev.metric_names, *new_owner.values()]))
    rank = {n: i for i, n in enumerate(order)}
    names.sort(key=lambda n: (rank.get(n, len(rank)), n))

    def owner(col: str) -> str:
        return new_owner.get(col) or prev.owners.get(col, col)

    failed_set = set(failed)
    by_metric: dict[str, list[SummaryRow]] = {n: [] for n in names}
    for r in rows:
        if r.method not in failed_set:
            by_metric.setdefault(owner(r.metric), []).append(r)
    for d in prev.summary.get("rows", []):
        col = str(d.get("metric"))
        if owner(col) in new_owner.values() or d.get("method") in failed_set:
            continue
        by_metric.setdefault(owner(col), []).append(_row(d))
    merged = [r for n in names for r in by_metric.get(n, [])]
    for r in merged:
        r.p_holm = r.diff_ci_holm_low = r.diff_ci_holm_high = math.nan   # applied again over the merged family
    merged.extend(SummaryRow(m, "method", "failed", n, ALL, reason=_failed_reason(rows, prev, m))
                  for m in failed for n in names)
    scores_by: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for s in score_rows:
        scores_by.setdefault(owner(s["metric"]), []).append(s)
    for s in prev.score_rows:
        if owner(s["metric"]) not in new_owner.values():
            scores_by.setdefault(owner(s["metric"]), []).append(s)
    return merged, [s for n in names for s in scores_by.get(n, [])], names


def _failed_reason(rows: Sequence[SummaryRow], prev: Previous, method: str) -> str:
    for r in rows:
        if r.method == method and r.status == "failed":
            return r.reason
    return next((str(d.get("reason") or "failed") for d in prev.summary.get("rows", []) if d.get("method") == method),
                "failed")
