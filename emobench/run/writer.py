"""Image encoding, hashing and writing off the generation loop.

PNG encoding of a 512² image costs a GPU's sampler about a fifth of its time per image when it runs inside
the loop. ``BackgroundWriter`` hands each image's quantised pixels to worker threads (PIL's encoders, zlib,
libwebp, libjpeg and hashlib release the GIL while they work), so the loop only waits when ``max_pending``
images are still unwritten, which bounds the memory held (512² uint8 pixels: 0.75 MiB each). Files are the
same bytes the synchronous ``ImageStore.put`` writes; a record still lands only after its image (one worker
writes both), so resume-per-image holds. A failed write surfaces at the next ``submit`` or from ``close``,
which always waits for every submitted image first, so nothing generated before an error is lost.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Hashable

from emobench.api import ImageRecord
from emobench.run.store import ImageStore


class BackgroundWriter:
    def __init__(self, store: ImageStore, workers: int | None = None, max_pending: int = 64):
        # up to 4 threads: lossless WebP of a 512² image takes ~160 ms of one core, a GPU makes one every ~180 ms
        workers = workers or min(4, os.cpu_count() or 1)
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="emobench-writer")
        self._slots = threading.BoundedSemaphore(max(1, max_pending))
        self._futures: list[tuple[Hashable, Future]] = []
        self._closed = False

    def submit(self, tag: Hashable, key: str, pixels: Any, **record: Any) -> None:
        """Queue one image (uint8 ``[H,W,3]`` pixels) for ``store.put_pixels(key, pixels, **record)``;
        ``tag`` names its record in what ``close`` returns."""
        self._raise_failed()
        self._slots.acquire()   # blocks only while max_pending images are unwritten

        def work() -> ImageRecord:
            try:
                return self.store.put_pixels(key, pixels, **record)
            finally:
                self._slots.release()

        self._futures.append((tag, self._pool.submit(work)))

    def _raise_failed(self) -> None:
        for _, fut in self._futures:
            if fut.done() and fut.exception() is not None:
                raise fut.exception()  # type: ignore[misc]

    def close(self) -> tuple[dict[Hashable, ImageRecord], BaseException | None]:
        """Wait for every queued image; return ``({tag: record}`` of those written, the first failure or None)."""
        self._closed = True
        self._pool.shutdown(wait=True)
        done: dict[Hashable, ImageRecord] = {}
        error: BaseException | None = None
        for tag, fut in self._futures:
            exc = fut.exception()
            if exc is None:
                done[tag] = fut.result()
            elif error is None:
                error = exc
        self._futures = []
        return done, error

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._closed:
            self.close()
