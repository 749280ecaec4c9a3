"""The example out-of-tree plugin: pip-installed into this environment, validated and run beside ``sd``
through the CLI; misbehaving plugins fail alone while the others' results are kept."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from emobench import registry
from emobench.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "emobench-plugin-example"
TARGET = "emobench_plugin_example.method:EmotionPromptMethod"


def _installed() -> bool:
    return any(ep.value == TARGET for ep in entry_points(group="emobench.methods", name="mine"))


@pytest.fixture(scope="module")
def example_installed():
    """``pip install -e`` the example into the running venv (skipped when it is already there)."""
    if not _installed():
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                               "--quiet", "-e", str(EXAMPLE)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert _installed()
    # the editable finder is installed by a .pth at interpreter start; this process started before it
    sys.path.insert(0, str(EXAMPLE))
    registry._registry.cache_clear()
    yield
    sys.path.remove(str(EXAMPLE))
    registry._registry.cache_clear()


def test_the_example_is_small_and_complete():
    method = (EXAMPLE / "emobench_plugin_example" / "method.py").read_text().splitlines()
    assert len(method) <= 60
    assert 'mine = "emobench_plugin_example.method:EmotionPromptMethod"' in (EXAMPLE / "pyproject.toml").read_text()
    assert "MethodContractTests" in (EXAMPLE / "tests" / "test_contract.py").read_text()


def test_validate_plugin_cli_passes_the_example(example_installed, zoo_dir, capsys):
    code = cli_main(["validate-plugin", "mine", "--zoo", str(zoo_dir), "--bad-option", "guidance=7"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "mine: all checks passed" in out
    for check in ("resolve", "bad_config", "output_contract", "seeds_honoured", "latents_honoured",
                  "determinism", "batch_independence", "zoo_untouched", "reduces_to_baseline"):
        assert f"PASS  {check}" in out


def test_validate_plugin_cli_reports_failures_and_exits_1(zoo_dir, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setenv("EMOBENCH_PLUGINS", "method:nan=support.kit_fake_plugins:NaNMethod")
    code = cli_main(["validate-plugin", "nan", "--zoo", str(zoo_dir), "--check", "output_contract"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  output_contract" in out and "NaN" in out


def test_run_mine_beside_sd_and_bad_plugins_fail_alone(example_installed, zoo_dir, tmp_path):
    """`emobench run --methods mine,sd,...` in a fresh process, as a user would type it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
           "EMOBENCH_PLUGINS": "method:nan=support.kit_fake_plugins:NaNMethod,method:wrong-count=support.kit_fake_plugins:"
                               "WrongCountMethod,method:crash=support.kit_fake_plugins:CrashMethod,"
                               "method:broken=no_such_module_xyz:Thing"}
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "emobench", "run", "--methods", "mine,nan,sd,wrong-count,crash,broken",
                           "--zoo", str(zoo_dir), "--emotions", "amusement,fear", "--n-per-emotion", "1",
                           "--batch-size", "2", "--metrics", "emo-a", "--out", str(run), "--no-progress", "--no-report"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]   # some methods failed
    methods = json.loads((run / "methods.json").read_text())
    assert methods["mine"]["status"] == "ok" and methods["sd"]["status"] == "ok"
    reasons = {m: methods[m]["reason"] for m in ("nan", "wrong-count", "crash", "broken")}
    assert all(methods[m]["status"] == "failed" for m in reasons), methods
    assert "NaN" in reasons["nan"] and "shape" in reasons["wrong-count"]
    assert "out of ideas mid-run" in reasons["crash"] and "no_such_module_xyz" in reasons["broken"]
    manifest = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    by_method: dict[str, set] = {}
    for rec in manifest:
        by_method.setdefault(rec["method"], set()).add((rec["emotion"], rec["seed"]))
    assert set(by_method) == {"mine", "sd"}                      # the failed methods left no images
    assert by_method["mine"] == by_method["sd"] == {("amusement", 0), ("fear", 0)}
    mine = [r for r in manifest if r["method"] == "mine"]
    assert all("balloons" in r["prompt"] or "spider" in r["prompt"] for r in mine)
    assert (run / "scores.csv").is_file()
