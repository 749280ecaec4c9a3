"""Issue 33: one Holm family per table with each distinct test once, marks that read from their own
intervals, the real control outside every reference set, and the 1-fit caveat of a learning method."""
from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from emobench.report.board_csv import to_csv
from emobench.report.leaderboard import build, to_markdown
from emobench.rundir.results import load_run
from emobench.rundir.layout import SummaryRow
from emobench.scoring import score_run
from emobench.scoring.family import apply_holm, column_aliases
from emobench.scoring.inference import ONE_FIT
from emobench.scoring.inputs import REAL_SPLIT, real_entries
from emobench.scoring.intervals import TInterval
from emobench.scoring.stats import BootstrapConfig, holm
from support.metrics_fakes import FakeDataset, fake_zoo, make_run

FAST = BootstrapConfig(n_resamples=200, seed=0)


def _row(method, metric, emotion, value, diff, se, df=40):
    iv = TInterval(diff, se, df)
    r = SummaryRow(method, "method", "ok", metric, emotion, value, diff=diff, p_value=iv.p_value(),
                   extra={"diff_spec": iv.spec()})
    r.diff_ci_low, r.diff_ci_high = iv.bounds(0.05)
    return r


def test_a_repeated_column_is_one_test_in_the_holm_family():
    rows = []
    for m, (d, se) in {"a": (0.12, 0.04), "b": (0.03, 0.02), "c": (-0.2, 0.05)}.items():
        rows += [_row(m, "emo-a", "all", 0.7 + d, d, se), _row(m, "emo-a@cnn", "all", 0.7 + d, d, se),
                 _row(m, "fid", "all", 20.0, 2 * d, se), _row(m, "fid", "awe", 20.0, d, se)]
    assert column_aliases(rows) == {"emo-a@cnn": "emo-a"}
    apply_holm(rows)
    fam = [r for r in rows if r.emotion == "all" and r.metric != "emo-a@cnn"]
    assert len(fam) == 6                                            # 3 methods × 2 distinct columns, not × 3
    for r, p in zip(fam, holm([r.p_value for r in fam])):
        assert r.p_holm == pytest.approx(p)
    by = {(r.method, r.metric, r.emotion): r for r in rows}
    for m in "abc":
        alias, canon = by[(m, "emo-a@cnn", "all")], by[(m, "emo-a", "all")]
        assert alias.p_holm == canon.p_holm and alias.diff_ci_holm_low == canon.diff_ci_holm_low
        assert "same test as emo-a" in alias.p_note
    # the awe level is a family of its own (3 tests); each interval at Holm's level excludes 0 ⇔ p_holm < 0.05
    assert by[("a", "fid", "awe")].p_holm == pytest.approx(holm([by[(m, "fid", "awe")].p_value for m in "abc"])[0])
    for r in rows:
        excl = not (r.diff_ci_holm_low <= 0 <= r.diff_ci_holm_high)
        assert excl == (r.p_holm < 0.05), r
        assert r.diff_ci_holm_low <= r.diff_ci_low and r.diff_ci_high <= r.diff_ci_holm_high


def test_a_column_declared_same_per_emotion_is_one_test_below_all_only():
    """intra-FID's per-emotion rows are FID's (display fact ``same_per_emotion_as``): one test in each emotion's
    family; its ``all`` row (the mean of the per-emotion FIDs) is a test of its own; a declaration the numbers
    do not bear out counts for nothing."""
    rows = []
    for m, (d, se) in {"a": (1.5, 0.5), "b": (0.4, 0.3), "c": (-2.0, 0.6)}.items():
        for e, shift in (("awe", 0.0), ("fear", 0.3)):
            rows += [_row(m, "fid", e, 20.0 + d, d + shift, se), _row(m, "fid-intra", e, 20.0 + d, d + shift, se)]
        rows += [_row(m, "fid", "all", 18.0 + d, d, se), _row(m, "fid-intra", "all", 21.0 + d, 1.1 * d, se)]
        rows += [_row(m, "emo-a", e, 0.7, 0.01 * d, 0.02) for e in ("awe", "fear", "all")]
    declared = {"fid-intra": "fid", "emo-a": "fid"}    # the second is false: its rows are not fid's
    assert column_aliases(rows) == {}                  # the all rows differ: not a repeated column
    apply_holm(rows, 0.05, declared)
    by = {(r.method, r.metric, r.emotion): r for r in rows}
    for e in ("awe", "fear"):
        fam = [r for r in rows if r.emotion == e and r.metric != "fid-intra"]
        assert len(fam) == 6                           # fid and emo-a for 3 methods; fid-intra counted once
        for r, p in zip(fam, holm([r.p_value for r in fam])):
            assert r.p_holm == pytest.approx(p)
        for m in "abc":
            alias, canon = by[(m, "fid-intra", e)], by[(m, "fid", e)]
            assert alias.p_holm == canon.p_holm and alias.diff_ci_holm_low == canon.diff_ci_holm_low
            assert "same test as fid" in alias.p_note and "same test" not in by[(m, "emo-a", e)].p_note
    fam = [r for r in rows if r.emotion == "all"]
    assert len(fam) == 9                               # fid, fid-intra and emo-a: three tests per method
    for r, p in zip(fam, holm([r.p_value for r in fam])):
        assert r.p_holm == pytest.approx(p) and "same test" not in r.p_note


def test_the_real_control_is_drawn_outside_the_reference(tmp_path):
    ds = FakeDataset(tmp_path / "ds", per_emotion=8)
    real = real_entries(ds, ["awe", "fear"], 4, 16, "an image of {emotion}")
    reference = {s.id for e in ("awe", "fear") for s in ds.by_emotion("test", e)}
    assert REAL_SPLIT == "val" and real and not {e.cell for e in real} & reference
    assert {e.cell for e in real} <= {s.id for e in ("awe", "fear") for s in ds.by_emotion("val", e)}


def test_the_real_control_on_an_emoset_folder_comes_from_val(zoo):
    """On the tiny zoo's EmoSet-layout dataset: the control images are val.json's, none of test.json's (the
    FID/KID reference) nor of train.json's (what the judges and the learning methods fit)."""
    ds = zoo.dataset
    emotions = sorted({s.emotion for s in ds.split("val")})
    real = real_entries(ds, emotions, None, int(zoo.sampling.height), "an image of {emotion}")
    ids = {e.cell for e in real}
    assert ids == {s.id for s in ds.split("val") if s.emotion in emotions}
    assert not ids & {s.id for s in ds.split("test")} and not ids & {s.id for s in ds.split("train")}


def test_one_fit_of_a_learning_method_prints_the_caveat(tmp_path):
    run = tmp_path / "run"
    make_run(run, emotions=("awe", "fear"), n_per_emotion=8)
    methods = json.loads((run / "methods.json").read_text())
    methods["good"]["artifact_key"] = "fitted-once"            # a learning method, fitted once
    (run / "methods.json").write_text(json.dumps(methods))
    score_run(run, fake_zoo(tmp_path), ["emo-a", "fid"], baseline="sd", bootstrap=FAST,
              cache_dir=tmp_path / "c", controls=False)
    rows = [r for r in json.loads((run / "summary.json").read_text())["rows"] if r["method"] == "good"]
    assert rows
    for r in rows:
        assert r["ci_low"] is None and r["ci_note"] == ONE_FIT and r["n_fits"] == 1, r
        assert r["diff"] is not None and r["p_value"] is None and r["p_note"] == f"no test: {ONE_FIT}", r
    sd = next(r for r in json.loads((run / "summary.json").read_text())["rows"]
              if r["method"] == "sd" and r["metric"] == "emo-a" and r["emotion"] == "all")
    assert sd["ci_low"] is not None and sd["interval"] == "Wilson score (stratified)"   # sd does not learn
    lb = build(load_run(run))
    md = to_markdown(lb)
    assert f"({ONE_FIT})" in md and "no test" in md
    rec = next(r for r in csv.DictReader(io.StringIO(to_csv(lb))) if r["method"] == "good")
    assert rec["emo-a_ci_note"] == ONE_FIT and rec["emo-a_ci_low"] == "" and rec["emo-a_mark"] == "no test"
    assert rec["emo-a_p_note"] == f"no test: {ONE_FIT}" and rec["n_fits"] == "1"


def test_marked_differences_show_the_interval_their_mark_reads_from(tmp_path):
    run = tmp_path / "run"
    make_run(run, emotions=("awe", "fear"), n_per_emotion=25)
    score_run(run, fake_zoo(tmp_path), ["emo-a", "fid", "kid"], baseline="sd", bootstrap=FAST,
              cache_dir=tmp_path / "c", controls=False)
    lb = build(load_run(run))
    e = lb.rows[1].entries["emo-a"]
    assert e.p_holm < 0.05 and not (e.diff_holm_low <= 0 <= e.diff_holm_high)
    spec = next(s for s in lb.specs if s.key == "emo-a")
    md = to_markdown(lb)
    assert f"[{spec.fmt(e.diff_holm_low, signed=True)}, {spec.fmt(e.diff_holm_high, signed=True)}] ▲" in md
    for row in lb.rows:
        for key, en in row.entries.items():
            if math.isfinite(en.p_holm):   # every tested Δ: mark ⇔ its Holm-level interval excludes 0
                assert (en.p_holm < 0.05) == (not en.diff_holm_low <= 0 <= en.diff_holm_high), (row.method, key)
    assert np.isfinite(e.p_value) and e.p_value <= e.p_holm


def test_a_merged_subset_gets_holm_and_its_intervals_again(tmp_path):
    """Scoring one metric again keeps the others' rows; Holm's family (and every Holm-level interval, rebuilt
    from each row's stored interval) is the merged one."""
    run = tmp_path / "run"
    make_run(run, emotions=("awe", "fear"), n_per_emotion=12)
    zoo = fake_zoo(tmp_path)
    score_run(run, zoo, ["emo-a", "fid"], baseline="sd", bootstrap=FAST, cache_dir=tmp_path / "c", controls=False)
    before = {(r["metric"], r["emotion"]): r for r in json.loads((run / "summary.json").read_text())["rows"]
              if r["method"] == "good"}
    score_run(run, zoo, ["emo-a"], baseline="sd", bootstrap=FAST, cache_dir=tmp_path / "c", controls=False)
    after = {(r["metric"], r["emotion"]): r for r in json.loads((run / "summary.json").read_text())["rows"]
             if r["method"] == "good"}
    for key, r in after.items():
        assert r["p_holm"] == pytest.approx(before[key]["p_holm"]), key
        assert r["diff_ci_holm_low"] == pytest.approx(before[key]["diff_ci_holm_low"]), key
        assert (r["p_holm"] < 0.05) == (not r["diff_ci_holm_low"] <= 0 <= r["diff_ci_holm_high"]), key
