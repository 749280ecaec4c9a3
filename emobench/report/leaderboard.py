"""The leaderboard: one row per method with every metric's pooled value and CI, the paired difference
against the baseline with Holm-corrected marks, controls apart, failed methods with their reason, and
(paper scale only) the paper's Table 1 as separate reference rows. Rendered as Markdown and CSV with
deterministic bytes: no dates, no absolute paths, fixed number formats and row order.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from emobench.spec.protocol import ReferenceProtocol
from emobench.rundir.layout import ALL
from emobench.report.row_marks import mark_rows
from emobench.report.metrics_display import MetricSpec, is_main, ordered_specs
from emobench.report.ceilings import Ceiling, ceilings
from emobench.report.reference import REFERENCE_TABLES, reference_protocol, why_no_reference
from emobench.report.marks import (BETTER, INTERVAL_LEGEND, MARK_LEGEND, SIG_LEVELS, WORSE, diff_bounds,  # noqa: F401
                                   entry_mark, sig_mark)
from emobench.report.reported import reported_cells
from emobench.rundir.results import RunData, is_control


@dataclass
class BoardEntry:
    value: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: float = math.nan
    diff: float = math.nan
    diff_ci_low: float = math.nan
    diff_ci_high: float = math.nan
    p_value: float = math.nan
    p_holm: float = math.nan
    best: bool = False
    warning: str = ""
    display: str = ""     # verbatim text (paper-reported values keep the paper's own precision)
    p_note: str = ""      # which test gave the p-value, or why there is none
    above: str = ""       # "above real images": beyond a control's interval the metric names (report.ceilings)
    ci_note: str = ""     # why there is no interval (one fit of a learning method)
    interval: str = ""    # the value interval's procedure
    diff_holm_low: float = math.nan    # the Δ's interval at the level Holm tested it at
    diff_holm_high: float = math.nan

    @property
    def has_value(self) -> bool:
        return not math.isnan(self.value)


@dataclass
class BoardRow:
    method: str
    kind: str                        # "method" | "baseline" | "control" | "failed" | "reference"
    status: str = "ok"
    reason: str | None = None
    entries: dict[str, BoardEntry] = field(default_factory=dict)
    n_fits: int = 1                  # fits of a learning method the values average (``--fit-seeds``)

    @property
    def n_images(self) -> int | None:
        ns = [e.n for e in self.entries.values() if not math.isnan(e.n)]
        return int(max(ns)) if ns else None


@dataclass
class Leaderboard:
    specs: list[MetricSpec]
    rows: list[BoardRow]                  # computed methods (baseline first), then failed
    controls: list[BoardRow]
    references: list[BoardRow]            # paper Table 1, only at paper scale
    baseline: str | None
    facts: dict[str, str]            # provenance shown in the header
    problems: list[str] = field(default_factory=list)   # what `emobench score` reported and skipped
    scale_notes: dict[str, str] = field(default_factory=dict)   # column → why its scale differs from the paper's
    display_names: dict[str, str] = field(default_factory=dict)  # method id → name its plugin declared
    reference_absent: str = ""       # why the paper's Table 1 is not shown (empty when it is)
    protocol: str = ""                    # the computed rows' protocol fingerprint
    reference: ReferenceProtocol | None = None   # the paper protocol of ``references`` (None: no references)
    control_methods: list[BoardRow] = field(default_factory=list)   # Method.control rows (methods.json), unranked
    judge_specs: list[MetricSpec] = field(default_factory=list)     # per-judge Emo-A columns (judges section)
    row_notes: dict[str, str] = field(default_factory=dict)   # method → note under the tables (†, § rows)
    ceilings: list[Ceiling] = field(default_factory=list)            # report.ceilings: what is marked and why

    def ceiling_notes(self) -> list[str]:
        return [c.sentence(self.display_names) for c in self.ceilings if c.methods]

    @property
    def main_specs(self) -> list[MetricSpec]:
        return [s for s in self.specs if is_main(s)]

    @property
    def extra_specs(self) -> list[MetricSpec]:
        return [s for s in self.specs if not is_main(s)]

    def warnings(self) -> list[str]:
        """Distinct warnings the scorer attached to pooled values of ranked methods (e.g. FID at small n)."""
        seen: dict[str, None] = {}
        for r in self.rows:
            for s in self.specs:
                e = r.entries.get(s.key)
                if e is not None and e.warning:
                    seen.setdefault(f"{s.label}: {e.warning}", None)
        return list(seen)


def _fits(run: RunData, method: str) -> int:
    fits = (run.methods.get(method) or {}).get("fits")
    return len(fits) if isinstance(fits, list) and fits else 1


def _entries(run: RunData, method: str) -> dict[str, BoardEntry]:
    df = run.summary
    sel = df[(df["method"] == method) & (df["emotion"] == ALL) & (df["status"] == "ok")]
    out = {}
    for rec in sel.to_dict("records"):
        out[rec["metric"]] = BoardEntry(**{k: float(rec[k]) for k in (
            "value", "ci_low", "ci_high", "n", "diff", "diff_ci_low", "diff_ci_high", "p_value", "p_holm")},
            warning=str(rec.get("warning") or ""), p_note=_text(rec.get("p_note")),
            ci_note=_text(rec.get("ci_note")), interval=_text(rec.get("interval")),
            diff_holm_low=_float(rec.get("diff_ci_holm_low")), diff_holm_high=_float(rec.get("diff_ci_holm_high")))
    return out


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _float(v) -> float:
    try:
        return float(v) if v is not None and v != "" else math.nan
    except (TypeError, ValueError):
        return math.nan


def paper_reference_rows(table: str = "paper_table1.csv") -> list[BoardRow]:
    text = resources.files("emobench.report").joinpath(table).read_text()
    rows = []
    for rec in csv.DictReader(io.StringIO(text)):
        # a "<metric>_reported" column holds the value as the paper prints it (e.g. "70.77%")
        entries = {k: BoardEntry(value=float(v), display=v) for k, v in rec.items()
                   if k != "method" and not k.endswith("_reported") and v not in ("", None)}
        for k, v in rec.items():
            if k.endswith("_reported") and v and k[:-len("_reported")] in entries:
                entries[k[:-len("_reported")]].display = v
        rows.append(BoardRow(method=f"{rec['method']} (paper-reported)", kind="reference", entries=entries))
    return rows


def with_reported_intervals(rows: list[BoardRow], key: str) -> list[BoardRow]:
    """Reference rows with the Wilson interval of each reported percentage whose n the paper states."""
    for c in reported_cells(key):
        e = next((r.entries.get(c.column) for r in rows if r.method == f"{c.method} (paper-reported)"), None)
        if e is not None and c.wilson_low is not None:
            e.ci_low, e.ci_high = c.wilson_low, c.wilson_high
    return rows


def build(run: RunData) -> Leaderboard:
    specs = ordered_specs(sorted(set(run.summary["metric"])), run.display, run.metric_directions)
    # per-judge columns (display fact "judge") are shown by the judges section, with trained_against greyed
    judge_specs = [s for s in specs if (run.display.get(s.key) or {}).get("judge")]
    specs = [s for s in specs if s not in judge_specs]
    base = run.baseline
    rows, failed, control_methods = [], [], []
    for m in run.method_names():
        status, reason = run.status(m)
        entries = _entries(run, m)
        if status != "ok":
            failed.append(BoardRow(m, "failed", status, reason or "no reason recorded", entries))
        elif entries and run.methods.get(m, {}).get("control"):   # a control method: shown apart, never best
            control_methods.append(BoardRow(m, "control-method", status, None, entries))
        elif entries:
            rows.append(BoardRow(m, "baseline" if m == base else "method", status, None, entries, _fits(run, m)))
        else:
            failed.append(BoardRow(m, "failed", "unscored", "no scores in summary (run `emobench score` again)"))
    # Best per column among computed rows only: never controls, never reference rows.
    for spec in specs:
        if spec.higher_is_better is None:
            continue
        vals = [r.entries[spec.key].value for r in rows if spec.key in r.entries and r.entries[spec.key].has_value]
        if len(vals) < 2 or len(set(vals)) == 1:  # a column where every method ties has no best
            continue
        best = max(vals) if spec.higher_is_better else min(vals)
        for r in rows:
            e = r.entries.get(spec.key)
            if e is not None and e.has_value and e.value == best:
                e.best = True
    control_names = {m for m, k in zip(run.summary["method"], run.summary["kind"]) if k == "control" or is_control(m)}
    controls = [BoardRow(m, "control", entries=_entries(run, m)) for m in sorted(control_names)]
    ref = reference_protocol(run)
    # EmoGen's Table 1 also needs the paper's judges, size and n (report.reference); say why when it is absent
    absent = why_no_reference(run) if ref is None or ref.key == "emogen-paper" else None
    if ref is not None and absent:
        ref = None
    if ref is None and not absent:
        absent = "the run's protocol is not a paper's (see docs/protocols.md)"
    references = with_reported_intervals(paper_reference_rows(REFERENCE_TABLES[ref.key]), ref.key) if ref else []
    facts: dict[str, str] = {}
    if run.zoo:
        name = str(run.zoo.get("name", "?"))
        # A zoo given as a folder is shown by its folder name: a machine's paths never enter the leaderboard.
        facts["zoo"] = f"{Path(name).name if '/' in name else name} (scale {run.scale})"
    if run.fingerprint:   # rows of one leaderboard share it; other protocols get their own table
        facts["protocol"] = f"{run.protocol.get('name', '?')} {run.fingerprint}"
    for key, val in (("plan_hash", run.plan_hash), ("judges_hash", run.judges_hash),
                     ("weights_hash", run.zoo.get("weights_hash")), ("config_hash", run.config.get("config_hash"))):
        if val:  # only what the run recorded; never a placeholder
            facts[key] = str(val)
    boot = run.scoring.get("bootstrap") or {}
    if boot.get("n_resamples"):
        facts["bootstrap"] = f"{boot['n_resamples']} resamples, seed {boot.get('seed', 0)}"
    if len(run.roots) > 1:
        facts["merged runs"] = ", ".join(p.name for p in run.roots)
    problems = [str(p) for p in run.scoring.get("problems") or []]
    notes = {s.key: str(run.display[s.key]["scale_note"]) for s in specs
             if (run.display.get(s.key) or {}).get("scale_note")}
    names, row_notes = mark_rows({r.method: run.display_name(r.method) for r in rows + failed + control_methods},
                                 run.methods)
    marked = ceilings(run)
    for c in marked:
        for r in rows + control_methods:
            if r.method in c.methods and c.column in r.entries:
                r.entries[c.column].above = c.mark
    return Leaderboard(specs, rows + failed, controls, references, base, facts, problems, notes, names, absent or "",
                       protocol=run.fingerprint, reference=ref, control_methods=control_methods,
                       judge_specs=judge_specs, row_notes=row_notes, ceilings=marked)


# ---------------------------------------------------------------- Markdown

def _cell(spec: MetricSpec, e: BoardEntry | None, with_ci: bool = True) -> str:
    if e is None or not e.has_value:
        return "–"
    v = e.display or spec.fmt(e.value)
    v = f"**{v}**" if e.best else v
    if with_ci and not (math.isnan(e.ci_low) or math.isnan(e.ci_high)):
        v += f" [{spec.fmt(e.ci_low)}, {spec.fmt(e.ci_high)}]"
    elif with_ci and e.ci_note:
        v += f" ({e.ci_note})"
    return f"{v} ({e.above})" if e.above else v


def _diff_cell(spec: MetricSpec, e: BoardEntry | None) -> str:
    if e is None or math.isnan(e.diff):
        return "–"
    text = spec.fmt(e.diff, signed=True)
    lo, hi = diff_bounds(e)
    if not (math.isnan(lo) or math.isnan(hi)):
        text += f" [{spec.fmt(lo, signed=True)}, {spec.fmt(hi, signed=True)}]"
    mark = entry_mark(spec, e)
    return f"{text} {mark}" if mark else text


def method_cell(lb: Leaderboard, method: str) -> str:
    """A method as a table shows it: the name its plugin declares, with the id the CLI and CSV use."""
    name = lb.display_names.get(method, method)
    return f"`{method}`" if name == method else f"{_esc(name)} (`{method}`)"


def _n_text(r: BoardRow) -> str:
    """Images per fit, and the number of fits when a method was fitted more than once."""
    n = str(r.n_images or "–")
    return f"{n} × {r.n_fits} fits" if r.n_fits > 1 else n


def _esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + [":---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(_esc(c) for c in row) + " |" for row in body]
    return lines


def to_markdown(lb: Leaderboard) -> str:
    main, extra = lb.main_specs, lb.extra_specs
    titles = [s.title for s in main]
    out = ["# emobench leaderboard", ""]
    out.append(" · ".join(f"{k}: `{v}`" for k, v in lb.facts.items()))
    out.append("")
    out.append(INTERVAL_LEGEND)
    out.append("")
    ok = [r for r in lb.rows if r.kind != "failed"]
    failed = [r for r in lb.rows if r.kind == "failed"]
    out += ["## Methods", ""]
    body = [[method_cell(lb, r.method) + (" (baseline)" if r.kind == "baseline" else ""), _n_text(r)]
            + [_cell(s, r.entries.get(s.key)) for s in main] for r in ok]
    out += _table(["Method", "n"] + titles, body) if body else ["No method produced scores."]
    out += [""] + [_esc(n) + "\n" for n in lb.row_notes.values()]
    out += [f"- {_esc(note)}" + "\n" for note in lb.ceiling_notes()]
    out += [f"Scale: {_esc(lb.scale_notes[s.key])}" + "\n" for s in lb.specs if s.key in lb.scale_notes]
    if lb.baseline and len(ok) > 1:
        out.append(f"## Paired difference vs the baseline `{lb.baseline}`")
        out.append("")
        out.append("Method minus baseline on the same cells. " + MARK_LEGEND)
        out.append("")
        body = [[method_cell(lb, r.method)] + [_diff_cell(s, r.entries.get(s.key)) for s in main]
                for r in ok if r.kind != "baseline"]
        out += _table(["Method"] + [f"Δ {t}" for t in titles], body)
        out.append("")
    if lb.control_methods:
        out.append("## Control methods (not ranked)")
        out.append("")
        out.append("Methods built as controls (`control = True` on the method, e.g. one that games a judge): "
                   "scored like the others, never ranked or marked best. Δ: vs the baseline on the same cells.")
        out.append("")
        body = [[method_cell(lb, r.method), str(r.n_images or "–")]
                + [_cell(s, r.entries.get(s.key)) + (f" (Δ {_diff_cell(s, r.entries.get(s.key))})"
                   if r.entries.get(s.key) is not None and not math.isnan(r.entries[s.key].diff) else "")
                   for s in main] for r in lb.control_methods]
        out += _table(["Control method", "n"] + titles, body)
        out.append("")
    if failed:
        out.append("## Failed methods")
        out.append("")
        out += _table(["Method", "Status", "Reason"], [[method_cell(lb, r.method), r.status, r.reason or ""] for r in failed])
        out.append("")
    if lb.controls:
        out.append("## Controls (not ranked)")
        out.append("")
        out.append("`real (control)`: held-out real images of the emotion dataset, scored like generated ones. "
                   "`shuffled (control)`: the same real images with their emotion labels shuffled (chance level).")
        out.append("")
        body = [[method_cell(lb, r.method), str(r.n_images or "–")] + [_cell(s, r.entries.get(s.key)) for s in main]
                for r in lb.controls]
        out += _table(["Control", "n"] + titles, body)
        out.append("")
    if extra:
        out.append("## Further metrics")
        out.append("")
        show = ok + lb.control_methods + lb.controls
        body = [[method_cell(lb, r.method)] + [_cell(s, r.entries.get(s.key)) + (
            f" (Δ {_diff_cell(s, r.entries.get(s.key))})" if r.kind in ("method", "control-method") and r.entries.get(s.key) is not None
            and not math.isnan(r.entries[s.key].diff) else "") for s in extra] for r in show]
        out += _table(["Method"] + [s.title for s in extra], body)
        out.append("")
    warnings = lb.warnings() + [f"skipped while scoring: {p}" for p in lb.problems]
    if warnings:
        out.append("Warnings from scoring:")
        out.append("")
        out += [f"- {_esc(w)}" for w in warnings]
        out.append("")
    if lb.references and lb.reference is not None and lb.reference.key != "emogen-paper":
        out.append(f"## Reference: {lb.reference.source} (reported, not computed here)")
        out.append("")
        out.append(f"Reported protocol: {lb.reference.description}. Same track as this run, other judges "
                   "and models: a reference only, never a row of this benchmark.")
        out.append("")
    elif lb.references:
        out.append("## Reference: the EmoGen paper's reported Table 1 (not computed here)")
        out.append("")
        out.append("Reported by Yang et al., CVPR 2024, Table 1 (`leaderboards/paper/table1.csv`). Other "
                   "judges, unseeded sampling and the official code's metric bugs (e.g. Sem-D's double rescale) "
                   "make these a reference only, never a row of this benchmark.")
        out.append("")
        body = [[r.method, "–"] + [_cell(s, r.entries.get(s.key), with_ci=False) for s in main]
                for r in lb.references]
        out += _table(["Reference", "n"] + titles, body)
        out.append("")
    elif lb.facts.get("protocol", "").startswith("content/"):
        out.append("EmoCtrl's reported Table 1 is not shown: its numbers come from another protocol (paper-scale "
                   "models, 45 elements and 31 captions, its own judges) and never share a column with these "
                   "(see `leaderboards/paper/`).")
        out.append("")
    else:
        out.append(f"The EmoGen paper's reported Table 1 is not shown: {_esc(lb.reference_absent)} "
                   "(see `leaderboards/paper/`).")
        out.append("")
    return "\n".join(out)
