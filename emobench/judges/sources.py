"""Where a zoo keeps its panel judges' files and options.

* A zoo folder (the shipped mini zoo, ``emobench zoo build`` output): ``judges/panel/<name>.json`` (the card,
  and the judge's settings) and, for judges with weights, ``judges/panel/<name>.safetensors``. They sit inside
  ``judges/``, so the zoo's ``judges_hash`` (part of every score-cache key) covers them; ``weights_hash`` (what
  generates) does not change.
* A paper zoo (``paper.toml``): one ``[panel.<name>]`` section per judge, with a ``path`` relative to the TOML
  and the judge's options (``labels``, ``arch``, ``prompts``...).
"""
from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emobench.errors import EmobenchError
from emobench.judges.base import JudgeUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

PANEL_DIR = "panel"


def judges_folder(zoo: "Zoo") -> Path | None:
    """``<zoo>/judges`` of a zoo folder (None for a paper TOML or a bare pipeline)."""
    if zoo.root is None or zoo.source is not None:
        return None
    try:
        from emobench.zoo.load import read_zoo_json

        rel = read_zoo_json(zoo.root).get("components", {}).get("judges", {}).get("path", "judges")
    except EmobenchError:
        return None
    folder = zoo.root / rel
    return folder if folder.is_dir() else None


def panel_folder(zoo: "Zoo") -> Path | None:
    folder = judges_folder(zoo)
    return folder / PANEL_DIR if folder is not None else None


def panel_card(zoo: "Zoo", name: str) -> tuple[Path, dict[str, Any]]:
    """``judges/panel/<name>.json`` of a zoo folder, parsed; ``JudgeUnavailable`` if the zoo ships none."""
    folder = panel_folder(zoo)
    if folder is None or not (folder / f"{name}.json").is_file():
        raise JudgeUnavailable(f"zoo {zoo.name!r} ships no judges/{PANEL_DIR}/{name}.json "
                               "(fit it with `emobench zoo fit-panel ZOO_DIR`)")
    path = folder / f"{name}.json"
    try:
        card = json.loads(path.read_text())
    except ValueError as err:
        raise EmobenchError(f"cannot read {path}: {err}", "the zoo folder is damaged; refit with `emobench zoo fit-panel`") from err
    return path, card


def toml_section(zoo: "Zoo", name: str) -> dict[str, Any]:
    """``[panel.<name>]`` of a paper zoo's TOML; ``JudgeUnavailable`` if there is none."""
    if zoo.source is None or zoo.source.suffix != ".toml":
        raise JudgeUnavailable(f"zoo {zoo.name!r} is not a paper .toml (the judge is configured by [panel.{name}])")
    doc = tomllib.loads(zoo.source.read_text())
    sec = doc.get("panel", {}).get(name)
    if not isinstance(sec, dict):
        raise JudgeUnavailable(f"{zoo.source.name} has no [panel.{name}] section")
    return sec


def toml_path(zoo: "Zoo", name: str, sec: dict[str, Any], expected: str) -> Path:
    """The section's ``path``, relative to the TOML, which must exist (a named, one-line error otherwise)."""
    raw = sec.get("path")
    if not raw:
        raise EmobenchError(f"{zoo.source}: [panel.{name}] has no path", f"set path = \"...\" to {expected}")
    path = Path(os.path.expandvars(str(raw))).expanduser()
    path = path if path.is_absolute() else Path(zoo.source).parent / path
    if not path.is_file():
        raise EmobenchError(f"{zoo.source}: [panel.{name}] path {path} does not exist", f"point it at {expected}")
    return path


def toml_labels(zoo: "Zoo", name: str, sec: dict[str, Any], default: tuple[str, ...]) -> tuple[str, ...]:
    """``labels`` of a section: a TOML list or a comma-separated string; default when absent."""
    raw = sec.get("labels")
    if raw is None:
        return default
    items = [s.strip() for s in (raw.split(",") if isinstance(raw, str) else raw)]
    return tuple(s for s in items if s)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def files_sha256(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0" + file_sha256(p).encode() + b"\n")
    return h.hexdigest()


__all__ = ["PANEL_DIR", "judges_folder", "panel_folder", "panel_card", "toml_section", "toml_path", "toml_labels",
           "file_sha256", "files_sha256"]
