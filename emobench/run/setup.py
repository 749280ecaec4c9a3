"""The files that set a run up (env.json, zoo.json, plan.json, protocol.json, config.json), and whether a folder
holds only those: a run that never started can be started over without losing anything."""
from __future__ import annotations

import time
from pathlib import Path

from emobench.spec import protocol
from emobench.spec.config import RunConfig
from emobench.run.envinfo import environment
from emobench.spec.plan import Plan
from emobench.io.lock import LOCK_NAME
from emobench.rundir.layout import ENV_RESUMES
from emobench.io.files import append_jsonl, write_json
from emobench.io.sweep import owner_pid

# What a run writes before its first image: a folder holding only these never started
SETUP_FILES = frozenset({"config.json", "env.json", "zoo.json", "plan.json", "protocol.json", LOCK_NAME})


def never_started(run_dir: Path) -> bool:
    """A folder that holds nothing but a run's setup files (and dead processes' temp files): no image, no
    method outcome. Such a folder lost nothing if a corrected command starts over in it."""
    if not run_dir.is_dir():
        return False
    names = {p.name for p in run_dir.iterdir() if owner_pid(p.name) is None}
    return bool(names) and names <= SETUP_FILES


def write_setup(run_dir: Path, cfg: RunConfig, zoo, plan: Plan, contents) -> None:
    """The run's setup files. ``env.json`` stays the environment that made the stored images; a resume of a
    run that has started appends its own environment to ``env.resumes.jsonl`` (``emobench verify`` compares)."""
    fresh = never_started(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    env = environment(zoo.device)
    if fresh or not (run_dir / "env.json").is_file():
        write_json(run_dir / "env.json", env)
    else:
        append_jsonl(run_dir / ENV_RESUMES, {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **env})
    write_json(run_dir / "zoo.json", zoo.facts())
    write_json(run_dir / "plan.json", plan.to_json())
    protocol.write(run_dir, protocol.from_run(cfg, zoo, contents))
    write_json(run_dir / "config.json", {**cfg.hashed(), "config_hash": cfg.config_hash})  # last: marks a run
