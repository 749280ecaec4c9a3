"""Scale-out: the same run with 1 process and with 2 processes (accelerate launch, gloo on CPU) gives the
identical manifest, images and scores; a shard that dies is re-run without touching the others' images."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emobench.run import shard as shard_mod
from emobench.commands.run import strip_launcher_args
from emobench.testing.tiny import tiny_zoo

from support.kit_options import spec

TESTS = Path(__file__).resolve().parent
PLUGINS = "method:killable=support.kit_fake_plugins:KillableMethod"


def _run_args(zoo_dir: Path, out: Path) -> list[str]:
    # killable: cheap, dies on demand; sd; textual-inversion: a learning method (fitted once, by rank 0)
    # whose images carry extras
    return ["run", "--methods", f"killable,sd,{spec('textual-inversion')}", "--zoo", str(zoo_dir),
            "--emotions", "amusement,fear",
            "--n-per-emotion", "2", "--batch-size", "1", "--out", str(out), "--no-progress", "--no-report"]


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", EMOBENCH_PLUGINS=PLUGINS, EMOBENCH_SHARD_TIMEOUT="300",
               EMOBENCH_CACHE=str(cache),
               PYTHONPATH=os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]), **extra)
    return env


def _state(run: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every stored image file: rewritten files change them. Stored means the image and its
    record (``<key>.json``, written second; ``run.store``): a rank killed between the two leaves an image without
    a record, which counts as missing and is generated again on resume (a race seen once in CI)."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted((run / "images").glob("*.png"))
            if p.with_suffix(".json").exists()}


def _digest(run: Path) -> dict[str, object]:
    return {"manifest": (run / "manifest.jsonl").read_text(), "scores": (run / "scores.csv").read_text(),
            "summary": (run / "summary.csv").read_text(),
            "images": {p.name: p.read_bytes() for p in sorted((run / "images").glob("*.png"))}}


def test_one_vs_two_processes_and_a_dead_shard(tmp_path_factory, tmp_path, monkeypatch):
    zoo_dir = tiny_zoo(tmp_path_factory)
    # 1 process, in this process
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache-one"))   # each run fits on its own
    monkeypatch.syspath_prepend(str(TESTS))
    from emobench.cli import main as cli_main

    # Same torch thread count as the launched ranks (_env sets OMP_NUM_THREADS=1): CPU float reductions, and
    # so a fit's weights, depend on the thread count; this test isolates the number of processes.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = tmp_path / "one"
        assert cli_main(_run_args(zoo_dir, one)) == 0
    finally:
        torch.set_num_threads(threads)

    # 2 processes; rank 1 dies on its second image → the launcher stops the job, finished images stay
    two = tmp_path / "two"
    cmd = [sys.executable, "-m", "emobench", *_run_args(zoo_dir, two), "--launcher", "accelerate",
           "--num-processes", "2"]
    dead = subprocess.run(cmd, env=_env(tmp_path / "cache-two", EMOBENCH_TEST_KILL_RANK="1"),
                          capture_output=True, text=True, cwd=tmp_path)
    assert dead.returncode != 0, dead.stdout + dead.stderr[-3000:]
    before = _state(two)
    assert before, "the first (killed) launch stored no image at all"

    # the same command with --resume: only the missing cells are generated, nothing stored is rewritten
    again = subprocess.run(cmd + ["--resume", str(two)], env=_env(tmp_path / "cache-two"),
                           capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    after = _state(two)
    assert {k: after[k] for k in before} == before
    assert len(after) > len(before)

    # identical to the single-process run
    a, b = _digest(one), _digest(two)
    assert a["manifest"] == b["manifest"]
    assert a["images"] == b["images"]
    assert a["scores"] == b["scores"]
    assert a["summary"] == b["summary"]
    shards = sorted(p.name for p in (two / "shards").iterdir())
    assert shards == ["rank-0-of-2.json", "rank-1-of-2.json"]
    methods = json.loads((two / "methods.json").read_text())
    assert len(methods) == 3 and all(m["status"] == "ok" and m["n_images"] == 4 for m in methods.values()), methods
    assert b["manifest"].count('"method": "textual-inversion') == 4


def test_cells_are_dealt_by_plan_position():
    cells = list("abcdefg")
    s0, s1 = shard_mod.Shard(0, 2), shard_mod.Shard(1, 2)
    assert s0.select(cells, cells) == ["a", "c", "e", "g"] and s1.select(cells, cells) == ["b", "d", "f"]
    # what is already stored does not move the others' cells
    assert s1.select(cells, ["d", "e", "f", "g"]) == ["d", "f"]
    assert shard_mod.Shard().select(cells, ["c"]) == ["c"]


def test_launch_command_and_argument_stripping():
    cmd = shard_mod.launch_command("accelerate", 2, ["run", "--out", "x"])
    assert cmd[1:4] == ["-m", "accelerate.commands.launch", "--multi_gpu"] and cmd[-4:] == ["emobench", "run", "--out", "x"]
    assert strip_launcher_args(["run", "--launcher", "accelerate", "--num-processes=2", "--out", "x"]) == \
        ["run", "--out", "x"]
    with pytest.raises(Exception, match="unknown launcher"):
        shard_mod.launch_command("slurm", 2, [])
