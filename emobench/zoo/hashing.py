"""Content hashes of weights on disk: a file's sha256 (cached by path, size and mtime), a folder's, and the
paper loader's hash over the files a loader actually reads. Part of what a zoo's ``weights_hash`` is made of."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

from emobench.io.files import sha256_file

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        _HASH_CACHE[key] = sha256_file(path)
    return _HASH_CACHE[key]


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
