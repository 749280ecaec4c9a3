"""Bundles: ``emobench bundle RUN --method NAME --out FILE.zip`` packs one method's images with the plan, the protocol
and the provenance; ``--methods bundle:FILE.zip`` re-scores it in another folder to the same numbers, and a run of
another protocol refuses it in one line without writing anything (tiny zoo, 4 cells)."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import zipfile

import pytest

from emobench.cli import main as cli

from support.submissions import EMOTIONS, N, methods_json, plan_ids, write_folder

COLS = ("value", "ci_low", "ci_high", "n")


def argv(zoo_dir, out, methods, *extra):
    return ["run", "--zoo", str(zoo_dir), "--emotions", ",".join(EMOTIONS), "--n-per-emotion", str(N),
            "--metrics", "emo-a,clip-score", "--methods", methods, "--out", str(out), "--no-progress", "--no-report",
            *extra]


def summary(run, method):
    return {(r["metric"], r["emotion"]): tuple(r[c] for c in COLS)
            for r in csv.DictReader((run / "summary.csv").open()) if r["method"] == method}


def shas(run, method):
    return {(r["emotion"], r["seed"]): r["sha256"]
            for r in map(json.loads, (run / "manifest.jsonl").read_text().splitlines()) if r["method"] == method}


@pytest.fixture(scope="module")
def source(zoo_dir, tmp_path_factory):
    """A scored run of sd and a folder submission ``entry`` (random images, no submission.json)."""
    root = tmp_path_factory.mktemp("bundle-src")
    mp = pytest.MonkeyPatch()
    mp.setenv("EMOBENCH_CACHE", str(root / "cache"))
    try:
        folder = write_folder(root / "entry", plan_ids())
        for args in (argv(zoo_dir, root / "run", f"sd,folder:entry={folder}"),
                     ["bundle", str(root / "run"), "--method", "entry", "--out", str(root / "entry.zip")]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = cli(args)
            assert code == 0, err.getvalue()   # the one-line reason, should a run or bundle refuse
    finally:
        mp.undo()
    return root


def test_bundle_rescores_identically_in_another_folder(source, zoo_dir, tmp_path, isolated_cache):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bundle = shutil.copy(source / "entry.zip", elsewhere / "entry.zip")
    assert cli(argv(zoo_dir, elsewhere / "run", f"bundle:{bundle}")) == 0
    again = elsewhere / "run"
    assert summary(again, "entry") == summary(source / "run", "entry") and summary(again, "entry")
    assert shas(again, "entry") == shas(source / "run", "entry")
    info = methods_json(again)["entry"]
    assert info["external"] and info["plugin"] == "bundle"
    prov = info["provenance"]
    assert prov["source"] == "bundle" and prov["bundle_method"] == "entry" and prov["declares_plan_latents"] is False
    assert prov["origin"]["plugin"] == "folder" and prov["origin"]["external"] is True


def test_bundle_bytes_are_deterministic_and_hold_the_plan(source, tmp_path):
    assert cli(["bundle", str(source / "run"), "--method", "entry", "--out", str(tmp_path / "again.zip")]) == 0
    assert (tmp_path / "again.zip").read_bytes() == (source / "entry.zip").read_bytes()
    with zipfile.ZipFile(source / "entry.zip") as zf:
        names = set(zf.namelist())
        meta = json.loads(zf.read("bundle.json"))
        assert json.loads(zf.read("protocol.json")) == json.loads((source / "run" / "protocol.json").read_text())
    assert {"bundle.json", "protocol.json", "plan.json", "provenance/methods.json", "provenance/env.json"} <= names
    assert {f"images/{i}.png" for i in plan_ids()} <= names and meta["method"] == "entry"
    assert set(meta["images"]) == set(plan_ids())


def test_bundle_of_a_builtin_method_is_named_on_rescoring(source, zoo_dir, tmp_path, capsys, isolated_cache):
    assert cli(["bundle", str(source / "run"), "--method", "sd", "--out", str(tmp_path / "sd.zip")]) == 0
    capsys.readouterr()
    assert cli(argv(zoo_dir, tmp_path / "r1", f"bundle:{tmp_path / 'sd.zip'}")) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "names its row 'sd', the name of an installed method" in err
    assert not (tmp_path / "r1").exists()
    assert cli(argv(zoo_dir, tmp_path / "r2", f"bundle:sdcopy={tmp_path / 'sd.zip'}")) == 0
    assert shas(tmp_path / "r2", "sdcopy") == shas(source / "run", "sd")
    assert summary(tmp_path / "r2", "sdcopy") == summary(source / "run", "sd")
    assert methods_json(tmp_path / "r2")["sdcopy"]["provenance"]["declares_plan_latents"] is True


@pytest.mark.parametrize("extra, differs", [(["--n-per-emotion", "1"], "n_per_group (2 vs 1)"),
                                            (["--seed", "7"], "seed (0 vs 7)"),
                                            (["--emotions", "awe"], "emotions")])
def test_bundle_of_another_protocol_is_refused(source, zoo_dir, tmp_path, capsys, extra, differs):
    args = argv(zoo_dir, tmp_path / "r", f"bundle:{source / 'entry.zip'}")
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    assert cli(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("emobench: error: bundle entry.zip was made under protocol") and err.count("\n") == 0
    assert differs in err and not (tmp_path / "r").exists()


@pytest.mark.parametrize("args, message", [
    (["--method", "nope"], "has no method 'nope'"),
    (["--method", "entry", "--out", "{tmp}/b.tar"], "does not end in .zip"),
    (["--method", "entry", "--out", "{src}/entry.zip"], "exists"),
])
def test_bundle_command_refuses_bad_input(source, tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path, src=source) for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "x.zip")]
    assert cli(["bundle", str(source / "run"), *args, *out]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and not (tmp_path / "x.zip").exists()
