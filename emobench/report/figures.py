"""Paper-ready figures from a scored run: comparison grid (emotions × methods, same seeds: the paper's
Fig. 4 idea), per-emotion bars with CIs for every metric, Emo-A confusion matrices, Emo-A vs Sem-D
scatter, and EmoGen's emotion transfer / fusion grids when the run has them.

Each figure is written as PNG (fixed dpi, no Software stamp: identical bytes on a rerun) and PDF
(TrueType text, so it stays vector and selectable; no creation date). Colours per method come from
``colors.method_colours`` and are the same in every figure.
"""
from __future__ import annotations

import math
import re

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from emobench.emotions import EMOTIONS
from emobench.report.colors import method_colours
from emobench.rundir import ALL
from emobench.report.metrics_display import MetricSpec, ordered_specs
from emobench.report.output import AtomicOutput
from emobench.report.rundata import RunData, is_control

DPI = 200
TILE = 64                 # pixels per image in grids (small images are upscaled nearest-neighbour)
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
    "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "pdf.fonttype": 42, "ps.fonttype": 42, "svg.hashsalt": "emobench",
    "axes.spines.top": False, "axes.spines.right": False, "image.interpolation": "none",
}
PNG_META = {"Software": None}
PDF_META = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
TRANSFER_RE = re.compile(r"^\s*\{emotion\}\s+\S.*$")   # "{emotion} bag": EmoGen's emotion transfer prompts


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", name).strip("-") or "x"


def _save(fig: Figure, out: AtomicOutput, name: str) -> None:
    fig.savefig(out.path(f"figures/{name}.png"), dpi=DPI, metadata=PNG_META, format="png")
    fig.savefig(out.path(f"figures/{name}.pdf"), metadata=PDF_META, format="pdf")


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


def _mosaic(run: RunData, rows: list[list[list[object]]], gap: int = 2, group_gap: int = 10):
    """rows × groups × tiles of records (or None) → uint8 image, with centres of rows and groups."""
    n_groups = max(len(r) for r in rows)
    k = max(len(g) for r in rows for g in r)
    gw = k * TILE + (k - 1) * gap
    width = n_groups * gw + (n_groups - 1) * group_gap
    height = len(rows) * TILE + (len(rows) - 1) * gap * 2
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    for i, row in enumerate(rows):
        y = i * (TILE + gap * 2)
        for j, group in enumerate(row):
            for t, rec in enumerate(group):
                x = j * (gw + group_gap) + t * (TILE + gap)
                path = _find_image(run, rec) if rec is not None else None
                if path is None:
                    canvas[y:y + TILE, x:x + TILE] = 235  # light grey: no image for this cell
                else:
                    canvas[y:y + TILE, x:x + TILE] = _tile(path)
    row_c = [i * (TILE + gap * 2) + TILE / 2 for i in range(len(rows))]
    col_c = [j * (gw + group_gap) + gw / 2 for j in range(n_groups)]
    return canvas, row_c, col_c


def _image_figure(canvas, row_c, row_labels, col_c, col_labels, col_colours, title, rotate: bool = False):
    h, w = canvas.shape[:2]
    scale = 1 / 110  # inches per mosaic pixel: a 64-px tile is ~0.58 in, readable in print
    # Margins sized from the labels (about 0.075 in per character at 9 pt) so nothing is clipped.
    longest_row = max((len(line) for lab in row_labels for line in str(lab).split("\n")), default=4)
    longest_col = max((len(str(c)) for c in col_labels), default=4)
    spacing_in = (col_c[1] - col_c[0]) * scale if len(col_c) > 1 else w * scale
    rotate = rotate or 0.085 * longest_col > spacing_in  # labels wider than their column would overlap
    left = 0.25 + 0.075 * longest_row
    top = 0.55 + (0.055 * longest_col if rotate else 0.2)
    right = 0.25 + (0.065 * longest_col if rotate else 0.0)  # room for the last slanted label
    width = max(w * scale + left + right, 0.085 * len(title) + 0.4)
    fig = Figure(figsize=(width, h * scale + top + 0.15))
    ax = fig.add_axes((left / width, 0.15 / fig.get_figheight(),
                       w * scale / width, h * scale / fig.get_figheight()))
    ax.imshow(canvas, interpolation="none")
    ax.set_yticks(row_c, row_labels)
    ax.xaxis.tick_top()
    ax.set_xticks(col_c, col_labels, rotation=30 if rotate else 0, ha="left" if rotate else "center",
                  rotation_mode="anchor" if rotate else "default")
    for lab, colour in zip(ax.get_xticklabels(), col_colours):
        lab.set_color(colour)
        lab.set_fontweight("bold")
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    fig.suptitle(title, x=0.5, y=1 - 0.08 / fig.get_figheight(), va="top", fontsize=10)
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


def comparison_grid(run: RunData, methods: list[str], colours, out: AtomicOutput, k: int = 3) -> bool:
    recs = {(r.method, r.emotion, r.template, r.seed): r for r in run.records}
    by_emo = _cells_by_emotion(run)
    emotions = [e for e in EMOTIONS if e in by_emo] + sorted(e for e in by_emo if e not in EMOTIONS)
    methods = [m for m in methods if any(r.method == m for r in run.records)]
    if not emotions or not methods:
        return False
    # The same first k cells (template, seed) of every emotion: identical starting noise across the grid.
    # Transfer prompts ("{emotion} bag") have their own figure; the grid shows the plain emotion prompts.
    plain = {e: [c for c in by_emo[e] if not TRANSFER_RE.match(c[0])] or by_emo[e] for e in emotions}
    rows = [[[recs.get((m, e, t, s)) for t, s in plain[e][:k]] for m in methods] for e in emotions]
    canvas, rc, cc = _mosaic(run, rows)
    seeds = sorted({s for e in emotions for _, s in plain[e][:k]})
    fig = _image_figure(canvas, rc, emotions, cc, methods, [colours[m] for m in methods],
                        f"Same cells for every method (seeds {', '.join(map(str, seeds))})")
    _save(fig, out, "comparison_grid")
    return True


def transfer_grid(run: RunData, methods: list[str], colours, out: AtomicOutput) -> bool:
    """EmoGen's emotion transfer: ``{emotion} <object>`` prompts, emotions across, (method, object) down."""
    by_emo = _cells_by_emotion(run)
    templates = sorted({t for lst in by_emo.values() for t, _ in lst if TRANSFER_RE.match(t)})
    if not templates:
        return False
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
        return False
    canvas, rc, cc = _mosaic(run, rows)
    fig = _image_figure(canvas, rc, labels, cc, emotions, ["#222"] * len(emotions),
                        "Emotion transfer: each emotion (columns) applied to an object prompt (rows)",
                        rotate=True)
    _save(fig, out, "emotion_transfer")
    return True


FUSE_RE = re.compile(r"fuse=([A-Za-z]+)\+([A-Za-z]+)")


def fusion_grid(run: RunData, methods: list[str], colours, out: AtomicOutput, k: int = 4) -> bool:
    """EmoGen's emotion fusion: per ``<base>:fuse=e1+e2`` method, the base method's e1 row, the fused row
    and the base method's e2 row, on the same seeds."""
    fused = [m for m in methods if FUSE_RE.search(m)]
    if not fused:
        return False
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
        return False
    canvas, rc, cc = _mosaic(run, rows)
    fig = _image_figure(canvas, rc, labels, cc, [f"seed {s}" for s in col_seeds][:len(cc)],
                        ["#222"] * len(cc), "Emotion fusion: two emotions in one prompt, same seeds")
    _save(fig, out, "emotion_fusion")
    return True


# ---------------------------------------------------------------- charts

def _summary_lookup(run: RunData):
    s = run.summary
    return {(m, met, e): (v, lo, hi) for m, met, e, v, lo, hi in
            zip(s["method"], s["metric"], s["emotion"], s["value"], s["ci_low"], s["ci_high"])}


def _yerr(v, lo, hi):
    if any(math.isnan(x) for x in (v, lo, hi)):
        return (0.0, 0.0)
    return (max(0.0, v - lo), max(0.0, hi - v))


def bar_charts(run: RunData, methods: list[str], specs: list[MetricSpec], colours, out: AtomicOutput) -> list[str]:
    look = _summary_lookup(run)
    emo_in_summary = set(run.summary["emotion"])
    emotions = [e for e in EMOTIONS if e in emo_in_summary] + [ALL]
    controls = sorted({m for m in run.summary["method"] if is_control(m)})
    names = []
    for spec in specs:
        present = [m for m in methods if any((m, spec.key, e) in look for e in emotions)]
        if not present:
            continue
        groups = [e for e in emotions if any((m, spec.key, e) in look for m in present)]
        f = 100.0 if spec.percent else 1.0
        n_bars = len(groups) * len(present)
        width = min(10.0, max(4.5, 1.2 + 0.13 * n_bars + 0.25 * len(groups)))
        legend_labels = present + controls
        # Legend columns that fit the width (about 0.075 in per character at 8 pt, plus the handle).
        col_w = 0.07 * max(len(x) for x in legend_labels) + 0.55
        ncol = max(1, min(4, len(legend_labels), int((width - 0.3) // col_w)))
        fig = Figure(figsize=(width, 3.6 + 0.18 * math.ceil(len(legend_labels) / ncol)), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        width = 0.8 / len(present)
        x = np.arange(len(groups), dtype=float)
        for i, m in enumerate(present):
            vals, errs = [], [[], []]
            for e in groups:
                v, lo, hi = look.get((m, spec.key, e), (math.nan,) * 3)
                vals.append(v * f)
                lo_e, hi_e = _yerr(v, lo, hi)
                errs[0].append(lo_e * f)
                errs[1].append(hi_e * f)
            ax.bar(x - 0.4 + width * (i + 0.5), vals, width, yerr=errs, color=colours[m], label=m,
                   capsize=2, error_kw={"elinewidth": 0.8, "capthick": 0.8}, edgecolor="white", linewidth=0.3)
        styles = {"real (control)": ("-", "#333333"), "shuffled (control)": (":", "#333333")}
        for c in controls:
            ls, col = styles.get(c, ("--", "#777777"))
            xs = []
            for gi, e in enumerate(groups):
                v = look.get((c, spec.key, e), (math.nan,))[0]
                if not math.isnan(v):
                    ax.hlines(v * f, gi - 0.45, gi + 0.45, colors=col, linestyles=ls, linewidth=1.2,
                              label=c if not xs else None)
                    xs.append(gi)
        ax.set_xticks(x, groups, rotation=30, ha="right")
        if ALL in groups:
            ax.axvline(len(groups) - 1.5, color="#bbbbbb", linewidth=0.6)
        ax.set_ylabel(spec.title + (" (%)" if spec.percent else ""))
        ax.margins(x=0.01)
        # Legend above the axes, in rows: keeps the plot wide and never covers a bar.
        handles, labels = ax.get_legend_handles_labels()
        order = [labels.index(m) for m in present] + [i for i, lab in enumerate(labels) if lab not in present]
        ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower center",
                  ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 1.0))
        fig.suptitle(f"{spec.title} per emotion, 95% CI" + ("; lines: controls" if controls else ""))
        name = f"bars_{slug(spec.key)}"
        _save(fig, out, name)
        names.append(name)
    return names


def confusion_figure(run: RunData, methods: list[str], colours, out: AtomicOutput) -> bool:
    mats = [(m, run.confusion[m]) for m in methods if m in run.confusion]
    if not mats:
        return False
    ncols = min(3, len(mats))
    nrows = math.ceil(len(mats) / ncols)
    fig = Figure(figsize=(3.3 * ncols + 0.9, 3.4 * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    im = None
    for ax, (m, conf) in zip(axes.flat, mats):
        counts = np.asarray(conf["counts"], dtype=float)
        labels = list(conf["labels"])
        present = counts.sum(axis=1) > 0  # emotions not in the plan would be empty rows
        rows_idx = np.where(present)[0] if present.any() else np.arange(len(labels))
        c = counts[rows_idx]
        norm = c / np.maximum(c.sum(axis=1, keepdims=True), 1)
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for i in range(c.shape[0]):
            for j in range(c.shape[1]):
                if c[i, j]:
                    ax.text(j, i, str(int(c[i, j])), ha="center", va="center", fontsize=6.5,
                            color="white" if norm[i, j] > 0.55 else "#222")
        acc = np.trace(counts) / max(counts.sum(), 1)
        ax.set_title(f"{m}  (Emo-A {acc * 100:.1f}%)", color=colours[m], fontweight="bold")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(rows_idx)), [labels[i] for i in rows_idx], fontsize=7)
        ax.set_xlabel("judged emotion")
        ax.set_ylabel("prompted emotion")
        ax.spines[:].set_visible(False)
    for ax in list(axes.flat)[len(mats):]:
        ax.set_visible(False)
    fig.colorbar(im, ax=axes, label="fraction of the prompted emotion's images", shrink=0.6)
    _save(fig, out, "confusion")
    return True


def scatter_emoa_semd(run: RunData, methods: list[str], colours, out: AtomicOutput) -> bool:
    look = _summary_lookup(run)
    pts = [m for m in methods if (m, "emo-a", ALL) in look and (m, "sem-d", ALL) in look]
    if not pts:
        return False
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for m in pts:
        for e in EMOTIONS:  # per-emotion values, faint, to show the spread behind the pooled point
            a, d = look.get((m, "emo-a", e)), look.get((m, "sem-d", e))
            if a and d:
                ax.scatter(d[0], a[0] * 100, s=10, color=colours[m], alpha=0.3, linewidths=0)
        a, d = look[(m, "emo-a", ALL)], look[(m, "sem-d", ALL)]
        xe = np.array(_yerr(*d)).reshape(2, 1)
        ye = np.array(_yerr(*a)).reshape(2, 1) * 100
        ax.errorbar(d[0], a[0] * 100, xerr=xe, yerr=ye, fmt="o", color=colours[m], label=m, capsize=2,
                    markersize=6, elinewidth=0.9)
    for c, marker in (("real (control)", "*"), ("shuffled (control)", "x")):
        a, d = look.get((c, "emo-a", ALL)), look.get((c, "sem-d", ALL))
        if a and d:
            ax.scatter(d[0], a[0] * 100, marker=marker, s=50, color="#444444", label=c)
    ax.set_xlabel("Sem-D↑ (semantic diversity)")
    ax.set_ylabel("Emo-A↑ (%)")
    fig.suptitle("Emo-A vs Sem-D per method (pooled, 95% CI; faint dots: per emotion)", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    _save(fig, out, "scatter_emoa_semd")
    return True


def write_figures(run: RunData, out: AtomicOutput) -> list[str]:
    """Every figure the run supports, into ``out``'s ``figures/``; returns their base names."""
    methods = [m for m in run.method_names() if run.status(m)[0] == "ok"]
    colours = method_colours(run.method_names() + sorted({m for m in run.summary["method"] if is_control(m)}))
    specs = ordered_specs(sorted(set(run.summary["metric"])), run.display, run.metric_directions)
    names: list[str] = []
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(STYLE)
        plain = [m for m in methods if "fuse=" not in m]
        if comparison_grid(run, plain, colours, out):
            names.append("comparison_grid")
        names += bar_charts(run, methods, specs, colours, out)
        if confusion_figure(run, methods, colours, out):
            names.append("confusion")
        if scatter_emoa_semd(run, methods, colours, out):
            names.append("scatter_emoa_semd")
        if transfer_grid(run, plain, colours, out):
            names.append("emotion_transfer")
        if fusion_grid(run, methods, colours, out):
            names.append("emotion_fusion")
    return names
