"""Shared pieces of the figures: constants, image tiles and mosaics, the image-figure layout, cell lookups."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from emobench.report.figstyle import BODY_PT, LABEL_PT, TITLE_PT, FigSize, text_width_in, wrap
from emobench.rundir.results import RunData


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
