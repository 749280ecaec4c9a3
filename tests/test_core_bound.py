"""A run is bound to the zoo, judges and weights that made it: a resume refuses other generation weights, a
re-score refuses other judges unless asked (and then records both), ``verify`` checks the run against its
plan, and a human-study store of another run is refused by ``human import`` and ``report --human``."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from support.core_plugins import PLUGINS

from emobench.cli import main as cli
from emobench.run.binding import RESCORED

METHODS = "noise,noise:scale=2.0"


@pytest.fixture(autouse=True)
def _env(monkeypatch, isolated_cache):
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)


@pytest.fixture
def own_zoo(zoo_dir, tmp_path) -> Path:
    """A copy of the tiny zoo this test may change under its run."""
    return Path(shutil.copytree(zoo_dir, tmp_path / "zoo"))


def make_run(zoo: Path, out: Path, capsys) -> Path:
    assert cli(["run", "--zoo", str(zoo), "--methods", METHODS, "--emotions", "awe,fear", "--n-per-emotion", "2",
                "--metrics", "emo-a", "--out", str(out), "--no-progress", "--no-report"]) == 0
    capsys.readouterr()
    return out


def one_error_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("emobench: error:"), err
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".emobench")}


def touch(folder: Path) -> None:
    """Change a component's files the way a rebuilt or edited zoo would (its folder hash changes)."""
    cfg = next(p for p in sorted(folder.rglob("*.json")))
    cfg.write_text(cfg.read_text() + "\n")


def test_changed_generation_weights_refuse_the_resume(own_zoo, tmp_path, capsys):
    run = make_run(own_zoo, tmp_path / "run", capsys)
    before = snapshot(run)
    touch(own_zoo / "pipeline" / "unet")
    assert cli(["run", "--resume", str(run), "--no-progress"]) == 2
    line = one_error_line(capsys.readouterr().err)
    old = json.loads((run / "zoo.json").read_text())["hashes"]["pipeline.unet"]
    assert "pipeline.unet" in line and old[:12] in line and "--out" in line
    assert snapshot(run) == before   # nothing regenerated, nothing rewritten


def test_changed_judges_refuse_a_rescore_unless_asked(own_zoo, tmp_path, capsys):
    run = make_run(own_zoo, tmp_path / "run", capsys)
    before = snapshot(run)
    old_fp = json.loads((run / "protocol.json").read_text())["fingerprint"]
    touch(own_zoo / "judges")
    for args in (["run", "--resume", str(run), "--no-progress"], ["score", str(run)]):
        assert cli(args) == 2
        line = one_error_line(capsys.readouterr().err)
        assert "judges" in line and "--rescore-with-current-judges" in line
    assert snapshot(run) == before
    assert cli(["report", str(run), "--no-figures", "--no-html"]) == 0   # a report shows the run as stored ...
    assert "changed since it was made or scored" in capsys.readouterr().err   # ... and says the zoo moved on
    assert cli(["run", "--resume", str(run), "--no-progress", "--no-score", "--no-report"]) == 0   # generation only
    capsys.readouterr()
    assert cli(["score", str(run), "--rescore-with-current-judges"]) == 0
    err = capsys.readouterr().err
    new_fp = json.loads((run / "protocol.json").read_text())["fingerprint"]
    assert new_fp != old_fp and f"{old_fp} -> {new_fp}" in err and RESCORED in err
    (entry,) = [json.loads(line) for line in (run / RESCORED).read_text().splitlines()]
    assert entry["old_fingerprint"] == old_fp and entry["new_fingerprint"] == new_fp
    assert entry["changed"]["judges"]["old"] != entry["changed"]["judges"]["new"]
    assert cli(["run", "--resume", str(run), "--no-progress", "--no-report"]) == 0   # bound to the new judges now


def test_verify_checks_the_run_against_its_plan(own_zoo, tmp_path, capsys):
    run = make_run(own_zoo, tmp_path / "run", capsys)
    assert cli(["verify", str(run)]) == 0
    assert "every planned cell of every finished method has its record" in capsys.readouterr().out
    lines = (run / "manifest.jsonl").read_text().splitlines()
    (run / "manifest.jsonl").write_text("".join(x + "\n" for x in lines[1:]))   # one record lost
    assert cli(["verify", str(run)]) == 1
    err = capsys.readouterr().err
    assert "1 of 4 planned cells have no manifest record" in err


def test_votes_of_another_run_are_refused(own_zoo, tmp_path, capsys):
    a = make_run(own_zoo, tmp_path / "a", capsys)
    b = make_run(own_zoo, tmp_path / "b", capsys)   # same config, same images: only the run id differs
    for run in (a, b):
        assert cli(["human", "export", str(run), "--controls-per-emotion", "0"]) == 0
    capsys.readouterr()
    with open(b / "human" / "tasks.csv", newline="") as fh:
        tasks = list(csv.DictReader(fh))
    votes = tmp_path / "votes.csv"
    with open(votes, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["rater_id", "task_id", "question", "choice", "study_id"])
        for t in tasks:
            w.writerow(["w1", t["task_id"], t["question_ids"].split(";")[0], "left", t["study_id"]])
    store_a = a / "human" / "votes.sqlite"
    before = store_a.read_bytes()
    assert cli(["human", "import", str(votes), "--store", str(store_a)]) == 2
    assert "another study" in one_error_line(capsys.readouterr().err)
    assert store_a.read_bytes() == before
    assert cli(["human", "import", str(votes), "--store", str(b / "human" / "votes.sqlite")]) == 0
    capsys.readouterr()
    assert cli(["report", str(a), "--human", str(b / "human" / "votes.sqlite"), "--no-figures"]) == 2
    assert "another run" in one_error_line(capsys.readouterr().err)
    assert cli(["report", str(b), "--human", str(b / "human" / "votes.sqlite"), "--no-figures"]) == 0
