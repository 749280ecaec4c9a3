"""Folder markers: the one way emobench tells its own folders from anyone else's.

A run folder holds ``.emobench-run``, a report folder ``.emobench-report``, a human-study folder
``.emobench-study``: a small JSON file with the format name, its version and an id (a run's id binds its
human study and votes to it). A folder counts as emobench's only by its marker (or, for folders written
before markers, by the complete set of files emobench writes there; the caller then adds the marker), never
by a common file name such as ``config.json`` or ``index.html``. Commands that write into an existing folder
(``run --out``, ``report --out``, ``figures --out``, ``human export --out``) refuse one that holds anything else.
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any, Callable, Iterable

from emobench.io.files import atomic_write_text
from emobench.io.sweep import owner_pid

RUN_MARKER = ".emobench-run"
REPORT_MARKER = ".emobench-report"
STUDY_MARKER = ".emobench-study"
MARKER_VERSION = 1
_FORMATS = {RUN_MARKER: "emobench-run", REPORT_MARKER: "emobench-report", STUDY_MARKER: "emobench-study"}


def new_id() -> str:
    """A fresh folder id (16 hex digits): two runs made with the same config still have different ids."""
    return secrets.token_hex(8)


def read_marker(folder: str | Path, name: str) -> dict[str, Any] | None:
    """The marker ``name`` of ``folder`` if it is one emobench wrote (right format), else None."""
    try:
        data = json.loads((Path(folder) / name).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMATS[name]:
        return None
    return data


def write_marker(folder: str | Path, name: str, **facts: Any) -> dict[str, Any]:
    """Write (atomically) the marker ``name`` into ``folder``; an ``id`` is made when none is given."""
    doc = {"format": _FORMATS[name], "version": MARKER_VERSION, "id": facts.pop("id", None) or new_id(), **facts}
    atomic_write_text(Path(folder) / name, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return doc


def ensure_marker(folder: str | Path, name: str, **facts: Any) -> dict[str, Any]:
    """The folder's marker, written now if it has none yet (a folder emobench wrote before markers existed)."""
    return read_marker(folder, name) or write_marker(folder, name, **facts)


def foreign_names(folder: str | Path, ours: Callable[[str], bool] | Iterable[str] = ()) -> list[str]:
    """Names directly in ``folder`` that emobench did not write: not a marker, not an emobench temp name,
    and not accepted by ``ours`` (a set of names or a predicate). Sorted; ``[]`` for a missing folder."""
    accept = ours if callable(ours) else set(ours).__contains__
    try:
        names = [p.name for p in Path(folder).iterdir()]
    except OSError:
        return []
    return sorted(n for n in names if n not in _FORMATS and owner_pid(n) is None and not accept(n))
