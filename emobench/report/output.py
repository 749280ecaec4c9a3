"""Write a set of report files so that a failure leaves no half-written file behind.

Everything is first written into a hidden temporary folder inside the destination (same filesystem, so
the final ``os.replace`` is atomic per file); only when all files exist are they moved into place. An
error in between removes the temporary folder and leaves the destination as it was.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from emobench.errors import EmobenchError


class AtomicOutput:
    def __init__(self, dest: Path):
        self.dest = Path(dest)
        self.tmp: Path | None = None
        self._files: list[Path] = []

    def __enter__(self) -> "AtomicOutput":
        try:
            self.dest.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=".emobench-report-", dir=self.dest))
        except OSError as err:
            raise EmobenchError(f"cannot write the report into {self.dest} ({err.strerror or err})",
                                "choose a writable folder with --out DIR") from err
        return self

    def path(self, rel: str) -> Path:
        """A temporary path to write ``rel`` to; it is moved to ``dest/rel`` on success."""
        assert self.tmp is not None
        p = self.tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        self._files.append(Path(rel))
        return p

    def write_text(self, rel: str, text: str) -> None:
        self.path(rel).write_text(text, encoding="utf-8", newline="\n")

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.path(rel).write_bytes(data)

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.tmp is not None
        try:
            if exc_type is None:
                self._commit()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _commit(self) -> None:
        assert self.tmp is not None
        try:
            for rel in self._files:
                (self.dest / rel).parent.mkdir(parents=True, exist_ok=True)
            for rel in self._files:
                os.replace(self.tmp / rel, self.dest / rel)
        except OSError as err:
            raise EmobenchError(f"cannot write the report into {self.dest} ({err.strerror or err})",
                                "choose a writable folder with --out DIR") from err
