"""emobench never writes or deletes a file it did not make: every ``--out`` refuses a folder holding someone
else's files, runs and reports are recognised by their marker (or, made before markers, by their complete set
of files, then marked), and the temp-file sweep removes only names with emobench's reserved prefix."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.core_plugins import PLUGINS

from emobench.cli import main as cli
from emobench.io.markers import REPORT_MARKER, RUN_MARKER, read_marker
from emobench.run import runner
from emobench.spec.config import merge


@pytest.fixture(autouse=True)
def _env(monkeypatch, isolated_cache):
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)


@pytest.fixture(scope="module")
def scored(zoo, zoo_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("own") / "run"
    os.environ["EMOBENCH_PLUGINS"] = PLUGINS
    os.environ["EMOBENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        runner.execute(merge({"zoo": str(zoo_dir), "emotions": "awe,fear", "n_per_emotion": 2, "out": str(out),
                              "metrics": "emo-a", "methods": "noise,learner"}), zoo=zoo, progress=False)
    finally:
        os.environ.pop("EMOBENCH_PLUGINS", None)
        os.environ.pop("EMOBENCH_CACHE", None)
    return out


@pytest.fixture
def run_copy(scored, tmp_path) -> Path:
    shutil.copytree(scored, tmp_path / "run")
    return tmp_path / "run"


def one_error_line(err: str) -> None:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("emobench: error:"), err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_run_carries_its_marker(scored):
    marker = read_marker(scored, RUN_MARKER)
    assert marker["version"] == 1 and len(marker["id"]) == 16


@pytest.mark.parametrize("own", [{"config.json": "{\"mine\": 1}"},                      # a look-alike name
                                 {"config.json": "{}", "env.json": "{}", "zoo.json": "{}"},
                                 {"notes.txt": "my notes", "index.html": "my page"}])
def test_every_out_refuses_a_folder_of_someone_else(zoo_dir, run_copy, tmp_path, capsys, own):
    mine = tmp_path / "mine"
    mine.mkdir()
    for name, text in own.items():
        (mine / name).write_text(text)
    before = snapshot(mine)
    commands = [["run", "--zoo", str(zoo_dir), "--methods", "noise", "--emotions", "awe", "--n-per-emotion", "1",
                 "--metrics", "emo-a", "--out", str(mine), "--no-progress"],
                ["report", str(run_copy), "--out", str(mine), "--no-figures"],
                ["figures", str(run_copy), "--out", str(mine)],
                ["human", "export", str(run_copy), "--out", str(mine), "--controls-per-emotion", "0"]]
    for args in commands:
        assert cli(args) == 2, args
        one_error_line(capsys.readouterr().err)
        assert snapshot(mine) == before, args   # nothing written, nothing removed


def test_runs_and_reports_made_before_markers_keep_working(run_copy, tmp_path, capsys):
    (run_copy / RUN_MARKER).unlink()
    report = tmp_path / "old-report"
    assert cli(["report", str(run_copy), "--out", str(report), "--no-figures", "--no-html"]) == 0
    (report / REPORT_MARKER).unlink()   # as a report of an earlier version left it
    assert cli(["report", str(run_copy), "--out", str(report), "--no-figures", "--no-html"]) == 0
    assert read_marker(report, REPORT_MARKER)["adopted"] is True
    assert cli(["report", str(run_copy), "--no-figures", "--no-html"]) == 0   # into the unmarked run itself
    cfg = json.loads((run_copy / "config.json").read_text())
    cfg.pop("config_hash")
    runner.execute(merge(cfg), resume=run_copy, score=False, progress=False)   # a resume marks it
    assert read_marker(run_copy, RUN_MARKER)["adopted"] is True


def test_the_sweep_removes_only_its_own_temp_names(run_copy, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    look_alikes = [f".notes.{dead}.tmp", f".draft.pid{dead}.x", f".emobench-report.pid{dead}.abc", "backup.tmp",
                   f".emobench-tmp-{dead}", f"emobench-tmp-{dead}-ab.csv"]
    for name in look_alikes:
        (run_copy / name).write_text("the user's")
    ours = run_copy / f".emobench-tmp-{dead}-0a1b2c3d.summary.csv"
    ours.write_text("half")
    live = run_copy / f".emobench-tmp-{os.getpid()}-0a1b2c3d.report"
    live.mkdir()
    assert cli(["report", str(run_copy), "--no-figures", "--no-html"]) == 0
    assert cli(["score", str(run_copy), "--metrics", "emo-a"]) == 0
    assert not ours.exists() and live.is_dir()
    assert all((run_copy / name).read_text() == "the user's" for name in look_alikes)
