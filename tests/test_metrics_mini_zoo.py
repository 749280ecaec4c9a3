"""The controls' bars on the shipped mini zoo (trained judges): the real control's Emo-A agrees with the
judge's accuracy on the whole held-out split within its CI, the shuffled control sits at chance (1/8), and
the two are separated. Skipped only while the mini zoo is not shipped in this checkout."""
from __future__ import annotations

import json

import pytest
import torch

from emobench.scoring import CONTROL_REAL, CONTROL_SHUFFLED, score_run
from emobench.stats import BootstrapConfig

from test_metrics_fakes import run_from_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mini():
    from emobench.zoo.load import SHIPPED_MINI, load_zoo

    if not (SHIPPED_MINI / "zoo.json").is_file():
        pytest.skip("the mini zoo is not shipped in this checkout yet")
    return load_zoo("mini")


def test_controls_on_mini_zoo(tmp_path, mini):
    run = tmp_path / "run"
    run_from_dataset(run, mini, methods=("sd",), n_per_emotion=2)
    score_run(run, mini, ["emo-a"], bootstrap=BootstrapConfig(n_resamples=500), cache_dir=tmp_path / "cache",
              control_per_emotion=60)
    rows = json.loads((run / "summary.json").read_text())["rows"]
    real = next(r for r in rows if r["method"] == CONTROL_REAL and r["metric"] == "emo-a" and r["emotion"] == "all")
    shuf = next(r for r in rows if r["method"] == CONTROL_SHUFFLED and r["metric"] == "emo-a"
                and r["emotion"] == "all")
    test = mini.dataset.split("test")
    labels = list(mini.judges.emotion.labels)
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test), 256):
            batch = test[i:i + 256]
            judged = mini.judges.emotion(mini.dataset.load_images(batch, size=mini.sampling.height)).argmax(1)
            correct += sum(labels[j] == s.emotion for j, s in zip(judged.tolist(), batch))
    accuracy = correct / len(test)
    assert real["ci_low"] <= accuracy <= real["ci_high"], (accuracy, real)
    assert shuf["ci_low"] <= 1 / 8 <= shuf["ci_high"], shuf
    assert shuf["ci_high"] < real["ci_low"]
