"""Issue #15: text metrics score the plan prompt, significance only where the data carry it, several fits."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from emobench.api import ImageRecord
from emobench.scoring import score_run
from emobench.api import MeanStat
from emobench.scoring.inference import ONE_FIT, Member, difference_interval, value_interval
from emobench.scoring.intervals import TInterval
from emobench.scoring.significance import MIN_CELLS_PER_EMOTION, verdict
from emobench.scoring.stats import BootstrapConfig
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
    for r in rows:   # a Δ, but no p-value and no mark below the measured range; the note says why
        assert r["p_value"] is None and r["p_holm"] is None, r
        assert r["p_note"].startswith("no test: 2 cell(s) in an emotion < 4"), r


def test_fifty_images_with_a_real_difference_keep_their_mark(tmp_path):
    run = tmp_path / "run"
    make_run(run, emotions=("awe", "fear"), n_per_emotion=25)   # 50 images per method
    score_run(run, fake_zoo(tmp_path), ["fid", "emo-a"], baseline="sd", bootstrap=FAST,
              cache_dir=tmp_path / "c", controls=False)
    notes = {"emo-a": "Newcombe hybrid score (paired)", "fid": "t (jackknife variance)"}
    for metric in ("emo-a", "fid"):   # "good" beats sd (off-colour on odd seeds) on both
        r = next(r for r in _rows(run, "good") if r["metric"] == metric)
        assert r["p_note"] == notes[metric] and r["p_holm"] < 0.01, r
        # the mark's interval (at the level Holm tested it at) excludes 0, and contains the 95 % one
        assert r["diff_ci_holm_low"] <= r["diff_ci_low"] and r["diff_ci_high"] <= r["diff_ci_holm_high"], r
        assert not (r["diff_ci_holm_low"] <= 0 <= r["diff_ci_holm_high"]), r


def test_verdict_rules():
    iv = TInterval(1.0, 0.2, 30)
    v = verdict(iv, [MIN_CELLS_PER_EMOTION] * 8)
    assert v.note == "t" and v.p_value == pytest.approx(iv.p_value())
    v = verdict(iv, [3] * 8)
    assert math.isnan(v.p_value) and v.note.startswith("no test: 3 cell(s) in an emotion < 4")
    v = verdict(ONE_FIT, [50] * 8)
    assert math.isnan(v.p_value) and v.note == f"no test: {ONE_FIT}"


def _members(values_per_fit, cells=40):
    return [Member(MeanStat(torch.tensor(v, dtype=torch.float64)), [str(i) for i in range(cells)], [cells],
                   float(np.mean(v))) for v in values_per_fit]


def test_one_fit_of_a_learner_has_no_interval_and_fits_widen_it():
    rng = np.random.default_rng(0)
    cells = rng.normal(0, 0.01, 40)
    one = _members([1.0 + cells])
    assert value_interval(one, [0], learner=True) == ONE_FIT            # its fit-to-fit spread is unknown
    base = value_interval(one, [0], learner=False)                      # a method that does not learn: cells only
    fits = _members([v + cells + rng.normal(0, 0.01, 40) for v in (0.9, 1.0, 1.1)])
    merged = value_interval(fits, [0, 1, 2], learner=True)
    assert merged.value == pytest.approx(1.0 + cells.mean(), abs=0.01)
    lo, hi = merged.bounds(0.05)
    blo, bhi = base.bounds(0.05)
    assert hi - lo > 20 * (bhi - blo)                                  # the fit spread, not the cells, dominates
    assert difference_interval(one, _members([cells]), True, False) == ONE_FIT


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
    assert all(r["n_fits"] == 1 for r in _rows(run, "sd"))   # the fit count is in every row


class _BoundedMean(MeanStat):
    value_range = (0.0, 1.0)   # a share (recall, coverage): its interval never leaves [0, 1]


def test_a_bounded_statistic_keeps_its_interval_inside_its_range():
    values = np.array([1.0] * 10 + [0.7, 0.8])                     # a share near 1 over few cells
    bounded = [Member(_BoundedMean(torch.tensor(values)), [str(i) for i in range(12)], [12], float(values.mean()))]
    free = [Member(MeanStat(torch.tensor(values)), [str(i) for i in range(12)], [12], float(values.mean()))]
    lo, hi = value_interval(bounded, [0], learner=False).bounds(0.05)
    flo, fhi = value_interval(free, [0], learner=False).bounds(0.05)
    assert fhi > 1.0 and hi == 1.0 and lo == pytest.approx(flo)
    other = [Member(_BoundedMean(torch.tensor(1 - values)), [str(i) for i in range(12)], [12], float(1 - values.mean()))]
    dlo, dhi = difference_interval(bounded, other, False, False).bounds(0.05)
    assert -1.0 <= dlo <= dhi <= 1.0
