"""Drawing a batch: scenes and objects on a 64×64 canvas, BOX-downsampled to 32×32.

All images sharing a scene (or an object) are drawn at once with numpy broadcasting, so a chunk of a
thousand images costs a few dozen array operations per kind rather than a thousand PIL calls. The painters
live in ``scenes`` and ``objects``, their primitives in ``paint``; every random choice comes from the
``Generator`` passed in, in a fixed order, so output depends on it only.
"""
from __future__ import annotations

import numpy as np

from emobench.world.objects import OBJECT_COLOURS, OBJECT_DRAW
from emobench.world.paint import CANVAS, col, v
from emobench.world.scenes import SCENE_DRAW

SIZE = 32

__all__ = ["CANVAS", "SIZE", "OBJECT_COLOURS", "OBJECT_DRAW", "SCENE_DRAW", "draw_scenes", "draw_objects",
           "downsample"]


def draw_scenes(img: np.ndarray, scene_names: list[str], scene_idx: np.ndarray, rng: np.random.Generator) -> None:
    """Paint backgrounds into uint8 img [N,64,64,3], grouped by scene kind."""
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
        s = v(rng.uniform(15.0, 21.0, n))
        cx = v(rng.uniform(25.0, 39.0, n))
        cy = v(rng.uniform(27.0, 37.0, n))
        colour = col(rng, n, OBJECT_COLOURS[name], 10.0)
        flip = rng.random(n) < 0.5
        sub = img[idx]
        OBJECT_DRAW[name](sub, rng, n, cx, cy, s, colour)
        sub[flip] = sub[flip, :, ::-1]
        img[idx] = sub


def downsample(img: np.ndarray) -> np.ndarray:
    """BOX 2× downsample of uint8 [N,64,64,3] → float32 [N,32,32,3] in 0-255 (anti-aliases hard edges)."""
    s = img[:, 0::2, 0::2].astype(np.uint16)
    s += img[:, 1::2, 0::2]
    s += img[:, 0::2, 1::2]
    s += img[:, 1::2, 1::2]
    return s.astype(np.float32) * 0.25
