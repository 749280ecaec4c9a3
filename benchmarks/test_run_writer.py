"""The generation loop's time spent storing images: synchronous ``ImageStore.put`` (quantise + encode + hash +
write in the loop, as before) against the runner's way (quantise a batch of 8, hand the pixels to
``BackgroundWriter.submit``), side by side on the same 64 images of 512² per format; quantising alone is the floor
both share. For PNG and WebP, whose encoding is the cost, the loop with the writer must spend at most 0.3× the
synchronous loop's time (on this 2-core machine the writer threads also compete with the loop for the cores; a
GPU host has cores to spare). JPEG encodes in ~3 ms: nothing to move, reported only.

Run: ``.venv/bin/pytest benchmarks/test_run_writer.py --benchmark-only -s``.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from emobench.api import Cell
from emobench.io.images import to_hwc_uint8
from emobench.run.store import ImageStore, image_key
from emobench.run.writer import BackgroundWriter

N, SIZE = 64, 512


def _images() -> torch.Tensor:
    """Smooth random images (generated images are smooth, not white noise), 512² float in [0, 1]."""
    g = torch.Generator().manual_seed(0)
    low = torch.rand(N, 3, 16, 16, generator=g)
    return torch.nn.functional.interpolate(low, size=(SIZE, SIZE), mode="bicubic").clamp(0, 1)


@pytest.mark.parametrize("fmt", ["png", "webp", "jpeg"])
def test_the_loop_does_not_wait_for_storage(benchmark, tmp_path, fmt):
    images = _images()
    cells = [Cell("awe", "an image of {emotion}", s) for s in range(N)]
    keys = [image_key("m", None, "w", c) for c in cells]

    def sync() -> float:
        store = ImageStore(tmp_path / f"sync-{time.perf_counter_ns()}", fmt)
        start = time.perf_counter()
        for i, c in enumerate(cells):
            store.put(keys[i], images[i], method="m", cell=c, prompt="p")
        return time.perf_counter() - start

    def quantise() -> float:
        start = time.perf_counter()
        for b in range(0, N, 8):
            to_hwc_uint8(images[b:b + 8])
        return time.perf_counter() - start

    def background() -> tuple[float, float]:
        store = ImageStore(tmp_path / f"bg-{time.perf_counter_ns()}", fmt)
        start = time.perf_counter()
        writer = BackgroundWriter(store, max_pending=N)
        for b in range(0, N, 8):   # the runner: one quantisation (and device-to-host copy) per batch
            pixels = to_hwc_uint8(images[b:b + 8])
            for i in range(b, b + 8):
                writer.submit(cells[i], keys[i], pixels[i - b], method="m", cell=cells[i], prompt="p")
        loop = time.perf_counter() - start
        written, error = writer.close()
        assert error is None and len(written) == N
        return loop, time.perf_counter() - start

    results = {}

    def both():
        results.setdefault("sync", []).append(sync())
        results.setdefault("quantise", []).append(quantise())
        loop, total = background()
        results.setdefault("loop", []).append(loop)
        results.setdefault("total", []).append(total)

    benchmark.pedantic(both, rounds=3, iterations=1)
    s, q, loop, total = (float(np.min(results[k])) for k in ("sync", "quantise", "loop", "total"))
    benchmark.extra_info.update(sync_s=s, quantise_s=q, loop_s=loop, total_s=total, ratio=loop / s)
    print(f"\n{fmt}: {N} images of {SIZE}²: in-loop storage {s:.2f} s; with the writer the loop spends {loop:.2f} s "
          f"({loop / s:.2f}×; quantising alone {q:.2f} s), writer done after {total:.2f} s")
    if fmt != "jpeg":
        assert loop <= 0.3 * s
