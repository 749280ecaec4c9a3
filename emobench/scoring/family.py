"""Holm's correction over one family per table, each distinct test counted once.

A table of the report is one emotion level of the summary (the leaderboard shows the ``all`` level): every
method × column difference against the baseline that carries a p-value is one hypothesis. A column whose
every row is identical to an earlier column's (the same value, Δ and p for every method and emotion, e.g.
``emo-a@<primary judge>``, which is ``emo-a`` computed again) is the same test: it is left out of the family
and takes the earlier column's Holm p and interval, so repeating a column never costs another a mark. A column
that declares ``same_per_emotion_as`` (display fact: intra-FID's per-emotion rows are FID's) is the same test
as that column at every emotion level below ``all`` where their rows are indeed identical; its ``all`` row is
a test of its own.

Beside Holm's p (``p_holm``) every tested difference gets its interval at the level Holm tested it at
(``diff_ci_holm_low/high``, ``intervals.holm_levels``): a difference is marked exactly when that interval
excludes 0, so the report can print the interval the mark reads from.
"""
from __future__ import annotations

import math
from typing import Sequence

from emobench.rundir.layout import ALL, SummaryRow
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


def level_aliases(rows: Sequence[SummaryRow], declared: dict[str, str]) -> dict[tuple[str, str], str]:
    """(column, emotion) → the column it repeats at that emotion level, for columns that declare
    ``same_per_emotion_as`` (``declared``): below the ``all`` level, where both columns carry tests and every
    method's value, Δ and p agree (a declaration the numbers do not bear out is ignored)."""
    sig: dict[tuple[str, str], list[tuple]] = {}
    tested: set[tuple[str, str]] = set()
    for r in rows:
        if r.status != "ok" or r.emotion == ALL:
            continue
        sig.setdefault((r.metric, r.emotion), []).append((r.method, _sig(r.value), _sig(r.diff), _sig(r.p_value)))
        if math.isfinite(r.p_value):
            tested.add((r.metric, r.emotion))
    out: dict[tuple[str, str], str] = {}
    for (col, emotion), s in sig.items():
        target = declared.get(col)
        if not target or target == col or (col, emotion) not in tested or (target, emotion) not in tested:
            continue
        if sorted(s) == sorted(sig[(target, emotion)]):
            out[(col, emotion)] = target
    return out


def apply_holm(rows: list[SummaryRow], alpha: float = 0.05,
               same_per_emotion: dict[str, str] | None = None) -> dict[str, str]:
    """Set ``p_holm`` and the Holm-level interval of every tested row, one family per emotion level;
    returns the aliases found (column → the column it repeats). ``same_per_emotion``: column → the column
    its per-emotion rows repeat, as the metrics declare it (display fact ``same_per_emotion_as``)."""
    aliases = column_aliases(rows)
    by_level = level_aliases(rows, same_per_emotion or {})
    position = {c: i for i, c in enumerate(dict.fromkeys(r.metric for r in rows))}
    canonical: dict[tuple[str, str], str] = {}   # (column, emotion) → the first column of its test (row order)
    for emotion in dict.fromkeys(r.emotion for r in rows):
        parent = {c: c for c in position}

        def find(c: str) -> str:
            while parent[c] != c:
                c = parent[c]
            return c

        links = list(aliases.items()) + [(c, t) for (c, e), t in by_level.items() if e == emotion]
        for col, target in links:
            a, b = find(col), find(target)
            if a != b:   # the earlier column of the two leads
                parent[max(a, b, key=position.__getitem__)] = min(a, b, key=position.__getitem__)
        for col in position:
            if find(col) != col:
                canonical[(col, emotion)] = find(col)

    def alias_of(r: SummaryRow) -> str | None:
        return canonical.get((r.metric, r.emotion))

    families: dict[str, list[SummaryRow]] = {}
    for r in rows:
        r.p_holm = r.diff_ci_holm_low = r.diff_ci_holm_high = math.nan
        if math.isfinite(r.p_value) and alias_of(r) is None:
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
        target = alias_of(r) if math.isfinite(r.p_value) else None
        if target is not None:
            c = canon.get((r.method, target, r.emotion))
            if c is not None:
                r.p_holm, r.diff_ci_holm_low, r.diff_ci_holm_high = c.p_holm, c.diff_ci_holm_low, c.diff_ci_holm_high
                note = f"same test as {target} (counted once)"
                if note not in r.p_note:
                    r.p_note = f"{r.p_note}; {note}" if r.p_note else note
    return aliases
