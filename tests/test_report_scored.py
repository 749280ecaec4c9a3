"""The report on a run scored by the real scorer (emobench.scoring with the metric tests' fake judges):
the files `emobench score` writes are read as they are, controls and further metric columns included."""
from __future__ import annotations

import json

import pandas as pd

from emobench.report import build_report
from emobench.rundir.results import load_run
from emobench.scoring import score_run
from emobench.scoring.stats import BootstrapConfig
from support.metrics_fakes import fake_zoo, make_run


def test_report_reads_what_the_scorer_writes(tmp_path):
    run = tmp_path / "run"
    make_run(run, methods=("sd", "good"), n_per_emotion=3)
    methods = json.loads((run / "methods.json").read_text())
    methods["dreambooth"] = {"status": "failed", "reason": "fit failed: NaN loss"}
    (run / "methods.json").write_text(json.dumps(methods))
    score_run(run, fake_zoo(tmp_path), None, baseline="sd", bootstrap=BootstrapConfig(n_resamples=100),
              cache_dir=tmp_path / "cache")

    data = load_run(run)
    assert data.baseline == "sd" and data.judges_hash
    assert data.status("dreambooth") == ("failed", "fit failed: NaN loss")
    build_report([run], figures=False)
    md = (run / "leaderboard.md").read_text()
    assert "`good`" in md and "`sd` (baseline)" in md and "fit failed: NaN loss" in md
    assert "`real (control)`" in md and "`shuffled (control)`" in md
    assert "Emo-A p(target)↑" in md and "Sem-D (cos)↑" in md      # the scorer's extra columns
    csv = pd.read_csv(run / "leaderboard.csv", keep_default_na=False)
    summary = pd.read_csv(run / "summary.csv")
    good = summary[(summary.method == "good") & (summary.metric == "emo-a") & (summary.emotion == "all")].iloc[0]
    row = csv[csv.method == "good"].iloc[0]
    assert float(row["emo-a"]) == good["value"] and float(row["emo-a_diff"]) == good["diff"]
    assert row["emo-a_best"] == "1"   # the fake "good" method always shows the right colour
    html = (run / "index.html").read_text()
    assert html.count("<img ") == 2 * 8 * 3 and "Emo-A = 1.0%" not in html and "Emo-A = 100.0%" in html
