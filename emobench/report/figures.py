"""Paper-ready figures from a scored run: comparison grid (emotions × methods, same seeds: the paper's
Fig. 4 idea), per-emotion bars with CIs and significance marks for every metric, Emo-A confusion
matrices, Emo-A vs Sem-D scatter, and EmoGen's emotion transfer / fusion grids when the run has them.

Every figure is drawn at two print widths (``figstyle.SIZES``: text width into figures/, one column into
figures/column/), with no text under ``figstyle.MIN_PT`` points on the page. Each is written as PNG (fixed
dpi, no Software stamp: identical bytes on a rerun) and PDF (TrueType text, so it stays vector and
selectable; no creation date). Styles per method (colour, hatch, marker) come from ``colors.method_styles``
and are the same in every figure; hatches and markers keep methods apart in greyscale.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from PIL import Image

from emobench.emotions import EMOTIONS
from emobench.report.colors import MethodStyle, method_styles
from emobench.report.figstyle import (BODY_PT, LABEL_PT, SIZES, STYLE, TITLE_PT, FigSize, luminance,
                                      new_figure, save, text_width_in, wrap)
from emobench.report.metrics_display import MetricSpec, ordered_specs
from emobench.report.output import AtomicOutput
from emobench.rundir import ALL
from emobench.report.rundata import RunData, is_control

TILE = 64                 # pixels per image in grids (small images are upscaled nearest-neighbour)
TRANSFER_RE = re.compile(r"^\s*\{emotion\}\s+\S.*$")   # "{emotion} bag": EmoGen's emotion transfer prompts
SIGNIFICANT = 0.05        # Holm-corrected p below this gets a mark on the bar charts
DAGGER = "†"
MAX_TILE_IN = 0.75        # largest printed size of one image in a grid


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", name).strip("-") or "x"


def _line_in(pt: float) -> float:
    return pt * 1.25 / 72


# ---------------------------------------------------------------- images

def _tile(png_path, size: int = TILE) -> np.ndarray:
    img = Image.open(png_path).convert("RGB")
    w, h = img.size
    if max(w, h) <= size:  # small images: integer nearest-neighbour upscaling keeps pixels crisp
        f = max(1, size // max(w, h))
        img = img.resize((w * f, h * f), Image.Resampling.NEAREST)
    else:
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    if img.size != (size, size):
        canvas = Image.new("RGB", (size, size), (255, 255, 255))
        canvas.paste(img, ((size - img.size[0]) // 2, (size - img.size[1]) // 2))
        img = canvas
    return np.asarray(img)


def _find_image(run: RunData, rec) -> object | None:
    for root in run.roots:
        p = root / rec.path
        if p.is_file():
            return p
    return None


@dataclass
class Group:
    """One column group of an image grid: a label over it and one label per tile (may be empty)."""

    label: str
    tiles: list[str]
    colour: str | None = None     # a coloured rule under the label ties the group to the method's colour


def _mosaic(run: RunData, rows: list[list[list[object]]], gap: int = 2, group_gap: int = 10):
    """rows × groups × tiles of records (or None) → uint8 image, with centres of rows, groups and tiles.

    Groups may hold different numbers of tiles (a method drawn once per seed has fewer)."""
    n_groups = max(len(r) for r in rows)
    k = [max((len(r[j]) for r in rows if j < len(r)), default=1) for j in range(n_groups)]
    gw = [kj * TILE + (kj - 1) * gap for kj in k]
    x0 = [sum(gw[:j]) + j * group_gap for j in range(n_groups)]
    width = x0[-1] + gw[-1]
    height = len(rows) * TILE + (len(rows) - 1) * gap * 2
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    for i, row in enumerate(rows):
        y = i * (TILE + gap * 2)
        for j, group in enumerate(row):
            for t, rec in enumerate(group):
                x = x0[j] + t * (TILE + gap)
                path = _find_image(run, rec) if rec is not None else None
                if path is None:
                    canvas[y:y + TILE, x:x + TILE] = 235  # light grey: no image for this cell
                else:
                    canvas[y:y + TILE, x:x + TILE] = _tile(path)
    row_c = [i * (TILE + gap * 2) + TILE / 2 for i in range(len(rows))]
    groups = [(x0[j], gw[j], [x0[j] + t * (TILE + gap) + TILE / 2 for t in range(k[j])]) for j in range(n_groups)]
    return canvas, row_c, groups


def _image_figure(canvas, row_c, row_labels, geom, groups: list[Group], title: str, note: str,
                  size: FigSize) -> Figure:
    """The mosaic at the print width, with row labels left, group and tile labels above, a note below.

    Everything is placed in inches from the measured label widths, so nothing overlaps or is clipped and
    the figure is exactly ``size.width`` wide."""
    h, w = canvas.shape[:2]
    W = size.width
    label_pt = BODY_PT if size.narrow else LABEL_PT  # a column is narrow: labels at the minimum size
    bold = not size.narrow                            # … and group names in regular weight
    left = max(text_width_in(str(lab), label_pt) for lab in row_labels) + 0.06
    # Inches per mosaic pixel: fill the width, but no tile over MAX_TILE_IN (a grid of few methods would
    # otherwise be pages tall); a narrower mosaic is centred.
    scale = min((W - left - 0.03) / w, MAX_TILE_IN / TILE)
    left += max(0.0, (W - left - 0.03 - w * scale) / 2)
    group_w = [gw * scale for _, gw, _ in geom]
    tile_w = TILE * scale
    # Group labels: wrapped to the group's width; if a single word is still wider, set them vertically.
    glabels = [wrap(g.label, gwi, label_pt, bold=bold) for g, gwi in zip(groups, group_w)]
    # A label may reach into the gaps between groups (10 px each side), not further.
    vertical = any(text_width_in(lab, label_pt, bold) > gwi + 10 * scale for lab, gwi in zip(glabels, group_w))
    if vertical:
        glabels = [g.label for g in groups]
        g_h = max(text_width_in(lab, label_pt, bold) for lab in glabels) + 0.04
    else:
        g_h = max(lab.count("\n") + 1 for lab in glabels) * _line_in(label_pt)
    # Tile labels ("T1 s0"): one line if they fit the tile, else template over seed.
    tlabels = [[t for t in g.tiles] for g in groups]
    if any(text_width_in(t, BODY_PT) > tile_w - 0.01 for ts in tlabels for t in ts):
        tlabels = [[t.replace(" ", "\n") for t in ts] for ts in tlabels]
    t_lines = max((t.count("\n") + 1 for ts in tlabels for t in ts if t), default=0)
    t_h = t_lines * _line_in(BODY_PT)
    title_txt = wrap(title, W - 0.1, TITLE_PT)
    note_txt = wrap(note, W - 0.1, BODY_PT) if note else ""
    title_h = (title_txt.count("\n") + 1) * _line_in(TITLE_PT)
    note_h = (note_txt.count("\n") + 1) * _line_in(BODY_PT) + 0.05 if note_txt else 0.0
    top = 0.04 + title_h + 0.05 + g_h + 0.04 + t_h + 0.02
    bottom = 0.03 + note_h
    H = top + h * scale + bottom
    fig = Figure(figsize=(W, H))
    img_top = bottom + h * scale
    ax = fig.add_axes((left / W, bottom / H, w * scale / W, h * scale / H))
    ax.imshow(canvas, interpolation="none")
    ax.set_axis_off()

    def fx(px: float) -> float:
        return (left + px * scale) / W

    for yc, lab in zip(row_c, row_labels):
        fig.text((left - 0.05) / W, (img_top - yc * scale) / H, str(lab), ha="right", va="center",
                 fontsize=label_pt)
    y_tiles = img_top + 0.02
    y_rule = y_tiles + t_h + 0.02
    for (x0, gw, tcs), g, lab, ts in zip(geom, groups, glabels, tlabels):
        for xc, t in zip(tcs, ts):
            if t:
                fig.text(fx(xc), y_tiles / H, t, ha="center", va="bottom", fontsize=BODY_PT,
                         linespacing=1.0)
        if g.colour:  # a rule in the method's colour under its name (names themselves stay dark)
            fig.add_artist(Line2D([fx(x0), fx(x0 + gw)], [y_rule / H] * 2, color=g.colour, linewidth=2.2,
                                  solid_capstyle="butt"))
        fig.text(fx(x0 + gw / 2), (y_rule + 0.03) / H, lab, ha="center", va="bottom", fontsize=label_pt,
                 fontweight="bold" if bold else "normal", rotation=90 if vertical else 0, linespacing=1.1)
    fig.text(0.5, (H - 0.04) / H, title_txt, ha="center", va="top", fontsize=TITLE_PT)
    if note_txt:
        fig.text(0.05 / W, 0.03 / H, note_txt, ha="left", va="bottom", fontsize=BODY_PT)
    return fig


def _cells_by_emotion(run: RunData) -> dict[str, list[tuple[str, int]]]:
    cells = run.plan.get("cells") or [{"emotion": r.emotion, "template": r.template, "seed": r.seed}
                                      for r in run.records]
    out: dict[str, list[tuple[str, int]]] = {}
    for c in cells:
        lst = out.setdefault(c["emotion"], [])
        if (c["template"], int(c["seed"])) not in lst:
            lst.append((c["template"], int(c["seed"])))
    return out


def template_numbers(run: RunData) -> dict[str, int]:
    """Template → 1-based number in the run config's order (then the order the plan first uses them)."""
    order = [t for t in (run.config.get("templates") or []) if isinstance(t, str)]
    cells = run.plan.get("cells") or [{"template": r.template} for r in run.records]
    for c in cells:
        if c["template"] not in order:
            order.append(c["template"])
    return {t: i + 1 for i, t in enumerate(order)}


def template_blind_methods(run: RunData) -> set[str]:
    """Methods whose stored prompt does not depend on the template.

    Read from the data, not from a method's name: a method is template-blind when, for every (emotion,
    seed) it generated under two or more templates, its records hold one and the same prompt."""
    seen: dict[tuple[str, str, int], tuple[set, set]] = {}
    for r in run.records:
        if TRANSFER_RE.match(r.template):
            continue
        templates, prompts = seen.setdefault((r.method, r.emotion, int(r.seed)), (set(), set()))
        templates.add(r.template)
        prompts.add(r.prompt)
    verdict: dict[str, bool] = {}
    for (m, _, _), (templates, prompts) in seen.items():
        if len(templates) > 1:
            verdict[m] = verdict.get(m, True) and len(prompts) == 1
    return {m for m, blind in verdict.items() if blind}


def comparison_grid(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize) -> str | None:
    recs = {(r.method, r.emotion, r.template, r.seed): r for r in run.records}
    by_emo = _cells_by_emotion(run)
    emotions = [e for e in EMOTIONS if e in by_emo] + sorted(e for e in by_emo if e not in EMOTIONS)
    methods = [m for m in methods if any(r.method == m for r in run.records)]
    if not emotions or not methods:
        return None
    k = 2 if size.narrow else 3
    # The same first k cells (template, seed) of every emotion: identical starting noise across the grid.
    # Transfer prompts ("{emotion} bag") have their own figure; the grid shows the plain emotion prompts.
    plain = {e: [c for c in by_emo[e] if not TRANSFER_RE.match(c[0])] or by_emo[e] for e in emotions}
    blind = template_blind_methods(run) & set(methods)
    tnum = template_numbers(run)
    used_templates = sorted({t for e in emotions for t, _ in plain[e]}, key=lambda t: tnum.get(t, 0))
    many_templates = len(used_templates) > 1

    def cells_for(m: str, e: str) -> list[tuple[str, int]]:
        if m not in blind:
            return plain[e][:k]
        firsts: dict[int, str] = {}  # one cell per seed: its other templates hold the same image
        for t, s in plain[e]:
            firsts.setdefault(s, t)
        return [(t, s) for s, t in list(firsts.items())[:k]]

    rows = [[[recs.get((m, e, t, s)) for t, s in cells_for(m, e)] for m in methods] for e in emotions]
    canvas, rc, geom = _mosaic(run, rows)
    first = emotions[0]
    groups = []
    for m in methods:
        tiles = [(f"T{tnum[t]} s{s}" if many_templates and m not in blind else f"s{s}")
                 for t, s in cells_for(m, first)]
        groups.append(Group(m + (DAGGER if m in blind else ""), tiles, styles[m].colour))
    notes = []
    if many_templates:
        notes.append("Columns: template T, seed s; " + ", ".join(
            f"T{tnum[t]} = \u201c{t}\u201d" for t in used_templates) + ".")
    if blind:
        notes.append(f"{DAGGER} The method's prompt does not use the template (its stored prompt is the same "
                     "for every template), so each seed is shown once.")
    seeds = sorted({s for e in emotions for m in methods for _, s in cells_for(m, e)})
    fig = _image_figure(canvas, rc, emotions, geom, groups,
                        f"Same starting noise for every method (seeds {', '.join(map(str, seeds))})",
                        " ".join(notes), size)
    return save(fig, out, "comparison_grid", size)


def transfer_grid(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize) -> str | None:
    """EmoGen's emotion transfer: ``{emotion} <object>`` prompts, emotions across, (method, object) down."""
    by_emo = _cells_by_emotion(run)
    templates = sorted({t for lst in by_emo.values() for t, _ in lst if TRANSFER_RE.match(t)})
    if not templates:
        return None
    recs = {(r.method, r.emotion, r.template, r.seed): r for r in run.records}
    emotions = [e for e in EMOTIONS if e in by_emo]
    rows, labels = [], []
    for m in methods:
        for t in templates:
            seeds = [s for tt, s in by_emo[emotions[0]] if tt == t][:1]
            if not seeds or not any((m, e, t, seeds[0]) in recs for e in emotions):
                continue
            rows.append([[recs.get((m, e, t, seeds[0]))] for e in emotions])
            labels.append(f"{m}\n{t.replace('{emotion}', '<e>')}")
    if not rows:
        return None
    canvas, rc, geom = _mosaic(run, rows)
    groups = [Group(e, [""]) for e in emotions]
    fig = _image_figure(canvas, rc, labels, geom, groups,
                        "Emotion transfer: each emotion (columns) applied to an object prompt (rows)", "", size)
    return save(fig, out, "emotion_transfer", size)


FUSE_RE = re.compile(r"fuse=([A-Za-z]+)\+([A-Za-z]+)")


def fusion_grid(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize,
                k: int = 4) -> str | None:
    """EmoGen's emotion fusion: per ``<base>:fuse=e1+e2`` method, the base method's e1 row, the fused row
    and the base method's e2 row, on the same seeds."""
    fused = [m for m in methods if FUSE_RE.search(m)]
    if not fused:
        return None
    by_method: dict[str, list] = {}
    for r in run.records:
        by_method.setdefault(r.method, []).append(r)
    plain = lambda r: not TRANSFER_RE.match(r.template)  # noqa: E731
    rows, labels, col_seeds = [], [], []
    for m in fused:
        recs = sorted((r for r in by_method.get(m, []) if plain(r)), key=lambda r: (r.seed, r.template, r.emotion))
        picked = []
        for r in recs:  # one image per seed, so the base rows can be matched seed by seed
            if r.seed not in {p.seed for p in picked}:
                picked.append(r)
        picked = picked[:k]
        if not picked:
            continue
        col_seeds = col_seeds or [r.seed for r in picked]
        e1, e2 = FUSE_RE.search(m).groups()
        base = m.split(":", 1)[0]
        base_recs = {(r.emotion, r.seed): r for r in by_method.get(base, []) if plain(r)}
        for emo in (e1, None, e2):
            if emo is None:
                rows.append([[r] for r in picked])
                labels.append(f"{e1} + {e2}\n(fused)")
            elif base != m and any((emo, r.seed) in base_recs for r in picked):
                rows.append([[base_recs.get((emo, r.seed))] for r in picked])
                labels.append(f"{emo}\n({base})")
    if not rows:
        return None
    canvas, rc, geom = _mosaic(run, rows)
    groups = [Group(f"seed {s}", [""]) for s in col_seeds][:len(geom)]
    fig = _image_figure(canvas, rc, labels, geom, groups,
                        "Emotion fusion: two emotions in one prompt, same seeds", "", size)
    return save(fig, out, "emotion_fusion", size)


# ---------------------------------------------------------------- charts

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
    legend_labels = present + ctrl_present
    ncol = _legend_columns(legend_labels, size.width)
    marks = any(plook.get((m, spec.key, e), 1.0) < SIGNIFICANT for m in present if m != baseline for e in groups)
    title_bits = [f"{spec.title} per emotion, 95% CI"]
    if ctrl_present:
        title_bits.append("lines: controls")
    if marks and baseline:
        title_bits.append(f"* Holm p<{SIGNIFICANT:g} vs {baseline}")
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
               label=m)
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
                     hatch=styles[m].hatch or None, label=m) for m in present]
    for c in ctrl_present:
        ls, col = ctrl_styles.get(c, ("--", "#666666"))
        handles.append(Line2D([], [], color=col, linestyle=ls, linewidth=1.0, label=c))
    # Legend above the axes, in rows: keeps the plot wide and never covers a bar.
    ax.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.suptitle(title)
    return save(fig, out, f"bars_{slug(spec.key)}", size)


def bar_charts(run: RunData, methods: list[str], specs: list[MetricSpec], styles, out: AtomicOutput,
               size: FigSize) -> list[str]:
    return [n for spec in specs if (n := bar_chart(run, methods, spec, styles, out, size))]


ABBREV = {e: e[:3] for e in EMOTIONS}


def confusion_figure(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize) -> str | None:
    """One compact grid of confusion matrices: methods, then the controls (the real images' panel shows
    what the judge itself gets right). Row-normalised colour, counts in the cells."""
    controls = sorted(m for m in run.confusion if is_control(m))
    mats = [(m, run.confusion[m]) for m in methods + controls if m in run.confusion]
    if not mats:
        return None
    most = 2 if size.narrow else 4
    nrows = math.ceil(len(mats) / most)
    ncols = math.ceil(len(mats) / nrows)   # as few empty slots as the rows allow
    panel_w = (size.width - 0.75) / ncols
    title_lines = []
    for m, conf in mats:
        counts = np.asarray(conf["counts"], dtype=float)
        acc = np.trace(counts) / max(counts.sum(), 1)
        title_lines.append(wrap(m, panel_w - 0.2, BODY_PT, bold=True) + f"\nEmo-A {acc * 100:.1f}%")
    t_lines = max(t.count("\n") + 1 for t in title_lines)
    # Panels are square cells: as tall as their rows (emotions not in the plan are left out).
    n_rows = max(int((np.asarray(conf["counts"]).sum(axis=1) > 0).sum()) or len(conf["labels"]) for _, conf in mats)
    n_cols = max(len(conf["labels"]) for _, conf in mats)
    panel_h = (panel_w - 0.3) * n_rows / n_cols + t_lines * _line_in(BODY_PT) + 0.3
    fig = new_figure(size, nrows * panel_h + 0.45)
    fig.get_layout_engine().set(w_pad=0.04, wspace=0.06)  # room between neighbouring panels' titles
    axes = fig.subplots(nrows, ncols, squeeze=False)
    im = None
    for idx, (ax, (m, conf), title) in enumerate(zip(axes.flat, mats, title_lines)):
        counts = np.asarray(conf["counts"], dtype=float)
        labels = list(conf["labels"])
        present = counts.sum(axis=1) > 0  # emotions not in the plan would be empty rows
        rows_idx = np.where(present)[0] if present.any() else np.arange(len(labels))
        c = counts[rows_idx]
        norm = c / np.maximum(c.sum(axis=1, keepdims=True), 1)
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, aspect="equal")
        # Counts in the cells only when the widest one fits its cell at the minimum size.
        cell_in = (panel_w - 0.3) / max(len(labels), 1)
        if text_width_in(str(int(c.max()) if c.size else 0), BODY_PT) < cell_in * 0.95:
            for i in range(c.shape[0]):
                for j in range(c.shape[1]):
                    if c[i, j]:
                        ax.text(j, i, str(int(c[i, j])), ha="center", va="center", fontsize=BODY_PT,
                                color="white" if norm[i, j] > 0.5 else "#222222")
        ax.set_title(title, fontsize=BODY_PT, fontweight="bold", pad=2, linespacing=1.05)
        ax.set_xticks(range(len(labels)), [ABBREV.get(lab, lab[:3]) for lab in labels], rotation=90)
        first_col = idx % ncols == 0
        ax.set_yticks(range(len(rows_idx)), [ABBREV.get(labels[i], labels[i][:3]) for i in rows_idx]
                      if first_col else [])
        ax.tick_params(length=0, pad=1.5)
        ax.spines[:].set_visible(False)
    for ax in list(axes.flat)[len(mats):]:
        ax.set_visible(False)
    fig.supxlabel("judged emotion", fontsize=LABEL_PT)
    fig.supylabel("prompted emotion", fontsize=LABEL_PT)
    fig.colorbar(im, ax=axes, label="fraction of the row", shrink=min(1.0, 2.2 / (nrows * panel_h)),
                 location="right", aspect=20, pad=0.02)
    return save(fig, out, "confusion", size)


def scatter_emoa_semd(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize) -> str | None:
    look = _summary_lookup(run)
    pts = [m for m in methods if (m, "emo-a", ALL) in look and (m, "sem-d", ALL) in look]
    if not pts:
        return None
    ctrls = [(c, mk) for c, mk in (("real (control)", "*"), ("shuffled (control)", "x"))
             if (c, "emo-a", ALL) in look and (c, "sem-d", ALL) in look]
    labels = pts + [c for c, _ in ctrls]
    legend_w = max(text_width_in(lab, BODY_PT) for lab in labels) + 0.35
    below = size.narrow or legend_w > 0.4 * size.width
    ncol = _legend_columns(labels, size.width) if below else 1
    height = 2.2 + (math.ceil(len(labels) / ncol) * _line_in(BODY_PT) * 1.2 if below else 0.3)
    title = wrap("Emo-A vs Sem-D (pooled, 95% CI; small: per emotion)", size.width - 0.1, TITLE_PT)
    fig = new_figure(size, height + title.count("\n") * _line_in(TITLE_PT))
    ax = fig.add_subplot(1, 1, 1)
    for m in pts:
        st = styles[m]
        for e in EMOTIONS:  # per-emotion values, small, to show the spread behind the pooled point
            a, d = look.get((m, "emo-a", e)), look.get((m, "sem-d", e))
            if a and d:
                ax.scatter(d[0], a[0] * 100, s=9, marker=st.marker, facecolor="none", edgecolor=st.colour,
                           linewidths=0.5, alpha=0.7)
        a, d = look[(m, "emo-a", ALL)], look[(m, "sem-d", ALL)]
        xe = np.array(_yerr(*d)).reshape(2, 1)
        ye = np.array(_yerr(*a)).reshape(2, 1) * 100
        ax.errorbar(d[0], a[0] * 100, xerr=xe, yerr=ye, fmt=st.marker, color=st.colour, label=m, capsize=1.5,
                    markersize=5, elinewidth=0.8, markeredgecolor="#222222", markeredgewidth=0.5)
    for c, marker in ctrls:
        a, d = look[(c, "emo-a", ALL)], look[(c, "sem-d", ALL)]
        ax.scatter(d[0], a[0] * 100, marker=marker, s=40, color="#444444", label=c)
    ax.set_xlabel("Sem-D↑ (semantic diversity)")
    ax.set_ylabel("Emo-A↑ (%)")
    fig.suptitle(title)
    handles, names = ax.get_legend_handles_labels()
    order = sorted(range(len(names)), key=lambda i: labels.index(names[i]) if names[i] in labels else len(labels))
    handles, names = [handles[i] for i in order], [names[i] for i in order]   # methods first, then controls
    if below:
        ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=ncol, frameon=False)
    else:
        ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return save(fig, out, "scatter_emoa_semd", size)


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
                         transfer_grid(run, plain, styles, out, size),
                         fusion_grid(run, methods, styles, out, size)):
                if made:
                    names.append(made)
    return names
