"""Paper-scale judges: EmoGen's classifier from the official checkpoint layout (a state dict with
``fc.weight`` (8, 768) and ``fc.bias`` (8,), read with ``weights_only=True``), a user-supplied torchvision
classifier from a local path, CLIP zero-shot, all declared in the paper TOML's ``[panel.*]`` sections."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import torchvision

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.judges import load_panel
from emobench.judges.official import emogen_judge, read_emogen_classifier
from emobench.testing.judges import JudgeContractTests, dataset_fixture
from emobench.testing.tiny import tiny_zoo
from emobench.zoo.load import load_zoo

from support.paper_fixtures import write_judge_files, write_paper_toml

PERM = [3, 0, 6, 1, 7, 2, 5, 4]            # the row order of the "official" test files below
PERM_LABELS = [EMOTIONS[i] for i in PERM]


def official_state(seed: int = 0, dim: int = 768) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"fc.weight": torch.randn(8, dim, generator=g) * 0.05, "fc.bias": torch.randn(8, generator=g)}


def test_reads_an_official_layout_file_with_the_real_shapes(tmp_path):
    state = official_state()
    path = tmp_path / "time_2023-11-12_03-29-best.pth"
    torch.save(state, path)
    fc = read_emogen_classifier(path)                      # torch.load(..., weights_only=True) inside
    assert (fc.in_features, fc.out_features) == (768, 8)
    assert torch.equal(fc.weight, state["fc.weight"]) and torch.equal(fc.bias, state["fc.bias"])


def test_refuses_pickled_code_and_wrong_shapes(tmp_path):
    evil = tmp_path / "evil.pth"
    torch.save({"fc.weight": torch.zeros(8, 768), "fc.bias": torch.zeros(8), "hook": EmobenchError("x")}, evil)
    with pytest.raises(EmobenchError, match="cannot read"):
        read_emogen_classifier(evil)
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(7, 768), "fc.bias": torch.zeros(7)}, wrong)
    with pytest.raises(EmobenchError, match=r"fc.weight is \(7, 768\)"):
        read_emogen_classifier(wrong)
    torch.save(official_state(dim=512), wrong)
    with pytest.raises(EmobenchError, match="takes 512-d features, the zoo's CLIP gives 768"):
        read_emogen_classifier(wrong)


class Fake768Clip(torch.nn.Module):
    """A CLIP stand-in with ViT-L/14's 768-d projected image features (a fixed random projection)."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(3 * 8 * 8, 768)
        self.model = type("M", (), {"config": type("C", (), {"projection_dim": 768})()})()

    def encode_images(self, images):
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        return self.proj(torch.nn.functional.interpolate(x, size=(8, 8), mode="area").flatten(1))


class TestOfficialLayoutJudgeContract(JudgeContractTests):
    @pytest.fixture(scope="class")
    @classmethod
    def judge(cls, tmp_path_factory):
        torch.manual_seed(0)
        path = tmp_path_factory.mktemp("official") / "best.pth"
        torch.save(official_state(), path)
        return emogen_judge(path, Fake768Clip().eval())

    @pytest.fixture(scope="class")
    @classmethod
    def fixture(cls):
        return torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(1)), [EMOTIONS[i % 8] for i in range(16)]

    def test_logits_are_the_linear_layer_on_clip_features(self, judge, fixture):
        x = fixture[0][:4]
        with torch.no_grad():
            expected = judge.logits_fn.clip.encode_images(x) @ judge.logits_fn.fc.weight.T + judge.logits_fn.fc.bias
            assert torch.allclose(judge.logits_fn(x), expected, atol=1e-5)
        assert judge.family == "clip-linear-probe" and judge.card["held_out_accuracy"] is None


# ------------------------------------------------------------------------------------- a whole paper zoo
@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """A paper TOML (tiny models) with its probe fitted, then [panel.*] sections: an official-layout file
    and a torchvision file whose rows are the probe's / a network's in a permuted, declared order."""
    from emobench.cli import main as cli_main

    root = tmp_path_factory.mktemp("paper-panel")
    toml = write_paper_toml(root / "paper.toml", tiny_zoo(tmp_path_factory), write_judge_files(root / "files"))
    assert cli_main(["zoo", "fit-judges", "--zoo", str(toml)]) == 0
    from safetensors.torch import load_file

    probe = load_file(str(root / "emo-a-probe" / "probe.safetensors"))
    torch.save({"fc.weight": probe["fc.weight"][PERM].clone(), "fc.bias": probe["fc.bias"][PERM].clone()},
               root / "emogen-classifier.pth")
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None, num_classes=8)
    torch.save(net.state_dict(), root / "resnet18-emoset.pth")
    sd = net.state_dict()
    sd["fc.weight"], sd["fc.bias"] = sd["fc.weight"][PERM].clone(), sd["fc.bias"][PERM].clone()
    torch.save(sd, root / "resnet18-emoset-permuted.pth")
    labels = json.dumps(PERM_LABELS)
    with open(toml, "a") as fh:
        fh.write(f'''
[panel.emogen-official]
path = "emogen-classifier.pth"
labels = {labels}

[panel.torchvision]
path = "resnet18-emoset-permuted.pth"
arch = "resnet18"
labels = {labels}
resize = 32
crop = 32

[panel.clip-zero-shot]
prompts = ["an image that evokes {{emotion}}", "a photo of {{emotion}}"]
''')
    return toml


@pytest.fixture(scope="module")
def paper_zoo(paper):
    return load_zoo(str(paper))


@pytest.fixture(scope="module")
def paper_panel(paper_zoo):
    return load_panel(paper_zoo)


def test_paper_panel_has_four_judges_with_declared_label_orders(paper_panel, paper_zoo):
    assert paper_panel.names == ["clip-probe", "clip-zero-shot", "emogen-official", "torchvision"]
    assert paper_panel.primary.name == "clip-probe" and paper_panel.primary.logits_fn is paper_zoo.judges.emotion
    assert paper_panel.get("emogen-official").labels == tuple(PERM_LABELS)
    assert paper_panel.get("torchvision").family == "torchvision-resnet18"
    assert paper_panel.get("clip-zero-shot").card["prompts"][1] == "a photo of {emotion}"
    assert set(paper_panel.unavailable) == {"cnn"} and paper_panel.get("clip-probe").card["held_out_accuracy"] is not None


def test_declared_label_order_is_honoured_on_known_labels(paper_panel, paper_zoo, tmp_path):
    """The official-layout file holds the probe's rows in another order, declared in the TOML: the same
    probabilities in EMOTIONS order, so the same accuracy on the dataset's known labels."""
    images, labels = dataset_fixture(paper_zoo.dataset, per_emotion=4)
    probe, official = paper_panel.get("clip-probe"), paper_panel.get("emogen-official")
    assert torch.allclose(official.predict_proba(images), probe.predict_proba(images), atol=1e-5)
    from emobench.judges.torchvision_judge import torchvision_judge

    unpermuted = torchvision_judge(paper_zoo.source.parent / "resnet18-emoset.pth", "resnet18", EMOTIONS, 32, 32)
    assert torch.allclose(paper_panel.get("torchvision").predict_proba(images), unpermuted.predict_proba(images),
                          atol=1e-5)


def test_validate_judges_measures_the_paper_panel(paper, capsys):
    from emobench.cli import main

    assert main(["zoo", "validate-judges", "--zoo", str(paper), "--split", "test", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {"clip-probe", "clip-zero-shot", "emogen-official", "torchvision"}
    assert figures["emogen-official"]["accuracy"] == figures["clip-probe"]["accuracy"]
    assert all(f["n"] == 32 and 0 <= f["polarity_accuracy"] <= 1 for f in figures.values())


def test_bad_panel_sections_are_one_line_errors(paper, tmp_path):
    text = paper.read_text()
    bad = paper.parent / "bad.toml"          # beside it: the relative paths still resolve
    bad.write_text(text.replace('path = "resnet18-emoset-permuted.pth"', f'path = "{paper.parent}/nope.pth"'))
    out = subprocess.run([sys.executable, "-m", "emobench", "list", "judges", "--zoo", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "[panel.torchvision] path" in out.stderr and "nope.pth does not exist" in out.stderr
    assert len([ln for ln in out.stderr.splitlines() if ln.startswith("emobench:")]) == 1
    bad.write_text(text.replace(f'arch = "resnet18"\nlabels = {json.dumps(PERM_LABELS)}', 'arch = "resnet18"'))
    with pytest.raises(EmobenchError, match="declares no labels"):
        load_panel(load_zoo(str(bad)))


def test_validate_judges_warns_when_a_judge_measures_far_below_its_declared_accuracy(paper, capsys):
    """A judge declaring 0.95 that measures near chance (the issue: 0.219 against a declared 0.71) is flagged on
    stderr; a judge measuring about what it declares is not."""
    from emobench.cli import main
    from emobench.judges.fit import below_declared

    assert below_declared("j", {"held_out_accuracy": 0.71}, {"accuracy": 0.219, "n": 400, "split": "test"})
    assert below_declared("j", {"held_out_accuracy": 0.71}, {"accuracy": 0.70, "n": 400}) is None
    assert below_declared("j", {"held_out_accuracy": 0.71}, {"accuracy": 0.5, "n": 4}) is None   # n too small
    assert below_declared("j", {"held_out_accuracy": None}, {"accuracy": 0.1, "n": 400}) is None
    inflated = paper.parent / "inflated.toml"
    inflated.write_text(paper.read_text().replace("[panel.emogen-official]",
                                                  "[panel.emogen-official]\nheld_out_accuracy = 0.99"))
    assert main(["zoo", "validate-judges", "--zoo", str(inflated), "--judges", "emogen-official"]) == 0
    out = capsys.readouterr()
    assert "(declared 0.990)" in out.out
    warning = [ln for ln in out.err.splitlines() if ln.startswith("emobench: warning:")]
    assert len(warning) == 1 and "'emogen-official'" in warning[0] and "declared 0.990" in warning[0]
