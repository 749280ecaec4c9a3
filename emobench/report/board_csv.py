"""The leaderboard as CSV: one row per method, control and reference row, every column's value, interval,
paired difference, Holm p-value and mark, the ceiling mark (``<column>_above``), the Δ's interval at the level
Holm tested it at, the interval's procedure or why there is none, and the p-value's note. Deterministic bytes."""
from __future__ import annotations

import csv
import io
import math

from emobench.report.leaderboard import BoardEntry, Leaderboard, entry_mark


def _num(x: float) -> str:
    # repr: the shortest text that reads back to the same float, identical on every platform
    return "" if x is None or math.isnan(x) else repr(float(x))


def to_csv(lb: Leaderboard) -> str:
    fields = ["section", "method", "display_name", "status", "reason", "n", "n_fits", "protocol"]
    for s in lb.specs + lb.judge_specs:
        k = s.key
        fields += [k, f"{k}_ci_low", f"{k}_ci_high", f"{k}_best", f"{k}_diff", f"{k}_diff_ci_low",
                   f"{k}_diff_ci_high", f"{k}_p_value", f"{k}_p_holm", f"{k}_mark", f"{k}_above",
                   f"{k}_diff_holm_low", f"{k}_diff_holm_high", f"{k}_interval", f"{k}_ci_note", f"{k}_p_note"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(fields)
    for r in lb.rows + lb.control_methods + lb.controls + lb.references:
        section = {"reference": "reference (paper-reported, not computed)"}.get(r.kind, r.kind)
        # reference rows carry the reported protocol's key, computed rows the run's fingerprint
        proto = (lb.reference.key if lb.reference is not None else "") if r.kind == "reference" else lb.protocol
        line = [section, r.method, lb.display_names.get(r.method, r.method), r.status if r.kind != "reference" else "",
                r.reason or "", str(r.n_images) if r.n_images is not None else "",
                str(r.n_fits) if r.kind != "reference" else "", proto]
        for s in lb.specs + lb.judge_specs:
            e = r.entries.get(s.key, BoardEntry())
            line += [_num(e.value), _num(e.ci_low), _num(e.ci_high), "1" if e.best else "",
                     _num(e.diff), _num(e.diff_ci_low), _num(e.diff_ci_high), _num(e.p_value), _num(e.p_holm),
                     entry_mark(s, e), e.above, _num(e.diff_holm_low), _num(e.diff_holm_high), e.interval,
                     e.ci_note, e.p_note]
        w.writerow(line)
    return buf.getvalue()
