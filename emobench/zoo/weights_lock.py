"""The weight lock (``emobench/zoo/weights.lock``): published sha256 digests of the paper zoo's files, and the
check of a paper zoo against it (``emobench zoo verify paper.toml``, and the statuses every run's zoo.json records).

Per file the verdict is one of:

* ``official``   — its sha256 is a pinned digest (or starts with a pinned file-name prefix);
* ``differs``    — it sits where a pinned file belongs (a pinned path inside a folder part, or a single file
  carrying a pinned file name) but its bytes are not the pinned ones; ``missing`` — a pinned folder file is absent;
* ``not pinned`` — nothing is published to compare it with. Never taken for the official file.

Hashing goes through ``emobench.zoo.hashing.file_sha256``, cached by path, size and mtime (``rehash=True``
reads every byte again).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from emobench.errors import EmobenchError

LOCK_FILE = Path(__file__).with_name("weights.lock")
OFFICIAL, DIFFERS, MISSING, NOT_PINNED = "official", "differs", "missing", "not pinned"


@dataclass(frozen=True)
class Pin:
    """One published file: the part it belongs to, where (or under which name) it sits, and its digest."""

    part: str          # "pipeline", "clip", "judges.fid", ...
    file: str          # a path inside a folder part, or a single-file part's published file name
    name: str
    source: str        # where the digest is published
    sha256: str = ""   # the full digest, or
    prefix: str = ""   # the prefix a publisher put in the file name (torch.hub's check_hash convention)

    def matches(self, digest: str) -> bool:
        return digest == self.sha256 if self.sha256 else digest.startswith(self.prefix)

    @property
    def expected(self) -> str:
        return self.sha256 or f"{self.prefix}…"


def read_lock(path: Path | None = None) -> list[Pin]:
    path = LOCK_FILE if path is None else path
    try:
        doc = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise EmobenchError(f"cannot read the weight lock {path}: {err}", "reinstall emobench") from err
    pins = []
    for raw in doc.get("pin", []):
        pin = Pin(**raw)
        digest = pin.sha256 or pin.prefix
        if not re.fullmatch(r"[0-9a-f]{8,64}", digest) or (pin.sha256 and len(pin.sha256) != 64):
            raise EmobenchError(f"{path}: the pin of {pin.part} {pin.file} has no valid sha256 or prefix",
                                "fix the lock file")
        pins.append(pin)
    return pins


@dataclass(frozen=True)
class FileCheck:
    part: str
    path: Path
    status: str            # official | differs | missing | not pinned
    pin: Pin | None = None
    actual: str = ""

    def line(self) -> str:
        if self.status == OFFICIAL:
            return f"[{self.part}] {self.path}: official ({self.pin.name})"
        if self.status == MISSING:
            return f"[{self.part}] {self.path}: MISSING (pinned: {self.pin.name})"
        if self.status == DIFFERS:
            return (f"[{self.part}] {self.path}: DIFFERS: sha256 {self.actual[:16]}… is not the published "
                    f"{self.pin.expected[:16]}… of {self.pin.name}")
        return f"[{self.part}] {self.path}: not pinned (sha256 {self.actual[:16]}…; no published digest to check)"


def check_part(part: str, path: Path, pins: Iterable[Pin], rehash: bool = False) -> list[FileCheck]:
    """Check one part (a folder or a single file) against the pins of ``part``."""
    from emobench.zoo.hashing import file_sha256

    mine = [p for p in pins if p.part == part]
    if path.is_dir():
        out = []
        for pin in mine:
            f = path / pin.file
            if not f.is_file():
                out.append(FileCheck(part, f, MISSING, pin))
                continue
            digest = file_sha256(f, use_cache=not rehash)
            out.append(FileCheck(part, f, OFFICIAL if pin.matches(digest) else DIFFERS, pin, digest))
        return out or [FileCheck(part, path, NOT_PINNED)]
    digest = file_sha256(path, use_cache=not rehash)
    hit = next((p for p in mine if p.matches(digest)), None)
    if hit is not None:
        return [FileCheck(part, path, OFFICIAL, hit, digest)]
    named = next((p for p in mine if p.file == path.name), None)
    return [FileCheck(part, path, DIFFERS if named else NOT_PINNED, named, digest)]


def part_status(checks: Iterable[FileCheck]) -> str:
    """One line for zoo.json: ``official: <names>``, ``differs: <file>`` or ``not pinned``."""
    checks = list(checks)
    bad = [c for c in checks if c.status in (DIFFERS, MISSING)]
    if bad:
        return f"{bad[0].status}: {bad[0].path.name} ({bad[0].pin.name})"
    if checks and all(c.status == OFFICIAL for c in checks):
        return "official: " + "; ".join(dict.fromkeys(c.pin.name for c in checks))
    return NOT_PINNED


def verify_parts(parts: Mapping[str, Path], rehash: bool = False,
                 pins: Iterable[Pin] | None = None) -> dict[str, list[FileCheck]]:
    """Every existing part of ``parts`` ({part key: path}) checked against the lock."""
    pins = list(read_lock() if pins is None else pins)
    return {key: check_part(key, path, pins, rehash) for key, path in parts.items() if path.exists()}
