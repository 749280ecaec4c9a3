"""Paper-ready figures from a scored run: comparison grid (emotions × methods, same seeds: the paper's
Fig. 4 idea), per-emotion bars with CIs and significance marks for every metric, Emo-A confusion
matrices, Emo-A vs Sem-D and Emo-A vs coverage scatters, memorisation's closest pairs, and EmoGen's emotion transfer / fusion grids when the run has them.

Every figure is drawn at two print widths (``figstyle.SIZES``: text width into figures/, one column into
figures/column/), with no text under ``figstyle.MIN_PT`` points on the page. Each is written as PNG (fixed
dpi, no Software stamp: identical bytes on a rerun) and PDF (TrueType text, so it stays vector and
selectable; no creation date). Styles per method (colour, hatch, marker) come from ``colors.method_styles``
and are the same in every figure; hatches and markers keep methods apart in greyscale.
"""
from __future__ import annotations

import matplotlib

from emobench.report.colors import method_styles
from emobench.report.figstyle import SIZES, STYLE
from emobench.report.metrics_display import ordered_specs
from emobench.report.output import AtomicOutput
from emobench.rundir.results import RunData, is_control

# The public names of the figures, kept importable from ``emobench.report.figures`` (one module per kind).
from emobench.report.figures.bars import _p_lookup, axis_range, bar_chart, bar_charts
from emobench.report.figures.common import (DAGGER, MAX_TILE_IN, SIGNIFICANT, TILE, TRANSFER_RE, Group, _tile, slug,
                                            template_blind_methods, template_numbers)
from emobench.report.figures.confusion import ABBREV, confusion_figure
from emobench.report.figures.grids import FUSE_RE, comparison_grid, fusion_grid, transfer_grid
from emobench.report.figures.pairs import pairs_figure
from emobench.report.figures.scatter import scatter_emoa_coverage, scatter_emoa_semd

__all__ = ["ABBREV", "DAGGER", "FUSE_RE", "MAX_TILE_IN", "SIGNIFICANT", "TILE", "TRANSFER_RE", "Group", "axis_range",
           "bar_chart", "bar_charts", "comparison_grid", "confusion_figure", "fusion_grid", "pairs_figure", "scatter_emoa_coverage", "scatter_emoa_semd",
           "slug", "template_blind_methods", "template_numbers", "transfer_grid", "write_figures", "_p_lookup", "_tile"]


def write_figures(run: RunData, out: AtomicOutput) -> list[str]:
    """Every figure the run supports, at both print sizes, into ``out``'s ``figures/`` (text width) and
    ``figures/column/`` (one column); returns their base names relative to figures/."""
    methods = [m for m in run.method_names() if run.status(m)[0] == "ok"]
    styles = method_styles(run.method_names() + sorted({m for m in run.summary["method"] if is_control(m)}))
    specs = ordered_specs(sorted(set(run.summary["metric"])), run.display, run.metric_directions)
    names: list[str] = []
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(STYLE)
        plain = [m for m in methods if "fuse=" not in m]
        for size in SIZES:
            for made in (comparison_grid(run, plain, styles, out, size),
                         *bar_charts(run, methods, specs, styles, out, size),
                         confusion_figure(run, methods, styles, out, size),
                         scatter_emoa_semd(run, methods, styles, out, size),
                         scatter_emoa_coverage(run, methods, styles, out, size),
                         pairs_figure(run, methods, styles, out, size),
                         transfer_grid(run, plain, styles, out, size),
                         fusion_grid(run, methods, styles, out, size)):
                if made:
                    names.append(made)
    return names
