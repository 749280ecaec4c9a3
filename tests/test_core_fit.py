"""Fit cache of learning methods: fit once, reuse from cache or the zoo's prefit/, keep finished emotions of a
failed fit, refuse corrupted artifacts, --refit, and ``emobench fit``."""
from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

import support.core_plugins as plugins

from emobench import registry
from emobench.run import artifacts
from emobench.run import runner
from emobench.cli import main as cli
from emobench.spec.config import merge
from emobench.errors import EmobenchError

EMOS = ("awe", "fear")


@pytest.fixture(autouse=True)
def _env(monkeypatch, isolated_cache):
    monkeypatch.setenv("EMOBENCH_PLUGINS", plugins.PLUGINS)
    monkeypatch.setenv("EMOBENCH_TEST_FAIL", "1")
    plugins.FIT_CALLS.clear()


def learner(spec: str = "learner"):
    return registry.methods().create(spec)[1]


def test_fit_once_then_cached(zoo, zoo_dir, tmp_path):
    art = artifacts.ensure("learner", learner(), zoo, EMOS, progress=False)
    assert art.source == "fitted" and plugins.FIT_CALLS == ["awe", "fear"]
    info = json.loads((art.path / "fit.json").read_text())
    assert info["key"] == art.key and info["key_inputs"]["emotions"] == list(EMOS)
    assert set(info["files"]) == {"awe/mean.safetensors", "awe/_complete", "fear/mean.safetensors", "fear/_complete"}
    again = artifacts.ensure("learner", learner(), zoo, EMOS, progress=False)
    assert again.source == "cache" and again.path == art.path and plugins.FIT_CALLS == ["awe", "fear"]
    # the runner records the artifact in methods.json and generates with it
    res = runner.execute(merge({"zoo": str(zoo_dir), "methods": "learner", "emotions": "awe,fear", "n_per_emotion": 1,
                                "out": str(tmp_path / "run")}), zoo=zoo, score=False, progress=False)
    info = json.loads((tmp_path / "run" / "methods.json").read_text())["learner"]
    assert info["status"] == "ok" and info["artifact_key"] == art.key and info["artifact_source"] == "cache"
    assert res.outcomes[0].n_images == 2


def test_partial_fit_keeps_finished_emotions(zoo, zoo_dir, tmp_path, monkeypatch):
    cfg = merge({"zoo": str(zoo_dir), "methods": "learner:fail_on=fear,noise", "emotions": "awe,fear",
                 "n_per_emotion": 1, "out": str(tmp_path / "run")})
    res = runner.execute(cfg, zoo=zoo, score=False, progress=False)
    status = {o.label: (o.status, o.reason) for o in res.outcomes}
    assert status["noise"] == ("ok", None)
    assert status["learner:fail_on=fear"][0] == "failed" and "fit failed on fear" in status["learner:fail_on=fear"][1]
    assert plugins.FIT_CALLS == ["awe"]
    monkeypatch.setenv("EMOBENCH_TEST_FAIL", "0")
    res = runner.execute(dataclasses.replace(cfg, out=None), resume=tmp_path / "run", zoo=zoo, score=False,
                         progress=False)
    assert [o.status for o in res.outcomes] == ["ok", "ok"]
    assert plugins.FIT_CALLS == ["awe", "fear"]  # awe was not fitted again


def test_corrupted_artifact_is_refused(zoo):
    art = artifacts.ensure("learner", learner(), zoo, EMOS, progress=False)
    (art.path / "awe" / "mean.safetensors").write_bytes(b"garbage")
    with pytest.raises(EmobenchError, match="corrupted .* --refit"):
        artifacts.ensure("learner", learner(), zoo, EMOS, progress=False)
    fresh = artifacts.ensure("learner", learner(), zoo, EMOS, refit=True, progress=False)
    assert fresh.source == "fitted" and artifacts.verify(fresh.path)


def test_prefit_in_zoo_and_superset(zoo, tmp_path):
    art = artifacts.ensure("learner", learner(), zoo, artifacts.EMOTIONS, progress=False)
    fake_zoo_root = tmp_path / "zoo"
    shutil.copytree(art.path, fake_zoo_root / "prefit" / "learner" / art.key)
    shutil.rmtree(art.path)
    shipped = dataclasses.replace(zoo, root=fake_zoo_root)
    found = artifacts.ensure("learner", learner(), shipped, EMOS, progress=False)  # a subset of all eight
    assert found.source == "prefit" and found.key == art.key
    assert plugins.FIT_CALLS == list(artifacts.EMOTIONS)


def test_fit_command(zoo_dir, capsys):
    assert cli(["fit", "learner", "--zoo", str(zoo_dir), "--emotions", "awe"]) == 0
    assert "(fitted)" in capsys.readouterr().out
    assert plugins.FIT_CALLS == ["awe"]
    assert cli(["fit", "sd", "--zoo", str(zoo_dir)]) == 2
    assert "does not learn" in capsys.readouterr().err


def test_fit_seed_is_part_of_the_key_and_run_seed_is_not(zoo, zoo_dir, tmp_path):
    """A cached fit must not depend on which plan seed happened to trigger it: runs always fit with FIT_SEED."""
    other = artifacts.ensure("learner", learner(), zoo, EMOS, seed=3, progress=False)
    default = artifacts.ensure("learner", learner(), zoo, EMOS, progress=False)
    assert other.key != default.key and default.source == "fitted"
    assert json.loads((default.path / "fit.json").read_text())["key_inputs"]["seed"] == artifacts.FIT_SEED
    runner.execute(merge({"zoo": str(zoo_dir), "methods": "learner", "emotions": "awe,fear", "n_per_emotion": 1,
                          "seed": 7, "out": str(tmp_path / "run")}), zoo=zoo, score=False, progress=False)
    info = json.loads((tmp_path / "run" / "methods.json").read_text())["learner"]
    assert info["artifact_key"] == default.key and info["artifact_source"] == "cache"
