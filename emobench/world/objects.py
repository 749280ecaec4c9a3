"""The objects of EmoSet-mini: one big, chunky shape each, with one signature colour.

A probe of the tiny generator found that it reproduces large single-colour shapes and simple two-part
layouts, but not thin or many-part ones (legs, strings, petals): every object here is drawn big (about half
the canvas), in a colour far from the others', and told apart by an outline the judge and the generator can
both carry at 32×32. Each painter gets centre (cx, cy) and size s (about half the object's extent, in 64-px
units) as [n,1,1] arrays and the jittered signature colour ``c``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from emobench.world.paint import (X, Y, col, convex, disc, ellipse, fixed, paint, rect, segment, star, tri_up, v)

# Signature colours (RGB 0-255): one dominant colour per object, far apart from one another.
OBJECT_COLOURS: dict[str, tuple[int, int, int]] = {
    "gift": (225, 35, 165), "balloon": (150, 55, 225), "mountain": (105, 88, 78),
    "sun": (255, 215, 0), "cake": (140, 78, 35), "fire": (255, 105, 0),
    "angry_face": (215, 25, 25), "trash_bag": (135, 135, 40), "spider": (12, 12, 12),
    "skull": (232, 226, 205), "snake": (45, 200, 55), "tear_drop": (35, 105, 240),
    # world version 3
    "star": (40, 215, 225), "heart": (255, 130, 175), "moon": (245, 240, 150), "rainbow": (230, 40, 40),
    "house": (240, 235, 220), "mushroom": (205, 30, 45), "storm_cloud": (90, 92, 105), "car": (185, 225, 35),
}


def obj_gift(img, rng, n, cx, cy, s, c):
    box = rect(cx - 0.8 * s, cy - 0.6 * s, cx + 0.8 * s, cy + 0.9 * s)
    paint(img, box, c)
    ribbon = box & ((np.abs(X - cx) < 0.17 * s) | (np.abs(Y - cy - 0.15 * s) < 0.17 * s))
    paint(img, ribbon, col(rng, n, (255, 235, 60)))
    bow = ellipse(cx - 0.3 * s, cy - 0.75 * s, 0.3 * s, 0.2 * s) | ellipse(cx + 0.3 * s, cy - 0.75 * s, 0.3 * s, 0.2 * s)
    paint(img, bow, col(rng, n, (255, 235, 60)))


def obj_balloon(img, rng, n, cx, cy, s, c):
    paint(img, ellipse(cx, cy - 0.1 * s, 0.78 * s, 0.98 * s), c)
    paint(img, tri_up(cx, cy + 0.8 * s, cy + 1.1 * s, 0.2 * s), c)
    paint(img, disc(cx - 0.35 * s, cy - 0.5 * s, 0.15 * s), fixed((235, 215, 255)))


def obj_mountain(img, rng, n, cx, cy, s, c):
    top, base = cy - 1.05 * s, cy + 1.0 * s
    paint(img, tri_up(cx, top, base, 1.45 * s), c)
    paint(img, tri_up(cx, top, top + 0.75 * s, 1.45 * s * 0.75 / 2.05), col(rng, n, (250, 250, 250), 4))


def obj_sun(img, rng, n, cx, cy, s, c):
    paint(img, disc(cx, cy, 0.85 * s), c)
    paint(img, disc(cx, cy, 0.55 * s), np.clip(c + 25, 0, 255))


def obj_cake(img, rng, n, cx, cy, s, c):
    paint(img, rect(cx - 0.9 * s, cy - 0.3 * s, cx + 0.9 * s, cy + 0.8 * s), c)
    icing = rect(cx - 0.95 * s, cy - 0.65 * s, cx + 0.95 * s, cy - 0.2 * s) | \
        disc(cx - 0.5 * s, cy - 0.2 * s, 0.2 * s) | disc(cx + 0.4 * s, cy - 0.2 * s, 0.2 * s)
    paint(img, icing, col(rng, n, (255, 160, 205)))
    paint(img, disc(cx, cy - 0.85 * s, 0.22 * s), col(rng, n, (225, 20, 40)))


def obj_fire(img, rng, n, cx, cy, s, c):
    paint(img, disc(cx, cy + 0.35 * s, 0.75 * s) | tri_up(cx, cy - 1.3 * s, cy + 0.35 * s, 0.75 * s), c)
    core = disc(cx, cy + 0.5 * s, 0.4 * s) | tri_up(cx, cy - 0.4 * s, cy + 0.5 * s, 0.4 * s)
    paint(img, core, col(rng, n, (255, 220, 40)))


def obj_angry_face(img, rng, n, cx, cy, s, c):
    paint(img, disc(cx, cy, 0.95 * s), c)
    eyes = disc(cx - 0.35 * s, cy - 0.12 * s, 0.14 * s) | disc(cx + 0.35 * s, cy - 0.12 * s, 0.14 * s)
    brows = segment(cx - 0.65 * s, cy - 0.55 * s, cx - 0.12 * s, cy - 0.32 * s, 0.16 * s) | \
        segment(cx + 0.65 * s, cy - 0.55 * s, cx + 0.12 * s, cy - 0.32 * s, 0.16 * s)
    mouth = rect(cx - 0.4 * s, cy + 0.38 * s, cx + 0.4 * s, cy + 0.55 * s)
    paint(img, eyes | brows | mouth, fixed((15, 5, 5)))


def obj_trash_bag(img, rng, n, cx, cy, s, c):
    paint(img, ellipse(cx, cy + 0.25 * s, 0.9 * s, 0.75 * s) | tri_up(cx, cy - 0.75 * s, cy + 0.1 * s, 0.6 * s), c)
    paint(img, rect(cx - 0.25 * s, cy - 0.85 * s, cx + 0.25 * s, cy - 0.65 * s), np.clip(c - 40, 0, 255))
    # a few dark smears (rot) keep it from reading as a plain olive disc
    paint(img, disc(cx + 0.3 * s, cy + 0.4 * s, 0.18 * s) | disc(cx - 0.4 * s, cy + 0.15 * s, 0.14 * s),
          np.clip(c - 45, 0, 255))


def obj_spider(img, rng, n, cx, cy, s, c):
    paint(img, ellipse(cx, cy + 0.2 * s, 0.8 * s, 0.7 * s) | disc(cx, cy - 0.6 * s, 0.38 * s), c)
    mark = tri_up(cx, cy, cy + 0.25 * s, 0.2 * s) | tri_up(cx, cy + 0.5 * s, cy + 0.25 * s, 0.2 * s)
    paint(img, mark | disc(cx, cy + 0.25 * s, 0.12 * s), col(rng, n, (230, 20, 20), 8))
    paint(img, disc(cx - 0.14 * s, cy - 0.68 * s, 0.08 * s) | disc(cx + 0.14 * s, cy - 0.68 * s, 0.08 * s),
          fixed((230, 20, 20)))


def obj_skull(img, rng, n, cx, cy, s, c):
    paint(img, disc(cx, cy - 0.15 * s, 0.82 * s) | rect(cx - 0.48 * s, cy + 0.3 * s, cx + 0.48 * s, cy + 0.9 * s), c)
    holes = disc(cx - 0.33 * s, cy - 0.1 * s, 0.24 * s) | disc(cx + 0.33 * s, cy - 0.1 * s, 0.24 * s) | \
        tri_up(cx, cy + 0.2 * s, cy + 0.42 * s, 0.12 * s) | rect(cx - 0.4 * s, cy + 0.62 * s, cx + 0.4 * s, cy + 0.72 * s)
    paint(img, holes, fixed((20, 15, 10)))


def obj_snake(img, rng, n, cx, cy, s, c):
    phase = v(rng.uniform(0, 6.3, n))
    yc = cy + 0.45 * s * np.sin((X - cx) / (0.45 * s) + phase)
    body = (np.abs(Y - yc) < 0.26 * s) & (np.abs(X - cx) < 1.3 * s)
    head_y = cy + 0.45 * s * np.sin(1.3 / 0.45 + phase)
    paint(img, body | disc(cx + 1.3 * s, head_y, 0.36 * s), c)
    paint(img, disc(cx + 1.4 * s, head_y - 0.1 * s, 0.09 * s), fixed((10, 10, 10)))


def obj_tear_drop(img, rng, n, cx, cy, s, c):
    paint(img, disc(cx, cy + 0.35 * s, 0.72 * s) | tri_up(cx, cy - 1.05 * s, cy + 0.1 * s, 0.62 * s), c)
    paint(img, ellipse(cx - 0.3 * s, cy + 0.25 * s, 0.12 * s, 0.22 * s), fixed((200, 225, 255)))


# ---------------------------------------------------------------- world version 3
def obj_star(img, rng, n, cx, cy, s, c):
    paint(img, star(cx, cy + 0.05 * s, 1.1 * s, 0.5 * s), c)


def obj_heart(img, rng, n, cx, cy, s, c):
    lobes = disc(cx - 0.48 * s, cy - 0.3 * s, 0.52 * s) | disc(cx + 0.48 * s, cy - 0.3 * s, 0.52 * s)
    paint(img, lobes | tri_up(cx, cy + 1.0 * s, cy - 0.12 * s, 0.98 * s), c)


def obj_moon(img, rng, n, cx, cy, s, c):
    crescent = disc(cx, cy, 0.95 * s) & ~disc(cx + 0.5 * s, cy - 0.25 * s, 0.78 * s)
    paint(img, crescent, c)


def obj_rainbow(img, rng, n, cx, cy, s, c):
    base = cy + 0.55 * s
    d = np.sqrt((X - cx) ** 2 + (Y - base) ** 2)
    up = Y < base
    bands = [(1.05, c), (0.78, col(rng, n, (250, 215, 30), 8)), (0.51, col(rng, n, (40, 110, 230), 8))]
    for r, colour in bands:
        paint(img, up & (d <= (r + 0.28) * s) & (d > r * s), colour)


def obj_house(img, rng, n, cx, cy, s, c):
    paint(img, rect(cx - 0.75 * s, cy - 0.15 * s, cx + 0.75 * s, cy + 0.95 * s), c)
    # a dark blue roof: the first pilot's red roof over a cream wall was drawn as the mushroom (red cap, cream stem)
    paint(img, tri_up(cx, cy - 1.05 * s, cy - 0.1 * s, 1.0 * s), col(rng, n, (35, 60, 150), 8))
    paint(img, rect(cx - 0.18 * s, cy + 0.35 * s, cx + 0.18 * s, cy + 0.95 * s), col(rng, n, (100, 60, 30), 8))


def obj_mushroom(img, rng, n, cx, cy, s, c):
    paint(img, rect(cx - 0.32 * s, cy - 0.2 * s, cx + 0.32 * s, cy + 0.95 * s), col(rng, n, (240, 230, 205), 6))
    cap = ellipse(cx, cy - 0.1 * s, 1.05 * s, 0.85 * s) & (Y < cy - 0.1 * s)
    paint(img, cap, c)
    dots = disc(cx - 0.5 * s, cy - 0.4 * s, 0.16 * s) | disc(cx + 0.1 * s, cy - 0.62 * s, 0.18 * s) | \
        disc(cx + 0.58 * s, cy - 0.3 * s, 0.14 * s)
    paint(img, dots, fixed((250, 250, 250)))


def obj_storm_cloud(img, rng, n, cx, cy, s, c):
    cloud = disc(cx - 0.55 * s, cy - 0.2 * s, 0.5 * s) | disc(cx + 0.05 * s, cy - 0.5 * s, 0.62 * s) | \
        disc(cx + 0.6 * s, cy - 0.15 * s, 0.48 * s) | rect(cx - 0.55 * s, cy - 0.2 * s, cx + 0.6 * s, cy + 0.3 * s)
    paint(img, cloud, c)
    bolt = convex([(cx + 0.05 * s, cy + 0.3 * s), (cx + 0.4 * s, cy + 0.3 * s), (cx + 0.15 * s, cy + 0.7 * s),
                   (cx - 0.2 * s, cy + 0.7 * s)]) | \
        convex([(cx - 0.1 * s, cy + 0.6 * s), (cx + 0.3 * s, cy + 0.6 * s), (cx - 0.15 * s, cy + 1.2 * s)])
    paint(img, bolt, col(rng, n, (255, 225, 40), 6))


def obj_car(img, rng, n, cx, cy, s, c):
    paint(img, rect(cx - 0.6 * s, cy - 0.55 * s, cx + 0.5 * s, cy) | rect(cx - 1.2 * s, cy - 0.05 * s, cx + 1.2 * s, cy + 0.5 * s), c)
    paint(img, rect(cx - 0.45 * s, cy - 0.42 * s, cx + 0.35 * s, cy - 0.08 * s), fixed((175, 215, 240)))
    wheels = disc(cx - 0.7 * s, cy + 0.52 * s, 0.3 * s) | disc(cx + 0.7 * s, cy + 0.52 * s, 0.3 * s)
    paint(img, wheels, fixed((20, 20, 20)))


OBJECT_DRAW: dict[str, Callable] = {
    "gift": obj_gift, "balloon": obj_balloon, "mountain": obj_mountain, "sun": obj_sun, "cake": obj_cake,
    "fire": obj_fire, "angry_face": obj_angry_face, "trash_bag": obj_trash_bag, "spider": obj_spider,
    "skull": obj_skull, "snake": obj_snake, "tear_drop": obj_tear_drop,
    "star": obj_star, "heart": obj_heart, "moon": obj_moon, "rainbow": obj_rainbow, "house": obj_house,
    "mushroom": obj_mushroom, "storm_cloud": obj_storm_cloud, "car": obj_car,
}
