"""Ceilings: a method scored above what real images score is marked, in every table and figure.

A metric declares the comparison in its display facts (``summary.json``): ``above_control`` names the control
row whose 95 % interval is the ceiling (Emo-A: the real images, which the judge was trained to read), and
``above_control_note`` says in one sentence what exceeding it usually means. A method whose pooled value lies
beyond the control's interval, in the metric's own direction, is marked "above <control> images" (e.g. "above
real images"); the note points at the run's coverage columns (display role ``coverage``) by their labels. The
report names no metric: everything comes from the recorded facts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from emobench.rundir.results import RunData, is_control
from emobench.rundir.layout import ALL


@dataclass
class Ceiling:
    column: str
    label: str                     # the column's title
    control: str                   # the control row whose interval is the ceiling
    mark: str                      # "above real images"
    note: str                      # what it usually means (the metric's sentence)
    low: float
    high: float                    # the control's interval
    value: float                   # the control's value
    percent: bool = False
    methods: list[str] = field(default_factory=list)   # marked methods (ranked and control methods)
    see: list[str] = field(default_factory=list)       # labels of the run's coverage columns

    def fmt(self, x: float) -> str:
        return f"{x * 100:.1f}%" if self.percent else f"{x:.3f}"

    def sentence(self, names: dict[str, str] | None = None) -> str:
        """One paragraph under a table: who is marked, against what, and what it usually means."""
        who = ", ".join((names or {}).get(m, m) for m in self.methods)
        see = f" (columns {', '.join(self.see)})" if self.see else ""
        noun = f"{self.control.removesuffix(' (control)')} images"
        return (f"{self.label} {self.mark}: {who} (beyond the {noun}' 95% interval, "
                f"{self.fmt(self.value)} [{self.fmt(self.low)}, {self.fmt(self.high)}]). {self.note}{see}.")


def mark_for(control: str) -> str:
    """``real (control)`` → ``above real images``."""
    return f"above {control.removesuffix(' (control)')} images"


def _row(run: RunData, method: str, column: str) -> tuple[float, float, float] | None:
    s = run.summary
    sel = s[(s["method"] == method) & (s["metric"] == column) & (s["emotion"] == ALL) & (s["status"] == "ok")]
    if sel.empty:
        return None
    r = sel.iloc[0]
    return float(r["value"]), float(r["ci_low"]), float(r["ci_high"])


def ceilings(run: RunData) -> list[Ceiling]:
    """Every declared ceiling of the run with the methods above it (none: an empty ``methods`` list)."""
    out = []
    roles = [(int(f.get("order", 100)), c, str(f.get("label") or c)) for c, f in run.display.items()
             if f.get("role") == "coverage" and c in set(run.summary["metric"])]
    see = [label for _, _, label in sorted(roles)]
    for col, facts in run.display.items():
        control = facts.get("above_control")
        if not control or col not in set(run.summary["metric"]):
            continue
        ctrl = _row(run, str(control), col)
        if ctrl is None or any(math.isnan(x) for x in ctrl):
            continue
        higher = facts.get("higher_is_better", True) is not False
        c = Ceiling(col, str(facts.get("label") or col), str(control), mark_for(str(control)),
                    str(facts.get("above_control_note") or ""), ctrl[1], ctrl[2], ctrl[0],
                    bool(facts.get("percent", False)), see=see)
        for m in run.method_names():
            if is_control(m) or run.status(m)[0] != "ok":
                continue
            row = _row(run, m, col)
            if row is not None and not math.isnan(row[0]) and (row[0] > c.high if higher else row[0] < c.low):
                c.methods.append(m)
        out.append(c)
    return out


def marks(run: RunData) -> dict[tuple[str, str], str]:
    """``(method, column) → mark`` for every marked value."""
    return {(m, c.column): c.mark for c in ceilings(run) for m in c.methods}
