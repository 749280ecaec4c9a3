"""Fit cache for learning methods (``Method.learns``).

Key: ``stable_hash(method name, method.fit_config(), fit seed, zoo.weights_hash, dataset.content_hash,
emotions)``. ``emobench run`` always fits with ``FIT_SEED`` (its ``--seed`` picks the plan's cells, and a
cached fit must never depend on which seed happened to fit it first); ``emobench fit --seed S`` makes others.
Lookup order: ``$EMOBENCH_CACHE/artifacts/<method>/<key>/`` (default ``~/.cache/emobench``), then the
zoo's ``prefit/<method>/<key>/``; an artifact fitted on all eight emotions also serves a run on a subset.
Only when none is found (or with ``refit``) does the core call ``Method.fit``.

Atomicity and partial fits: the fit writes into ``<cache>/artifacts/<method>/.<key>.partial/``, which is
renamed to ``<key>/`` only after ``fit`` returned and ``fit.json`` (facts, key inputs, wall time and the
sha256 of every file) was written. The partial folder is *kept* when a fit fails or is killed, and the next
attempt with the same key gets it back as ``FitContext.artifact_dir``. A method that fits per emotion can use
that to keep finished emotions: write each into ``artifact_dir/<emotion>/`` and a ``_complete`` file last,
and skip emotions whose ``_complete`` exists. ``refit`` starts from an empty folder, except that a refit
resumes a killed refit's own partial work (``.<key>.partial.json`` says who started it). One process fits a
key at a time (``.<key>.lock``, an flock); a partial left by a dead process beside a finished artifact can
never be used and is swept. Every use re-checks the file hashes against ``fit.json``; a mismatch is a clear
error, never a silent reuse.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from emobench.api import FitContext, Method, stable_hash
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError, Interrupted
from emobench.io.files import cache_root, sha256_file, write_json
from emobench.io.sweep import sweep, tmp_name

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
            _sweep_stale(cache_root() / "artifacts" / method_name, artifact_key(method_name, method, zoo, emotions, seed))
            return found
    inputs = key_inputs(method_name, method, zoo, emotions, seed)
    key = stable_hash(inputs)
    root = cache_root() / "artifacts" / method_name
    root.mkdir(parents=True, exist_ok=True)
    sweep(root)   # the swap folder of a refit killed between its two renames
    with _fitting(root, key):
        return _fit(method_name, method, zoo, inputs, key, root, refit, seed, progress)


def _fit(method_name: str, method: Method, zoo: Any, inputs: dict[str, Any], key: str, root: Path, refit: bool,
         seed: int, progress: bool) -> Artifact:
    final, partial, meta = root / key, root / f".{key}.partial", root / f".{key}.partial.json"
    if partial.exists() and refit and not _partial_info(meta).get("refit"):
        shutil.rmtree(partial)   # --refit starts afresh; only a killed refit's own partial work is resumed
    resumed = partial.is_dir() and any(partial.iterdir())
    partial.mkdir(parents=True, exist_ok=True)
    write_json(meta, {"refit": refit, "pid": os.getpid()})
    print(f"emobench: fitting {method_name} on {len(inputs['emotions'])} emotion(s) (artifact {key}; "
          f"{'resuming the partial fit in ' + str(partial) + '; ' if resumed else ''}cached afterwards in {final})",
          flush=True)
    bar = _Progress(method_name, progress)
    ctx = FitContext(zoo=zoo, dataset=zoo.dataset, emotions=tuple(inputs["emotions"]), artifact_dir=partial,
                     seed=seed, progress=bar)
    start = time.perf_counter()
    try:
        facts = method.fit(ctx) or {}
    except KeyboardInterrupt:
        raise Interrupted(f"the partial fit is kept in {partial}; the same command resumes it") from None
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
    meta.unlink(missing_ok=True)
    return Artifact(key, final, "fitted", facts)


def _partial_info(meta: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def _fitting(root: Path, key: str) -> Iterator[None]:
    """One process fits a key at a time (an flock on ``.<key>.lock``, released when the process dies), so a
    partial fit is either being written by a live process or left by a dead one: never both."""
    fd = os.open(root / f".{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise EmobenchError(f"artifact {key} of {root.name} is being fitted by another process",
                                "wait for it to finish; the next command then uses its artifact") from None
        yield
    finally:
        os.close(fd)


def _sweep_stale(root: Path, key: str) -> None:
    """The artifact exists, so a partial fit of its key left by a dead process (a killed ``--refit``, say)
    can never be used: remove it. A live process's partial (its lock is held) is kept."""
    partial = root / f".{key}.partial"
    if not partial.exists():
        return
    try:
        with _fitting(root, key):
            shutil.rmtree(partial, ignore_errors=True)
            (root / f".{key}.partial.json").unlink(missing_ok=True)
    except EmobenchError:
        pass   # being fitted right now: not stale
