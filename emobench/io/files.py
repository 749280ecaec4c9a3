"""Files written so that nobody ever reads half of one: atomic writes (a temp file beside the target, renamed
into place, removed on error), JSON / JSONL / CSV / safetensors helpers on top, file sha256, and the
``$EMOBENCH_CACHE`` root. The lowest floor: every other part of emobench (zoo, world, runs, reports) writes
through here, and this module imports nothing of emobench but the temp-name rule of ``emobench.io.sweep``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import torch

from emobench.io.sweep import tmp_name   # the reserved temp prefix: the sweep removes nothing else


def cache_root() -> Path:
    """``$EMOBENCH_CACHE``, or ``~/.cache/emobench`` when it is unset or empty."""
    env = os.environ.get("EMOBENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "emobench"



def _tmp_path(path: Path) -> Path:
    return path.with_name(tmp_name(path.name))


def atomic_write(path: str | Path, write) -> None:
    """``write(tmp_path)`` fills a temp file beside ``path``, which is then renamed into place: readers (and a
    resumed run after a kill) see the old file or the new one, never half of one. The temp name is
    ``.emobench-tmp-<pid>-<random>.NAME`` (concurrent shards never share one; only such names are ever swept)
    and is removed if ``write`` fails. No fsync: a kill cannot lose
    renamed data, and after a power loss a damaged image fails its sha256 check and is regenerated."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def append_jsonl(path: str | Path, obj: Any) -> None:
    """Append one JSON line (a single ``write`` of a whole line: a kill leaves the file's old lines intact)."""
    line = json.dumps(obj, sort_keys=True, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)


def read_jsonl(path: str | Path) -> list[Any]:
    """The JSON lines of ``path`` (``[]`` when missing); a torn last line (a kill mid-append) is skipped."""
    p = Path(path)
    if not p.is_file():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def atomic_save_tensors(tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """safetensors file written atomically (the score cache; nothing is ever pickled)."""
    from safetensors.torch import save_file

    atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))


def _csv_value(v: Any) -> Any:
    return "" if isinstance(v, float) and not math.isfinite(v) else v


def atomic_write_csv(path: str | Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _csv_value(v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())



def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
