"""Every metric through ``score_run`` on fake judges: rows, feature sharing, one forward per image, caching,
controls near their expected values."""
from __future__ import annotations

import json
import math


from emobench.emotions import EMOTIONS
from emobench.scoring import CONTROL_REAL, CONTROL_SHUFFLED, score_run
from emobench.scoring.stats import BootstrapConfig

from support.metrics_fakes import fake_zoo, make_run

FAST = BootstrapConfig(n_resamples=200, seed=0)
ALL_METRICS = ["emo-a", "sem-c", "sem-d", "sem-d-cos", "fid", "kid", "lpips", "clip-score"]


def _rows(run):
    return json.loads((run / "summary.json").read_text())["rows"]


def _row(rows, method, metric, emotion="all"):
    found = [r for r in rows if r["method"] == method and r["metric"] == metric and r["emotion"] == emotion]
    assert len(found) == 1, (method, metric, emotion, found)
    return found[0]


def test_all_metrics_one_forward_per_image_and_warm_cache(tmp_path, capsys):
    run = tmp_path / "run"
    make_run(run, n_per_emotion=4)                     # 2 methods × 8 emotions × 4 = 64 images
    zoo = fake_zoo(tmp_path)                           # 8 real test images per emotion; controls use 4
    cache = tmp_path / "cache"
    # Sem-D: each image through CLIP exactly once for both variants (64 run + 32 control images; the shuffled
    # control reuses the real images' features).
    score_run(run, zoo, ["sem-d", "sem-d-cos"], baseline="sd", bootstrap=FAST, cache_dir=cache)
    assert zoo.clip.image_forwards == 64 + 32 and zoo.clip.image_calls == 2   # batched: 64 + 32 in two calls
    score_run(run, zoo, ALL_METRICS, baseline="sd", bootstrap=FAST, cache_dir=cache)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["problems"] == []
    rows = summary["rows"]
    for metric in ["emo-a", "emo-a.p_target", "sem-c", "sem-d", "sem-d-cos", "fid", "kid", "lpips", "clip-score"]:
        for method in ["sd", "good", CONTROL_REAL, CONTROL_SHUFFLED]:
            for emotion in list(EMOTIONS) + ["all"]:
                r = _row(rows, method, metric, emotion)
                assert r["status"] == "ok" and math.isfinite(r["value"]), r
                assert r["ci_low"] <= r["value"] + 1e-9 and r["value"] <= r["ci_high"] + 1e-9, r   # FID/KID too
    # CLIP score caches by (image, prompt): 64 run + 32 real images, plus the shuffled images whose label
    # (hence prompt) changed — at most 32.
    assert 64 + 32 + 64 + 32 < zoo.clip.image_forwards <= 64 + 32 + 64 + 32 + 32
    # FID/KID share features; the reference (8 test images per emotion) shares no image with the controls
    # (4 val images per emotion), so each is computed once: 64 run + 32 control + 64 reference.
    assert zoo.judges.fid_features.calls == 64 + 32 + 64
    # LPIPS: all 6 pairs of each group of 4, per (method|control) × emotion.
    assert zoo.judges.lpips.calls == 6 * 8 * 4
    fid = _row(rows, "good", "fid", "awe")
    assert fid["n_fake"] == 4 and fid["n_real"] == 8 and "unreliable" in fid["warning"]
    assert _row(rows, "good", "fid")["n_fake"] == 32 and _row(rows, "good", "fid")["n_real"] == 64
    # sd is off-colour on odd seeds, so it is farther from the real images than "good"
    assert _row(rows, "good", "kid")["value"] < _row(rows, "sd", "kid")["value"]
    # 4 cells per emotion, the bottom of the measured range: every difference is tested, by its own interval's
    # procedure (a pooled pairwise mean: the mean of its U-statistic and jackknife variances, the jackknife's
    # alone where that mean is not positive, as here: near-constant colours make the unbiased estimate < 0)
    lp = _row(rows, "good", "lpips")
    assert math.isfinite(lp["p_holm"]) and lp["p_note"] == "t (jackknife variance)", lp
    assert _row(rows, "good", "lpips", "awe")["p_note"] == "t (jackknife variance)"   # one emotion: jackknife
    pt = _row(rows, "good", "emo-a.p_target")
    assert math.isfinite(pt["p_holm"]) and pt["p_note"] == "t (jackknife variance)", pt
    ea = _row(rows, "good", "emo-a")
    assert ea["p_note"] == "Newcombe hybrid score (paired)" and ea["interval"] == "Wilson score (stratified)", ea

    # Warm: a fresh zoo object with the same judges hash runs no network at all and writes the same summary.
    before = (run / "summary.csv").read_text()
    zoo2 = fake_zoo(tmp_path)
    score_run(run, zoo2, ALL_METRICS, baseline="sd", bootstrap=FAST, cache_dir=cache)
    assert zoo2.clip.image_forwards == 0 and zoo2.judges.fid_features.calls == 0
    assert zoo2.judges.lpips.calls == 0 and zoo2.judges.emotion.calls == 0
    assert (run / "summary.csv").read_text() == before


def test_controls_bracket_emo_a(tmp_path):
    """Real control ≈ the judge's held-out accuracy (0.75 by construction), shuffled ≈ chance, within CIs."""
    run = tmp_path / "run"
    make_run(run, n_per_emotion=2, methods=("sd",))
    zoo = fake_zoo(tmp_path, real_per_emotion=16)
    score_run(run, zoo, ["emo-a"], bootstrap=BootstrapConfig(n_resamples=500), cache_dir=tmp_path / "c",
              control_per_emotion=16)
    rows = _rows(run)
    real, shuf = _row(rows, CONTROL_REAL, "emo-a"), _row(rows, CONTROL_SHUFFLED, "emo-a")
    assert real["n"] == 128 and real["ci_low"] <= 0.75 <= real["ci_high"]
    assert shuf["ci_low"] <= 1 / 8 <= shuf["ci_high"] and shuf["ci_high"] < real["ci_low"]


def test_too_few_images_and_missing_parts(tmp_path, capsys):
    run = tmp_path / "run"
    make_run(run, n_per_emotion=1, emotions=("awe", "fear"))
    zoo = fake_zoo(tmp_path, dataset=False)
    zoo.clip = None
    score_run(run, zoo, ["sem-c", "lpips", "sem-d", "fid"], bootstrap=FAST, cache_dir=tmp_path / "c")
    err = capsys.readouterr().err
    assert "lpips: sd / awe has 1 image(s), needs at least 2" in err
    assert "metric sem-d: zoo 'fake' has no clip" in err and "metric fid: zoo 'fake' has no dataset" in err
    assert "no dataset: real and shuffled control rows are skipped" in err
    rows = _rows(run)
    assert _row(rows, "sd", "sem-c")["status"] == "ok"
    assert _row(rows, "sd", "sem-d")["status"] == "failed"
    assert _row(rows, "sd", "lpips", "awe")["status"] == "skipped"
