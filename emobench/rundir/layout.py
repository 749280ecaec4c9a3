"""The run folder's own files: ``manifest.jsonl`` and ``methods.json``, the stored images of a set of records,
and the ``summary.csv`` / ``scores.csv`` row schema shared by the scorer and the report. Writes go through
``emobench.io.files`` (atomic), images through ``emobench.io.images``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from emobench.api import ImageRecord
from emobench.errors import EmobenchError
from emobench.io.files import atomic_write_text
from emobench.io.images import load_image

MANIFEST = "manifest.jsonl"
ENV_RESUMES = "env.resumes.jsonl"   # one line per resume of a started run: its environment (env.json is the first)
LOGS = "logs"                       # logs/<method>.log: the full traceback of a failed method
ORDER_FILE = "methods.order.json"   # the --methods order, fixed before any method starts (report rows, colours)
SUMMARY_COLUMNS = ["method", "kind", "status", "metric", "emotion", "value", "ci_low", "ci_high", "n",
                   "diff", "diff_ci_low", "diff_ci_high", "p_value", "p_holm", "warning", "reason", "p_note",
                   "protocol", "n_fits", "interval", "ci_note", "diff_ci_holm_low", "diff_ci_holm_high"]
SCORE_COLUMNS = ["method", "emotion", "template", "seed", "key", "metric", "value"]
ALL = "all"   # the pooled emotion level of summary rows
# the control rows of every summary (held-out real images; the same images with shuffled labels)
CONTROL_REAL = "real (control)"
CONTROL_SHUFFLED = "shuffled (control)"
# one fit of a learning method scored as its own row while the fits are combined (never in a method label:
# labels are command-line tokens)
FIT_SEP = " \x1ffit "


def fit_label(method: str, fit_seed: int) -> str:
    return f"{method}{FIT_SEP}{fit_seed}"


def split_label(label: str) -> tuple[str, int | None]:
    if FIT_SEP in label:
        base, seed = label.rsplit(FIT_SEP, 1)
        return base, int(seed)
    return label, None



# ------------------------------------------------------------------------------------------ images

def load_images(records: Sequence[ImageRecord], run_dir: str | Path) -> torch.Tensor:
    """The stored PNGs of ``records`` as float ``[N,3,H,W]`` in [0,1]."""
    if not records:
        return torch.empty(0, 3, 0, 0)
    return torch.stack([load_image(Path(run_dir) / r.path) for r in records])


# ------------------------------------------------------------------------------------------ manifest

def record_sort_key(r: ImageRecord) -> tuple:
    return (r.method, r.emotion, r.template, r.seed, r.content or "", -1 if r.fit_seed is None else r.fit_seed)


def write_manifest(run_dir: str | Path, records: Iterable[ImageRecord]) -> Path:
    path = Path(run_dir) / MANIFEST
    atomic_write_text(path, "".join(r.to_json() + "\n" for r in sorted(records, key=record_sort_key)))
    return path


def read_manifest(run_dir: str | Path, required: bool = True) -> list[ImageRecord]:
    """The records of ``manifest.jsonl``; a missing file is an error (or ``[]`` when not ``required``)."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        if not required:
            return []
        raise EmobenchError(f"{run_dir} has no {MANIFEST}",
                            "pass a run directory written by `emobench run` (it holds manifest.jsonl and images/)")
    records = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(ImageRecord.from_json(line))
        except (json.JSONDecodeError, TypeError) as err:
            raise EmobenchError(f"{path}:{i} is not a valid manifest line ({err})",
                                "restore manifest.jsonl or re-run `emobench run --resume RUN_DIR`") from err
    return records


def read_methods(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """methods.json → {method: {"status": ..., "reason": ...}}; accepts a dict or a list of dicts."""
    path = Path(run_dir) / "methods.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if isinstance(data, list):
        return {d["name"]: d for d in data if isinstance(d, dict) and "name" in d}
    if isinstance(data, dict) and isinstance(data.get("methods"), (dict, list)):
        inner = data["methods"]
        return inner if isinstance(inner, dict) else {d["name"]: d for d in inner}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


# ------------------------------------------------------------------------------------------ what a run was made with

def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def run_zoo_spec(run_dir: Path) -> str:
    """The zoo a run was made with: the spec in its config.json (what `run` resolved: "mini", a folder or a
    paper TOML path), else zoo.json's name, else "mini"."""
    spec = _read_json(run_dir / "config.json").get("zoo")
    if isinstance(spec, str) and spec:
        return spec
    return str(_read_json(run_dir / "zoo.json").get("name") or "mini")


def run_metrics(run_dir: Path) -> list[str] | None:
    """The run's own metrics (config.json) plus any scored into it since (summary.json), so a plain re-score
    reproduces its tables and drops none of them."""
    value = _read_json(run_dir / "config.json").get("metrics")
    own = [str(m) for m in value] if isinstance(value, list) else []
    scored = [str(m) for m in _read_json(run_dir / "summary.json").get("metrics", {})]
    names = list(dict.fromkeys([*own, *scored]))
    return names or None


def run_baseline(run_dir: Path) -> str | None:
    """The baseline the run was made with (config.json), so a re-score keeps its paired differences."""
    value = _read_json(run_dir / "config.json").get("baseline")
    return value if isinstance(value, str) and value else None


# ------------------------------------------------------------------------------------------ summary rows

@dataclass
class SummaryRow:
    """One line of ``summary.csv`` (and of ``summary.json``'s rows): a method × metric column × emotion."""

    method: str
    kind: str                 # "method" | "control"
    status: str               # "ok" | "failed" | "skipped"
    metric: str
    emotion: str
    value: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int = 0
    diff: float = math.nan
    diff_ci_low: float = math.nan
    diff_ci_high: float = math.nan
    p_value: float = math.nan
    p_holm: float = math.nan
    warning: str = ""
    reason: str = ""
    p_note: str = ""          # which test gave p_value, or why there is none (``scoring.significance``)
    protocol: str = ""        # the run's protocol fingerprint (emobench.spec.protocol): rows compare only within one
    n_fits: int = 1           # fits of a learning method the value averages (``--fit-seeds``)
    interval: str = ""        # the procedure of ci_low/ci_high (``scoring.inference``)
    ci_note: str = ""         # why there is no interval (e.g. "1 fit: fit-to-fit spread not measured")
    diff_ci_holm_low: float = math.nan    # the Δ's interval at the level Holm tested it at (excludes 0 ⇔ marked)
    diff_ci_holm_high: float = math.nan
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {c: getattr(self, c) for c in SUMMARY_COLUMNS}
        d.update(self.extra)
        return d
