"""Every metric on the tiny test zoo (real judge / CLIP / dataset classes), and the controls' bars:
the real control's Emo-A is the judge's held-out accuracy, the shuffled control sits at chance."""
from __future__ import annotations

import json
import math

import pytest
import torch

from emobench.emotions import EMOTIONS
from emobench.scoring import CONTROL_REAL, CONTROL_SHUFFLED, score_run
from emobench.scoring.stats import BootstrapConfig

from support.metrics_fakes import run_from_dataset


def _row(rows, method, metric, emotion="all"):
    found = [r for r in rows if r["method"] == method and r["metric"] == metric and r["emotion"] == emotion]
    assert len(found) == 1, (method, metric, emotion)
    return found[0]


def test_all_metrics_on_tiny_zoo_and_controls(tmp_path, zoo):
    run = tmp_path / "run"
    run_from_dataset(run, zoo, n_per_emotion=3)
    val_split = zoo.dataset.split("val")
    score_run(run, zoo, None, "sd", bootstrap=BootstrapConfig(n_resamples=300), cache_dir=tmp_path / "cache",
              control_per_emotion=len(val_split))           # controls = the whole val split (never test)
    summary = json.loads((run / "summary.json").read_text())
    rows = summary["rows"]
    covered = [e for e in EMOTIONS if zoo.dataset.by_emotion("test", e)]
    # FID and KID need two reference images; an emotion with one test image reads "undefined" with the reason
    one_ref = [e for e in covered if len(zoo.dataset.by_emotion("test", e)) == 1]
    for metric in ("fid", "kid"):
        for emotion in one_ref:
            r = _row(rows, "other", metric, emotion)
            assert r["value"] is None and "undefined: the reference has 1 image" in r["warning"], r
    for metric in ["emo-a", "sem-c", "sem-d", "sem-d-cos", "fid", "kid", "lpips", "clip-score"]:
        for emotion in covered:
            if metric in ("fid", "kid") and emotion in one_ref:
                continue
            r = _row(rows, "other", metric, emotion)
            assert r["status"] == "ok" and math.isfinite(r["value"]), r
            # 3 cells per emotion: below the measured range (4), so a Δ and its interval but no test
            assert math.isfinite(r["diff"]) and r["p_holm"] is None, r
            assert r["p_note"].startswith("no test: 3 cell(s) in an emotion < 4"), r
    # Problems are only about emotions the tiny test split lacks (or has one image of), the controls taking all val has, and groups
    # smaller than a k-NN metric needs (k + 1 = 6 images; 3 per emotion here, and a few test images per emotion
    # as the reference)
    missing = set(EMOTIONS) - set(covered) | set(one_ref)   # (one reference image: CMMD's unbiased estimator)
    knn = ("coverage:", "coverage-clip:")
    assert all(any(e in p for e in missing) or "fewer than the run's" in p or p.startswith(knn)
               for p in summary["problems"]), summary["problems"]

    # Real control = the judge's accuracy on the val split (disjoint from the test reference), computed directly.
    images = zoo.dataset.load_images(val_split, size=zoo.sampling.height)
    with torch.no_grad():
        judged = zoo.judges.emotion(images).argmax(1)
    labels = list(zoo.judges.emotion.labels)
    accuracy = sum(labels[j] == s.emotion for j, s in zip(judged.tolist(), val_split)) / len(val_split)
    real = _row(rows, CONTROL_REAL, "emo-a")
    assert real["n"] == len(val_split) and real["value"] == pytest.approx(accuracy)
    shuffled = _row(rows, CONTROL_SHUFFLED, "emo-a")
    assert shuffled["n"] == len(val_split) and shuffled["ci_low"] <= 1 / 8 <= shuffled["ci_high"]
    conf = json.loads((run / "confusion.json").read_text())
    assert sum(map(sum, conf[CONTROL_REAL]["counts"])) == len(val_split)


def test_score_command(tmp_path, zoo, zoo_dir, monkeypatch, capsys):
    from emobench.cli import main

    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    run_from_dataset(run, zoo, n_per_emotion=2)
    (run / "zoo.json").write_text(json.dumps({"name": str(zoo_dir), "judges_hash": zoo.judges_hash}))
    assert main(["score", str(run), "--metrics", "emo-a,sem-c", "--baseline", "sd", "--resamples", "50"]) == 0
    rows = json.loads((run / "summary.json").read_text())["rows"]
    assert _row(rows, "other", "sem-c")["status"] == "ok" and {r["metric"] for r in rows} == {
        "emo-a", "emo-a.p_target", "sem-c"}
    assert main(["score", str(tmp_path / "nope")]) == 2
    assert "run directory" in capsys.readouterr().err
    assert main(["score", str(run), "--baseline", "emogen", "--resamples", "50"]) == 2
    assert "baseline 'emogen' is not a method of this run" in capsys.readouterr().err
