"""One fixed colour per method, the same in every figure and in the HTML page.

The built-in methods keep their colour whatever else is in the run (so figures of different runs match);
other methods take the remaining colours of a colour-blind-safe palette in name order.
"""
from __future__ import annotations

# Okabe–Ito palette (colour-blind safe), then Tableau's extra hues for runs with many methods.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
           "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD", "#FF9896")
FIXED = {
    "sd": "#0072B2", "stable-diffusion": "#0072B2",
    "textual-inversion": "#009E73", "ti": "#009E73",
    "dreambooth": "#CC79A7", "db": "#CC79A7",
    "emogen": "#D55E00",
}
CONTROL_COLOUR = "#999999"


def method_colours(methods: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in methods:
        base = m.split(":", 1)[0]
        if m in FIXED:
            out[m] = FIXED[m]
        elif m.endswith("(control)"):
            out[m] = CONTROL_COLOUR
        elif base in FIXED and base not in methods:
            out[m] = FIXED[base]
    free = [c for c in PALETTE if c not in out.values() and c not in FIXED.values()]
    free += [c for c in PALETTE if c not in free]
    for i, m in enumerate(sorted(m for m in methods if m not in out)):
        out[m] = free[i % len(free)]
    return out
