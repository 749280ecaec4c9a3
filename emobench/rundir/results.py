"""Read a scored run directory (see docs/ARCHITECTURE.md, "Run directory") and merge several of them.

Everything the report shows comes from the files a run stores; nothing is recomputed here, so a report
can be regenerated on a machine without the zoo.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from emobench.api import ImageRecord
from emobench.errors import EmobenchError
from emobench.rundir.layout import SCORE_COLUMNS, SUMMARY_COLUMNS, read_manifest

NUMERIC_COLUMNS = ("value", "ci_low", "ci_high", "n", "diff", "diff_ci_low", "diff_ci_high", "p_value", "p_holm")
CONTROL_SUFFIX = " (control)"


def is_control(method: str) -> bool:
    """Control rows (``real (control)``, ``shuffled (control)``): scored like methods, never ranked."""
    return method.endswith(CONTROL_SUFFIX)


@dataclass
class RunData:
    """One run directory (or several merged), as the report needs it."""

    roots: list[Path]
    config: dict[str, Any]
    zoo: dict[str, Any]
    plan: dict[str, Any]
    records: list[ImageRecord]
    methods: dict[str, dict[str, Any]]       # methods.json: status ok|failed, reason, ...
    summary: pd.DataFrame                    # rundir.SUMMARY_COLUMNS
    scores: pd.DataFrame                     # scores.csv (may be empty)
    confusion: dict[str, dict[str, Any]]     # method -> {"labels": [...], "counts": [[...]]}
    metric_directions: dict[str, bool] = field(default_factory=dict)
    scoring: dict[str, Any] = field(default_factory=dict)   # summary.json minus its rows (baseline, judges...)
    protocol: dict[str, Any] = field(default_factory=dict)  # protocol.json ({} for runs written before it)

    @property
    def fingerprint(self) -> str:
        """The protocol fingerprint the scores were computed under ("" when the run recorded none)."""
        fp = str(self.protocol.get("fingerprint") or "")
        if not fp and not self.summary.empty and "protocol" in self.summary:
            fps = {str(v) for v in self.summary["protocol"] if isinstance(v, str) and v}
            fp = fps.pop() if len(fps) == 1 else ""
        return fp

    @property
    def display(self) -> dict[str, dict[str, Any]]:
        """Each metric column's display facts as the scorer recorded them (``{}`` for older runs)."""
        d = self.scoring.get("display")
        return d if isinstance(d, dict) else {}

    @property
    def root(self) -> Path:
        return self.roots[0]

    @property
    def plan_hash(self) -> str:
        return str(self.plan.get("plan_hash", ""))

    @property
    def judges_hash(self) -> str:
        """The judges that produced the scores (``emobench score --zoo`` may differ from the run's zoo)."""
        return str(self.scoring.get("judges_hash") or self.zoo.get("judges_hash", ""))

    @property
    def scale(self) -> str:
        return str(self.zoo.get("scale", "custom"))

    @property
    def baseline(self) -> str | None:
        """The method paired differences are taken against (config ``baseline``; else the ok method
        whose rows carry no difference while others do)."""
        base = self.scoring.get("baseline") or self.config.get("baseline")
        if base:
            return str(base)
        s = self.summary
        if s.empty or "diff" not in s:
            return None
        computed = s[~s["method"].map(is_control)]
        no_diff = computed.groupby("method")["diff"].apply(lambda d: d.isna().all())
        cands = sorted(no_diff[no_diff].index)
        return cands[0] if len(cands) == 1 and len(no_diff) > 1 else None

    def method_names(self) -> list[str]:
        """Computed methods (not controls) in the run's configured order (``position`` in methods.json, e.g. the
        paper's SD, TI, DB, EmoGen); a run that recorded no order: baseline first, then alphabetical."""
        names = set(self.methods) | set(self.summary["method"]) if not self.summary.empty else set(self.methods)
        names = {m for m in names if not is_control(m)}
        base = self.baseline

        def place(m: str) -> tuple[int, int, str]:
            pos = self.methods.get(m, {}).get("position")
            return (0, int(pos), m) if pos is not None else (1, 0 if m == base else 1, m)
        return sorted(names, key=place)

    def display_name(self, method: str) -> str:
        """The name the method's plugin declared for reports (recorded in methods.json), else its id."""
        return str(self.methods.get(method, {}).get("display_name") or method)

    def status(self, method: str) -> tuple[str, str | None]:
        """ok | failed (+ reason), from methods.json, else from the summary's status column."""
        info = self.methods.get(method, {})
        status, reason = str(info.get("status", "ok")), info.get("reason")
        if status == "ok" and not self.summary.empty:
            rows = self.summary[(self.summary["method"] == method) & (self.summary["status"] == "failed")]
            ok = self.summary[(self.summary["method"] == method) & (self.summary["status"] == "ok")]
            if len(rows) and not len(ok):
                status, reason = "failed", str(rows["reason"].iloc[0] or "failed while scoring")
        return status, reason


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise EmobenchError(f"{path} is not valid JSON ({err.msg}, line {err.lineno})",
                            "re-run the step that writes it, or restore the file") from err


def _opt_json(path: Path, default: Any) -> Any:
    return _read_json(path) if path.is_file() else default


def _read_summary(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        df = pd.read_csv(path, keep_default_na=False, na_values=[""])  # a method called "NA" stays a name
    else:
        data = _read_json(path)
        rows = data.get("rows", data) if isinstance(data, dict) else data
        df = pd.DataFrame(rows)
    missing = [c for c in ("method", "metric", "emotion", "value") if c not in df.columns]
    if missing:
        raise EmobenchError(f"{path} lacks column(s) {', '.join(missing)}",
                            f"re-run `emobench score {path.parent}` to rewrite it")
    for col in SUMMARY_COLUMNS:
        if col not in df.columns:
            df[col] = math.nan
    df = df[list(SUMMARY_COLUMNS)].copy()
    for col in ("method", "emotion", "metric", "kind", "status", "warning", "reason", "protocol"):
        df[col] = df[col].where(df[col].notna(), "").astype(str)
    df.loc[df["status"] == "", "status"] = "ok"
    df.loc[df["kind"] == "", "kind"] = df["method"].map(lambda m: "control" if is_control(m) else "method")
    for col in NUMERIC_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def _normalise_confusion(raw: Any) -> dict[str, dict[str, Any]]:
    """Accept ``{method: {"labels", "counts"}}``, ``{method: [[..]]}`` or ``{"methods": {...}}``."""
    from emobench.emotions import EMOTIONS

    if isinstance(raw, dict) and "methods" in raw and isinstance(raw["methods"], dict):
        raw = raw["methods"]
    out: dict[str, dict[str, Any]] = {}
    for method, val in (raw or {}).items():
        if isinstance(val, dict):
            counts = val.get("counts") or val.get("matrix")
            labels = list(val.get("labels") or EMOTIONS)
        else:
            counts, labels = val, list(EMOTIONS)
        if counts is not None:
            out[str(method)] = {"labels": labels, "counts": [[int(x) for x in row] for row in counts]}
    return out


def load_run(path: str | Path) -> RunData:
    root = Path(path)
    if not root.is_dir():
        raise EmobenchError(f"run directory {root} does not exist", "pass the folder `emobench run` created")
    summary_path = next((root / n for n in ("summary.csv", "summary.json") if (root / n).is_file()), None)
    if summary_path is None:
        if not (root / "manifest.jsonl").is_file() and not (root / "plan.json").is_file():
            raise EmobenchError(f"{root} is not an emobench run directory (no plan.json or manifest.jsonl)",
                                "pass the folder `emobench run` created")
        raise EmobenchError(f"run {root} has no scores (summary.csv is missing)",
                            f"run `emobench score {root}` first")
    records = read_manifest(root, required=False)
    scores_path = root / "scores.csv"
    scores = pd.read_csv(scores_path) if scores_path.is_file() else pd.DataFrame(columns=SCORE_COLUMNS)
    if not scores.empty:
        scores["metric"] = scores["metric"].astype(str)
    summary_json = _opt_json(root / "summary.json", {})
    directions = {}
    scoring: dict[str, Any] = {}
    if isinstance(summary_json, dict):
        scoring = {k: v for k, v in summary_json.items() if k != "rows"}
        for name, meta in (summary_json.get("metrics") or {}).items():
            if isinstance(meta, dict) and "higher_is_better" in meta:
                directions[name] = bool(meta["higher_is_better"])
    methods = _opt_json(root / "methods.json", {})
    if isinstance(methods, list):  # tolerate a list of {"name": ...} entries
        methods = {m["name"]: m for m in methods}
    return RunData(
        roots=[root],
        config=_opt_json(root / "config.json", {}),
        zoo=_opt_json(root / "zoo.json", {}),
        plan=_opt_json(root / "plan.json", {}),
        records=records,
        methods=methods,
        summary=_read_summary(summary_path),
        scores=scores,
        confusion=_normalise_confusion(_opt_json(root / "confusion.json", {})),
        metric_directions=directions,
        scoring=scoring,
        protocol=_opt_json(root / "protocol.json", {}),
    )


def _keys_by_method(run: RunData) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in run.records:
        out.setdefault(r.method, set()).add(r.key)
    return out


def merge_runs(runs: list[RunData]) -> RunData:
    """One report from several runs of the same plan, scored by the same judges.

    Refuses (naming the difference) when plan hash, judges hash or baseline differ, or when one method
    appears in two runs with different images; a method present in several runs with the same images is
    taken once, from the first run.
    """
    if not runs:
        raise EmobenchError("no run directories given", "pass at least one RUN_DIR")
    first = runs[0]
    for other in runs[1:]:
        if first.fingerprint != other.fingerprint:   # numbers of two protocols never share a column
            raise EmobenchError(
                f"cannot merge runs {first.root} and {other.root}: their protocols differ "
                f"({first.fingerprint or 'not recorded'} vs {other.fingerprint or 'not recorded'}"
                f"{': ' + ', '.join(protocol_differences(first, other)) if protocol_differences(first, other) else ''})",
                "report them separately (`emobench report` makes one table per protocol)")
        for what, a, b in (("plan_hash (plan.json)", first.plan_hash, other.plan_hash),
                           ("judges_hash (zoo.json)", first.judges_hash, other.judges_hash),
                           ("baseline (config.json)", first.baseline, other.baseline)):
            if a != b:
                raise EmobenchError(
                    f"cannot merge runs {first.root} and {other.root}: their {what} differs ({a} vs {b})",
                    "report them separately, or re-run one with the other's plan, zoo and baseline")
    merged = RunData(roots=[], config=dict(first.config), zoo=dict(first.zoo), plan=dict(first.plan),
                     records=[], methods={}, summary=first.summary.iloc[0:0].copy(),
                     scores=first.scores.iloc[0:0].copy(), confusion={}, metric_directions={},
                     scoring={**first.scoring, "display": {}}, protocol=dict(first.protocol))
    seen_keys: dict[str, tuple[Path, set[str]]] = {}
    summaries, scores = [], []
    for run in runs:
        merged.roots.append(run.root)
        keys = _keys_by_method(run)
        names = set(run.methods) | set(run.summary["method"]) | set(keys)
        take = set()
        for m in sorted(names):
            if m in seen_keys:
                src, prev = seen_keys[m]
                if not is_control(m) and keys.get(m, set()) != prev:
                    raise EmobenchError(
                        f"cannot merge runs {src} and {run.root}: method {m!r} has different images in each",
                        "report them separately, or drop the method from one run")
                continue
            seen_keys[m] = (run.root, keys.get(m, set()))
            take.add(m)
        merged.records += [r for r in run.records if r.method in take]
        merged.methods.update({m: v for m, v in run.methods.items() if m in take})
        summaries.append(run.summary[run.summary["method"].isin(take)])
        if not run.scores.empty:
            scores.append(run.scores[run.scores["method"].isin(take)])
        merged.confusion.update({m: v for m, v in run.confusion.items() if m in take})
        for k, v in run.metric_directions.items():
            merged.metric_directions.setdefault(k, v)
        for k, v in run.display.items():
            merged.scoring.setdefault("display", {}).setdefault(k, v)
    merged.summary = pd.concat(summaries, ignore_index=True)
    if scores:
        merged.scores = pd.concat(scores, ignore_index=True)
    merged.records.sort(key=lambda r: (r.method, r.emotion, r.template, r.seed))
    if len(runs) > 1:
        merged.config["methods_merged_from"] = [str(p.name) for p in merged.roots]
    return merged


def protocol_differences(a: RunData, b: RunData) -> list[str]:
    """The protocol fields in which two runs differ (empty when either recorded no protocol)."""
    if not a.protocol or not b.protocol:
        return []
    from emobench.spec.protocol import Protocol

    return Protocol.from_json(a.protocol).differences(Protocol.from_json(b.protocol))


def group_by_protocol(runs: list[RunData]) -> list[list[RunData]]:
    """Runs grouped by protocol fingerprint, in the order their first run was given."""
    groups: dict[str, list[RunData]] = {}
    for run in runs:
        groups.setdefault(run.fingerprint, []).append(run)
    return list(groups.values())


def load_runs(paths: list[str | Path]) -> RunData:
    return merge_runs([load_run(p) for p in paths])
