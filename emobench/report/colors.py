"""One fixed style per method (colour, hatch, marker), the same in every figure and in the HTML page.

Styles are handed out in the order the caller lists the methods (the report passes
``RunData.method_names()``: the baseline first, then the rest by name), so the same set of methods gets the
same styles in every figure of a run and in runs of the same methods. No method is named here: a plugin
method is styled like a built-in one.

The palette is Okabe–Ito (colour-blind safe) without its light yellow, which is unreadable on white, and
ordered so that neighbours differ in lightness as well as hue; each method also gets a hatch (bars) and a
marker (points), so the figures still separate methods when printed in greyscale.
"""
from __future__ import annotations

from dataclasses import dataclass

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#000000", "#56B4E9", "#D55E00", "#7F7F7F",
           "#8C564B", "#17BECF", "#9467BD", "#BCBD22")
HATCHES = ("", "////", "....", "xxxx", "\\\\\\\\", "++++", "----", "oo", "||||", "**", "OO", "..//")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "p", "*")
CONTROL_COLOUR = "#999999"
CONTROL_SUFFIX = " (control)"


@dataclass(frozen=True)
class MethodStyle:
    colour: str
    hatch: str
    marker: str


def method_styles(methods: list[str]) -> dict[str, MethodStyle]:
    """Method name → style, in the order given (controls: grey, no hatch)."""
    out: dict[str, MethodStyle] = {}
    i = 0
    for m in dict.fromkeys(methods):
        if m.endswith(CONTROL_SUFFIX):
            out[m] = MethodStyle(CONTROL_COLOUR, "", "*")
            continue
        # Past the palette's length, colours repeat: shift the hatch and marker by one per round, so no two
        # methods share colour and hatch.
        out[m] = MethodStyle(PALETTE[i % len(PALETTE)], HATCHES[(i + i // len(PALETTE)) % len(HATCHES)],
                             MARKERS[(i + i // len(PALETTE)) % len(MARKERS)])
        i += 1
    return out


def method_colours(methods: list[str]) -> dict[str, str]:
    """Method name → colour, in the order given (see ``method_styles``)."""
    return {m: s.colour for m, s in method_styles(methods).items()}
