"""``--fit-seeds K`` end to end on the tiny zoo: K fits of a learning method, the same cells for each, fit seed
in the artifact key and on the records, one summary row per method with the per-fit values; K = 1 stays as
before (no fit_seed on records, the same image keys), so a one-fit run resumes into a K-fit run."""
from __future__ import annotations

import json

from emobench.run import runner
from emobench.spec.config import merge
from emobench.report.leaderboard import build, to_markdown
from emobench.rundir.results import load_run
from emobench.rundir.layout import read_manifest

TI_SPEC = "textual-inversion:steps=2:batch_size=2:max_images=4"


def _run(zoo, zoo_dir, out, **kw):
    cfg = {"zoo": str(zoo_dir), "emotions": "awe", "n_per_emotion": 2, "out": str(out), "metrics": "emo-a",
           "methods": f"sd,{TI_SPEC}", "baseline": "sd", **kw}
    return runner.execute(merge(cfg), zoo=zoo, progress=False)


def test_three_fits_generate_the_same_cells_and_report_across_fit_values(zoo, zoo_dir, tmp_path, isolated_cache):
    one = _run(zoo, zoo_dir, tmp_path / "one")
    recs1 = read_manifest(one.run_dir)
    TI = next(m for m in json.loads((one.run_dir / "methods.json").read_text()) if m.startswith("textual"))
    assert all(r.fit_seed is None for r in recs1)
    assert "fit_seed" not in (one.run_dir / "manifest.jsonl").read_text()
    assert "fits" not in json.loads((one.run_dir / "methods.json").read_text())[TI]

    three = _run(zoo, zoo_dir, tmp_path / "three", fit_seeds=3)
    recs = read_manifest(three.run_dir)
    ti = [r for r in recs if r.method == TI]
    assert sorted({r.fit_seed for r in ti}) == [0, 1, 2]
    cells = {s: sorted(r.cell.cell_id for r in ti if r.fit_seed == s) for s in (0, 1, 2)}
    assert cells[0] == cells[1] == cells[2] == sorted(r.cell.cell_id for r in recs1 if r.method == TI)
    assert all(r.fit_seed is None for r in recs if r.method == "sd")
    # fit 0 is the one-fit run's fit: the same artifact and image keys (so a one-fit run resumes into K fits)
    assert {r.key for r in ti if r.fit_seed == 0} == {r.key for r in recs1 if r.method == TI}
    assert len({r.key for r in ti}) == 3 * len(cells[0])
    fits = json.loads((three.run_dir / "methods.json").read_text())[TI]["fits"]
    assert [f["fit_seed"] for f in fits] == [0, 1, 2] and len({f["artifact_key"] for f in fits}) == 3

    rows = json.loads((three.run_dir / "summary.json").read_text())["rows"]
    row = next(r for r in rows if r["method"] == TI and r["metric"] == "emo-a" and r["emotion"] == "all")
    assert row["n_fits"] == 3 and [p["fit_seed"] for p in row["per_fit"]] == [0, 1, 2]
    assert abs(row["value"] - sum(p["value"] for p in row["per_fit"]) / 3) < 1e-12
    assert row["diff"] is not None
    one_row = next(r for r in json.loads((one.run_dir / "summary.json").read_text())["rows"]
                   if r["method"] == TI and r["metric"] == "emo-a" and r["emotion"] == "all")
    assert row["per_fit"][0]["value"] == one_row["value"]
    md = to_markdown(build(load_run(three.run_dir)))
    # the row names the method by its display name with the id beside it, and n reads "cells × fits"
    assert f"(`{TI}`) | 2 × 3 fits |" in md
