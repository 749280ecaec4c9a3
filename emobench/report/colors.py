"""One colour per method, the same in every figure and in the HTML page of a report.

Colours go by position: the run's methods in name order take the palette's colours in turn (so a method's
colour is the same wherever it appears in one report); control rows are grey. No method is named here.
"""
from __future__ import annotations

# Okabe–Ito palette (colour-blind safe), then Tableau's extra hues for runs with many methods.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
           "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD", "#FF9896")
CONTROL_COLOUR = "#999999"


def method_colours(methods: list[str]) -> dict[str, str]:
    out = {m: CONTROL_COLOUR for m in methods if m.endswith("(control)")}
    for i, m in enumerate(sorted(dict.fromkeys(m for m in methods if m not in out))):
        out[m] = PALETTE[i % len(PALETTE)]
    return out
