"""The closest pairs of a pairs table (memorisation: generated image | nearest training image), one row per
method, the closest first; the distance over the threshold under each pair."""
from __future__ import annotations

import io

import numpy as np

from emobench.report.figstyle import FigSize, save
from emobench.report.figures.common import TILE, Group, _image_figure, _tile
from emobench.report.output import AtomicOutput
from emobench.report.pairs import Pair, pairs_tables
from emobench.rundir.results import RunData

GAP, GROUP_GAP = 2, 10


def _pair_tiles(p: Pair) -> list[np.ndarray]:
    blank = np.full((TILE, TILE, 3), 235, dtype=np.uint8)
    gen = _tile(p.image) if p.image is not None else blank
    return [gen, _tile(io.BytesIO(p.train_png))]


def pairs_figure(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize) -> str | None:
    tables = pairs_tables(run)
    if not tables:
        return None
    t = tables[0]
    rows = [m for m in methods if m in t.methods]
    if not rows:
        return None
    k = min(3 if size.narrow else 5, max(len(t.methods[m]) for m in rows))
    gw = 2 * TILE + GAP
    width = k * gw + (k - 1) * GROUP_GAP
    height = len(rows) * TILE + (len(rows) - 1) * GAP * 2
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    for i, m in enumerate(rows):
        y = i * (TILE + GAP * 2)
        for j, p in enumerate(t.methods[m][:k]):
            for s, tile in enumerate(_pair_tiles(p)):
                x = j * (gw + GROUP_GAP) + s * (TILE + GAP)
                canvas[y:y + TILE, x:x + TILE] = tile
    row_c = [i * (TILE + GAP * 2) + TILE / 2 for i in range(len(rows))]
    geom = [(j * (gw + GROUP_GAP), gw, [j * (gw + GROUP_GAP) + s * (TILE + GAP) + TILE / 2 for s in range(2)])
            for j in range(k)]
    groups = [Group(f"closest {j + 1}", ["gen.", "train"]) for j in range(k)]
    ratios = "; ".join(f"{run.display_name(m)}: " + ", ".join(f"{p.ratio:.2f}" for p in t.methods[m][:k])
                       for m in rows)
    note = f"Each pair: the method's image, then its nearest training image; {t.note}. Per pair: {ratios}."
    fig = _image_figure(canvas, row_c, [run.display_name(m) for m in rows], geom, groups, t.title, note, size)
    return save(fig, out, "closest_pairs", size)
