"""The paper-reported tables with the uncertainty their own numbers carry.

A reported accuracy of p % over n images is k = p·n/100 images; when n is stated, k must be a whole number (to
the printed precision), and the 95 % Wilson score interval of k / n is what the number means at that n. For each
percentage column (one whose ``<column>_reported`` text ends in ``%``) of a reference table whose protocol states
n (``STATED_N``), this module gives the count, the check, and the interval. A percentage that is no whole count
of the stated n is reported with the counts it *is* whole for, near the stated n (EmoCtrl Table 1's DreamBooth
row: 33.75 % is 205.2 of 608, but 243 of 720, and its other two percentages are whole counts of 720 too); its
interval then uses that n, and says so. A table whose protocol states no n (EmoGen Table 1) gets no interval.

``emobench agree --reported`` prints these; ``leaderboards/paper/reported_intervals.{csv,md}`` are its output.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from importlib import resources

from emobench.report.reference import REFERENCE_TABLES

# What each reference protocol states about its number of images per method (None: not stated).
STATED_N: dict[str, tuple[int | None, str]] = {
    "emogen-paper": (None, "Table 1 states no number of images per method (the official evaluation code draws "
                           "10 per emotion by default, the paper says nothing)"),
    "emoctrl-paper": (608, "45 content elements + 31 captions, × 8 emotions: 608 images per method"),
}
# Reported method names that are another name of an emobench method's display name.
ALIASES: dict[str, dict[str, str]] = {"emoctrl-paper": {"SD-1.5": "Stable Diffusion"}}
Z95 = 1.959963984540054


@dataclass(frozen=True)
class ReportedCell:
    table: str            # protocol key of the reference table
    method: str
    column: str
    reported: str         # as printed ("33.75%")
    n_stated: int | None
    count: float | None   # p · n_stated / 100
    whole: bool | None    # a whole count of n_stated (to the printed precision)
    n_used: int | None    # the n of the interval: n_stated, or the nearest n the row's numbers are counts of
    wilson_low: float | None
    wilson_high: float | None
    check: str            # one sentence


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of k successes in n (equals ``scipy.stats.binomtest(k, n).proportion_ci('wilson')``)."""
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def _decimals(text: str) -> int:
    num = text.strip().rstrip("%")
    return len(num.split(".", 1)[1]) if "." in num else 0


def counts(percent: float, decimals: int, n: int) -> list[int]:
    """The whole counts k of n that print as ``percent`` at ``decimals`` decimals."""
    half = 0.5 * 10 ** -decimals + 1e-9
    lo, hi = math.ceil((percent - half) * n / 100), math.floor((percent + half) * n / 100)
    return [k for k in range(max(0, lo), min(n, hi) + 1)]


def consistent_ns(row: list[tuple[float, int]], stated: int, span: float = 0.5) -> list[int]:
    """The n within ``stated · (1 ± span)`` of which every (percent, decimals) of a row is a whole count,
    nearest to ``stated`` first."""
    lo, hi = max(1, int(stated * (1 - span))), int(stated * (1 + span))
    ns = [n for n in range(lo, hi + 1) if all(counts(p, d, n) for p, d in row)]
    return sorted(ns, key=lambda n: (abs(n - stated), n))


def _table_rows(key: str) -> list[dict[str, str]]:
    text = resources.files("emobench.report").joinpath(REFERENCE_TABLES[key]).read_text()
    return list(csv.DictReader(io.StringIO(text)))


def reported_cells(key: str) -> list[ReportedCell]:
    """Every reported percentage of the table ``key`` with its count check and Wilson interval."""
    n_stated, _ = STATED_N.get(key, (None, ""))
    out = []
    for rec in _table_rows(key):
        cols = [c[: -len("_reported")] for c, v in rec.items()
                if c.endswith("_reported") and str(v or "").strip().endswith("%")]
        row = [(float(rec[f"{c}_reported"].strip().rstrip("%")), _decimals(rec[f"{c}_reported"])) for c in cols]
        if n_stated is None:
            out += [ReportedCell(key, rec["method"], c, rec[f"{c}_reported"], None, None, None, None, None, None,
                                 "n not stated: no count check, no interval") for c in cols]
            continue
        row_whole = all(counts(p, d, n_stated) for p, d in row)
        alt = [] if row_whole else consistent_ns(row, n_stated)
        n_used = n_stated if row_whole else (alt[0] if alt else None)
        for c, (p, d) in zip(cols, row):
            ks = counts(p, d, n_stated)
            if ks:
                check = f"a whole count of the stated n: {ks[0]}/{n_stated}"
            elif alt:
                others = ", ".join(str(n) for n in alt[:3])
                check = (f"not a whole count of the stated n = {n_stated} ({p * n_stated / 100:.2f}/{n_stated}); "
                         f"the row's percentages are whole counts of n = {others} ({counts(p, d, alt[0])[0]}/{alt[0]})")
            else:
                check = f"not a whole count of the stated n = {n_stated}, nor of any n near it"
            lo = hi = None
            if n_used is not None and (k := counts(p, d, n_used)):
                lo, hi = wilson(k[0], n_used)
            out.append(ReportedCell(key, rec["method"], c, rec[f"{c}_reported"], n_stated,
                                    round(p * n_stated / 100, 4), bool(ks), n_used, lo, hi, check))
    return out


def all_reported() -> list[ReportedCell]:
    return [c for key in REFERENCE_TABLES for c in reported_cells(key)]


def _num(x: float | None) -> str:
    return "" if x is None else repr(round(float(x), 6))


def to_csv(cells: list[ReportedCell]) -> str:
    buf = io.StringIO()
    fields = list(asdict(cells[0])) if cells else []
    w = csv.DictWriter(buf, fields, lineterminator="\n")
    w.writeheader()
    for c in cells:
        w.writerow({k: (_num(v) if isinstance(v, float) else "" if v is None else v) for k, v in asdict(c).items()})
    return buf.getvalue()


def to_markdown(cells: list[ReportedCell]) -> str:
    lines = ["# Reported percentages with their uncertainty", "",
             "Generated by `emobench agree --reported` (emobench/report/reported.py). A reported p % of n images is "
             "k = p·n/100 images: the check says whether k is a whole number (at the printed precision), and the "
             "95% Wilson score interval is what p means at that n. Tables whose protocol states no n get neither.", ""]
    for key in dict.fromkeys(c.table for c in cells):
        n, why = STATED_N.get(key, (None, ""))
        lines += [f"## `{key}` ({REFERENCE_TABLES[key]})", "", f"Stated n: {n if n is not None else 'none'} — {why}.", ""]
        mine = [c for c in cells if c.table == key]
        if n is None:
            lines += ["No interval: " + ", ".join(sorted({f"`{c.column}`" for c in mine})) + " reported without n.", ""]
            continue
        lines += ["| method | column | reported | count of n | 95% Wilson interval | check |", "|---|---|---:|---:|:---:|---|"]
        for c in mine:
            ci = (f"[{c.wilson_low * 100:.1f}%, {c.wilson_high * 100:.1f}%] (n = {c.n_used})"
                  if c.wilson_low is not None else "–")
            lines.append(f"| {c.method} | {c.column} | {c.reported} | {c.count:.2f}/{c.n_stated} | {ci} | {c.check} |")
        lines.append("")
    return "\n".join(lines)
