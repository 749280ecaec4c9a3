"""Vectorised painting primitives for EmoSet-mini: masks and fills on a batch of 64×64 canvases.

Every shape takes its geometry as numbers or ``[n,1,1]`` arrays (one value per image) and returns a boolean
mask ``[n|1, 64, 64]``, so all images of one kind are drawn with a few array operations. Every random
choice comes from the ``Generator`` passed in, in a fixed order, so output depends on it only.
"""
from __future__ import annotations

import numpy as np

CANVAS = 64
_Y, _X = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float32)
Y, X = _Y[None] + 0.5, _X[None] + 0.5  # [1,64,64] pixel centres


def col(rng: np.random.Generator, n: int, base, jitter: float = 14.0) -> np.ndarray:
    """[n,1,1,3] colours: ``base`` plus per-image jitter."""
    c = np.asarray(base, np.float32)[None] + rng.normal(0.0, jitter, (n, 3)).astype(np.float32)
    return np.clip(c, 0, 255)[:, None, None, :]


def fixed(rgb) -> np.ndarray:
    """One colour for every image (no jitter)."""
    return np.asarray(rgb, np.float32)


def paint(img: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    """In place: img[mask] = colour (colour [n,1,1,3] or [3], float 0-255; the canvas is uint8 for speed)."""
    c = np.clip(np.rint(colour), 0, 255).astype(np.uint8).reshape(-1, 3)
    mask = np.broadcast_to(mask, img.shape[:3])
    # fancy indexing touches only the masked pixels (much faster than copyto(where=) over the canvas)
    i, y, x = np.nonzero(mask)
    img[i, y, x] = c[i] if len(c) > 1 else c[0]


def fill(img: np.ndarray, colour: np.ndarray) -> None:
    """In place: whole canvas of each image = its colour."""
    img[:] = np.clip(np.rint(colour), 0, 255).astype(np.uint8)


def v(a: np.ndarray) -> np.ndarray:
    """[n] → [n,1,1] float32, to broadcast one value per image over the canvas."""
    return np.asarray(a, np.float32)[:, None, None]


def disc(cx, cy, r):
    return (X - cx) ** 2 + (Y - cy) ** 2 <= r ** 2


def ellipse(cx, cy, rx, ry):
    return ((X - cx) / rx) ** 2 + ((Y - cy) / ry) ** 2 <= 1.0


def rect(x0, y0, x1, y1):
    return (X >= x0) & (X < x1) & (Y >= y0) & (Y < y1)


def tri_up(cx, y_top, y_base, half_w):
    """Isosceles triangle with apex (cx, y_top) and base at y_base of half width half_w (apex below the base
    when y_top > y_base)."""
    t = (Y - y_top) / (y_base - y_top)
    return (t >= 0) & (t <= 1) & (np.abs(X - cx) <= t * half_w)


def segment(x0, y0, x1, y1, width):
    """Thick line segment."""
    dx, dy = x1 - x0, y1 - y0
    ll = dx * dx + dy * dy
    t = np.clip(((X - x0) * dx + (Y - y0) * dy) / ll, 0, 1)
    return (X - (x0 + t * dx)) ** 2 + (Y - (y0 + t * dy)) ** 2 <= (width / 2) ** 2


def convex(points):
    """Convex polygon, vertices ``[(x, y), ...]`` in either winding order (each coordinate a number or
    ``[n,1,1]``): inside where every edge's cross product has the same sign."""
    signs = []
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
        signs.append((x1 - x0) * (Y - y0) - (y1 - y0) * (X - x0))
    pos = np.logical_and.reduce([s >= 0 for s in signs])
    neg = np.logical_and.reduce([s <= 0 for s in signs])
    return pos | neg


def star(cx, cy, r_out, r_in, points: int = 5, turn: float = -np.pi / 2):
    """A star: the inner polygon plus one triangle per tip (``turn``: angle of the first tip)."""
    step = np.pi / points
    inner = [(cx + r_in * np.cos(turn + (2 * k + 1) * step), cy + r_in * np.sin(turn + (2 * k + 1) * step))
             for k in range(points)]
    mask = convex(inner)
    for k in range(points):
        tip = (cx + r_out * np.cos(turn + 2 * k * step), cy + r_out * np.sin(turn + 2 * k * step))
        mask = mask | convex([inner[k - 1], tip, inner[k]])
    return mask


def ring(cx, cy, r_out, r_in):
    d2 = (X - cx) ** 2 + (Y - cy) ** 2
    return (d2 <= r_out ** 2) & (d2 >= r_in ** 2)


def speckles(rng: np.random.Generator, n: int, count: int, y0: int = 0, y1: int = CANVAS, size: int = 2
             ) -> np.ndarray:
    """[n,64,64] mask of ``count`` random ``size``×``size`` dots per image in rows y0..y1."""
    m = np.zeros((n, CANVAS * CANVAS), bool)
    idx = rng.integers(CANVAS * y0, CANVAS * (y1 - size + 1), (n, count))
    np.put_along_axis(m, idx, True, axis=1)
    m = m.reshape(n, CANVAS, CANVAS)
    out = m.copy()
    for dy in range(size):
        for dx in range(size):
            if dx or dy:
                out |= np.roll(np.roll(m, dy, axis=1), dx, axis=2)
    return out
