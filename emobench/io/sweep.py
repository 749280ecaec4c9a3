"""Temp files and folders owned by a process, and the sweep that removes those of dead processes.

Every temp name emobench makes starts with the reserved prefix ``.emobench-tmp-<pid>-<random>`` (then, for
reading, ``.<what it becomes>``): atomic files (``emobench.io.files``), report and study folders, world
builds, fit swaps. The sweep removes **only** such names whose process is gone: a user's own file is never
touched, whatever it is called (``.notes.123.tmp``, ``.x.pid42.y`` and ``backup.tmp`` all stay). A pid that
was reused by an unrelated live process only delays the sweep; it never removes work in progress.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path

TMP_PREFIX = ".emobench-tmp-"
_OWNED = re.compile(r"^\.emobench-tmp-(\d+)-[A-Za-z0-9_]+(\..+)?$")


def tmp_name(what: str = "") -> str:
    """A fresh reserved temp name owned by this process: ``.emobench-tmp-<pid>-<random>[.what]``."""
    return f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}" + (f".{what}" if what else "")


def owned_tmpdir(parent: str | Path, prefix: str) -> Path:
    """A new hidden temp folder in ``parent`` named ``.emobench-tmp-<pid>-<random>.PREFIX`` (swept once we die)."""
    return Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=f".{prefix.strip('.')}",
                                 dir=parent))


def owner_pid(name: str) -> int | None:
    """The pid in an emobench temp name, or None for any other name (never ours to remove)."""
    m = _OWNED.match(name)
    return int(m.group(1)) if m else None


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
    """Remove the emobench temp files and folders in ``folder`` (not below it) whose owning process is gone."""
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
