"""Which folders are runs, and which run: the ``.emobench-run`` marker (format, version, run id).

``emobench run`` writes the marker first, before any other file. A run written before markers existed is
recognised by its complete set of setup files (``config.json`` holding a ``config_hash``, ``plan.json``,
``zoo.json``, ``env.json``) and gets its marker the next time emobench writes into it (``adopt``). A folder
with a ``config.json`` of the user's own is never mistaken for a run.
"""
from __future__ import annotations

import json
from pathlib import Path

from emobench.io.markers import RUN_MARKER, ensure_marker, read_marker

LEGACY_SETUP = ("config.json", "plan.json", "zoo.json", "env.json")


def legacy_run(folder: str | Path) -> bool:
    """A run written before markers: every setup file there, and a config.json emobench wrote (config_hash)."""
    folder = Path(folder)
    if not all((folder / n).is_file() for n in LEGACY_SETUP):
        return False
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(config, dict) and isinstance(config.get("config_hash"), str)


def is_run(folder: str | Path) -> bool:
    """Whether ``folder`` is an emobench run (its marker, or a complete run of an earlier version)."""
    return read_marker(folder, RUN_MARKER) is not None or legacy_run(folder)


def run_id(folder: str | Path) -> str | None:
    """The run's id from its marker (None for a folder without one)."""
    marker = read_marker(folder, RUN_MARKER)
    return str(marker["id"]) if marker and marker.get("id") else None


def adopt(folder: str | Path) -> str:
    """The run's id, writing its marker first when the run predates markers (call only on a run)."""
    return str(ensure_marker(folder, RUN_MARKER)["id"])
