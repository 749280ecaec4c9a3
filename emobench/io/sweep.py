"""Temp files and folders owned by a process, and the sweep that removes those of dead processes.

Every temp name emobench makes carries its writer's pid (``.NAME.<pid>.tmp`` for atomic files,
``.PREFIX.pid<pid>.<random>`` for temp folders), so a later process can tell a temp left by a killed process
(remove it) from one a live process is still filling (leave it). A pid that was reused by an unrelated live
process only delays the sweep; it never removes work in progress.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

_OWNED = (re.compile(r"^\..*\.pid(\d+)\.[^/]*$"), re.compile(r"^\..*\.(\d+)\.tmp$"))


def owned_tmpdir(parent: str | Path, prefix: str) -> Path:
    """A new hidden temp folder in ``parent`` named ``.PREFIX.pid<pid>.<random>`` (sweepable once we die)."""
    return Path(tempfile.mkdtemp(prefix=f".{prefix.lstrip('.')}.pid{os.getpid()}.", dir=parent))


def owner_pid(name: str) -> int | None:
    """The pid in an emobench temp name, or None for any other name."""
    for pattern in _OWNED:
        m = pattern.match(name)
        if m:
            return int(m.group(1))
    return None


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


def sweep(folder: str | Path) -> list[Path]:
    """Remove the temp files and folders in ``folder`` (not below it) whose owning process is gone."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for p in entries:
        pid = owner_pid(p.name)
        if pid is None or pid_alive(pid):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
        except OSError:
            continue  # not ours to remove (permissions): leave it
    return removed
