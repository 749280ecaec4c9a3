"""The round trip of an outside submission: ``emobench plan export`` → ``examples/generate_from_plan.py`` (plain
diffusers, two shard processes, no emobench import) → ``folder:ref=DIR`` scores exactly like the built-in ``sd``:
byte-identical stored images and equal summaries. It runs on the shipped mini zoo (whichever is shipped) and
on the tiny test zoo when no mini zoo is shipped."""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from emobench.api import Cell
from emobench.cli import build_parser, main as cli
from emobench.commands.plan import NOT_PLAN_FLAGS
from emobench.report.leaderboard import build, to_markdown
from emobench.rundir.results import load_runs
from emobench.run import runner
from emobench.spec.config import merge
from emobench.spec.plan import cell_latent
from emobench.zoo.load import SHIPPED_MINI, load_zoo

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "generate_from_plan.py"
FLAGS = {"emotions": "awe,fear", "n_per_emotion": "4", "metrics": "emo-a,sem-c,clip-score"}


@pytest.fixture(autouse=True)
def _cache(isolated_cache):
    return isolated_cache


@pytest.fixture(scope="module")
def zoo_spec(request) -> str:
    return "mini" if (SHIPPED_MINI / "zoo.json").is_file() else str(request.getfixturevalue("zoo_dir"))


@pytest.fixture(scope="module")
def roundtrip(zoo_spec, tmp_path_factory):
    """export → reference script (subprocess) → one run of sd and folder:ref."""
    root = tmp_path_factory.mktemp("roundtrip")
    export, images, run = root / "plan", root / "images", root / "run"
    argv = ["--zoo", zoo_spec, "--emotions", FLAGS["emotions"], "--n-per-emotion", FLAGS["n_per_emotion"],
            "--metrics", FLAGS["metrics"]]
    assert cli(["plan", "export", "--out", str(export), *argv]) == 0
    # the script in its own interpreter; afterwards no emobench module may have been imported (not even by diffusers)
    probe = ("import runpy, sys; sys.argv = sys.argv[1:]; "
             "runpy.run_path(sys.argv[0], run_name='__main__')\n"
             "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('emobench', 'baselines', 'emogen'))\n"
             "assert not bad, bad")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    for shard in ("1/2", "2/2"):   # two "cluster jobs" fill one folder: 4 + 4 rows, each call padded to 8
        done = subprocess.run([sys.executable, "-c", probe, str(SCRIPT), str(export), "--out", str(images),
                               "--shard", shard], env=env, capture_output=True, text=True, timeout=600, cwd=root)
        assert done.returncode == 0, done.stderr[-3000:]
    zoo = load_zoo(zoo_spec, lazy=True)
    cfg = merge({**FLAGS, "zoo": zoo_spec, "methods": f"sd,folder:ref={images}", "out": str(run)})
    result = runner.execute(cfg, zoo=zoo, progress=False)
    assert [o.status for o in result.outcomes] == ["ok", "ok"], [o.reason for o in result.outcomes]
    return export, images, run, zoo, cfg


def test_export_holds_the_runs_cells_latents_and_protocol(roundtrip):
    export, _, run, zoo, _ = roundtrip
    plan = json.loads((run / "plan.json").read_text())
    cells = [Cell(c["emotion"], c["template"], c["seed"], c.get("content")) for c in plan["cells"]]
    rows = list(csv.DictReader((export / "cells.csv").open()))
    assert [r["id"] for r in rows] == [c.file_id for c in cells]
    assert [r["prompt"] for r in rows] == [c.prompt() for c in cells]
    assert [json.loads(x)["id"] for x in (export / "cells.jsonl").read_text().splitlines()] == [r["id"] for r in rows]
    latents = load_file(str(export / "latents.safetensors"))
    assert set(latents) == {c.file_id for c in cells}
    for c in cells:   # the very tensor the built-in methods get (and plan.json's hash of it)
        assert latents[c.file_id].equal(cell_latent(c.seed, zoo.latent_shape()))
    assert [hashlib.sha256(latents[c.file_id].numpy().tobytes()).hexdigest() for c in cells] == \
        [c["latent_sha256"] for c in plan["cells"]]
    facts = json.loads((export / "export.json").read_text())
    run_protocol = json.loads((run / "protocol.json").read_text())
    assert json.loads((export / "protocol.json").read_text()) == run_protocol
    assert facts["fingerprint"] == run_protocol["fingerprint"] and facts["plan_hash"] == plan["plan_hash"]
    guide = (export / "SUBMITTING.txt").read_text()
    assert facts["fingerprint"] in guide and "<id>.<ext>" in guide and "folder:NAME=DIR" in guide


def test_reference_generator_images_are_sds_byte_for_byte(roundtrip):
    _, images, run, _, _ = roundtrip
    recs = [json.loads(x) for x in (run / "manifest.jsonl").read_text().splitlines()]
    by_cell: dict = {}
    for r in recs:
        by_cell.setdefault((r["emotion"], r["seed"]), {})[r["method"]] = r["sha256"]
    assert len(by_cell) == 8 and all(v["sd"] == v["ref"] for v in by_cell.values())
    assert len(list(images.glob("*.png"))) == 8 and json.loads((images / "submission.json").read_text())["plan_latents"]


def test_folder_scores_equal_sds(roundtrip):
    _, _, run, _, _ = roundtrip
    rows = list(csv.DictReader((run / "summary.csv").open()))
    cols = ("value", "ci_low", "ci_high", "n")
    sd = {(r["metric"], r["emotion"]): tuple(r[c] for c in cols) for r in rows if r["method"] == "sd"}
    ref = {(r["metric"], r["emotion"]): tuple(r[c] for c in cols) for r in rows if r["method"] == "ref"}
    assert sd and sd == ref
    assert {"emo-a", "sem-c", "clip-score"} <= {m for m, _ in sd}
    assert all(float(r["diff"]) == 0.0 for r in rows if r["method"] == "ref" and r["diff"])


def test_methods_json_and_tables_mark_the_external_row(roundtrip):
    _, images, run, _, _ = roundtrip
    info = json.loads((run / "methods.json").read_text())
    assert "external" not in info["sd"]   # methods made here: methods.json as before
    ref = info["ref"]
    assert ref["external"] is True and ref["plugin"] == "folder"
    prov = ref["provenance"]
    assert prov["declares_plan_latents"] is True and prov["source"] == "folder" and prov["n_images"] == 8
    assert prov["declared"]["protocol"] == json.loads((run / "protocol.json").read_text())["fingerprint"]
    # config.json keeps the canonical spec a resume re-creates the method from; the row is named "ref"
    assert f"folder:dir={images.resolve()}:name=ref:strict_size=false" in json.loads((run / "config.json").read_text())["methods"]
    lb = build(load_runs([run]))
    assert set(lb.row_notes) == {"ref"} and lb.display_names["ref"] == "ref †"
    assert "† ref: images made outside emobench (a submitted folder)" in to_markdown(lb)


def test_resume_regenerates_nothing(roundtrip):
    _, _, run, zoo, cfg = roundtrip
    before = (run / "manifest.jsonl").read_bytes()
    result = runner.execute(merge({**FLAGS, "zoo": cfg.zoo, "methods": ",".join(cfg.methods), "out": str(run)}),
                            zoo=zoo, resume=run, score=False, progress=False)
    assert [o.n_generated for o in result.outcomes] == [0, 0]
    assert (run / "manifest.jsonl").read_bytes() == before


def test_plan_export_takes_every_run_flag_but_the_methods():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    flags = lambda p: {o for a in p._actions for o in a.option_strings} - {"-h", "--help"}   # noqa: E731
    export = next(a for a in sub.choices["plan"]._actions if isinstance(a, argparse._SubParsersAction)).choices["export"]
    assert flags(sub.choices["run"]) - set(NOT_PLAN_FLAGS) <= flags(export)
    assert "--methods" not in flags(export)


def test_file_ids_are_safe_and_stable():
    cell = Cell("fear", "a {content}, evoking {emotion}", 3, "A bird flying in the sky.")
    digest = hashlib.sha256(cell.cell_id.encode()).hexdigest()[:10]
    assert cell.file_id == f"fear-a-bird-flying-in-the-sky-3-{digest}"
    plain = Cell("awe", "an image of {emotion}", 0)
    assert plain.file_id == f"awe-0-{hashlib.sha256(b'awe|an image of {emotion}|0').hexdigest()[:10]}"
    assert Cell("awe", "a photo of {emotion}", 0).file_id != plain.file_id   # the template counts
