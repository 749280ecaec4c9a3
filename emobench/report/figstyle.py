"""Print sizes, fonts and text fitting for the paper figures.

Every figure is drawn twice, at the two widths a two-column paper (CVPR) offers: one column (3.25 in) and
the full text width (6.875 in). Figures are drawn at their print size, so a font size in points here is
the size on the page; nothing is scaled afterwards. ``MIN_PT`` is the smallest text anywhere (tests read
it back from the PDFs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

MIN_PT = 7.0
BODY_PT = 7.0        # tick labels, legends, numbers in cells
LABEL_PT = 7.5       # axis labels
TITLE_PT = 8.0       # figure and panel titles
DPI = 300            # PNG resolution at print size
FONT = "DejaVu Sans"

STYLE = {
    "font.family": FONT, "font.size": BODY_PT, "axes.titlesize": TITLE_PT, "axes.labelsize": LABEL_PT,
    "legend.fontsize": BODY_PT, "legend.title_fontsize": BODY_PT, "xtick.labelsize": BODY_PT,
    "ytick.labelsize": BODY_PT, "figure.titlesize": TITLE_PT, "figure.labelsize": LABEL_PT,
    "pdf.fonttype": 42, "ps.fonttype": 42, "svg.hashsalt": "emobench",
    "axes.spines.top": False, "axes.spines.right": False, "image.interpolation": "none",
    "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
    "xtick.major.size": 2.5, "ytick.major.size": 2.5, "xtick.major.pad": 2, "ytick.major.pad": 2,
    "hatch.linewidth": 0.5, "lines.linewidth": 1.0, "legend.handlelength": 1.6, "legend.handleheight": 0.9,
    "legend.columnspacing": 1.0, "legend.handletextpad": 0.4, "legend.borderaxespad": 0.2,
    "figure.constrained_layout.h_pad": 0.02, "figure.constrained_layout.w_pad": 0.02,
}
PNG_META = {"Software": None}
PDF_META = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}


@dataclass(frozen=True)
class FigSize:
    """One print width; ``prefix`` is where its files go under figures/."""

    name: str
    width: float      # inches
    prefix: str       # "" (text width: figures/NAME.png) or "column/" (figures/column/NAME.png)

    @property
    def narrow(self) -> bool:
        return self.width < 4


TEXT = FigSize("text", 6.875, "")
COLUMN = FigSize("column", 3.25, "column/")
SIZES = (TEXT, COLUMN)


@lru_cache(maxsize=4096)
def text_width_in(text: str, size: float = BODY_PT, bold: bool = False) -> float:
    """Printed width of one line of ``text`` in inches (measured from the font's glyphs)."""
    prop = FontProperties(family=FONT, size=size, weight="bold" if bold else "normal")
    return max((TextToPath().get_text_width_height_descent(line, prop, ismath=False)[0]
                for line in text.split("\n")), default=0.0) / 72.0


_BREAK = re.compile(r"(?<=[\s:,;=+-])")  # break after spaces, hyphens and a method spec's separators


def wrap(text: str, width_in: float, size: float = BODY_PT, bold: bool = False) -> str:
    """Greedy line breaks so that no line is wider than ``width_in`` at ``size`` points.

    Breaks after spaces, hyphens and ``: , ; = +`` (method specs like ``emogen:mapper=fc`` break at their parts);
    a single part wider than the width stays whole rather than being cut mid-word.
    """
    lines: list[str] = []
    for para in text.split("\n"):
        cur = ""
        for part in _BREAK.split(para):
            if cur and text_width_in((cur + part).rstrip(), size, bold) > width_in:
                lines.append(cur.rstrip())
                cur = part.lstrip()
            else:
                cur += part
        lines.append(cur.rstrip())
    return "\n".join(lines)


def new_figure(size: FigSize, height: float, constrained: bool = True) -> Figure:
    return Figure(figsize=(size.width, height), layout="constrained" if constrained else None)


def save(fig: Figure, out, name: str, size: FigSize) -> str:
    """Write ``figures/<prefix><name>.png`` and ``.pdf``; returns ``<prefix><name>``.

    The figure keeps its width (the print size): no tight bounding box, which would change it.
    """
    base = f"{size.prefix}{name}"
    fig.savefig(out.path(f"figures/{base}.png"), dpi=DPI, metadata=PNG_META, format="png")
    fig.savefig(out.path(f"figures/{base}.pdf"), metadata=PDF_META, format="pdf")
    return base


def luminance(hex_colour: str) -> float:
    """Relative luminance (0 black … 1 white) of ``#rrggbb``: picks readable text and hatch colours."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
