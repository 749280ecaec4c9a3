"""Marks and brackets of a paired difference, and the legends that explain them (leaderboard, HTML, LaTeX and
the judges section read them from here).

A mark is read from Holm's p (one family per table, each distinct test once, ``scoring.family``); the bracket
beside a marked Δ is its interval at the level Holm tested it at, which excludes 0 exactly when the Δ is
marked, so the two never contradict each other.
"""
from __future__ import annotations

import math
from typing import Any

# Holm-corrected p-value thresholds → marks (the usual convention, spelled out under the table).
SIG_LEVELS = ((0.001, "***"), (0.01, "**"), (0.05, "*"))
# A significant difference is also told better or worse than the baseline by symbol (greyscale-safe), in the
# metric's own direction: a lower FID is "better".
BETTER, WORSE = "▲", "▼"
MARK_LEGEND = (f"`{BETTER}` better than the baseline, `{WORSE}` worse (in the metric's direction); "
               "Holm-corrected p-values (one family per table, each distinct test once): `*` p<0.05, `**` p<0.01, "
               "`***` p<0.001, `n.s.` not significant; `no test`: fewer than 4 cells per emotion, or a learning "
               "method with one fit. A tested Δ's bracket is its interval at the level Holm tested it at: it "
               "excludes 0 exactly when the Δ is marked (`leaderboard.csv` has the plain 95% interval too); a "
               "Δ with no test shows its 95% interval.")
INTERVAL_LEGEND = ("Values pooled over all emotions; brackets are 95% intervals over cells (emotion, prompt, seed), by "
                   "the statistic's kind: Wilson score intervals for accuracies, t intervals on a jackknife (or "
                   "unbiased U-statistic) variance for other means and set statistics such as FID, which cover the "
                   "value at this run's n (FID is biased at small n: compare FIDs at equal n only). A learning method "
                   "fitted K ≥ 2 times shows the mean over its fits and a random-effects interval over fits and cells "
                   "(for an accuracy, Wilson's on its effective n), its fit part on K − 1 degrees of freedom (with 2 "
                   "or 3 fits, or per emotion at 4 cells, its intervals err wide: measured coverage up to 99–100 %, "
                   "benchmarks/RESULTS.md); "
                   "fitted once, it shows \"1 fit: fit-to-fit spread not measured\" instead of an interval that "
                   "would ignore how much another fit moves it. What each interval is and how its coverage was "
                   "measured: docs/metrics.md. **Bold** marks the best computed method per column (↑ higher is better, "
                   "↓ lower is better).")


def sig_mark(p: float, diff: float = math.nan, higher_is_better: bool | None = None) -> str:
    """``***``/``**``/``*``/``n.s.`` from a Holm p-value; a significant mark is prefixed with ``▲`` (better
    than the baseline) or ``▼`` (worse) when the difference and the metric's direction are known."""
    if p is None or math.isnan(p):
        return ""
    for level, mark in SIG_LEVELS:
        if p < level:
            if higher_is_better is None or diff is None or math.isnan(diff) or diff == 0:
                return mark
            return (BETTER if (diff > 0) == higher_is_better else WORSE) + mark
    return "n.s."


def entry_mark(spec: Any, e: Any) -> str:
    """The mark of a difference cell (``e`` a leaderboard ``BoardEntry``, ``spec`` its ``MetricSpec``):
    direction-aware significance, or ``no test`` when none could be run."""
    mark = sig_mark(e.p_holm, e.diff, spec.higher_is_better)
    if not mark and e.p_note.startswith("no test") and not math.isnan(e.diff):
        return "no test"
    return mark


def diff_bounds(e: Any) -> tuple[float, float]:
    """The bracket a Δ is shown with: its Holm-level interval when it was tested (the one its mark reads
    from), else its 95% interval."""
    if math.isfinite(e.p_holm) and math.isfinite(e.diff_holm_low) and math.isfinite(e.diff_holm_high):
        return e.diff_holm_low, e.diff_holm_high
    return e.diff_ci_low, e.diff_ci_high
