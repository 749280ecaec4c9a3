"""The generation loop's time spent storing images: synchronous ``ImageStore.put`` (encode + hash + write in the
loop, as before) against ``BackgroundWriter.submit`` (the loop only hands over pixels), side by side on the same
64 images of 512² per format. The loop with the writer must spend at most a tenth of the synchronous loop's time
on storage; the total (loop + waiting for the writer at the end) is reported beside it.

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

    def background() -> tuple[float, float]:
        store = ImageStore(tmp_path / f"bg-{time.perf_counter_ns()}", fmt)
        start = time.perf_counter()
        pixels = to_hwc_uint8(images)
        writer = BackgroundWriter(store, max_pending=N)
        for i, c in enumerate(cells):
            writer.submit(c, keys[i], pixels[i], method="m", cell=c, prompt="p")
        loop = time.perf_counter() - start
        written, error = writer.close()
        assert error is None and len(written) == N
        return loop, time.perf_counter() - start

    results = {}

    def both():
        results.setdefault("sync", []).append(sync())
        loop, total = background()
        results.setdefault("loop", []).append(loop)
        results.setdefault("total", []).append(total)

    benchmark.pedantic(both, rounds=3, iterations=1)
    s, loop, total = (float(np.min(results[k])) for k in ("sync", "loop", "total"))
    benchmark.extra_info.update(sync_s=s, loop_s=loop, total_s=total, ratio=loop / s)
    print(f"\n{fmt}: {N} images of {SIZE}²: in-loop storage {s:.2f} s; with the writer the loop spends {loop:.3f} s "
          f"({loop / s:.3f}×), writer done after {total:.2f} s")
    assert loop <= 0.1 * s
