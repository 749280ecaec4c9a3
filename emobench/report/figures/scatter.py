"""Emotion vs diversity and emotion vs coverage scatters (Emo-A vs Sem-D, Emo-A vs k-NN coverage with the
built-in metrics), one point per method with its intervals, small points per emotion, controls drawn.

The axes are the metrics whose display facts declare the roles ``emotion`` and ``diversity`` / ``coverage``
(the first of each by column order), so the report names no metric. A ceiling the y metric declares
(``above_control``, ``report.ceilings``) is drawn as the control's interval band, and the methods beyond it carry
the mark in the legend."""
from __future__ import annotations

import math

import numpy as np

from emobench.emotions import EMOTIONS
from emobench.report.figstyle import BODY_PT, TITLE_PT, FigSize, new_figure, save, text_width_in, wrap
from emobench.report.output import AtomicOutput
from emobench.rundir.layout import ALL
from emobench.rundir.results import RunData
from emobench.report.figures.common import _line_in
from emobench.report.figures.bars import _legend_columns, _summary_lookup, _yerr
from emobench.report.ceilings import ceilings


def role_metric(run: RunData, role: str) -> str | None:
    """The first metric column (by declared order, then name) whose display facts declare ``role``."""
    cols = [(int(f.get("order", 100)), c) for c, f in run.display.items() if f.get("role") == role]
    return min(cols)[1] if cols else None


def _axis_label(run: RunData, col: str) -> str:
    f = run.display.get(col, {})
    arrow = "↑" if f.get("higher_is_better", True) else "↓"
    return f"{f.get('label', col)}{arrow}" + (" (%)" if f.get("percent") else "")


def scatter_emoa_semd(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize) -> str | None:
    return role_scatter(run, methods, styles, out, size, "diversity", "scatter_emoa_semd")


def scatter_emoa_coverage(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize) -> str | None:
    """Emotion against coverage of the real emotion distribution: the prototype-drawing check."""
    return role_scatter(run, methods, styles, out, size, "coverage", "scatter_emoa_coverage")


def role_scatter(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize, x_role: str,
                 name: str) -> str | None:
    look = _summary_lookup(run)
    y_col, x_col = role_metric(run, "emotion"), role_metric(run, x_role)
    if y_col is None or x_col is None:
        return None
    y_scale = 100 if run.display[y_col].get("percent") else 1
    pts = [m for m in methods if (m, y_col, ALL) in look and (m, x_col, ALL) in look]
    if not pts:
        return None
    ctrls = [(c, mk) for c, mk in (("real (control)", "*"), ("shuffled (control)", "x"))
             if (c, y_col, ALL) in look and (c, x_col, ALL) in look]
    label_of = run.display_name   # figures name methods as the tables do
    ceiling = next((c for c in ceilings(run) if c.column == y_col), None)
    above = {m: f"{label_of(m)} ({ceiling.mark})" for m in pts if ceiling is not None and m in ceiling.methods}
    labels = [above.get(m, label_of(m)) for m in pts] + [label_of(c) for c, _ in ctrls]
    legend_w = max(text_width_in(lab, BODY_PT) for lab in labels) + 0.35
    below = size.narrow or legend_w > 0.4 * size.width
    ncol = _legend_columns(labels, size.width) if below else 1
    height = 2.2 + (math.ceil(len(labels) / ncol) * _line_in(BODY_PT) * 1.2 if below else 0.3)
    y_label, x_label = run.display[y_col].get("label", y_col), run.display[x_col].get("label", x_col)
    title = wrap(f"{y_label} vs {x_label} (pooled, 95% CI; small: per emotion)", size.width - 0.1, TITLE_PT)
    fig = new_figure(size, height + title.count("\n") * _line_in(TITLE_PT))
    ax = fig.add_subplot(1, 1, 1)
    for m in pts:
        st = styles[m]
        for e in EMOTIONS:  # per-emotion values, small, to show the spread behind the pooled point
            a, d = look.get((m, y_col, e)), look.get((m, x_col, e))
            if a and d:
                ax.scatter(d[0], a[0] * y_scale, s=9, marker=st.marker, facecolor="none", edgecolor=st.colour,
                           linewidths=0.5, alpha=0.7)
        a, d = look[(m, y_col, ALL)], look[(m, x_col, ALL)]
        xe = np.array(_yerr(*d)).reshape(2, 1)
        ye = np.array(_yerr(*a)).reshape(2, 1) * y_scale
        ax.errorbar(d[0], a[0] * y_scale, xerr=xe, yerr=ye, fmt=st.marker, color=st.colour,
                    label=above.get(m, label_of(m)), capsize=1.5,
                    markersize=5, elinewidth=0.8, markeredgecolor="#222222", markeredgewidth=0.5)
    for c, marker in ctrls:
        a, d = look[(c, y_col, ALL)], look[(c, x_col, ALL)]
        ax.scatter(d[0], a[0] * y_scale, marker=marker, s=40, color="#444444", label=label_of(c))
    if ceiling is not None:   # the ceiling: the control's interval, across the plot
        ax.axhspan(ceiling.low * y_scale, ceiling.high * y_scale, color="#bbbbbb", alpha=0.35, linewidth=0, zorder=0)
        ax.text(0.99, ceiling.high * y_scale, f"{label_of(ceiling.control)}: 95% CI", transform=ax.get_yaxis_transform(),
                ha="right", va="bottom", fontsize=BODY_PT, color="#555555")
    ax.set_xlabel(_axis_label(run, x_col))
    ax.set_ylabel(_axis_label(run, y_col))
    fig.suptitle(title)
    handles, names = ax.get_legend_handles_labels()
    order = sorted(range(len(names)), key=lambda i: labels.index(names[i]) if names[i] in labels else len(labels))
    handles, names = [handles[i] for i in order], [names[i] for i in order]   # methods first, then controls
    if below:
        ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=ncol, frameon=False)
    else:
        ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return save(fig, out, name, size)
