"""A resume that finds everything done costs about what ``emobench list`` costs: the report's inputs are the
stored results, not per-invocation facts, so it is not re-rendered (its files keep their mtime), and a warm
re-score loads neither CLIP (the zero-shot judge's class embeddings wait for an image that needs them) nor
scipy.stats. The timing itself is measured side by side in benchmarks/test_core_resume_cost.py."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.core_plugins import PLUGINS

from emobench.cli import main as cli
from emobench.zoo.load import SHIPPED_MINI

TESTS = Path(__file__).parent


@pytest.fixture(autouse=True)
def _env(monkeypatch, isolated_cache):
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)


def test_a_finished_resume_keeps_the_report(zoo_dir, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["run", "--zoo", str(zoo_dir), "--methods", "noise,learner", "--emotions", "awe,fear",
            "--n-per-emotion", "2", "--metrics", "emo-a,emo-a-mean", "--no-progress"]
    assert cli([*args, "--out", str(run)]) == 0
    report = [run / n for n in ("index.html", "leaderboard.md", "leaderboard.csv", "provenance.json")]
    report += sorted((run / "figures").rglob("*.png"))
    written = {p: p.stat().st_mtime_ns for p in report}
    first = json.loads((run / "methods.json").read_text())
    assert first["learner"]["artifact_source"] == "fitted"
    capsys.readouterr()
    assert cli(["run", "--resume", str(run), "--no-progress"]) == 0
    assert "report: unchanged" in capsys.readouterr().out
    again = json.loads((run / "methods.json").read_text())
    # the per-invocation facts did change (this resume fitted nothing and generated nothing) ...
    assert again["learner"]["artifact_source"] == "cache" and again["learner"]["n_generated"] == 0
    # ... and the report, made from the stored results, was left as it was
    assert {p: p.stat().st_mtime_ns for p in report} == written
    # a stored result that does change (here the method order the run keeps) re-renders it
    (run / "methods.order.json").write_text(json.dumps({"methods": ["learner", "noise"]}))
    assert cli(["run", "--resume", str(run), "--no-progress"]) == 0
    assert "report: unchanged" not in capsys.readouterr().out
    assert (run / "index.html").stat().st_mtime_ns != written[run / "index.html"]


def test_a_warm_rescore_loads_no_clip_and_no_scipy_stats(zoo_dir, tmp_path, isolated_cache):
    zoo = Path(shutil.copytree(zoo_dir, tmp_path / "zoo"))   # the tiny zoo with a CLIP zero-shot judge in its panel
    (zoo / "judges" / "panel").mkdir()
    shutil.copy(SHIPPED_MINI / "judges" / "panel" / "clip-zero-shot.json", zoo / "judges" / "panel")
    run = tmp_path / "run"
    assert cli(["run", "--zoo", str(zoo), "--methods", "noise,noise:scale=2.0", "--emotions", "awe,fear",
                "--n-per-emotion", "2", "--metrics", "emo-a,emo-a-mean", "--out", str(run), "--no-progress",
                "--no-report"]) == 0
    code = ("import sys, emobench.zoo.load as load\n"
            "def refuse(*a, **k): raise AssertionError('CLIP was loaded for a warm re-score')\n"
            "load._load_clip_checked = refuse\n"
            "from emobench.cli import main\n"
            f"assert main(['score', {str(run)!r}]) == 0\n"
            "assert 'scipy.stats' not in sys.modules, 'scipy.stats was imported'\n")
    env = {"EMOBENCH_PLUGINS": PLUGINS, "EMOBENCH_CACHE": str(isolated_cache), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(TESTS), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "emo-a@clip-zero-shot" in (run / "summary.csv").read_text()   # the zero-shot judge did score
