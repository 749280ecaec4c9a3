"""The ``emogen`` plugin end to end on the tiny zoo: fit (a few steps), artifacts, reload, generation with
transfer and fusion, determinism, gradients reaching only the mapper, the paper-scale path, bad input."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from emobench.api import Cell, FitContext, GenerationRequest
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emogen.config import EmoGenConfig, resolve
from emogen.data import ImageBank, split_samples
from emogen.method import EmoGenMethod
from emogen.stage2 import Stage2Trainer

TINY = dict(stage1_steps=3, stage1_batch=16, steps=3, batch_size=4)


def fit(zoo, out: Path, dataset=None, emotions=EMOTIONS, **options) -> tuple[EmoGenMethod, dict]:
    method = EmoGenMethod(EmoGenConfig(**{**TINY, **options}))
    facts = method.fit(FitContext(zoo=zoo, dataset=dataset if dataset is not None else zoo.dataset,
                                  emotions=emotions, artifact_dir=out, seed=0))
    return method, facts


@pytest.fixture(scope="module")
def fitted(zoo, tmp_path_factory):
    out = tmp_path_factory.mktemp("emogen-art")
    _, facts = fit(zoo, out)
    return out, facts


def requests(zoo, emotions, seeds=(0, 1), template="an image of {emotion}"):
    shape = zoo.latent_shape()
    return [GenerationRequest(Cell(e, template, s), torch.randn(shape, generator=torch.Generator().manual_seed(s)))
            for e in emotions for s in seeds]


def loaded(zoo, art, **options) -> EmoGenMethod:
    m = EmoGenMethod(EmoGenConfig(**{**TINY, **options}))
    m.load(zoo, art)
    return m


def test_fit_writes_safetensors_and_facts(zoo, fitted):
    art, facts = fitted
    for name in ("encoder.safetensors", "space.safetensors", "mapper.safetensors", "emogen.json"):
        assert (art / name).is_file()
    space = load_file(str(art / "space.safetensors"))
    width = zoo.pipeline.text_encoder.config.hidden_size
    assert space["mean"].shape == (8, width) and space["std"].shape == (8, width)
    assert (space["std"] > 0).all()
    meta = json.loads((art / "emogen.json").read_text())
    assert meta["zoo_weights_hash"] == zoo.weights_hash and meta["dataset_hash"] == zoo.dataset.content_hash
    assert meta["emotions"] == list(EMOTIONS)
    s1, s2 = meta["stage1"], meta["stage2"]
    assert s1["n_test"] == len(zoo.dataset.split("test")) and 0.0 <= s1["test_accuracy"] <= 1.0
    assert 0.0 <= s1["test_nearest_mean_accuracy"] <= 1.0
    assert s1["steps"] == 3 and s2["steps"] == 3 and s2["seconds_per_step"] > 0
    assert s2["attr_bank_size"] == len(zoo.dataset.objects) + len(zoo.dataset.scenes)
    assert facts["stage1"]["test_accuracy"] == s1["test_accuracy"]


def test_generate_is_deterministic_and_batch_independent(zoo, fitted):
    art, _ = fitted
    m = loaded(zoo, art)
    reqs = requests(zoo, ["fear", "awe"], seeds=(0, 1))
    cell = reqs[0].cell
    v1, v2 = m.emotion_vectors(cell), m.emotion_vectors(cell)
    assert torch.equal(v1[0], v2[0])
    assert torch.equal(m.mapped_tokens(cell)[0], m.mapped_tokens(cell)[0])
    assert not torch.equal(v1[0], m.emotion_vectors(reqs[1].cell)[0])            # other seed, other vector
    assert not torch.equal(v1[0], m.emotion_vectors(reqs[2].cell)[0])            # other emotion
    all_at_once = m.generate(reqs)
    assert all_at_once.images.shape == (4, 3, 32, 32)
    assert all_at_once.images.min() >= 0 and all_at_once.images.max() <= 1
    assert all_at_once.prompts == ["<fear>", "<fear>", "<awe>", "<awe>"]
    again = loaded(zoo, art).generate([reqs[2], reqs[0]])                        # fresh load, other batch
    assert torch.equal(again.images[0], all_at_once.images[2])
    assert torch.equal(again.images[1], all_at_once.images[0])
    assert not torch.equal(all_at_once.images[0], all_at_once.images[2])


def test_transfer_and_fusion_prompts(zoo, fitted):
    art, _ = fitted
    reqs = requests(zoo, ["fear"], seeds=(0,), template="{emotion} bag")
    bare = loaded(zoo, art).generate(reqs)
    plan = loaded(zoo, art, prompt="plan").generate(reqs)
    fused = loaded(zoo, art, prompt="plan", fuse="amusement+fear").generate(reqs)
    assert bare.prompts == ["<fear>"] and plan.prompts == ["<fear> bag"]
    assert fused.prompts == ["<amusement> <fear> bag"] and fused.extras[0]["emogen_emotions"] == "amusement+fear"
    assert not torch.equal(bare.images, plan.images)
    fuser = loaded(zoo, art, fuse="amusement+fear")
    a, f = fuser.emotion_vectors(reqs[0].cell)
    single = loaded(zoo, art)
    assert not torch.equal(a, f)
    assert torch.equal(f, single.emotion_vectors(Cell("fear", "x {emotion}", 0))[0])   # paired with plain fear
    with pytest.raises(EmobenchError, match="names an emotion twice"):   # fear+fear is no fusion: refused
        loaded(zoo, art, fuse="fear+fear")
    eos = loaded(zoo, art, placement="eos").generate(reqs)
    assert eos.prompts == ["<fear>"] and not torch.equal(eos.images, bare.images)
    unipc = loaded(zoo, art, scheduler="unipc")
    assert type(unipc.pipe.scheduler).__name__ == "UniPCMultistepScheduler"
    assert type(zoo.pipeline.scheduler).__name__ != "UniPCMultistepScheduler"      # the shared one untouched
    assert unipc.generate(reqs).images.shape == (1, 3, 32, 32)


def test_gradients_reach_the_mapper_only(zoo):
    cfg = EmoGenConfig(**TINY)
    res = resolve(cfg, zoo)
    train, labels = split_samples(zoo.dataset, "train", EMOTIONS)
    bank = ImageBank(zoo.dataset, train, res.image_size)
    vectors = torch.randn(len(train), res.width)
    trainer = Stage2Trainer.build(cfg, res, zoo, zoo.dataset, train, labels, 8, vectors, bank, 0, 1)
    pipe = zoo.pipeline
    others = [pipe.unet, pipe.text_encoder, trainer.proj]
    flags_before = [[p.requires_grad for p in m.parameters()] for m in others]
    with trainer.training():
        loss = trainer.loss([0, 1, 2, 3])
        loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.mapper.parameters())
    assert all(p.grad is None for m in others for p in m.parameters())
    assert [[p.requires_grad for p in m.parameters()] for m in others] == flags_before   # restored
    assert trainer.trace["attr"] and trainer.trace["ldm"]


def test_stage2_optimises_the_attribute_loss(zoo):
    """With a sharp temperature and a large λ the mapper must pull the prompt's CLIP feature towards the
    training image's attribute: the attribute loss falls within a few dozen steps."""
    cfg = EmoGenConfig(**{**TINY, "attr_weight": 1.0, "attr_temperature": 0.05, "confidence": False,
                          "lr": 2e-2, "batch_size": 8})
    res = resolve(cfg, zoo)
    train, labels = split_samples(zoo.dataset, "train", EMOTIONS)
    bank = ImageBank(zoo.dataset, train, res.image_size)
    vectors = torch.randn(len(train), res.width, generator=torch.Generator().manual_seed(0))
    trainer = Stage2Trainer.build(cfg, res, zoo, zoo.dataset, train, labels, 8, vectors, bank, 0, 1)
    trainer.run(25)
    first, last = trainer.trace["attr"][:5], trainer.trace["attr"][-5:]
    assert sum(last) / 5 < 0.8 * sum(first) / 5, (first, last)


def test_fit_is_reproducible(zoo, fitted, tmp_path):
    art, _ = fitted
    fit(zoo, tmp_path)
    for name in ("space.safetensors", "mapper.safetensors"):
        a, b = load_file(str(art / name)), load_file(str(tmp_path / name))
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_interrupted_fit_resumes_after_stage_1(zoo, fitted, tmp_path):
    art, _ = fitted
    partial = tmp_path / "partial"
    shutil.copytree(art, partial)
    for name in ("mapper.safetensors", "emogen.json"):     # as if stage 2 had crashed
        (partial / name).unlink()
    _, facts = fit(zoo, partial)
    assert facts["stage1"]["resumed"] is True
    a, b = load_file(str(art / "mapper.safetensors")), load_file(str(partial / "mapper.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)                # same result as the uninterrupted fit
    other = tmp_path / "other"
    shutil.copytree(art, other)
    _, facts = fit(zoo, other, stage1_lr=0.01)                     # other stage-1 options: no reuse
    assert "resumed" not in facts["stage1"]


def test_ablations_fit_and_differ(zoo, fitted, tmp_path):
    art, _ = fitted
    base = load_file(str(art / "mapper.safetensors"))
    _, fc = fit(zoo, tmp_path / "fc", mapper="fc")
    assert fc["stage2"]["mapper_parameters"] == zoo.pipeline.text_encoder.config.hidden_size ** 2 + \
        zoo.pipeline.text_encoder.config.hidden_size
    _, no_attr = fit(zoo, tmp_path / "noattr", attr_weight=0)
    assert no_attr["stage2"]["attr_last"] is None
    fit(zoo, tmp_path / "emo", emo_weight=0.1)                                 # L_emo on: its own probe
    assert (tmp_path / "emo" / "emo_probe.safetensors").is_file()
    _, no_conf = fit(zoo, tmp_path / "noconf", confidence=False)
    other = load_file(str(tmp_path / "noconf" / "mapper.safetensors"))
    assert any(not torch.equal(base[k], other[k]) for k in base)


def test_paper_scale_path(zoo, tmp_path):
    """ResNet-50 emotion encoder, 1024-wide MLP at 768-d would be the paper; here the same code path on the
    tiny saved pipeline: resnet50 picked by scale, full covariance, a few steps, save, reload, generate."""
    paper = dataclasses.replace(zoo, scale="paper")
    opts = dict(encoder_image_size=32, covariance="full", stage1_steps=1, stage1_batch=4, steps=2, batch_size=2)
    m, facts = fit(paper, tmp_path, emotions=("amusement", "fear"), **opts)
    assert facts["stage1"]["encoder"] == "resnet50"
    if not facts["stage1"]["imagenet_init"]:
        assert "not found" in facts["stage1"]["note"]
    assert "scale_tril" in load_file(str(tmp_path / "space.safetensors"))
    again = EmoGenMethod(EmoGenConfig(**{**TINY, **opts}))
    again.load(paper, tmp_path)
    out = again.generate(requests(paper, ["fear"], seeds=(3,)))
    assert out.images.shape == (1, 3, 32, 32)
    with pytest.raises(EmobenchError, match="awe"):
        again.generate(requests(paper, ["awe"], seeds=(3,)))


# ---------------------------------------------------------------------------------------------- bad input


def test_artifacts_of_another_zoo_are_refused(zoo, fitted, tmp_path):
    art, _ = fitted
    other = tmp_path / "art"
    shutil.copytree(art, other)
    meta = json.loads((other / "emogen.json").read_text())
    meta["zoo_weights_hash"] = "0" * 16
    (other / "emogen.json").write_text(json.dumps(meta))
    with pytest.raises(EmobenchError, match="another zoo"):
        loaded(zoo, other)
    with pytest.raises(EmobenchError, match="no fitted emogen artifacts"):
        loaded(zoo, tmp_path / "missing")
    with pytest.raises(EmobenchError, match="other options"):
        loaded(zoo, art, attr_weight=0.5)


def test_bad_fusion_spec():
    with pytest.raises(EmobenchError, match="joy"):
        EmoGenMethod(EmoGenConfig(fuse="amusement+joy"))


class _NoAnnotations:
    """The tiny dataset with every object/scene annotation removed."""

    def __init__(self, ds):
        self.ds, self.root, self.content_hash = ds, ds.root, ds.content_hash + "-bare"
        self.objects, self.scenes = [], []

    def split(self, name):
        return [dataclasses.replace(s, objects=(), scene=None) for s in self.ds.split(name)]

    def load_images(self, samples, size=None):
        return self.ds.load_images(samples, size)


def test_dataset_without_annotations(zoo, tmp_path):
    bare = _NoAnnotations(zoo.dataset)
    with pytest.raises(EmobenchError, match="attr_weight=0"):
        fit(zoo, tmp_path / "a", dataset=bare)
    _, facts = fit(zoo, tmp_path / "b", dataset=bare, attr_weight=0)
    assert facts["stage2"]["steps"] == 3


def test_attribute_loss_needs_a_clip(zoo, tmp_path):
    no_clip = dataclasses.replace(zoo, clip=None)
    with pytest.raises(EmobenchError, match="attr_weight=0"):
        fit(no_clip, tmp_path / "a")
    assert not (tmp_path / "a" / "encoder.safetensors").exists()        # refused before stage 1 trained


def test_default_stage2_length_is_one_epoch_and_part_of_the_artifact_key(zoo):
    import math

    cfg = EmoGenConfig(**{**TINY, "steps": 0})
    res = resolve(cfg, zoo)
    assert res.stage2_steps is None and resolve(EmoGenConfig(steps=7), zoo).stage2_steps == 7
    train, labels = split_samples(zoo.dataset, "train", EMOTIONS)
    bank = ImageBank(zoo.dataset, train, res.image_size)
    trainer = Stage2Trainer.build(cfg, res, zoo, zoo.dataset, train, labels, 8, torch.randn(len(train), res.width),
                                  bank, 0, 1)
    assert trainer.default_steps(None) == math.ceil(len(trainer.items) / cfg.batch_size)
    # what "auto" means is keyed: changing the default can never hand back a fit made under the old one
    assert EmoGenMethod(cfg).fit_config()["auto"]["stage2"] == "1 epoch"
    assert "auto" not in cfg.training_dict()          # the load-time option comparison sees options only
    from emobench.run.artifacts import artifact_key

    key = artifact_key("emogen", EmoGenMethod(cfg), zoo, EMOTIONS)
    fused = EmoGenMethod(EmoGenConfig(**{**TINY, "steps": 0, "fuse": "amusement+fear", "guidance_scale": 3}))
    assert artifact_key("emogen", fused, zoo, EMOTIONS) == key                  # generation-only: same fit
    assert artifact_key("emogen", EmoGenMethod(EmoGenConfig(**{**TINY, "steps": 5})), zoo, EMOTIONS) != key
