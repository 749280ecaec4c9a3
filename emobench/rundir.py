"""The run directory's files, read and written in one place.

Everything that touches a run directory or the cache goes through here: atomic writes (temp file in the same
folder, unique per process, renamed into place, removed on error), ``manifest.jsonl`` and ``methods.json``,
PNG decode and the one uint8 quantisation every image goes through, the ``summary.csv`` / ``scores.csv``
row schema shared by the scorer and the report, the ``$EMOBENCH_CACHE`` root and file sha256.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from PIL import Image

from emobench.api import ImageRecord
from emobench.errors import EmobenchError

MANIFEST = "manifest.jsonl"
ENV_RESUMES = "env.resumes.jsonl"   # one line per resume of a started run: its environment (env.json is the first)
LOGS = "logs"                       # logs/<method>.log: the full traceback of a failed method
SUMMARY_COLUMNS = ["method", "kind", "status", "metric", "emotion", "value", "ci_low", "ci_high", "n",
                   "diff", "diff_ci_low", "diff_ci_high", "p_value", "p_holm", "warning", "reason", "p_note",
                   "protocol", "n_fits", "interval", "ci_note", "diff_ci_holm_low", "diff_ci_holm_high"]
SCORE_COLUMNS = ["method", "emotion", "template", "seed", "key", "metric", "value"]
ALL = "all"   # the pooled emotion level of summary rows


# ------------------------------------------------------------------------------------------ cache root

def cache_root() -> Path:
    """``$EMOBENCH_CACHE``, or ``~/.cache/emobench`` when it is unset or empty."""
    env = os.environ.get("EMOBENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "emobench"


# ------------------------------------------------------------------------------------------ atomic writes

def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path: str | Path, write) -> None:
    """``write(tmp_path)`` fills a temp file beside ``path``, which is then renamed into place: readers (and a
    resumed run after a kill) see the old file or the new one, never half of one. The temp name holds the pid
    (concurrent shards never share one) and is removed if ``write`` fails. No fsync: a kill cannot lose
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


# ------------------------------------------------------------------------------------------ hashes

def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------ images

def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float in [0,1] (any shape) → uint8 ``round(x*255)``: the one quantisation every stored image gets."""
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)


def png_bytes(image: torch.Tensor) -> bytes:
    """``[3,H,W]`` float in [0,1] → PNG bytes (uint8, as the store writes them)."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image).permute(1, 2, 0).cpu().numpy()).save(buf, format="PNG", optimize=False,
                                                                           compress_level=6)
    return buf.getvalue()


def decode_png(data: bytes) -> torch.Tensor:
    """PNG bytes → ``[3,H,W]`` float in [0,1] (what every metric sees)."""
    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0


def load_image(path: str | Path) -> torch.Tensor:
    return decode_png(Path(path).read_bytes())


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
    protocol: str = ""        # the run's protocol fingerprint (emobench.protocol): rows compare only within one
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
