"""Write a set of report files so that a failure leaves no half-written file behind.

Everything is first written into a hidden temporary folder inside the destination (same filesystem, so
the final ``os.replace`` is atomic per file); only when all files exist are they moved into place. An
error in between removes the temporary folder and leaves the destination as it was.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from emobench.errors import EmobenchError
from emobench.io.lock import LOCK_NAME
from emobench.io.sweep import owned_tmpdir, owner_pid, sweep

PROVENANCE = "provenance.json"


def check_report_dest(dest: Path) -> None:
    """The rule ``run --out`` follows: write only into a new or empty folder, a run directory, or a folder that
    holds a report of its own (its ``provenance.json``), so a user's own ``index.html`` is never overwritten."""
    if not dest.exists():
        return
    if not dest.is_dir():
        raise EmobenchError(f"report folder {str(dest)!r} is a file, not a folder", "pass a new or empty folder to --out")
    if (dest / "config.json").is_file() or _is_report(dest / PROVENANCE):
        return
    names = {p.name for p in dest.iterdir() if owner_pid(p.name) is None and p.name != LOCK_NAME}
    if names and names != {"figures"}:   # only figures/: an earlier `emobench figures --out` of its own
        raise EmobenchError(f"report folder {str(dest)!r} is neither empty, a run directory nor an emobench report",
                            "pass a new or empty folder to --out (or the folder of an earlier report)")


def _is_report(path: Path) -> bool:
    try:
        return json.loads(path.read_text()).get("format") == "emobench-report-provenance"
    except (OSError, ValueError, AttributeError):
        return False


class AtomicOutput:
    def __init__(self, dest: Path):
        self.dest = Path(dest)
        self.tmp: Path | None = None
        self._files: list[Path] = []

    def __enter__(self) -> "AtomicOutput":
        try:
            self.dest.mkdir(parents=True, exist_ok=True)
            sweep(self.dest)   # a killed report's temp folder (never a live one's)
            self.tmp = owned_tmpdir(self.dest, "emobench-report")
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
