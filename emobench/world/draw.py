"""Vectorised procedural drawing: scenes and objects on a 64×64 canvas, BOX-downsampled to 32×32.

All images sharing a scene (or an object) are drawn at once with numpy broadcasting, so a chunk of a
thousand images costs a few dozen array operations per kind rather than a thousand PIL calls. Every
random choice comes from the ``Generator`` passed in, in a fixed order, so output depends on it only.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

CANVAS = 64
SIZE = 32
_Y, _X = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float32)
_Y, _X = _Y[None] + 0.5, _X[None] + 0.5  # [1,64,64] pixel centres

# Signature colours (RGB 0-255): one dominant colour per object, far apart from one another.
OBJECT_COLOURS: dict[str, tuple[int, int, int]] = {
    "gift": (225, 35, 165), "balloon": (150, 55, 225), "mountain": (105, 88, 78),
    "sun": (255, 215, 0), "cake": (140, 78, 35), "fire": (255, 105, 0),
    "angry_face": (215, 25, 25), "trash_bag": (135, 135, 40), "spider": (12, 12, 12),
    "skull": (232, 226, 205), "snake": (45, 200, 55), "tear_drop": (35, 105, 240),
}


def _col(rng: np.random.Generator, n: int, base, jitter: float = 14.0) -> np.ndarray:
    """[n,1,1,3] colours: ``base`` plus per-image jitter."""
    c = np.asarray(base, np.float32)[None] + rng.normal(0.0, jitter, (n, 3)).astype(np.float32)
    return np.clip(c, 0, 255)[:, None, None, :]


def _paint(img: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    """In place: img[mask] = colour (colour [n,1,1,3] or [3], float 0-255; the canvas is uint8 for speed)."""
    c = np.clip(np.rint(colour), 0, 255).astype(np.uint8).reshape(-1, 3)
    mask = np.broadcast_to(mask, img.shape[:3])
    # fancy indexing touches only the masked pixels (much faster than copyto(where=) over the canvas)
    i, y, x = np.nonzero(mask)
    img[i, y, x] = c[i] if len(c) > 1 else c[0]


def _fill(img: np.ndarray, colour: np.ndarray) -> None:
    """In place: whole canvas of each image = its colour."""
    img[:] = np.clip(np.rint(colour), 0, 255).astype(np.uint8)


def _v(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32)[:, None, None]


def _disc(cx, cy, r):
    return (_X - cx) ** 2 + (_Y - cy) ** 2 <= r ** 2


def _ellipse(cx, cy, rx, ry):
    return ((_X - cx) / rx) ** 2 + ((_Y - cy) / ry) ** 2 <= 1.0


def _rect(x0, y0, x1, y1):
    return (_X >= x0) & (_X < x1) & (_Y >= y0) & (_Y < y1)


def _tri_up(cx, y_top, y_base, half_w):
    """Isosceles triangle with apex (cx, y_top) and base at y_base of half width half_w."""
    t = (_Y - y_top) / (y_base - y_top)
    return (t >= 0) & (t <= 1) & (np.abs(_X - cx) <= t * half_w)


def _segment(x0, y0, x1, y1, width):
    """Thick line segment."""
    dx, dy = x1 - x0, y1 - y0
    ll = dx * dx + dy * dy
    t = np.clip(((_X - x0) * dx + (_Y - y0) * dy) / ll, 0, 1)
    return (_X - (x0 + t * dx)) ** 2 + (_Y - (y0 + t * dy)) ** 2 <= (width / 2) ** 2


# ---------------------------------------------------------------- scenes
def _bands(img, rng, n, cuts, colours):
    """Horizontal bands: colours[i] above cuts[i] (cuts [n] arrays in pixels), the last fills the rest."""
    _fill(img, _col(rng, n, colours[-1]))
    for cut, c in reversed(list(zip(cuts, colours[:-1]))):
        _paint(img, _Y < _v(cut), _col(rng, n, c))


def scene_beach(img, rng, n):
    h1 = rng.uniform(20, 28, n)
    h2 = h1 + rng.uniform(10, 16, n)
    _bands(img, rng, n, [h1, h2], [(135, 200, 250), (20, 90, 190), (238, 214, 160)])


def scene_forest(img, rng, n):
    _fill(img, _col(rng, n, (25, 85, 30)))
    off = _v(rng.uniform(0, 16, n))
    x = (_X - off) % 16.0
    trunk = (x < 4.0) & (_Y > 30)
    _paint(img, trunk, _col(rng, n, (95, 60, 25)))
    crowns = np.zeros((n, CANVAS, CANVAS), bool)
    for k in range(5):
        cx = off + 2.0 + 16.0 * (k - 1)
        crowns |= _disc(cx, _v(rng.uniform(16, 28, n)), 9.0)
    _paint(img, crowns, _col(rng, n, (45, 135, 45)))
    _paint(img, _Y > _v(rng.uniform(54, 58, n)), _col(rng, n, (70, 55, 25)))


def scene_night_sky(img, rng, n):
    _fill(img, _col(rng, n, (12, 18, 70), 6))
    stars = np.zeros((n, CANVAS * CANVAS), bool)
    idx = rng.integers(0, CANVAS * (CANVAS - 12), (n, 28))
    np.put_along_axis(stars, idx, True, axis=1)
    stars = stars.reshape(n, CANVAS, CANVAS)
    stars |= np.roll(stars, 1, axis=2)  # 2-px stars survive the downsample
    _paint(img, stars, np.array([255, 255, 225], np.float32))
    _paint(img, _Y > _v(rng.uniform(54, 58, n)), _col(rng, n, (8, 10, 25), 4))


def scene_city_street(img, rng, n):
    sky = _col(rng, n, (160, 170, 185))
    _fill(img, sky)
    road_top = _v(rng.uniform(40, 46, n))
    width = _v(rng.uniform(10, 14, n))
    off = _v(rng.uniform(0, 14, n))
    bx = ((_X + off) // width) % 2
    heights = _v(rng.uniform(4, 12, n)) + bx * _v(rng.uniform(0, 8, n))
    building = (_Y >= heights) & (_Y < road_top)
    _paint(img, building & (bx == 0), _col(rng, n, (95, 80, 75)))
    _paint(img, building & (bx == 1), _col(rng, n, (70, 75, 95)))
    windows = building & (((_X + off) % 5) < 2) & ((_Y % 6) < 3) & (_Y < road_top - 3)
    _paint(img, windows, _col(rng, n, (250, 220, 110)))
    road = _Y >= road_top
    _paint(img, road, _col(rng, n, (55, 55, 58), 6))
    dash = road & (np.abs(_Y - (road_top + 64) / 2) < 1.5) & (((_X + off * 2) % 14) < 7)
    _paint(img, dash, np.array([240, 240, 240], np.float32))


def scene_room(img, rng, n):
    floor = _v(rng.uniform(40, 48, n))
    _fill(img, _col(rng, n, (225, 205, 170)))
    _paint(img, _Y >= floor, _col(rng, n, (150, 95, 50)))
    planks = (_Y >= floor) & (((_X + _v(rng.uniform(0, 10, n))) % 10) < 1.5)
    _paint(img, planks, _col(rng, n, (105, 60, 30)))
    # a window on the wall
    wx = _v(rng.uniform(6, 44, n))
    _paint(img, _rect(wx, 6, wx + 14, 22), _col(rng, n, (150, 200, 235)))


def scene_desert(img, rng, n):
    _fill(img, _col(rng, n, (250, 225, 150)))
    base = _v(rng.uniform(34, 42, n))
    phase = _v(rng.uniform(0, 6.3, n))
    dune = _Y > base + 4.0 * np.sin(_X / 9.0 + phase)
    _paint(img, dune, _col(rng, n, (225, 140, 55)))
    dune2 = _Y > base + 14 + 3.0 * np.sin(_X / 7.0 + 2 * phase)
    _paint(img, dune2, _col(rng, n, (195, 110, 40)))


def scene_snowy_field(img, rng, n):
    h = rng.uniform(24, 34, n)
    _bands(img, rng, n, [h], [(200, 220, 240), (248, 250, 255)])
    phase = _v(rng.uniform(0, 6.3, n))
    ridge = (_Y > _v(h) - 6 + 3 * np.sin(_X / 8 + phase)) & (_Y < _v(h))
    _paint(img, ridge, _col(rng, n, (175, 190, 210)))


def scene_graveyard(img, rng, n):
    h = _v(rng.uniform(36, 44, n))
    _fill(img, _col(rng, n, (85, 80, 100), 8))
    _paint(img, _Y >= h, _col(rng, n, (40, 55, 35), 8))
    off = _v(rng.uniform(0, 20, n))
    x = (_X + off) % 20.0
    stone = ((x >= 3) & (x < 11) & (_Y >= h - 9) & (_Y < h + 4)) | \
            (((x - 7) ** 2 + (_Y - (h - 9)) ** 2) <= 16)
    _paint(img, stone, _col(rng, n, (150, 150, 150), 8))


SCENE_DRAW: dict[str, Callable] = {
    "beach": scene_beach, "forest": scene_forest, "night_sky": scene_night_sky,
    "city_street": scene_city_street, "room": scene_room, "desert": scene_desert,
    "snowy_field": scene_snowy_field, "graveyard": scene_graveyard,
}


# ---------------------------------------------------------------- objects
# Each gets centre (cx, cy) and size s (about half the object's extent, in 64-px units) as [n,1,1].
def obj_gift(img, rng, n, cx, cy, s, col):
    box = _rect(cx - 0.8 * s, cy - 0.6 * s, cx + 0.8 * s, cy + 0.9 * s)
    _paint(img, box, col)
    ribbon = box & ((np.abs(_X - cx) < 0.17 * s) | (np.abs(_Y - cy - 0.15 * s) < 0.17 * s))
    _paint(img, ribbon, _col(rng, n, (255, 235, 60)))
    bow = _ellipse(cx - 0.3 * s, cy - 0.75 * s, 0.3 * s, 0.2 * s) | _ellipse(cx + 0.3 * s, cy - 0.75 * s, 0.3 * s, 0.2 * s)
    _paint(img, bow, _col(rng, n, (255, 235, 60)))


def obj_balloon(img, rng, n, cx, cy, s, col):
    _paint(img, _ellipse(cx, cy - 0.1 * s, 0.78 * s, 0.98 * s), col)
    _paint(img, _tri_up(cx, cy + 0.8 * s, cy + 1.1 * s, 0.2 * s), col)
    _paint(img, _disc(cx - 0.35 * s, cy - 0.5 * s, 0.15 * s), np.array([235, 215, 255], np.float32))


def obj_mountain(img, rng, n, cx, cy, s, col):
    top, base = cy - 1.05 * s, cy + 1.0 * s
    _paint(img, _tri_up(cx, top, base, 1.45 * s), col)
    cap = _tri_up(cx, top, top + 0.75 * s, 1.45 * s * 0.75 / 2.05)
    _paint(img, cap, _col(rng, n, (250, 250, 250), 4))


def obj_sun(img, rng, n, cx, cy, s, col):
    _paint(img, _disc(cx, cy, 0.85 * s), col)
    _paint(img, _disc(cx, cy, 0.55 * s), np.clip(col + 25, 0, 255))


def obj_cake(img, rng, n, cx, cy, s, col):
    _paint(img, _rect(cx - 0.9 * s, cy - 0.3 * s, cx + 0.9 * s, cy + 0.8 * s), col)
    icing = _rect(cx - 0.95 * s, cy - 0.65 * s, cx + 0.95 * s, cy - 0.2 * s) | \
        _disc(cx - 0.5 * s, cy - 0.2 * s, 0.2 * s) | _disc(cx + 0.4 * s, cy - 0.2 * s, 0.2 * s)
    _paint(img, icing, _col(rng, n, (255, 160, 205)))
    _paint(img, _disc(cx, cy - 0.85 * s, 0.22 * s), _col(rng, n, (225, 20, 40)))


def obj_fire(img, rng, n, cx, cy, s, col):
    flame = _disc(cx, cy + 0.35 * s, 0.75 * s) | _tri_up(cx, cy - 1.3 * s, cy + 0.35 * s, 0.75 * s)
    _paint(img, flame, col)
    core = _disc(cx, cy + 0.5 * s, 0.4 * s) | _tri_up(cx, cy - 0.4 * s, cy + 0.5 * s, 0.4 * s)
    _paint(img, core, _col(rng, n, (255, 220, 40)))


def obj_angry_face(img, rng, n, cx, cy, s, col):
    _paint(img, _disc(cx, cy, 0.95 * s), col)
    black = np.array([15, 5, 5], np.float32)
    eyes = _disc(cx - 0.35 * s, cy - 0.12 * s, 0.14 * s) | _disc(cx + 0.35 * s, cy - 0.12 * s, 0.14 * s)
    brows = _segment(cx - 0.65 * s, cy - 0.55 * s, cx - 0.12 * s, cy - 0.32 * s, 0.16 * s) | \
        _segment(cx + 0.65 * s, cy - 0.55 * s, cx + 0.12 * s, cy - 0.32 * s, 0.16 * s)
    mouth = _rect(cx - 0.4 * s, cy + 0.38 * s, cx + 0.4 * s, cy + 0.55 * s)
    _paint(img, eyes | brows | mouth, black)


def obj_trash_bag(img, rng, n, cx, cy, s, col):
    bag = _ellipse(cx, cy + 0.25 * s, 0.9 * s, 0.75 * s) | _tri_up(cx, cy - 0.75 * s, cy + 0.1 * s, 0.6 * s)
    _paint(img, bag, col)
    _paint(img, _rect(cx - 0.25 * s, cy - 0.85 * s, cx + 0.25 * s, cy - 0.65 * s), np.clip(col - 40, 0, 255))
    # a few dark smears (rot) keep it from reading as a plain olive disc
    _paint(img, _disc(cx + 0.3 * s, cy + 0.4 * s, 0.18 * s) | _disc(cx - 0.4 * s, cy + 0.15 * s, 0.14 * s),
           np.clip(col - 45, 0, 255))


def obj_spider(img, rng, n, cx, cy, s, col):
    _paint(img, _ellipse(cx, cy + 0.2 * s, 0.8 * s, 0.7 * s) | _disc(cx, cy - 0.6 * s, 0.38 * s), col)
    mark = _tri_up(cx, cy, cy + 0.25 * s, 0.2 * s) | (_tri_up(cx, cy + 0.5 * s, cy + 0.25 * s, 0.2 * s))
    _paint(img, mark | _disc(cx, cy + 0.25 * s, 0.12 * s), _col(rng, n, (230, 20, 20), 8))
    _paint(img, _disc(cx - 0.14 * s, cy - 0.68 * s, 0.08 * s) | _disc(cx + 0.14 * s, cy - 0.68 * s, 0.08 * s),
           np.array([230, 20, 20], np.float32))


def obj_skull(img, rng, n, cx, cy, s, col):
    _paint(img, _disc(cx, cy - 0.15 * s, 0.82 * s) | _rect(cx - 0.48 * s, cy + 0.3 * s, cx + 0.48 * s, cy + 0.9 * s), col)
    holes = _disc(cx - 0.33 * s, cy - 0.1 * s, 0.24 * s) | _disc(cx + 0.33 * s, cy - 0.1 * s, 0.24 * s) | \
        _tri_up(cx, cy + 0.2 * s, cy + 0.42 * s, 0.12 * s) | \
        (_rect(cx - 0.4 * s, cy + 0.62 * s, cx + 0.4 * s, cy + 0.72 * s))
    _paint(img, holes, np.array([20, 15, 10], np.float32))


def obj_snake(img, rng, n, cx, cy, s, col):
    phase = _v(rng.uniform(0, 6.3, n))
    yc = cy + 0.45 * s * np.sin((_X - cx) / (0.45 * s) + phase)
    body = (np.abs(_Y - yc) < 0.26 * s) & (np.abs(_X - cx) < 1.3 * s)
    head_y = cy + 0.45 * s * np.sin(1.3 / 0.45 + phase)
    _paint(img, body | _disc(cx + 1.3 * s, head_y, 0.36 * s), col)
    _paint(img, _disc(cx + 1.4 * s, head_y - 0.1 * s, 0.09 * s), np.array([10, 10, 10], np.float32))


def obj_tear_drop(img, rng, n, cx, cy, s, col):
    drop = _disc(cx, cy + 0.35 * s, 0.72 * s) | _tri_up(cx, cy - 1.05 * s, cy + 0.1 * s, 0.62 * s)
    _paint(img, drop, col)
    _paint(img, _ellipse(cx - 0.3 * s, cy + 0.25 * s, 0.12 * s, 0.22 * s), np.array([200, 225, 255], np.float32))


OBJECT_DRAW: dict[str, Callable] = {
    "gift": obj_gift, "balloon": obj_balloon, "mountain": obj_mountain, "sun": obj_sun, "cake": obj_cake,
    "fire": obj_fire, "angry_face": obj_angry_face, "trash_bag": obj_trash_bag, "spider": obj_spider,
    "skull": obj_skull, "snake": obj_snake, "tear_drop": obj_tear_drop,
}


def draw_scenes(img: np.ndarray, scene_names: list[str], scene_idx: np.ndarray, rng: np.random.Generator) -> None:
    """Paint backgrounds into float32 img [N,64,64,3], grouped by scene kind."""
    for k, name in enumerate(scene_names):
        idx = np.flatnonzero(scene_idx == k)
        if idx.size:
            sub = img[idx]
            SCENE_DRAW[name](sub, rng, idx.size)
            img[idx] = sub


def draw_objects(img: np.ndarray, object_names: list[str], object_idx: np.ndarray, rng: np.random.Generator) -> None:
    """Paint one big object per image: centre, size, colour and mirror are jittered."""
    for k, name in enumerate(object_names):
        idx = np.flatnonzero(object_idx == k)
        if not idx.size:
            continue
        n = idx.size
        s = _v(rng.uniform(15.0, 21.0, n))
        cx = _v(rng.uniform(25.0, 39.0, n))
        cy = _v(rng.uniform(27.0, 37.0, n))
        col = _col(rng, n, OBJECT_COLOURS[name], 10.0)
        flip = rng.random(n) < 0.5
        sub = img[idx]
        OBJECT_DRAW[name](sub, rng, n, cx, cy, s, col)
        sub[flip] = sub[flip, :, ::-1]
        img[idx] = sub


def downsample(img: np.ndarray) -> np.ndarray:
    """BOX 2× downsample of uint8 [N,64,64,3] → float32 [N,32,32,3] in 0-255 (anti-aliases hard edges)."""
    s = img[:, 0::2, 0::2].astype(np.uint16)
    s += img[:, 1::2, 0::2]
    s += img[:, 0::2, 1::2]
    s += img[:, 1::2, 1::2]
    return s.astype(np.float32) * 0.25
