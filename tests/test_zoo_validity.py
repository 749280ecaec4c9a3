"""`emobench zoo validity`: calibration (baseline ÷ real control) and Kendall τ against EmoGen's Table 1."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from emobench.errors import EmobenchError
from emobench.zoo.validity import paper_emo_a, render, validity, write_into_card


def _leaderboard(path, scores: dict[str, float], real: float = 0.8):
    rows = [("baseline", "sd", "Stable Diffusion", scores["Stable Diffusion"])]
    rows += [("method", m, name, scores[name]) for m, name in
             [("textual-inversion", "Textual Inversion"), ("dreambooth", "DreamBooth"), ("emogen", "EmoGen")]
             if name in scores]
    rows += [("control", "real (control)", "real (control)", real), ("control", "shuffled (control)", "x", 0.1)]
    df = pd.DataFrame([{"section": s, "method": m, "display_name": d, "emo-a": v, "emo-a_ci_low": v - 0.02,
                        "emo-a_ci_high": v + 0.02} for s, m, d, v in rows])
    path.mkdir(parents=True, exist_ok=True)
    df.to_csv(path / "leaderboard.csv", index=False)
    return path


def test_paper_order_reproduced_gives_tau_one_and_calibration_in_band(tmp_path):
    paper = paper_emo_a()
    assert paper["Stable Diffusion"] == pytest.approx(0.7077) and paper["EmoGen"] == pytest.approx(0.7625)
    v = validity(_leaderboard(tmp_path / "lb", {k: val - 0.05 for k, val in paper.items()}))
    assert v.kendall_tau == pytest.approx(1.0)
    assert v.calibration == pytest.approx((0.7077 - 0.05) / 0.8) and v.in_band
    assert v.calibration_low < v.calibration < v.calibration_high


def test_one_swapped_pair_and_an_uncalibrated_base(tmp_path):
    scores = {"Stable Diffusion": 0.30, "Textual Inversion": 0.48, "DreamBooth": 0.44, "EmoGen": 0.77}
    v = validity(_leaderboard(tmp_path / "lb", scores, real=0.75))
    assert v.kendall_tau == pytest.approx(4 / 6)       # sd < DreamBooth here, sd > DreamBooth in the paper
    assert v.calibration == pytest.approx(0.4) and not v.in_band
    text = "\n".join(render(v))
    assert "0.40" in text and "not met" in text and "0.67" in text


def test_clear_errors(tmp_path):
    with pytest.raises(EmobenchError, match="no leaderboard CSV"):
        validity(tmp_path)
    lb = _leaderboard(tmp_path / "two", {"Stable Diffusion": 0.5, "EmoGen": 0.7})
    with pytest.raises(EmobenchError, match="shares only 2"):
        validity(lb)
    pd.DataFrame([{"section": "baseline", "method": "sd"}]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(EmobenchError, match="no column"):
        validity(tmp_path / "bad.csv")


def test_written_into_the_card(tmp_path):
    from emobench.zoo.check import BARS

    zoo = tmp_path / "zoo"
    zoo.mkdir()
    f = {k: 0.9 for k in BARS} | {"bars": {k: True for k in BARS}}
    card = {"build": {"stages": []}, "build_total_wall_s": 60.0, "dataset": {"seed": 0, "n_train": 1, "n_val": 1,
            "n_test": 1}, "storage_dtype": "float16", "sizes_mb": {"total": 1.0}, "figures": f}
    (zoo / "card.json").write_text(json.dumps(card))
    v = validity(_leaderboard(tmp_path / "lb", {k: val - 0.05 for k, val in paper_emo_a().items()}))
    md = write_into_card(v, zoo).read_text()
    assert "Kendall τ-b = **1.00**" in md and "Calibration" in md
    assert json.loads((zoo / "card.json").read_text())["validity"]["kendall_tau"] == pytest.approx(1.0)
