"""Kill-safety at the edges: the --methods order is fixed before any method starts (a resume after an
interrupt keeps it), the Ctrl-C line names the real run folder, EmoSet-mini's pool workers die with their
parent, a killed ``fit --refit`` resumes its own partial work and stale partials are swept, and ``human
serve`` says it stopped."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from support import core_plugins
from support.core_plugins import PLUGINS

from emobench.cli import main as cli

TESTS = Path(__file__).parent
METHODS = "noise:scale=3.0,learner,noise"   # not alphabetical: the configured order must survive


@pytest.fixture(autouse=True)
def _env(monkeypatch, isolated_cache, tmp_path):
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)
    monkeypatch.chdir(tmp_path)


def positions(run: Path) -> dict[str, int]:
    return {m: info["position"] for m, info in json.loads((run / "methods.json").read_text()).items()}


def test_an_interrupted_run_keeps_its_method_order_and_names_its_folder(zoo_dir, tmp_path, monkeypatch, capsys):
    args = ["run", "--zoo", str(zoo_dir), "--methods", METHODS, "--emotions", "awe,fear", "--n-per-emotion", "1",
            "--metrics", "emo-a", "--no-progress", "--no-report"]
    assert cli([*args, "--out", str(tmp_path / "whole")]) == 0
    capsys.readouterr()
    monkeypatch.setenv("EMOBENCH_TEST_INTERRUPT_METHOD", "1.0")   # Ctrl-C once 'noise' (the last) generates
    assert cli(args) == 130   # no --out: the folder is runs/<timestamp>-<hash>, which only the line can tell
    (run,) = (tmp_path / "runs").iterdir()
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("emobench: interrupted")]
    assert f"resume with `emobench run --resume {run.relative_to(tmp_path)}`" in line
    assert json.loads((run / "methods.order.json").read_text()) == {"methods": ["noise:scale=3.0", "learner", "noise"]}
    monkeypatch.delenv("EMOBENCH_TEST_INTERRUPT_METHOD")
    assert cli(["run", "--resume", str(run), "--no-progress", "--no-report"]) == 0
    assert positions(run) == positions(tmp_path / "whole") == {"noise:scale=3.0": 0, "learner": 1, "noise": 2}


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_world_build_workers_die_with_their_parent(tmp_path):
    code = ("from emobench.world.write import write_emoset_mini as w; "
            f"w({str(tmp_path / 'world')!r}, n_train=40000, n_val=8, n_test=8, workers=2)")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_children(proc.pid)) < 2:
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert len(workers) >= 2, "the build started no pool"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=15)
    for p in alive:   # never leave them behind, even when the test fails
        p.kill()
    assert not alive, f"{len(alive)} pool worker(s) outlived their killed parent"


def test_a_killed_refit_resumes_its_own_partial_work(zoo_dir, monkeypatch, capsys):
    fit = ["fit", "learner", "--zoo", str(zoo_dir), "--emotions", "awe,fear,sadness"]
    assert cli(fit) == 0
    root = Path(os.environ["EMOBENCH_CACHE"]) / "artifacts" / "learner"
    (final,) = [p for p in root.iterdir() if not p.name.startswith(".")]
    monkeypatch.setenv("EMOBENCH_TEST_INTERRUPT_ON", "fear")
    core_plugins.FIT_CALLS.clear()
    assert cli([*fit, "--refit"]) == 130
    partial = root / f".{final.name}.partial"
    assert f"the partial fit is kept in {partial}" in capsys.readouterr().err
    assert (partial / "awe" / "_complete").is_file() and core_plugins.FIT_CALLS == ["awe"]
    monkeypatch.delenv("EMOBENCH_TEST_INTERRUPT_ON")
    assert cli([*fit, "--refit"]) == 0   # resumes its own work: awe is not fitted again
    assert core_plugins.FIT_CALLS == ["awe", "fear", "sadness"] and not partial.exists()
    monkeypatch.setenv("EMOBENCH_TEST_INTERRUPT_ON", "sadness")
    assert cli([*fit, "--refit"]) == 130 and partial.is_dir()
    monkeypatch.delenv("EMOBENCH_TEST_INTERRUPT_ON")
    assert cli(fit) == 0   # the artifact is there: the dead refit's partial can never be used, so it is swept
    assert not partial.exists() and not (root / f".{final.name}.partial.json").exists()


def test_human_serve_says_it_stopped(zoo_dir, tmp_path):
    run = tmp_path / "run"
    assert cli(["run", "--zoo", str(zoo_dir), "--methods", "noise,noise:scale=2.0", "--emotions", "awe",
                "--n-per-emotion", "2", "--metrics", "emo-a", "--out", str(run), "--no-progress",
                "--no-report"]) == 0
    assert cli(["human", "export", str(run), "--controls-per-emotion", "0"]) == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "emobench.human", "serve", str(run), "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = proc.stdout.readline()   # "serving N tasks on ..." comes once the study is loaded
    assert "serving" in first, first
    time.sleep(1.5)   # let uvicorn install its signal handlers
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "server stopped" in out and "vote(s) in" in out, first + out
