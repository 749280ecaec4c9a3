"""One writer per run directory: an advisory ``flock`` on ``RUN/.emobench.io.lock``.

A second process that wants to write the same run directory refuses at once with one clear line (it never
waits silently and never does the work twice). The lock dies with its process, so a killed run never leaves
a stale lock. Re-entrant within one process (``run`` holds it while it calls the scorer).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import Iterator

from emobench.errors import EmobenchError

LOCK_NAME = ".emobench.io.lock"
_held: dict[Path, tuple[int, int]] = {}   # resolved run dir → (fd, depth)


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold the run directory's lock for the block; raise ``EmobenchError`` when another process holds it."""
    key = Path(run_dir).resolve()
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[key]
            _held[key] = (fd, depth - 1)
        return
    key.mkdir(parents=True, exist_ok=True)
    fd = os.open(key / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        holder = _read_pid(fd)
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
            raise EmobenchError(f"run directory {str(run_dir)!r} is in use by another emobench process"
                                f"{f' (pid {holder})' if holder else ''}",
                                "wait for it to finish, then run the command again") from None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[key] = (fd, 1)
    try:
        yield
    finally:
        fd, depth = _held.pop(key)
        os.close(fd)   # closing releases the flock


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
