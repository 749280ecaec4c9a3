"""The mini zoo's emotion-judge panel: at least three judges of different families, each passing the judge
contract on held-out images with known labels (drawn in memory: the dataset's test-split images), and the
panel leaves the generator's weights hash (part of every image key) as it was."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from emobench.emotions import EMOTIONS
from emobench.judges import Judge, is_trained_against, load_panel
from emobench.testing.judges import JudgeContractTests
from emobench.zoo.load import SHIPPED_MINI, load_zoo
from support.shipped import require_shipped_world

REPO = Path(__file__).resolve().parent.parent
MINI_JUDGES = ("cnn", "clip-probe", "clip-zero-shot")


@pytest.fixture(scope="module")
def mini():
    require_shipped_world()
    return load_zoo("mini", with_pipeline=False, with_dataset=False)


@pytest.fixture(scope="module")
def panel(mini):
    return load_panel(mini)


@pytest.fixture(scope="module")
def known_labels():
    from emobench.world import sample_world

    meta = json.loads((SHIPPED_MINI / "zoo.json").read_text())
    imgs, anns = sample_world(meta["dataset"]["seed"], 400, "test")
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255, [a["emotion"] for a in anns]


def test_list_judges_shows_three_mini_judges_of_different_families(capsys):
    from emobench.cli import main
    from emobench.world import bayes_accuracy

    require_shipped_world()     # the panel's card records the Bayes ceiling of the world it was fitted on
    assert main(["list", "judges"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"zoo 'mini' \(mini\): (\d+) available", out) and int(re.search(r"(\d+) available", out)[1]) >= 3
    for name in MINI_JUDGES:
        assert re.search(rf"^{re.escape(name)}\s", out, re.M), name
    # the primary judge's held-out accuracy, as the shipped card records it, beside the world's Bayes ceiling
    card = json.loads((REPO / "emobench" / "zoo_weights" / "mini" / "card.json").read_text())
    assert f"held-out accuracy {card['figures']['emotion_judge_acc']:.3f} (Bayes ceiling {bayes_accuracy():.3f})" in out


def test_panel_families_primary_and_cards(panel, mini):
    assert panel.names[:3] == ["cnn", "clip-probe", "clip-zero-shot"]
    assert len({j.family for j in panel.judges}) == len(panel.judges) == 3
    assert panel.primary is not None and panel.primary.name == "cnn"
    assert panel.primary.logits_fn is mini.judges.emotion     # the Emo-A judge of today, unchanged
    probe = panel.get("clip-probe")
    assert probe.card["held_out_n"] == 2000 and 0.5 < probe.card["held_out_accuracy"] < 0.8
    assert probe.card["clip_hash"] == mini.hashes["clip"]
    zs = panel.get("clip-zero-shot")
    assert zs.card["prompts"][0] == "an image that evokes {emotion}" and zs.card["held_out_accuracy"] is not None
    assert "emogen-official" in panel.unavailable and "torchvision" in panel.unavailable


def test_panel_does_not_change_the_generator_hash(mini):
    """Image keys and prefits depend on the pipeline only: the committed mini leaderboard's weights_hash."""
    board = (REPO / "leaderboards" / "mini" / "leaderboard.md").read_text()
    assert f"weights_hash: `{mini.weights_hash}`" in board
    assert not any(k.startswith("pipeline") and "panel" in k for k in mini.hashes)


def test_panel_weights_are_small_fp16_safetensors():
    from safetensors.torch import load_file

    folder = SHIPPED_MINI / "judges" / "panel"
    state = load_file(str(folder / "clip-probe.safetensors"))
    assert state["fc.weight"].dtype == torch.float16 and state["fc.weight"].shape[0] == len(EMOTIONS)
    assert sum(p.stat().st_size for p in folder.iterdir()) < 2e6


def test_trained_against_names_a_judge_its_family_or_the_primary(panel):
    cnn, probe = panel.get("cnn"), panel.get("clip-probe")
    assert is_trained_against(("primary",), cnn) and not is_trained_against(("primary",), probe)
    assert is_trained_against(("clip-linear-probe",), probe) and not is_trained_against(("clip-linear-probe",), cnn)
    assert is_trained_against(("clip-probe",), probe) and not is_trained_against((), probe)


def test_a_judge_without_an_emotion_label_is_refused():
    from emobench.errors import EmobenchError

    with pytest.raises(EmobenchError, match="no label for sadness"):
        Judge("x", "f", EMOTIONS[:7] + ("joy",), "0" * 16, lambda x: x)


class TestMiniJudgeContract(JudgeContractTests):
    @pytest.fixture(scope="class", params=MINI_JUDGES)
    @classmethod
    def judge(cls, request, panel):
        return panel.get(request.param)

    @pytest.fixture(scope="class")
    @classmethod
    def fixture(cls, known_labels):
        return known_labels
