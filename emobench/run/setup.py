"""The run folder before the first image: which folder a run may write (``prepare_run_dir``), the files that set
a run up (marker, env.json, zoo.json, plan.json, protocol.json, config.json), and whether a folder holds only
those: a run that never started can be started over without losing anything."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Sequence

from emobench.spec import protocol
from emobench.errors import EmobenchError
from emobench.spec.config import RunConfig, default_out
from emobench.run.envinfo import environment
from emobench.spec.plan import Plan
from emobench.io.lock import LOCK_NAME
from emobench.rundir.layout import ENV_RESUMES, ORDER_FILE
from emobench.io.files import append_jsonl, write_json
from emobench.io.markers import RUN_MARKER, foreign_names, read_marker, write_marker
from emobench.rundir.identity import is_run, legacy_run
from emobench.run.binding import recorded_judges

# What a run writes before its first image: a run folder holding only these never started
SETUP_FILES = frozenset({"config.json", "env.json", "zoo.json", "plan.json", "protocol.json", ORDER_FILE,
                         LOCK_NAME})


def never_started(run_dir: Path) -> bool:
    """A run folder (its marker) that holds nothing but the run's setup files (and temp files): no image,
    no method outcome. Such a folder lost nothing if a corrected command starts over in it. A folder
    without the marker never counts: its files may be the user's own."""
    if not run_dir.is_dir() or read_marker(run_dir, RUN_MARKER) is None:
        return False
    return not foreign_names(run_dir, SETUP_FILES)


def read_order(run_dir: Path) -> list[str] | None:
    """The run's method labels in the configured ``--methods`` order (``methods.order.json``), or None."""
    try:
        data = json.loads((Path(run_dir) / ORDER_FILE).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    methods = data.get("methods") if isinstance(data, dict) else None
    return [str(m) for m in methods] if isinstance(methods, list) else None


def keep_positions(methods: list[Any], run_dir: Path) -> list[Any]:
    """The method order the run was started with, fixed in its setup file ``methods.order.json`` before any
    method ran (the stored config lists methods sorted: their order changes no result, only the order of the
    report's rows, colours and hatches). ``methods``: the runner's ``MethodSpec``s (``label``, ``position``).
    A run made before that file: methods.json's positions, the methods
    it lacks after them in their configured order (never two at one position)."""
    order = read_order(run_dir)
    if order is None:
        try:
            stored = json.loads((run_dir / "methods.json").read_text())
        except (OSError, ValueError):
            stored = {}
        known = {label: info.get("position") for label, info in stored.items()
                 if isinstance(info, dict) and isinstance(info.get("position"), int)}
        order = sorted(known, key=known.get) + [m.label for m in sorted(methods, key=lambda m: m.position)
                                                 if m.label not in known]
    place = {label: i for i, label in enumerate(order)}
    rest = len(place)
    return [dataclasses.replace(m, position=place.get(m.label, rest + i)) for i, m in enumerate(methods)]


def write_setup(run_dir: Path, cfg: RunConfig, zoo, plan: Plan, contents, order: Sequence[str] = ()) -> None:
    """The run's setup files. ``env.json`` stays the environment that made the stored images; a resume of a
    run that has started appends its own environment to ``env.resumes.jsonl`` (``emobench verify`` compares).
    ``order``: the method labels in ``--methods`` order, fixed in ``methods.order.json`` by the run's first
    start (a resume, even after a kill before every method finished, keeps that order)."""
    fresh = never_started(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if read_marker(run_dir, RUN_MARKER) is None:   # first of all: the folder is an emobench run from here on
        write_marker(run_dir, RUN_MARKER, **({"adopted": True} if legacy_run(run_dir) else {}))
    env = environment(zoo.device)
    if fresh or not (run_dir / "env.json").is_file():
        write_json(run_dir / "env.json", env)
    else:
        append_jsonl(run_dir / ENV_RESUMES, {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **env})
    write_json(run_dir / "zoo.json", zoo.facts())
    write_json(run_dir / "plan.json", plan.to_json())
    proto = protocol.from_run(cfg, zoo, contents)
    kept = recorded_judges(run_dir) if not fresh and (run_dir / "protocol.json").is_file() else {}
    if kept:   # a started run keeps the judges that scored it until a re-score (scoring rewrites them)
        proto = dataclasses.replace(proto, judges=tuple(sorted(kept.items())))
    protocol.write(run_dir, proto)
    if order and (fresh or read_order(run_dir) is None):
        write_json(run_dir / ORDER_FILE, {"methods": list(order)})
    write_json(run_dir / "config.json", {**cfg.hashed(), "config_hash": cfg.config_hash})  # last: marks a run


def prepare_run_dir(cfg: RunConfig, resume: Path | None) -> Path:
    """Choose the run folder and check it may be written; touches nothing. A folder counts as a run only by
    its marker (or the complete setup files of a run made before markers); any other non-empty folder is
    the user's and is refused, so no file emobench did not make is ever overwritten."""
    if resume is not None:
        if not is_run(resume) or not (resume / "config.json").is_file():
            raise EmobenchError(f"{str(resume)!r} is not an emobench run (no .emobench-run marker and config.json)",
                                "pass a run directory written by `emobench run` to --resume")
        try:
            old = json.loads((resume / "config.json").read_text()).get("config_hash")
        except (OSError, ValueError, AttributeError) as err:
            raise EmobenchError(f"{str(resume / 'config.json')!r} is not readable ({err})",
                                "restore it, or start a new run with --out") from None
        if old != cfg.config_hash:
            raise EmobenchError(f"the config differs from the one of {str(resume)!r} (hash {cfg.config_hash} vs {old})",
                                "resume with the same settings (or just --resume RUN_DIR), or start a new run with --out")
        return resume
    out = Path(cfg.out) if cfg.out else default_out(cfg)
    if out.exists() and not out.is_dir():
        raise EmobenchError(f"--out {str(out)!r} is a file, not a folder", "choose a new or empty folder for --out")
    if never_started(out):
        return out  # only the setup files of a run that stopped before its first image: start it afresh
    if is_run(out) and (out / "config.json").is_file():
        return prepare_run_dir(cfg, out)  # same config: continue it; different: the error above
    foreign = foreign_names(out)
    if foreign:
        raise EmobenchError(f"--out {str(out)!r} holds files emobench did not write ({_names(foreign)})",
                            "choose a new or empty folder for --out")
    return out


def _names(names: Sequence[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")
