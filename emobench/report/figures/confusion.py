"""Emo-A confusion matrices, one panel per method."""
from __future__ import annotations

import math

import numpy as np

from emobench.emotions import EMOTIONS
from emobench.report.figstyle import BODY_PT, LABEL_PT, FigSize, new_figure, save, text_width_in, wrap
from emobench.report.output import AtomicOutput
from emobench.rundir.results import is_control, RunData
from emobench.report.figures.common import _line_in


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
        title_lines.append(wrap(run.display_name(m), panel_w - 0.2, BODY_PT, bold=True) + f"\nEmo-A {acc * 100:.1f}%")
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
