"""The paper-scale zoo from a TOML: tiny saved models in the paper's formats load through the real loading
code, the Emo-A probe is trained by ``fit-judges``, every built-in method and metric runs through it, and a
wrong path is named exactly with what should be there."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from emobench.errors import EmobenchError
from emobench.testing.tiny import tiny_zoo
from emobench.zoo.load import load_zoo
from emobench.zoo.paper import PROBE_CONFIG, PROBE_WEIGHTS, read_paper_toml

from support.kit_options import builtin_methods, generating_methods, spec
from support.paper_fixtures import write_judge_files, write_paper_toml


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """(toml path, probe facts): the TOML, its probe trained by `emobench zoo fit-judges --zoo paper.toml`."""
    from emobench.cli import main as cli_main

    root = tmp_path_factory.mktemp("paper")
    toml = write_paper_toml(root / "paper.toml", tiny_zoo(tmp_path_factory), write_judge_files(root / "files"))
    assert cli_main(["zoo", "fit-judges", "--zoo", str(toml)]) == 0
    return toml, json.loads((root / "emo-a-probe" / PROBE_CONFIG).read_text())


@pytest.fixture(scope="module")
def paper_zoo(paper):
    return load_zoo(str(paper[0]))


def test_fit_judges_writes_a_linear_probe_on_clip_features(paper, paper_zoo):
    toml, facts = paper
    probe = toml.parent / "emo-a-probe"
    assert (probe / PROBE_WEIGHTS).is_file() and (probe / PROBE_CONFIG).is_file()
    assert facts["n_train"] == len(paper_zoo.dataset.split("train"))
    assert facts["train_accuracy"] > 0.2          # well above chance (1/8) on its own training features
    stored = json.loads((probe / PROBE_CONFIG).read_text())
    assert stored["labels"][0] == "amusement" and stored["clip_hash"] == paper_zoo.hashes["clip"]
    # the probe is Linear(D → 8) on raw CLIP features: logits = W·clip(x) + b
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        feats = paper_zoo.clip.encode_images(x)
        expected = feats @ paper_zoo.judges.emotion.fc.weight.T + paper_zoo.judges.emotion.fc.bias
        assert torch.allclose(paper_zoo.judges.emotion(x), expected, atol=1e-5)


def test_every_part_loads_in_the_paper_formats(paper_zoo):
    z = paper_zoo
    assert z.scale == "paper" and z.name == "paper-tiny" and z.device.type == "cpu"
    assert z.sampling.height == 32 and z.sampling.num_inference_steps == 4
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert z.judges.emotion(x).shape == (2, 8)
        assert z.judges.object(x).shape == (2, 1000) and z.judges.object.labels[0] == "tench"  # ImageNet names
        assert z.judges.scene(x).shape == (2, 365) and z.judges.scene.labels[3] == "scene_3"   # Places365 file
        assert z.judges.fid_features(x).shape == (2, 2048)
        d = z.judges.lpips(x, x.flip(0))
        assert d.shape == (2,) and torch.allclose(z.judges.lpips(x, x), torch.zeros(2), atol=1e-6)
    assert set(z.hashes) >= {"pipeline.unet", "clip", "judges.emotion", "judges.object", "judges.scene",
                             "judges.fid", "judges.lpips"}
    assert z.weights_hash != z.judges_hash


def test_every_builtin_method_and_metric_runs_through_the_paper_zoo(paper, paper_zoo, tmp_path, monkeypatch):
    from emobench import registry
    from emobench.run import runner
    from emobench.spec.config import merge

    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))   # fit the learning methods here
    methods = generating_methods()
    # the image sources (folder:, bundle:) read a user's files; test_submit_* runs them end to end
    assert set(builtin_methods()) - set(methods) == {"folder", "bundle"}
    # every metric of the emotion track (content metrics, e.g. clip-a, run on the content track: test_protocols)
    metrics = [n for n in registry.metrics().names() if not getattr(registry.metrics().get(n), "needs_content", False)]
    cfg = merge({"methods": [spec(m) for m in methods], "metrics": metrics, "emotions": ["fear"],
                 "n_per_emotion": 2, "zoo": str(paper[0]), "out": str(tmp_path / "run")})
    result = runner.execute(cfg, zoo=paper_zoo, progress=False)
    assert not result.failed, [(o.label, o.reason) for o in result.failed]
    assert {o.plugin for o in result.outcomes} == set(methods)
    assert result.scored
    import pandas as pd

    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    assert set(metrics) <= set(summary["metric"]), sorted(set(summary["metric"]))
    zoo_json = json.loads((tmp_path / "run" / "zoo.json").read_text())
    assert "paper" in json.dumps(zoo_json)


def _copy_toml(toml: Path, tmp: Path, edit) -> Path:
    text = toml.read_text()
    out = tmp / "paper.toml"
    out.write_text(edit(text))
    return out


def test_the_content_list_is_emoctrls_45_elements_unless_the_toml_names_another(paper, paper_zoo, tmp_path):
    from emobench.spec.config import merge
    from emobench.data.content_lists import named_list
    from emobench.spec.tracks import resolve_contents, zoo_contents

    elements = zoo_contents(paper_zoo)
    assert len(elements) == 45 and elements == named_list("emoctrl-elements")
    assert elements[:3] == ("beach", "bench", "bird") and "cake" in elements   # EmoSet's objects are not used
    run = {"zoo": str(paper[0]), "track": "content"}
    assert resolve_contents(merge(run), paper_zoo) == elements
    assert resolve_contents(merge(run | {"content_list": "emoctrl"}), paper_zoo) == named_list("emoctrl")
    # a TOML may name another list (top-level key); a wrong name is one line naming the file and the lists
    toml = paper[0]
    assert read_paper_toml(_copy_toml(toml, tmp_path, lambda t: 'contents = "emoctrl"\n' + t)).contents == "emoctrl"
    with pytest.raises(EmobenchError, match=r"unknown content list \(contents = \.\.\. in paper.toml\) 'captions'"):
        read_paper_toml(_copy_toml(toml, tmp_path, lambda t: 'contents = "captions"\n' + t))


def test_a_wrong_path_is_named_with_what_should_be_there(paper, tmp_path):
    toml = paper[0]
    spec_ = read_paper_toml(toml)
    sd = str(spec_.parts["pipeline"].path)
    places = str(spec_.parts["judges.scene"].path)
    bad = _copy_toml(toml, tmp_path, lambda t: t.replace(sd, "/nowhere/sd15").replace(places, "/nowhere/places.pth.tar"))
    with pytest.raises(EmobenchError) as err:
        load_zoo(str(bad))
    msg = str(err.value)
    assert "3 part(s) missing" in msg          # the two wrong paths and the (relative) probe folder
    assert "[pipeline] /nowhere/sd15: does not exist (expected a diffusers StableDiffusionPipeline folder" in msg
    assert "[judges.scene] /nowhere/places.pth.tar: does not exist (expected the Places365 ResNet-50" in msg
    assert "emo-a-probe" in msg and "[judges.emotion]" in msg  # relative probe path: next to the new TOML


def test_a_missing_probe_says_how_to_train_it(paper, tmp_path):
    toml = paper[0]
    copy = tmp_path / "paper.toml"
    shutil.copy(toml, copy)  # same absolute paths, but the relative probe folder does not exist here
    with pytest.raises(EmobenchError) as err:
        load_zoo(str(copy))
    assert f"[judges.emotion] {tmp_path / 'emo-a-probe'}: does not exist" in str(err.value)
    assert "emobench zoo fit-judges --zoo" in str(err.value)


def test_unset_cache_parts_default_to_the_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "p.toml").write_text('[pipeline]\npath = "sd"\n')
    spec_ = read_paper_toml(tmp_path / "p.toml")
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    assert spec_.parts["judges.fid"].path == hub / "weights-inception-2015-12-05-6726825d.pth"
    assert spec_.parts["judges.lpips"].path == hub / "alexnet-owt-7be5be79.pth"
    assert spec_.parts["judges.object"].path == hub / "resnet50-0676ba61.pth"
    assert spec_.parts["pipeline"].path == tmp_path / "sd"
    missing = {p.key for p in spec_.missing()}
    assert missing == set(spec_.parts)     # every part is reported, not just the first


def test_a_pickle_with_code_is_refused_not_unpickled(paper, tmp_path):
    from emobench.zoo.paper import safe_state_dict

    evil = tmp_path / "evil.pth"
    torch.save({"fc.weight": torch.zeros(2, 2), "hook": os.path.join}, evil)   # a function: needs full unpickling
    with pytest.raises(EmobenchError, match="cannot read"):
        safe_state_dict(evil)
