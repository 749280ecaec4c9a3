"""Per-emotion bar charts with CIs and significance marks, one per metric."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from emobench.emotions import EMOTIONS
from emobench.report.colors import MethodStyle
from emobench.report.figstyle import BODY_PT, TITLE_PT, FigSize, luminance, new_figure, save, text_width_in, wrap
from emobench.report.metrics_display import MetricSpec
from emobench.report.output import AtomicOutput
from emobench.rundir.layout import ALL
from emobench.rundir.results import is_control, RunData
from emobench.report.figures.common import SIGNIFICANT, _line_in, slug
from emobench.report.ceilings import ceilings


def _summary_lookup(run: RunData):
    s = run.summary
    return {(m, met, e): (v, lo, hi) for m, met, e, v, lo, hi in
            zip(s["method"], s["metric"], s["emotion"], s["value"], s["ci_low"], s["ci_high"])}


def _p_lookup(run: RunData) -> dict[tuple[str, str, str], float]:
    """Holm-corrected p of the paired difference against the baseline (raw p where no Holm column)."""
    s = run.summary
    out = {}
    for m, met, e, p, ph in zip(s["method"], s["metric"], s["emotion"], s["p_value"], s["p_holm"]):
        v = ph if not math.isnan(ph) else p
        if not math.isnan(v):
            out[(m, met, e)] = float(v)
    return out


def _yerr(v, lo, hi):
    if any(math.isnan(x) for x in (v, lo, hi)):
        return (0.0, 0.0)
    return (max(0.0, v - lo), max(0.0, hi - v))


def _pack(bits: list[str], width_in: float, size: float) -> str:
    """Join phrases with "; ", breaking lines only between phrases (a phrase is wrapped only if it alone is
    too wide), so "* Holm p<0.05 vs sd" never splits mid-phrase."""
    lines: list[str] = []
    for bit in bits:
        cand = f"{lines[-1]}; {bit}" if lines else bit
        if lines and text_width_in(cand, size) <= width_in:
            lines[-1] = cand
        else:
            if lines:
                lines[-1] += ";"
            lines.append(wrap(bit, width_in, size))
    return "\n".join(lines)


def _legend_columns(labels: list[str], width_in: float) -> int:
    col_w = max(text_width_in(x, BODY_PT) for x in labels) + 0.45  # handle + padding
    most = max(1, min(len(labels), int((width_in - 0.1) // col_w)))
    rows = math.ceil(len(labels) / most)
    return math.ceil(len(labels) / rows)  # balanced rows: matplotlib fills the legend column by column


def axis_range(lows: list[float], highs: list[float]) -> tuple[float, float, bool]:
    """y-range for bars: from 0 unless every value sits in the top part of the range (Sem-C at 0.8–1.0
    would be flat bars from 0), then from just below the smallest. Returns (bottom, top, broken)."""
    lo = min(lows) if lows else 0.0
    hi = max(highs) if highs else 1.0
    if hi <= lo:
        hi = lo + 1.0
    if lo > 0 and lo > 0.45 * hi:
        pad = 0.12 * (hi - lo)
        bottom = lo - pad
        step = 10 ** math.floor(math.log10(max(hi - bottom, 1e-12)))
        bottom = max(0.0, math.floor(bottom / (step / 2)) * (step / 2))
        return bottom, hi + 0.14 * (hi - bottom), bottom > 0
    bottom = 0.0 if lo >= 0 else lo - 0.05 * (hi - lo)
    return bottom, hi + 0.14 * (hi - bottom), False


def bar_chart(run: RunData, methods: list[str], spec: MetricSpec, styles: dict[str, MethodStyle],
              out: AtomicOutput, size: FigSize) -> str | None:
    look, plook = _summary_lookup(run), _p_lookup(run)
    emo_in_summary = set(run.summary["emotion"])
    emotions = [e for e in EMOTIONS if e in emo_in_summary] + [ALL]
    controls = sorted({m for m in run.summary["method"] if is_control(m)})
    present = [m for m in methods if any((m, spec.key, e) in look for e in emotions)]
    if not present:
        return None
    baseline = run.baseline
    groups = [e for e in emotions if any((m, spec.key, e) in look for m in present)]
    f = 100.0 if spec.percent else 1.0
    ctrl_present = [c for c in controls if any((c, spec.key, e) in look for e in groups)]
    name = run.display_name   # figures name methods as the tables do
    ceiling = next((c for c in ceilings(run) if c.column == spec.key), None)
    shown = {m: f"{name(m)} ({ceiling.mark})" if ceiling is not None and m in ceiling.methods else name(m)
             for m in present}
    legend_labels = [shown[m] for m in present] + [name(c) for c in ctrl_present]
    ncol = _legend_columns(legend_labels, size.width)
    marks = any(plook.get((m, spec.key, e), 1.0) < SIGNIFICANT for m in present if m != baseline for e in groups)
    title_bits = [f"{spec.title} per emotion, 95% CI"]
    if ctrl_present:
        title_bits.append("lines: controls")
    if marks and baseline:
        title_bits.append(f"* Holm p<{SIGNIFICANT:g} vs {name(baseline)}")
    title = _pack(title_bits, size.width - 0.1, TITLE_PT)
    legend_rows = math.ceil(len(legend_labels) / ncol)
    height = (2.05 if size.narrow else 2.3) + legend_rows * _line_in(BODY_PT) * 1.15 \
        + title.count("\n") * _line_in(TITLE_PT)
    fig = new_figure(size, height)
    ax = fig.add_subplot(1, 1, 1)
    bw = 0.82 / len(present)
    x = np.arange(len(groups), dtype=float)
    lows, highs = [], []
    bars = []
    for i, m in enumerate(present):
        for gi, e in enumerate(groups):
            v, lo, hi = look.get((m, spec.key, e), (math.nan,) * 3)
            if math.isnan(v):
                continue
            le, he = _yerr(v, lo, hi)
            bars.append((m, i, gi, e, v * f, le * f, he * f))
            lows.append((v - le) * f)
            highs.append((v + he) * f)
    for c in ctrl_present:
        for e in groups:
            v = look.get((c, spec.key, e), (math.nan,))[0]
            if not math.isnan(v):
                lows.append(v * f)
                highs.append(v * f)
    bottom, top, broken = axis_range(lows, highs)
    span = top - bottom
    for i, m in enumerate(present):
        st = styles[m]
        mine = [b for b in bars if b[0] == m]
        xs = [x[b[2]] - 0.41 + bw * (i + 0.5) for b in mine]
        hatch_colour = "white" if luminance(st.colour) < 0.12 else "#222222"
        ax.bar(xs, [b[4] for b in mine], bw, yerr=[[b[5] for b in mine], [b[6] for b in mine]],
               color=st.colour, hatch=st.hatch or None, hatchcolor=hatch_colour, edgecolor="#222222",
               linewidth=0.4, capsize=1.2, error_kw={"elinewidth": 0.6, "capthick": 0.6, "ecolor": "#222222"},
               label=name(m))
        for xb, b in zip(xs, mine):
            if abs(b[4] - max(bottom, 0.0)) < 0.012 * span:  # a zero bar would vanish into the axis
                ax.hlines(b[4], xb - bw / 2, xb + bw / 2, colors=st.colour, linewidth=2.4, zorder=3)
                ax.hlines(b[4], xb - bw / 2, xb + bw / 2, colors="#222222", linewidth=0.6, zorder=4)
            if m != baseline and plook.get((m, spec.key, b[3]), 1.0) < SIGNIFICANT:
                ax.text(xb, b[4] + b[6] + 0.01 * span, "*", ha="center", va="bottom", fontsize=BODY_PT,
                        fontweight="bold")
    ctrl_styles = {"real (control)": ("-", "#333333"), "shuffled (control)": (":", "#333333")}
    for c in ctrl_present:
        ls, col = ctrl_styles.get(c, ("--", "#666666"))
        for gi, e in enumerate(groups):
            v = look.get((c, spec.key, e), (math.nan,))[0]
            if not math.isnan(v):
                ax.hlines(v * f, gi - 0.46, gi + 0.46, colors=col, linestyles=ls, linewidth=1.0, zorder=5)
    ax.set_ylim(bottom, top)
    if bottom < 0 < top:
        ax.axhline(0, color="#222222", linewidth=0.5)
    elif bottom < 0:
        pass
    else:
        # Bars start at the axis: a zero bar's stub must sit just above the spine, not on it.
        if bottom == 0.0:
            ax.set_ylim(-0.025 * span, top)
    if broken:  # the axis does not start at 0: say so on the axis itself
        kw = dict(transform=ax.transAxes, color="#222222", linewidth=0.6, clip_on=False)
        for dy in (0.0, 0.025):
            ax.plot([-0.012, 0.012], [0.02 + dy - 0.012, 0.02 + dy + 0.012], **kw)
    ax.set_xticks(x, groups, rotation=40 if size.narrow else 30, ha="right", rotation_mode="anchor")
    if ALL in groups:
        ax.axvline(len(groups) - 1.5, color="#bbbbbb", linewidth=0.6)
    ax.set_ylabel(spec.title + (" (%)" if spec.percent else ""))
    ax.set_xlim(-0.5, len(groups) - 0.5)
    handles = [Patch(facecolor=styles[m].colour, edgecolor="#222222", linewidth=0.4,
                     hatch=styles[m].hatch or None, label=shown[m]) for m in present]
    for c in ctrl_present:
        ls, col = ctrl_styles.get(c, ("--", "#666666"))
        handles.append(Line2D([], [], color=col, linestyle=ls, linewidth=1.0, label=name(c)))
    # Legend above the axes, in rows: keeps the plot wide and never covers a bar.
    ax.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.suptitle(title)
    return save(fig, out, f"bars_{slug(spec.key)}", size)


def bar_charts(run: RunData, methods: list[str], specs: list[MetricSpec], styles, out: AtomicOutput,
               size: FigSize) -> list[str]:
    # a column whose metric declares ``"bars": false`` (a companion column) gets no chart of its own
    return [n for spec in specs if (run.display.get(spec.key) or {}).get("bars", True) is not False
            and (n := bar_chart(run, methods, spec, styles, out, size))]
