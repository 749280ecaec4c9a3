"""Which paired differences carry a p-value, and what it is.

The p-value of a difference is the dual of its own interval (``scoring.intervals``: the smallest α whose
(1 − α) interval leaves 0 out), so a mark and the interval it sits beside are one procedure. A difference
carries no p-value (and no mark; the row keeps its Δ and interval, and ``p_note`` says why) when

* the interval is a note instead (one fit of a learning method: fit-to-fit spread not measured; a variance
  that cannot be estimated), or
* an emotion has fewer than ``MIN_CELLS_PER_EMOTION`` cells: the coverage of the intervals is measured from
  4 cells per emotion up (benchmarks/RESULTS.md), not below.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from emobench.scoring.inference import ONE_FIT
from emobench.scoring.intervals import Interval

MIN_CELLS_PER_EMOTION = 4     # the bottom of the measured operating range


@dataclass
class Verdict:
    p_value: float            # nan: no test
    note: str                 # which procedure, or why none


def verdict(interval: Interval | str, cells_per_emotion: Sequence[int]) -> Verdict:
    small = min(cells_per_emotion) if cells_per_emotion else 0
    if isinstance(interval, str) and interval == ONE_FIT:
        return Verdict(math.nan, f"no test: {interval}")
    if small < MIN_CELLS_PER_EMOTION:
        return Verdict(math.nan, f"no test: {small} cell(s) in an emotion < {MIN_CELLS_PER_EMOTION} "
                                 "(coverage measured from 4)")
    if isinstance(interval, str):
        return Verdict(math.nan, f"no test: {interval}")
    p = interval.p_value()
    if not math.isfinite(p):
        return Verdict(math.nan, "no test: the interval is undefined")
    return Verdict(p, interval.procedure)
