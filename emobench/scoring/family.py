"""Holm's correction over one family per table, each distinct test counted once.

A table of the report is one emotion level of the summary (the leaderboard shows the ``all`` level): every
method × column difference against the baseline that carries a p-value is one hypothesis. A column whose
every row is identical to an earlier column's (the same value, Δ and p for every method and emotion, e.g.
``emo-a@<primary judge>``, which is ``emo-a`` computed again) is the same test: it is left out of the family
and takes the earlier column's Holm p and interval, so repeating a column never costs another a mark.

Beside Holm's p (``p_holm``) every tested difference gets its interval at the level Holm tested it at
(``diff_ci_holm_low/high``, ``intervals.holm_levels``): a difference is marked exactly when that interval
excludes 0, so the report can print the interval the mark reads from.
"""
from __future__ import annotations

import math
from typing import Sequence

from emobench.rundir.layout import SummaryRow
from emobench.scoring.intervals import from_spec, holm_levels
from emobench.scoring.stats import holm


def _sig(x: float) -> str:
    return repr(float(x)) if x is not None else "nan"


def column_aliases(rows: Sequence[SummaryRow]) -> dict[str, str]:
    """column → the earlier column (in row order) it duplicates, for columns that carry a test."""
    rows_of: dict[str, list[tuple]] = {}
    tested: set[str] = set()
    for r in rows:
        if r.status != "ok":
            continue
        rows_of.setdefault(r.metric, []).append((r.method, r.emotion, _sig(r.value), _sig(r.diff), _sig(r.p_value)))
        if math.isfinite(r.p_value):
            tested.add(r.metric)
    first: dict[tuple, str] = {}
    out: dict[str, str] = {}
    for col, sig in rows_of.items():
        key = tuple(sorted(sig))
        if key in first and col in tested:
            out[col] = first[key]
        else:
            first.setdefault(key, col)
    return out


def apply_holm(rows: list[SummaryRow], alpha: float = 0.05) -> dict[str, str]:
    """Set ``p_holm`` and the Holm-level interval of every tested row, one family per emotion level;
    returns the aliases found (column → the column it repeats)."""
    aliases = column_aliases(rows)
    families: dict[str, list[SummaryRow]] = {}
    for r in rows:
        r.p_holm = r.diff_ci_holm_low = r.diff_ci_holm_high = math.nan
        if math.isfinite(r.p_value) and r.metric not in aliases:
            families.setdefault(r.emotion, []).append(r)
    for fam in families.values():
        ps = [r.p_value for r in fam]
        for r, p, level in zip(fam, holm(ps), holm_levels(ps, alpha)):
            r.p_holm = p
            iv = from_spec(r.extra.get("diff_spec"))
            if iv is not None:
                r.diff_ci_holm_low, r.diff_ci_holm_high = iv.bounds(level)
    canon = {(r.method, r.metric, r.emotion): r for r in rows}
    for r in rows:
        if r.metric in aliases and math.isfinite(r.p_value):
            c = canon.get((r.method, aliases[r.metric], r.emotion))
            if c is not None:
                r.p_holm, r.diff_ci_holm_low, r.diff_ci_holm_high = c.p_holm, c.diff_ci_holm_low, c.diff_ci_holm_high
                note = f"same test as {aliases[r.metric]} (counted once)"
                if note not in r.p_note:
                    r.p_note = f"{r.p_note}; {note}" if r.p_note else note
    return aliases
