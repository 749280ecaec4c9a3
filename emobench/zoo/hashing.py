"""Content hashes of weights on disk: a file's sha256 (cached by path, size and mtime), a folder's, and the
paper loader's hash over the files a loader actually reads. Part of what a zoo's ``weights_hash`` is made of.

Hashing SD 1.5, CLIP ViT-L/14 and the judges reads about 6 GB; a run and every resume of it need the hashes.
Files of at least ``PERSIST_MIN_BYTES`` therefore keep their sha256 in ``$EMOBENCH_CACHE/hashes/sha256.json``
keyed by (absolute path, size, mtime in ns), as make and rsync decide what changed: a file rewritten in place
with the same size inside one mtime tick would be missed, which is why ``emobench zoo verify --rehash``
ignores the cache. Small files are always hashed (cheaper than a lookup).
"""
from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Sequence

from emobench.io.files import atomic_write_text, cache_root, sha256_file

_HASH_CACHE: dict[tuple[str, int, int], str] = {}
PERSIST_MIN_BYTES = 1 << 20
_DISK: dict[str, list] | None = None
_LOCK = threading.Lock()


def _disk_file() -> Path:
    return cache_root() / "hashes" / "sha256.json"


def _disk() -> dict[str, list]:
    global _DISK
    if _DISK is None:
        try:
            data = json.loads(_disk_file().read_text())
            _DISK = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            _DISK = {}
    return _DISK


def _remember(path: str, size: int, mtime: int, digest: str) -> None:
    """Add one entry to the on-disk cache (merged with what other processes wrote meanwhile)."""
    with _LOCK:
        disk = _disk()
        disk[path] = [size, mtime, digest]
        try:
            on_disk = json.loads(_disk_file().read_text())
        except (OSError, ValueError):
            on_disk = {}
        merged = {**(on_disk if isinstance(on_disk, dict) else {}), **disk}
        try:
            atomic_write_text(_disk_file(), json.dumps(merged, sort_keys=True))
        except OSError:
            pass   # a read-only cache only costs time


def file_sha256(path: Path, use_cache: bool = True) -> str:
    st = path.stat()
    full = str(path.resolve())
    key = (full, st.st_size, st.st_mtime_ns)
    if use_cache and key in _HASH_CACHE:
        return _HASH_CACHE[key]
    big = st.st_size >= PERSIST_MIN_BYTES
    if use_cache and big:
        hit = _disk().get(full)
        if isinstance(hit, list) and len(hit) == 3 and hit[:2] == [st.st_size, st.st_mtime_ns]:
            _HASH_CACHE[key] = str(hit[2])
            return _HASH_CACHE[key]
    digest = sha256_file(path)
    _HASH_CACHE[key] = digest
    if big:
        _remember(full, st.st_size, st.st_mtime_ns, digest)
    return digest


def folder_hash(folder: Path) -> str:
    """sha256 over (relative path, file sha256) of every file below ``folder`` (weights and configs: both
    change what a component computes)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            h.update(str(p.relative_to(folder)).encode() + b"\0" + file_sha256(p).encode() + b"\n")
    return h.hexdigest()


def weights_files(folder: Path) -> list[Path]:
    """The files a loader actually reads: configs, tokenizer files and the non-variant safetensors
    (an SD folder also carries .bin/.ckpt copies and fp16 variants that never load; hashing them is waste)."""
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name.startswith("."):
            continue
        if p.suffix in (".json", ".txt") or (p.suffix == ".safetensors" and p.name.count(".") == 1):
            out.append(p)
    return out


def files_hash(files: Sequence[Path], root: Path) -> str:
    h = hashlib.sha256()
    for p in files:
        rel = p.relative_to(root) if p.is_relative_to(root) else Path(p.name)
        h.update(str(rel).encode() + b"\0" + file_sha256(p).encode() + b"\n")
    return h.hexdigest()
