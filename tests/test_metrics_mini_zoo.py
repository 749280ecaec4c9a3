"""The controls' bars on the shipped mini zoo (trained judges): the real control's Emo-A agrees with the
judge's accuracy on the whole held-out split within its CI, the shuffled control sits at chance (1/8), and
the two are separated. Skipped only while the mini zoo is not shipped in this checkout."""
from __future__ import annotations

import json

import pytest
import torch

from emobench.scoring import CONTROL_REAL, CONTROL_SHUFFLED, score_run
from emobench.scoring.stats import BootstrapConfig

from support.metrics_fakes import run_from_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mini():
    from emobench.zoo.load import SHIPPED_MINI, load_zoo

    if not (SHIPPED_MINI / "zoo.json").is_file():
        pytest.skip("the mini zoo is not shipped in this checkout yet")
    from support.shipped import require_shipped_world

    require_shipped_world()
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
    test = mini.dataset.split("val")   # the control's split (the test split is the FID/KID reference)
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


def test_shipped_prefits_match_the_default_configs(mini):
    """Every learning built-in at its defaults, and each committed ablation row, finds its fit in the shipped
    zoo's prefit/ (intact: ``verify`` checks every file): a changed default or option that would make
    `bash scripts/run.sh` or a committed leaderboard refit for minutes fails here instead."""
    import tomllib
    from pathlib import Path

    from emobench.run.artifacts import artifact_key, verify
    from emobench.emotions import EMOTIONS
    from emobench.registry import methods
    from emobench.zoo.load import SHIPPED_MINI

    repo = Path(__file__).resolve().parents[1]
    specs = {"textual-inversion", "dreambooth", "emogen"}
    for board in ("mini", "mini-ablations"):
        specs |= set(tomllib.loads((repo / "leaderboards" / board / "config.toml").read_text())["run"]["methods"])
    learners = 0
    for spec in sorted(specs):
        label, method = methods().create(spec, mini.scale)   # as the runner resolves it on the mini zoo
        if not method.learns:
            continue
        learners += 1
        name = spec.split(":")[0]
        folder = SHIPPED_MINI / "prefit" / name / artifact_key(name, method, mini, EMOTIONS)
        assert (folder / "fit.json").is_file(), f"{label}: no shipped prefit at {folder}; refit and copy it in"
        verify(folder)
    assert learners >= 6     # TI, DreamBooth, EmoGen and its three ablations
