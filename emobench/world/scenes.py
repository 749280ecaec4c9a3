"""The scenes of EmoSet-mini: full-canvas backgrounds told apart by palette and layout.

Each painter fills ``img`` [n,64,64,3] (uint8) for ``n`` images of one scene. The object is painted on top,
in the centre, so every scene keeps its cue at the borders: a sky/ground split, a colour, a repeated texture.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from emobench.world.paint import (CANVAS, X, Y, col, disc, fill, fixed, paint, rect, ring, speckles, tri_up, v)


def _bands(img, rng, n, cuts, colours):
    """Horizontal bands: colours[i] above cuts[i] (cuts [n] arrays in pixels), the last fills the rest."""
    fill(img, col(rng, n, colours[-1]))
    for cut, c in reversed(list(zip(cuts, colours[:-1]))):
        paint(img, Y < v(cut), col(rng, n, c))


def scene_beach(img, rng, n):
    h1 = rng.uniform(20, 28, n)
    h2 = h1 + rng.uniform(10, 16, n)
    _bands(img, rng, n, [h1, h2], [(135, 200, 250), (20, 90, 190), (238, 214, 160)])


def scene_forest(img, rng, n):
    fill(img, col(rng, n, (25, 85, 30)))
    off = v(rng.uniform(0, 16, n))
    x = (X - off) % 16.0
    paint(img, (x < 4.0) & (Y > 30), col(rng, n, (95, 60, 25)))
    crowns = np.zeros((n, CANVAS, CANVAS), bool)
    for k in range(5):
        crowns |= disc(off + 2.0 + 16.0 * (k - 1), v(rng.uniform(16, 28, n)), 9.0)
    paint(img, crowns, col(rng, n, (45, 135, 45)))
    paint(img, Y > v(rng.uniform(54, 58, n)), col(rng, n, (70, 55, 25)))


def scene_night_sky(img, rng, n):
    fill(img, col(rng, n, (12, 18, 70), 6))
    paint(img, speckles(rng, n, 28, 0, CANVAS - 12), fixed((255, 255, 225)))   # 2-px stars survive the downsample
    paint(img, Y > v(rng.uniform(54, 58, n)), col(rng, n, (8, 10, 25), 4))


def scene_city_street(img, rng, n):
    fill(img, col(rng, n, (160, 170, 185)))
    road_top = v(rng.uniform(40, 46, n))
    width = v(rng.uniform(10, 14, n))
    off = v(rng.uniform(0, 14, n))
    bx = ((X + off) // width) % 2
    heights = v(rng.uniform(4, 12, n)) + bx * v(rng.uniform(0, 8, n))
    building = (Y >= heights) & (Y < road_top)
    paint(img, building & (bx == 0), col(rng, n, (95, 80, 75)))
    paint(img, building & (bx == 1), col(rng, n, (70, 75, 95)))
    windows = building & (((X + off) % 5) < 2) & ((Y % 6) < 3) & (Y < road_top - 3)
    paint(img, windows, col(rng, n, (250, 220, 110)))
    road = Y >= road_top
    paint(img, road, col(rng, n, (55, 55, 58), 6))
    dash = road & (np.abs(Y - (road_top + 64) / 2) < 1.5) & (((X + off * 2) % 14) < 7)
    paint(img, dash, fixed((240, 240, 240)))


def scene_room(img, rng, n):
    floor = v(rng.uniform(40, 48, n))
    fill(img, col(rng, n, (225, 205, 170)))
    paint(img, Y >= floor, col(rng, n, (150, 95, 50)))
    paint(img, (Y >= floor) & (((X + v(rng.uniform(0, 10, n))) % 10) < 1.5), col(rng, n, (105, 60, 30)))
    wx = v(rng.uniform(6, 44, n))      # a window on the wall
    paint(img, rect(wx, 6, wx + 14, 22), col(rng, n, (150, 200, 235)))


def scene_desert(img, rng, n):
    fill(img, col(rng, n, (250, 225, 150)))
    base = v(rng.uniform(34, 42, n))
    phase = v(rng.uniform(0, 6.3, n))
    paint(img, Y > base + 4.0 * np.sin(X / 9.0 + phase), col(rng, n, (225, 140, 55)))
    paint(img, Y > base + 14 + 3.0 * np.sin(X / 7.0 + 2 * phase), col(rng, n, (195, 110, 40)))


def scene_snowy_field(img, rng, n):
    h = rng.uniform(24, 34, n)
    _bands(img, rng, n, [h], [(200, 220, 240), (248, 250, 255)])
    phase = v(rng.uniform(0, 6.3, n))
    ridge = (Y > v(h) - 6 + 3 * np.sin(X / 8 + phase)) & (Y < v(h))
    paint(img, ridge, col(rng, n, (175, 190, 210)))


def scene_graveyard(img, rng, n):
    h = v(rng.uniform(36, 44, n))
    fill(img, col(rng, n, (85, 80, 100), 8))
    paint(img, Y >= h, col(rng, n, (40, 55, 35), 8))
    x = (X + v(rng.uniform(0, 20, n))) % 20.0
    stone = ((x >= 3) & (x < 11) & (Y >= h - 9) & (Y < h + 4)) | (((x - 7) ** 2 + (Y - (h - 9)) ** 2) <= 16)
    paint(img, stone, col(rng, n, (150, 150, 150), 8))


# ---------------------------------------------------------------- world version 3
def scene_carnival(img, rng, n):
    """Pastel pink sky, a big white Ferris-wheel ring with coloured cabins, red-and-white striped tents."""
    fill(img, col(rng, n, (250, 180, 210), 8))
    cx, cy, r = v(rng.uniform(8, 56, n)), v(rng.uniform(16, 26, n)), v(rng.uniform(15, 19, n))
    paint(img, ring(cx, cy, r, r - 3.5), col(rng, n, (250, 250, 250), 4))
    for k in range(6):
        a = k * np.pi / 3
        paint(img, disc(cx + r * np.cos(a), cy + r * np.sin(a), 3.0), col(rng, n, (40, 170, 230), 10))
    top = v(rng.uniform(44, 50, n))
    stripes = (Y >= top) & ((((X + v(rng.uniform(0, 12, n))) // 6) % 2) == 0)
    paint(img, Y >= top, fixed((250, 250, 250)))
    paint(img, stripes, col(rng, n, (225, 35, 45), 8))


def scene_meadow(img, rng, n):
    """Light blue sky over bright lime grass dotted with yellow and white flowers."""
    h = rng.uniform(16, 24, n)
    _bands(img, rng, n, [h], [(150, 205, 245), (115, 200, 50)])
    lo = int(h.max()) + 2
    paint(img, speckles(rng, n, 24, lo, CANVAS) & (Y > v(h) + 2), col(rng, n, (250, 230, 40), 6))
    paint(img, speckles(rng, n, 16, lo, CANVAS) & (Y > v(h) + 2), fixed((250, 250, 250)))


def scene_stage(img, rng, n):
    """A black stage: dark red curtains at both sides, a pale spotlight cone, a wooden floor."""
    fill(img, col(rng, n, (15, 10, 22), 4))
    sx = v(rng.uniform(24, 40, n))
    paint(img, tri_up(sx, -6.0, 64.0, v(rng.uniform(16, 22, n))), col(rng, n, (95, 80, 120), 8))
    w = v(rng.uniform(9, 13, n))
    curtain = (X < w) | (X > CANVAS - w)
    paint(img, curtain, col(rng, n, (150, 15, 30), 8))
    paint(img, curtain & (((X + 1) % 4) < 1.5), col(rng, n, (100, 5, 20), 6))
    paint(img, Y >= v(rng.uniform(52, 57, n)), col(rng, n, (120, 75, 35), 8))


def scene_landfill(img, rng, n):
    """Dull khaki sky over grey-brown heaps of junk (scattered dull blocks)."""
    fill(img, col(rng, n, (185, 175, 125), 8))
    base, phase = v(rng.uniform(26, 34, n)), v(rng.uniform(0, 6.3, n))
    heap = Y > base + 5.0 * np.sin(X / 6.0 + phase)
    paint(img, heap, col(rng, n, (105, 90, 70), 8))
    for rgb in ((150, 150, 150), (70, 90, 120), (90, 100, 40), (60, 45, 35)):
        paint(img, heap & speckles(rng, n, 26, 24, CANVAS, size=3), col(rng, n, rgb, 10))


def scene_swamp(img, rng, n):
    """Foggy grey-green sky, murky olive water with pale ripples, bare dark trunks."""
    h = rng.uniform(34, 42, n)
    _bands(img, rng, n, [h], [(145, 155, 125), (65, 75, 35)])
    paint(img, (Y > v(h) + 3) & ((Y % 6) < 1.2) & (((X + v(rng.uniform(0, 9, n))) % 9) < 5),
          col(rng, n, (110, 120, 70), 6))
    for _ in range(3):
        x0 = v(rng.uniform(2, 60, n))
        paint(img, rect(x0, v(rng.uniform(4, 16, n)), x0 + 3.0, v(h) + 2), col(rng, n, (55, 42, 30), 6))


def scene_cave(img, rng, n):
    """Very dark brown rock, lighter stalactites hanging from the top and stalagmites rising from the floor."""
    fill(img, col(rng, n, (48, 34, 24), 5))
    off = v(rng.uniform(0, 14, n))
    x = (X + off) % 14.0
    length = v(rng.uniform(12, 20, n))
    stalactite = (Y < length * (1 - np.abs(x - 7) / 6.0))
    stalagmite = (Y > CANVAS - 0.7 * length * (1 - np.abs(((X + off + 7) % 14.0) - 7) / 6.0))
    paint(img, stalactite | stalagmite, col(rng, n, (120, 92, 62), 8))


def scene_hospital(img, rng, n):
    """Pale mint wall, a white sign with a red cross, light grey tiled floor."""
    floor = v(rng.uniform(42, 50, n))
    fill(img, col(rng, n, (195, 230, 215), 6))
    paint(img, Y >= floor, col(rng, n, (185, 188, 195), 6))
    paint(img, (Y >= floor) & ((((X + v(rng.uniform(0, 8, n))) % 8) < 1) | (((Y - floor) % 6) < 1)),
          fixed((130, 135, 145)))
    sx = v(rng.uniform(4, 46, n))
    paint(img, rect(sx, 4, sx + 14, 18), fixed((250, 250, 250)))
    paint(img, rect(sx + 5, 6, sx + 9, 16) | rect(sx + 2, 9, sx + 12, 13), col(rng, n, (220, 30, 40), 8))


def scene_underwater(img, rng, n):
    """Teal water darkening with depth, pale bubbles, green weed rising from the bottom."""
    top = col(rng, n, (20, 140, 165), 8)
    deep = col(rng, n, (8, 45, 95), 6)
    t = (Y / CANVAS)[..., None]
    img[:] = np.clip(np.rint(top * (1 - t) + deep * t), 0, 255).astype(np.uint8)
    paint(img, speckles(rng, n, 10, 0, 44, size=3), col(rng, n, (190, 235, 245), 6))
    off, phase = v(rng.uniform(0, 10, n)), v(rng.uniform(0, 6.3, n))
    weed = (((X + off + 2.5 * np.sin(Y / 4.0 + phase)) % 10) < 3.0) & (Y > v(rng.uniform(40, 48, n)))
    paint(img, weed, col(rng, n, (40, 150, 70), 8))


SCENE_DRAW: dict[str, Callable] = {
    "beach": scene_beach, "forest": scene_forest, "night_sky": scene_night_sky,
    "city_street": scene_city_street, "room": scene_room, "desert": scene_desert,
    "snowy_field": scene_snowy_field, "graveyard": scene_graveyard,
    "carnival": scene_carnival, "meadow": scene_meadow, "stage": scene_stage,
    "landfill": scene_landfill, "swamp": scene_swamp, "cave": scene_cave, "hospital": scene_hospital,
    "underwater": scene_underwater,
}
