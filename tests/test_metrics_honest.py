"""Issue #15: text metrics score the plan prompt, significance only where the data carry it, several fits."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from emobench.api import ImageRecord
from emobench.scoring import score_run
from emobench.scoring.fits import combine
from emobench.scoring.significance import MIN_CELLS_PER_EMOTION, P_FLOOR_NORMAL, decide, sign_flip_p
from emobench.scoring.stats import BootstrapConfig, estimate
from support.metrics_fakes import colour_image, fake_zoo, make_run, method_colour, write_png

FAST = BootstrapConfig(n_resamples=200, seed=0)


def _rows(run, method=None, emotion="all"):
    rows = json.loads((run / "summary.json").read_text())["rows"]
    return [r for r in rows if (method is None or r["method"] == method) and r["emotion"] == emotion]


def _rewrite(run, change):
    lines = (run / "manifest.jsonl").read_text().splitlines()
    recs = [change(ImageRecord.from_json(line)) for line in lines]
    (run / "manifest.jsonl").write_text("".join(r.to_json() + "\n" for r in recs))
    return recs


def test_record_keeps_plan_prompt_and_old_records_derive_it():
    rec = ImageRecord("emogen", "fear", "a photo of {emotion}", 3, "<fear>", "k", "s", "images/k.png")
    assert rec.plan_prompt == "a photo of fear" and rec.prompt == "<fear>"
    payload = json.loads(rec.to_json())
    assert payload["plan_prompt"] == "a photo of fear" and "fit_seed" not in payload   # one fit: no new key
    del payload["plan_prompt"]                                                           # a run from before
    assert ImageRecord.from_json(json.dumps(payload)).plan_prompt == "a photo of fear"
    assert json.loads(ImageRecord(**{**payload, "fit_seed": 2}).to_json())["fit_seed"] == 2


def test_clip_score_ignores_the_methods_own_prompt(tmp_path):
    run = tmp_path / "run"
    make_run(run, n_per_emotion=2)
    zoo = fake_zoo(tmp_path)
    score_run(run, zoo, ["clip-score"], baseline="sd", bootstrap=FAST, cache_dir=tmp_path / "c", controls=False)
    before = {r["method"]: r["value"] for r in _rows(run)}
    # what each method fed its pipeline differs (EmoGen's '<fear>', TI's token): the score must not move
    _rewrite(run, lambda r: ImageRecord(**{**json.loads(r.to_json()), "prompt": f"<{r.emotion}> by {r.method}"}))
    score_run(run, zoo, ["clip-score"], baseline="sd", bootstrap=FAST, cache_dir=tmp_path / "c", controls=False)
    assert {r["method"]: r["value"] for r in _rows(run)} == before


def test_two_images_per_emotion_carry_no_marks(tmp_path):
    run = tmp_path / "run"
    make_run(run, n_per_emotion=2)
    score_run(run, fake_zoo(tmp_path), ["emo-a", "lpips", "kid"], baseline="sd", bootstrap=FAST,
              cache_dir=tmp_path / "c", controls=False)
    rows = [r for e in ("all", "awe") for r in _rows(run, "good", e)]
    assert rows and all(r["diff"] is not None for r in rows)
    for r in rows:   # a Δ and its interval, but no p-value and no mark; the note says why
        assert r["p_value"] is None and r["p_holm"] is None, r
        assert r["p_note"].startswith("no test: 2 cell(s) in an emotion < 5"), r


def test_fifty_images_with_a_real_difference_keep_their_mark(tmp_path):
    run = tmp_path / "run"
    make_run(run, emotions=("awe", "fear"), n_per_emotion=25)   # 50 images per method
    score_run(run, fake_zoo(tmp_path), ["fid", "emo-a"], baseline="sd", bootstrap=FAST,
              cache_dir=tmp_path / "c", controls=False)
    for metric in ("emo-a", "fid"):   # "good" beats sd (off-colour on odd seeds) on both
        r = next(r for r in _rows(run, "good") if r["metric"] == metric)
        assert r["p_note"] == "paired bootstrap" and r["p_holm"] < 0.01, r
    for r in _rows(run, "good"):
        assert r["p_value"] is None or r["p_value"] >= P_FLOOR_NORMAL   # clipped to what B resamples support


def test_decide_rules():
    rng = np.random.default_rng(0)
    spread = rng.normal(1.0, 0.1, 1000)
    v = decide(spread, 1e-300, [MIN_CELLS_PER_EMOTION] * 8, None)
    assert v.p_value == P_FLOOR_NORMAL and v.note == "paired bootstrap"
    v = decide(np.full(1000, 0.3), math.nan, [9] * 8, None)           # every resample identical
    assert math.isnan(v.p_value) and v.note.startswith("no test: degenerate bootstrap (1 distinct")
    a, b = np.arange(24.0), np.arange(24.0) - 1.0                      # 3 cells × 8 emotions, all +1
    v = decide(spread, 0.0, [3] * 8, (a, b))
    assert v.note.startswith("sign-flip permutation (3 cell(s) in an emotion < 5)") and v.p_value < 1e-4
    assert sign_flip_p(np.ones(10)) == pytest.approx(2 / 2 ** 10)    # exact: both all-equal sign patterns


def test_one_fit_combines_to_itself_and_fits_widen_the_interval():
    cfg = BootstrapConfig(n_resamples=2000, seed=1)
    rng = np.random.default_rng(0)
    cells = rng.normal(0, 0.01, 2000)
    one = estimate(1.0, 1.0 + cells, cfg)
    same = combine([one], "fits|m", cfg)
    assert same.value == one.value and np.array_equal(same.samples, one.samples)
    fits = [estimate(v, v + cells, cfg) for v in (0.9, 1.0, 1.1)]   # fit-to-fit spread ≫ cell spread
    merged = combine(fits, "fits|m", cfg)
    assert merged.value == pytest.approx(1.0)
    assert merged.ci_high - merged.ci_low > 5 * (one.ci_high - one.ci_low)


def test_fits_are_scored_as_one_method_with_per_fit_values(tmp_path):
    run = tmp_path / "run"
    recs = make_run(run, emotions=("awe", "fear"), n_per_emotion=6)
    extra = []
    for r in recs:   # a second fit of "good": same cells, other images
        if r.method != "good":
            continue
        img = colour_image(method_colour("good", r.emotion, r.seed) * 0.9, seed=r.seed + 1000, size=16)
        key = r.key + "f1"
        sha = write_png(img, run / f"images/{key}.png")
        extra.append(ImageRecord(**{**json.loads(r.to_json()), "key": key, "sha256": sha,
                                    "path": f"images/{key}.png", "fit_seed": 1}))
    _rewrite(run, lambda r: ImageRecord(**{**json.loads(r.to_json()), "fit_seed": 0}) if r.method == "good" else r)
    with (run / "manifest.jsonl").open("a") as f:
        f.write("".join(r.to_json() + "\n" for r in extra))
    score_run(run, fake_zoo(tmp_path), ["emo-a", "kid"], baseline="sd", bootstrap=FAST,
              cache_dir=tmp_path / "c", controls=False)
    for r in _rows(run, "good"):
        assert r["n_fits"] == 2 and [p["fit_seed"] for p in r["per_fit"]] == [0, 1], r
        assert r["value"] == pytest.approx(np.mean([p["value"] for p in r["per_fit"]]))
        assert r["diff"] is not None and r["ci_low"] <= r["value"] <= r["ci_high"]
    assert {r["method"] for r in _rows(run)} == {"good", "sd"}
    assert all("n_fits" not in r for r in _rows(run, "sd"))
