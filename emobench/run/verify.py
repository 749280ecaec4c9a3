"""``emobench verify RUN``: is the run directory what its files say it is?

Checks every manifest image against its sha256 and compares the environment that made the images
(``env.json``) with each resume's (``env.resumes.jsonl``), naming what changed (a package version, the git
commit, the device, the thread count): a resume under a different environment can change images that it
generates, so the report of a mixed run should say so.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emobench.errors import EmobenchError
from emobench.rundir.layout import ENV_RESUMES, read_manifest
from emobench.io.files import read_jsonl, sha256_file

_IGNORED = ("time",)


@dataclass
class VerifyResult:
    n_images: int = 0
    bad_images: list[str] = field(default_factory=list)      # relative paths: missing or sha256 mismatch
    env_changes: list[str] = field(default_factory=list)     # one line per resume that differs

    @property
    def ok(self) -> bool:
        return not self.bad_images


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested facts as ``{"packages.torch": "2.4.0", ...}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if not prefix and k in _IGNORED:
            continue
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def env_differences(first: dict[str, Any], later: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every environment fact that differs."""
    a, b = _flatten(first), _flatten(later)
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def verify_run(run_dir: Path) -> VerifyResult:
    if not (run_dir / "config.json").is_file():
        raise EmobenchError(f"{str(run_dir)!r} is not an emobench run (no config.json)",
                            "pass a run directory written by `emobench run`")
    res = VerifyResult()
    for r in read_manifest(run_dir, required=False):
        res.n_images += 1
        p = run_dir / r.path
        if not p.is_file() or sha256_file(p) != r.sha256:
            res.bad_images.append(r.path)
    try:
        first = json.loads((run_dir / "env.json").read_text())
    except (OSError, json.JSONDecodeError):
        first = None
    for i, later in enumerate(read_jsonl(run_dir / ENV_RESUMES), 1):
        if first is None:
            res.env_changes.append(f"resume {i}: env.json is missing, so the images' environment is unknown")
            continue
        diffs = env_differences(first, later)
        if diffs:
            res.env_changes.append(f"resume {i} ({later.get('time', '?')}) ran in a different environment: "
                                   + "; ".join(diffs))
    return res
