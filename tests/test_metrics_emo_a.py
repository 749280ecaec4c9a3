"""Emo-A and the scorer end to end on fake judges with hand-computable answers."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.api import ScoreItem
from emobench.metrics.emotion_accuracy import EmotionAccuracy
from emobench.scoring import CONTROL_REAL, CONTROL_SHUFFLED, score_run
from emobench.scoring.stats import BootstrapConfig

from support.metrics_fakes import CENTERS, SHARPNESS, fake_zoo, load_png, make_run

FAST = BootstrapConfig(n_resamples=200, seed=0)


def _summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def _row(summary, method, metric, emotion="all"):
    rows = [r for r in summary["rows"] if r["method"] == method and r["metric"] == metric and r["emotion"] == emotion]
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize("reverse", [False, True])
def test_emo_a_values_by_hand(tmp_path, reverse):
    zoo = fake_zoo(tmp_path, dataset=False, reverse_labels=reverse)
    metric = EmotionAccuracy()
    imgs = torch.stack([CENTERS[0].view(3, 1, 1).expand(3, 4, 4), CENTERS[3].view(3, 1, 1).expand(3, 4, 4)])
    items = [ScoreItem("amusement", "p", "a"), ScoreItem("amusement", "p", "b")]
    feats = metric.features(imgs, items, zoo)
    vals = metric.values(feats, items)
    assert vals["emo-a"].tolist() == [1.0, 0.0]
    # P(amusement) for a pure CENTERS[3] image, by hand: softmax over −20·squared distances.
    d = ((CENTERS[3] - CENTERS) ** 2).sum(1).numpy()
    p = np.exp(-SHARPNESS * d) / np.exp(-SHARPNESS * d).sum()
    assert vals["emo-a.p_target"][1].item() == pytest.approx(p[0], rel=1e-5)


def test_score_run_emo_a_controls_and_confusion(tmp_path):
    run = tmp_path / "run"
    records = make_run(run, n_per_emotion=4)
    zoo = fake_zoo(tmp_path)
    score_run(run, zoo, ["emo-a"], baseline="sd", bootstrap=FAST, cache_dir=tmp_path / "cache")
    s = _summary(run)
    # sd paints the right colour for even seeds only: 2 of 4 per emotion; good: always.
    assert _row(s, "sd", "emo-a")["value"] == pytest.approx(0.5)
    assert _row(s, "good", "emo-a")["value"] == pytest.approx(1.0)
    for e in EMOTIONS:
        assert _row(s, "sd", "emo-a", e)["value"] == pytest.approx(0.5)
        assert _row(s, "sd", "emo-a", e)["n"] == 4
    good = _row(s, "good", "emo-a")
    assert good["diff"] == pytest.approx(0.5)
    assert good["diff_ci_low"] > 0 and good["p_value"] < 0.05 and good["p_holm"] >= good["p_value"]
    sd = _row(s, "sd", "emo-a")
    assert sd["ci_low"] < 0.5 < sd["ci_high"] and sd["diff"] is None   # the baseline has no diff with itself

    # P(target) by hand from the PNGs, independent of the metric code.
    p = []
    for r in records:
        if r.method == "sd":
            m = load_png(run / r.path).mean(dim=(1, 2))
            logits = -SHARPNESS * ((m - CENTERS) ** 2).sum(1)
            p.append(torch.softmax(logits.double(), 0)[EMOTIONS.index(r.emotion)].item())
    assert _row(s, "sd", "emo-a.p_target")["value"] == pytest.approx(float(np.mean(p)), rel=1e-5)

    # Controls: the first 4 real test images per emotion, 3 of which carry their emotion's colour.
    real = _row(s, CONTROL_REAL, "emo-a")
    assert real["kind"] == "control" and real["value"] == pytest.approx(0.75)
    shuffled = _row(s, CONTROL_SHUFFLED, "emo-a")
    assert shuffled["value"] < real["value"]

    conf = json.loads((run / "confusion.json").read_text())
    counts = np.array(conf["sd"]["counts"])
    assert counts.sum() == 32 and all(counts[k, k] == 2 and counts[k, (k + 1) % 8] == 2 for k in range(8))
    assert np.trace(np.array(conf["good"]["counts"])) == 32

    with open(run / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 32 * 2 and set(rows[0]) == {"method", "emotion", "template", "seed", "key", "metric", "value"}
    assert {r["metric"] for r in rows} == {"emo-a", "emo-a.p_target"}
    assert (run / "summary.csv").read_text().splitlines()[0].startswith("method,kind,status,metric,emotion,value,ci_low")


def test_cache_means_no_second_forward(tmp_path):
    run = tmp_path / "run"
    make_run(run, n_per_emotion=2)
    zoo = fake_zoo(tmp_path)
    score_run(run, zoo, ["emo-a"], bootstrap=FAST, cache_dir=tmp_path / "cache")
    first = zoo.judges.emotion.calls
    assert first == 2 * 16 + 16      # every run image once, the 16 real control images once (shuffled reuses them)
    before = (run / "summary.csv").read_text()
    score_run(run, zoo, ["emo-a"], bootstrap=FAST, cache_dir=tmp_path / "cache")
    assert zoo.judges.emotion.calls == first
    assert (run / "summary.csv").read_text() == before   # same seed → identical summary


def test_bad_input_reported_and_rest_completes(tmp_path, capsys):
    run = tmp_path / "run"
    records = make_run(run, n_per_emotion=2)
    (run / records[0].path).write_bytes(b"not a png")           # corrupt
    (run / records[1].path).unlink()                            # missing
    methods = json.loads((run / "methods.json").read_text())
    methods["broken"] = {"status": "failed", "reason": "ImportError: no module foo"}
    (run / "methods.json").write_text(json.dumps(methods))
    zoo = fake_zoo(tmp_path)
    # a named metric that does not exist is refused before anything is computed or written
    with pytest.raises(EmobenchError, match="unknown metric 'emo-b'.*did you mean 'emo-a'"):
        score_run(run, zoo, ["emo-a", "emo-b"], baseline="sd", bootstrap=FAST, cache_dir=tmp_path / "cache")
    assert not (run / "summary.json").exists()
    score_run(run, zoo, ["emo-a"], baseline="sd", bootstrap=FAST, cache_dir=tmp_path / "cache")
    s = _summary(run)
    err = capsys.readouterr().err
    assert f"corrupt image {records[0].path}" in err and f"missing image {records[1].path}" in err
    assert _row(s, "good", "emo-a")["value"] == pytest.approx(1.0)
    first = records[0]   # both images of this (method, emotion) are gone
    assert (records[1].method, records[1].emotion) == (first.method, first.emotion)
    row = _row(s, first.method, "emo-a", first.emotion)
    assert row["status"] == "skipped" and row["n"] == 0 and row["value"] is None
    broken = _row(s, "broken", "emo-a")
    assert broken["status"] == "failed" and "no module foo" in broken["reason"]
    # good vs sd is compared on the cells both still have.
    assert math.isfinite(_row(s, "good", "emo-a")["diff"])


def test_missing_judge_fails_that_metric_only(tmp_path, capsys):
    run = tmp_path / "run"
    make_run(run, n_per_emotion=2)
    zoo = fake_zoo(tmp_path, emotion=False)
    score_run(run, zoo, ["emo-a"], bootstrap=FAST, cache_dir=tmp_path / "cache")
    s = _summary(run)
    assert _row(s, "sd", "emo-a")["status"] == "failed"
    assert "has no judges.emotion" in capsys.readouterr().err


def test_unknown_baseline_is_a_clear_error(tmp_path):
    from emobench.errors import EmobenchError

    run = tmp_path / "run"
    make_run(run, n_per_emotion=1)
    with pytest.raises(EmobenchError, match="baseline 'emogen' is not a method"):
        score_run(run, fake_zoo(tmp_path), ["emo-a"], baseline="emogen", cache_dir=tmp_path / "cache")


def test_failed_baseline_scores_the_rest_without_differences(tmp_path, capsys):
    run = tmp_path / "run"
    make_run(run, n_per_emotion=1, methods=("good",))
    (run / "methods.json").write_text(json.dumps({"good": {"status": "ok"}, "sd": {"status": "failed",
                                                                                  "reason": "out of memory"}}))
    score_run(run, fake_zoo(tmp_path), ["emo-a"], baseline="sd", bootstrap=FAST, cache_dir=tmp_path / "cache")
    s = _summary(run)
    assert "baseline 'sd' has no images" in capsys.readouterr().err
    assert _row(s, "good", "emo-a")["value"] == 1.0 and _row(s, "good", "emo-a")["diff"] is None
    assert _row(s, "sd", "emo-a")["status"] == "failed" and _row(s, "sd", "emo-a")["reason"] == "out of memory"


def test_a_crashing_metric_plugin_costs_only_itself(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    make_run(run, n_per_emotion=1)
    monkeypatch.setattr(EmotionAccuracy, "values", lambda self, feats, items: 1 / 0)
    score_run(run, fake_zoo(tmp_path), ["emo-a", "sem-c"], bootstrap=FAST, cache_dir=tmp_path / "cache")
    s = _summary(run)
    err = capsys.readouterr().err
    assert "metric emo-a failed: crashed: ZeroDivisionError" in err and "logs/metric-emo-a.log" in err
    assert _row(s, "sd", "emo-a")["status"] == "failed" and _row(s, "sd", "sem-c")["status"] == "ok"
    with open(run / "scores.csv") as f:
        assert {r["metric"] for r in csv.DictReader(f)} == {"sem-c"}
