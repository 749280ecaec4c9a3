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
from emobench.io.markers import REPORT_MARKER, foreign_names, read_marker, write_marker
from emobench.io.sweep import owned_tmpdir, sweep
from emobench.rundir.identity import is_run

PROVENANCE = "provenance.json"
LEGACY_REPORT = ("leaderboard.md", "leaderboard.csv", PROVENANCE)   # what every report wrote before markers


def check_report_dest(dest: Path) -> None:
    """The rule of every ``--out``: write only into a new or empty folder, a run (its marker), or a folder that
    holds an emobench report (its ``.emobench-report`` marker, or the complete files of a report made before
    markers: then the marker is added). Anything else is the user's, so a report never overwrites it."""
    if not dest.exists():
        return
    if not dest.is_dir():
        raise EmobenchError(f"report folder {str(dest)!r} is a file, not a folder", "pass a new or empty folder to --out")
    if is_run(dest) or read_marker(dest, REPORT_MARKER) is not None:
        return
    if _legacy_report(dest):
        write_marker(dest, REPORT_MARKER, adopted=True)
        return
    foreign = foreign_names(dest, {LOCK_NAME})
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise EmobenchError(f"report folder {str(dest)!r} holds files emobench did not write ({shown})",
                            "pass a new or empty folder to --out (or the folder of an earlier emobench report)")


def _legacy_report(dest: Path) -> bool:
    """A report folder written before markers: its leaderboard files and provenance.json, or only the
    figures/ of an earlier ``emobench figures --out`` (the comparison grid is in every one)."""
    if all((dest / n).is_file() for n in LEGACY_REPORT):
        try:
            return json.loads((dest / PROVENANCE).read_text()).get("format") == "emobench-report-provenance"
        except (OSError, ValueError, AttributeError):
            return False
    figures = dest / "figures"
    return (not foreign_names(dest, {"figures", LOCK_NAME}) and (figures / "comparison_grid.png").is_file()
            and all(p.suffix in (".png", ".pdf") or p.is_dir() for p in figures.rglob("*")))


class AtomicOutput:
    def __init__(self, dest: Path):
        self.dest = Path(dest)
        self.tmp: Path | None = None
        self._files: list[Path] = []

    def __enter__(self) -> "AtomicOutput":
        try:
            self.dest.mkdir(parents=True, exist_ok=True)
            sweep(self.dest)   # a killed report's temp folder (never a live one's)
            if not is_run(self.dest) and read_marker(self.dest, REPORT_MARKER) is None:
                write_marker(self.dest, REPORT_MARKER)   # the folder is an emobench report from here on
            self.tmp = owned_tmpdir(self.dest, "report")
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
