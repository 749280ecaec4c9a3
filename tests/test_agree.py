"""Rank agreement with the papers' tables (Kendall τ-b, bootstrap over cells and fits) and the reported tables'
own uncertainty (whole-count check, Wilson interval)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from emobench.api import Cell, ImageRecord, stable_hash
from emobench.cli import main as cli
from emobench.emotions import EMOTIONS
from emobench.report.rank_agreement import _per_image, _resampled_means, agreements
from emobench.report.reported import all_reported, consistent_ns, counts, reported_cells, to_csv, wilson
from emobench.rundir.results import load_run
from emobench.scoring import score_run
from emobench.scoring.stats import BootstrapConfig

from support.metrics_fakes import CENTERS, colour_image, fake_zoo, write_png

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
# method id → (display name, share of cells painted in the wrong colour, fits)
METHODS = {"sd": ("Stable Diffusion", 0.4, 1), "ti": ("Textual Inversion", 0.2, 2), "db": ("DreamBooth", 0.5, 1),
           "eg": ("EmoGen", 0.1, 3)}


def _run(run_dir, n: int = 6) -> None:
    records, info = [], {}
    for pos, (m, (name, wrong, fits)) in enumerate(METHODS.items()):
        info[m] = {"status": "ok", "position": pos, "display_name": name,
                   "fits": [{"fit_seed": f} for f in range(fits)] if fits > 1 else None}
        for fit in range(fits):
            for k, e in enumerate(EMOTIONS):
                for seed in range(n):
                    cell = Cell(e, "an image of {emotion}", seed)
                    h = int(stable_hash([m, fit, cell.cell_id])[:8], 16)
                    colour = CENTERS[(k + 1) % 8] if (h % 100) / 100 < wrong else CENTERS[k]
                    key = stable_hash([m, fit, cell.cell_id])
                    sha = write_png(colour_image(colour, seed=h), run_dir / f"images/{key}.png")
                    records.append(ImageRecord(m, e, cell.template, seed, cell.prompt(), key, sha, f"images/{key}.png",
                                               fit_seed=fit if fits > 1 else None))
    records.sort(key=lambda r: (r.method, r.emotion, r.template, r.seed, r.fit_seed or 0))
    (run_dir / "manifest.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    (run_dir / "methods.json").write_text(json.dumps(info))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("agree")
    run = tmp / "run"
    _run(run)
    score_run(run, fake_zoo(tmp), ["emo-a", "fid"], baseline="sd", bootstrap=BootstrapConfig(n_resamples=50),
              cache_dir=tmp / "cache", progress=False)
    return run


def test_point_means_equal_the_summary_and_tau_is_kendalls(run_dir):
    run = load_run(run_dir)
    methods = ["sd", "ti", "db", "eg"]
    rows = _per_image(run, "emo-a", methods)
    assert sorted(rows["eg"]) == [0, 1, 2] and sorted(rows["sd"]) == [None]
    means = _resampled_means(rows, methods, BootstrapConfig(n_resamples=20))
    pooled = run.summary[(run.summary["emotion"] == "all") & (run.summary["metric"] == "emo-a")]
    want = [float(pooled[pooled["method"] == m]["value"].iloc[0]) for m in methods]
    assert means[0] == pytest.approx(want, abs=1e-12)
    items = {a.metric: a for a in agreements(run, resamples=200)}
    a = items["emo-a"]
    assert a.reference == "emogen-paper" and a.methods == ["Stable Diffusion", "Textual Inversion", "DreamBooth", "EmoGen"]
    paper = [0.7077, 0.7487, 0.7050, 0.7625]
    assert a.reported == paper
    assert a.tau == pytest.approx(stats.kendalltau(want, paper).statistic)
    assert -1 <= a.ci_low <= a.tau <= a.ci_high <= 1 and a.n_resamples == 200
    # FID is a set statistic: τ without an interval, and says why
    assert math.isnan(items["fid"].ci_low) and "set statistic" in items["fid"].note


def test_the_command(run_dir, capsys):
    assert cli(["agree", str(run_dir), "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    assert "`emogen-paper` | emo-a |" in out and "τ-b" in out


def test_wilson_equals_scipy():
    for k, n in ((98, 608), (0, 20), (20, 20), (243, 720)):
        ci = stats.binomtest(k, n).proportion_ci(method="wilson")
        assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_whole_counts_of_the_stated_n():
    assert counts(16.12, 2, 608) == [98] and counts(33.75, 2, 608) == [] and counts(33.75, 2, 720) == [243]
    assert consistent_ns([(33.75, 2), (81.53, 2), (24.86, 2)], 608)[0] == 720
    cells = {(c.method, c.column): c for c in reported_cells("emoctrl-paper")}
    db = cells[("DreamBooth", "emo-a")]
    assert not db.whole and db.n_used == 720 and "720" in db.check and "608" in db.check
    lo, hi = wilson(243, 720)
    assert (db.wilson_low, db.wilson_high) == (lo, hi)
    sd = cells[("SD-1.5", "emo-a")]
    assert sd.whole and sd.n_used == 608 and (sd.wilson_low, sd.wilson_high) == wilson(98, 608)
    assert sum(not c.whole for c in cells.values()) == 3   # only DreamBooth's three percentages
    assert all(c.wilson_low is None for c in reported_cells("emogen-paper"))   # no n stated: no interval


def test_the_committed_intervals_are_current():
    assert (REPO / "leaderboards/paper/reported_intervals.csv").read_text() == to_csv(all_reported())


def test_reference_rows_carry_their_wilson_intervals():
    from emobench.report.leaderboard import paper_reference_rows, with_reported_intervals

    rows = {r.method: r for r in with_reported_intervals(paper_reference_rows("paper_emoctrl_table1.csv"),
                                                         "emoctrl-paper")}
    e = rows["DreamBooth (paper-reported)"].entries["emo-a"]
    assert (e.ci_low, e.ci_high) == wilson(243, 720) and e.display == "33.75%"
    assert math.isnan(rows["EmoCtrl (paper-reported)"].entries["lpips"].ci_low)   # not a percentage
    emogen = with_reported_intervals(paper_reference_rows("paper_table1.csv"), "emogen-paper")
    assert all(math.isnan(e.ci_low) for r in emogen for e in r.entries.values())   # no n stated
