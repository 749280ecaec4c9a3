"""The leaderboard as plain text for the terminal: one row per metric, one column per method, each cell the
pooled value with its 95% interval. ``emobench run`` prints it when a run is scored."""
from __future__ import annotations

import math

from emobench.report.leaderboard import BoardEntry, Leaderboard


def _cell(fmt, e: BoardEntry | None) -> str:
    if e is None or not e.has_value:
        return "–"
    text = fmt(e.value)
    if not (math.isnan(e.ci_low) or math.isnan(e.ci_high)):
        text += f" [{fmt(e.ci_low)}, {fmt(e.ci_high)}]"
    return text + (" *best" if e.best else "")


def to_text(lb: Leaderboard) -> str:
    """Every metric (headline ones first) × every scored method and control; methods as configured."""
    rows = [r for r in lb.rows if r.kind != "failed"] + lb.controls
    if not rows or not lb.specs:
        return ""
    # methods by the names their plugins declared, as the tables print them
    header = ["metric"] + [lb.display_names.get(r.method, r.method) + (" (baseline)" if r.kind == "baseline" else "")
                           for r in rows]
    body = [[s.title] + [_cell(s.fmt, r.entries.get(s.key)) for r in rows] for s in lb.specs]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))).rstrip()
             for line in [header] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
