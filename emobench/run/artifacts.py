"""Fit cache for learning methods (``Method.learns``).

Key: ``stable_hash(method name, method.fit_config(), fit seed, zoo.weights_hash, dataset.content_hash,
emotions)``. ``emobench run`` always fits with ``FIT_SEED`` (its ``--seed`` picks the plan's cells, and a
cached fit must never depend on which seed happened to fit it first); ``emobench fit --seed S`` makes others.
Lookup order: ``$EMOBENCH_CACHE/artifacts/<method>/<key>/`` (default ``~/.cache/emobench``), then the
zoo's ``prefit/<method>/<key>/``; an artifact fitted on all eight emotions also serves a run on a subset.
Only when none is found (or with ``refit``) does the core call ``Method.fit``.

Atomicity and partial fits: the fit writes into ``<cache>/artifacts/<method>/.<key>.partial/``, which is
renamed to ``<key>/`` only after ``fit`` returned and ``fit.json`` (facts, key inputs, wall time and the
sha256 of every file) was written. The partial folder is *kept* when a fit fails, and the next attempt with
the same key gets it back as ``FitContext.artifact_dir``. A method that fits per emotion can use that to
keep finished emotions: write each into ``artifact_dir/<emotion>/`` and a ``_complete`` file last, and skip
emotions whose ``_complete`` exists. ``refit`` starts from an empty folder. Every use re-checks the file
hashes against ``fit.json``; a mismatch is a clear error, never a silent reuse.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from emobench.api import FitContext, Method, stable_hash
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.io.files import cache_root, sha256_file, write_json
from emobench.io.sweep import tmp_name

FIT_JSON = "fit.json"


@dataclass
class Artifact:
    key: str
    path: Path
    source: str                    # "cache" | "prefit" | "fitted"
    facts: dict[str, Any] = field(default_factory=dict)


FIT_SEED = 0  # what `emobench run` fits with: the plan's seed picks cells, never a different fit


def key_inputs(method_name: str, method: Method, zoo: Any, emotions: Sequence[str],
               seed: int = FIT_SEED) -> dict[str, Any]:
    zoo.require("dataset")
    return {
        "method": method_name,
        "config": method.fit_config(),
        "seed": seed,
        "weights": zoo.weights_hash,
        "dataset": zoo.dataset.content_hash,
        "emotions": [e for e in EMOTIONS if e in set(emotions)],
    }


def artifact_key(method_name: str, method: Method, zoo: Any, emotions: Sequence[str],
                 seed: int = FIT_SEED) -> str:
    return stable_hash(key_inputs(method_name, method, zoo, emotions, seed))


def file_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != FIT_JSON
    }


def verify(folder: Path) -> dict[str, Any]:
    """Read ``fit.json`` and check every file against it; raise if the artifact was altered or truncated."""
    import json

    try:
        info = json.loads((folder / FIT_JSON).read_text())
    except (OSError, ValueError) as err:
        raise EmobenchError(f"fitted artifact {str(folder)!r} has no readable {FIT_JSON} ({err})",
                            f"delete {folder} or rerun with --refit") from None
    if file_hashes(folder) != info.get("files"):
        raise EmobenchError(f"fitted artifact {str(folder)!r} is corrupted (its files do not match {FIT_JSON})",
                            f"delete {folder} or rerun with --refit")
    return info


def _candidates(method_name: str, key: str, zoo: Any) -> list[tuple[str, Path]]:
    out = [("cache", cache_root() / "artifacts" / method_name / key)]
    if getattr(zoo, "root", None) is not None:
        out.append(("prefit", Path(zoo.root) / "prefit" / method_name / key))
    return out


def find(method_name: str, method: Method, zoo: Any, emotions: Sequence[str],
         seed: int = FIT_SEED) -> Artifact | None:
    keys = [artifact_key(method_name, method, zoo, emotions, seed)]
    full = artifact_key(method_name, method, zoo, EMOTIONS, seed)
    if full not in keys:
        keys.append(full)  # an artifact of all emotions serves any subset
    for key in keys:
        for source, folder in _candidates(method_name, key, zoo):
            if (folder / FIT_JSON).is_file():
                info = verify(folder)
                return Artifact(key, folder, source, info.get("facts", {}))
    return None


class _Progress:
    """``FitContext.progress`` → one tqdm bar per stage (tqdm shows rate and ETA)."""

    def __init__(self, label: str, enabled: bool = True):
        self.label, self.enabled = label, enabled
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        if stage != self.stage or self.bar is None:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=f"fit {self.label}: {stage}", leave=True)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def ensure(method_name: str, method: Method, zoo: Any, emotions: Sequence[str], *, refit: bool = False,
           seed: int = FIT_SEED, progress: bool = True) -> Artifact:
    """The artifacts of ``method`` for ``zoo`` and ``emotions``: cached, shipped, or fitted now."""
    if not refit:
        found = find(method_name, method, zoo, emotions, seed)
        if found is not None:
            return found
    inputs = key_inputs(method_name, method, zoo, emotions, seed)
    key = stable_hash(inputs)
    root = cache_root() / "artifacts" / method_name
    final, partial = root / key, root / f".{key}.partial"
    if refit and partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    print(f"emobench: fitting {method_name} on {len(inputs['emotions'])} emotion(s) "
          f"(artifact {key}; cached afterwards in {final})", flush=True)
    bar = _Progress(method_name, progress)
    ctx = FitContext(zoo=zoo, dataset=zoo.dataset, emotions=tuple(inputs["emotions"]), artifact_dir=partial,
                     seed=seed, progress=bar)
    start = time.perf_counter()
    try:
        facts = method.fit(ctx) or {}
    finally:
        bar.close()
    wall = time.perf_counter() - start
    write_json(partial / FIT_JSON, {"method": method_name, "key": key, "key_inputs": inputs, "facts": facts,
                                    "wall_s": round(wall, 3), "files": file_hashes(partial)})
    if final.exists():  # --refit over an existing artifact: swap, then drop the old one
        old = root / tmp_name(f"{key}.old")   # swept if a kill lands between the two renames
        os.replace(final, old)
        os.replace(partial, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(partial, final)
    return Artifact(key, final, "fitted", facts)
