"""``emobench verify RUN``: is the run directory what its files say it is?

Checks the run against its plan (every planned cell of every method that finished has a manifest record,
once per fit, and the record's image exists: a missing record is an error, never a smaller denominator),
every manifest image against its sha256, and compares the environment that made the images
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
from emobench.rundir.layout import ENV_RESUMES, read_manifest, read_methods
from emobench.io.files import read_jsonl, sha256_file

_IGNORED = ("time",)


@dataclass
class VerifyResult:
    n_images: int = 0
    bad_images: list[str] = field(default_factory=list)      # relative paths: missing or sha256 mismatch
    missing: list[str] = field(default_factory=list)         # one line per finished method lacking planned cells
    env_changes: list[str] = field(default_factory=list)     # one line per resume that differs
    n_planned: int = 0                                       # records the plan asks of the finished methods

    @property
    def ok(self) -> bool:
        return not self.bad_images and not self.missing


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


def _against_plan(run_dir: Path, records: list, res: VerifyResult) -> None:
    """Every planned cell of every finished method (``methods.json`` status ok) has a record, per fit."""
    try:
        cells = json.loads((run_dir / "plan.json").read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        res.missing.append("plan.json is missing or unreadable: the run cannot be checked against its plan")
        return
    planned = [(c["emotion"], c["template"], int(c["seed"]), c.get("content")) for c in cells]
    have = {(r.method, r.emotion, r.template, r.seed, r.content, r.fit_seed) for r in records}
    for method, info in sorted(read_methods(run_dir).items()):
        if str(info.get("status", "ok")) != "ok":
            continue
        fits = [f.get("fit_seed") for f in info.get("fits") or []] or [None]
        want = [(method, *cell, fit) for fit in fits for cell in planned]
        res.n_planned += len(want)
        lacking = [w for w in want if w not in have]
        if lacking:
            _, emotion, template, seed, content, fit = lacking[0]
            first = f"{emotion} / {template!r} / seed {seed}" + (f" / {content}" if content else "") + (
                f" / fit {fit}" if fit is not None else "")
            res.missing.append(f"{method}: {len(lacking)} of {len(want)} planned cells have no manifest record "
                               f"(first: {first})")


def verify_run(run_dir: Path) -> VerifyResult:
    if not (run_dir / "config.json").is_file():
        raise EmobenchError(f"{str(run_dir)!r} is not an emobench run (no config.json)",
                            "pass a run directory written by `emobench run`")
    res = VerifyResult()
    records = read_manifest(run_dir, required=False)
    _against_plan(run_dir, records, res)
    for r in records:
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
