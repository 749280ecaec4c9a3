"""Write docs/img/emoset-mini-grid.png: real EmoSet-mini images, one row per object, one column per scene
(``python scripts/emoset_mini_grid.py [OUT]``). Drawn with the public ``emobench.world.render_batch``, no
tone shift, seed 0: the figure in docs/emoset-mini.md is exactly what this prints."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from emobench.world import OBJECTS, SCENES, render_batch


def grid(scale: int = 2, gutter: int = 2) -> Image.Image:
    objs = [o for o in OBJECTS for _ in SCENES]
    scns = [s for _ in OBJECTS for s in SCENES]
    imgs = render_batch(objs, scns, seed=0).reshape(len(OBJECTS), len(SCENES), 32, 32, 3)
    cell = 32 * scale + gutter
    canvas = np.full((len(OBJECTS) * cell + gutter, len(SCENES) * cell + gutter, 3), 255, np.uint8)
    for i in range(len(OBJECTS)):
        for j in range(len(SCENES)):
            big = imgs[i, j].repeat(scale, 0).repeat(scale, 1)
            canvas[gutter + i * cell:gutter + i * cell + 32 * scale, gutter + j * cell:gutter + j * cell + 32 * scale] = big
    return Image.fromarray(canvas)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "img" / "emoset-mini-grid.png"
    grid().save(out, optimize=True)
    print(out)
