"""Half-precision training: the trainable parameters (EmoGen's mapper, textual inversion's token) stay float32
behind a frozen float16 pipeline, and the loss is scaled (``emobench.zoo.precision.ScaledBackward``), as the official
EmoGen code does with accelerate's fp16 AMP. On CPU with the tiny zoo: fp16 kernels for its conv / attention /
norm layers exist on CPU in the torch this project pins, so the whole fp16 path runs here."""
from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from emobench.api import FitContext
from emobench.emotions import EMOTIONS
from emobench.zoo.precision import ScaledBackward, computes_in_fp16
from emobench.testing.tiny import tiny_zoo
from emobench.zoo.load import load_zoo
from emogen.config import EmoGenConfig, resolve
from emogen.data import ImageBank, split_samples
from emogen.stage2 import Stage2Trainer

TINY = dict(stage1_steps=3, stage1_batch=16, steps=3, batch_size=8)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return load_zoo(tiny_zoo(tmp_path_factory))


@pytest.fixture(scope="module")
def zoo16(zoo):
    pipe = copy.deepcopy(zoo.pipeline).to(dtype=torch.float16)
    return dataclasses.replace(zoo, pipeline=pipe)


def trainer(zoo, **options) -> Stage2Trainer:
    cfg = EmoGenConfig(**{**TINY, **options})
    res = resolve(cfg, zoo)
    train, labels = split_samples(zoo.dataset, "train", EMOTIONS)
    bank = ImageBank(zoo.dataset, train, res.image_size)
    vectors = torch.randn(len(train), res.width, generator=torch.Generator().manual_seed(0))
    return Stage2Trainer.build(cfg, res, zoo, zoo.dataset, train, labels, 8, vectors, bank, 0, 1)


def mapper_grad(t: Stage2Trainer, batch: list[int], loss_factor: float = 1.0, scaled: bool = True) -> torch.Tensor:
    """The mapper's gradient (float32, unscaled) for one batch, as the training step computes it."""
    step = t.backward_step()
    t.mapper.zero_grad(set_to_none=True)
    with t.training():
        loss = t.loss(batch) * loss_factor
        if scaled and step.scaler is not None:
            step.scaler.scale(loss).backward()
            opt = torch.optim.SGD(t.mapper.parameters(), lr=0.0)
            step.scaler.unscale_(opt)
        else:
            loss.backward()
    return torch.cat([p.grad.flatten() for p in t.mapper.parameters()])


def test_fp16_pipeline_is_detected(zoo, zoo16):
    assert not computes_in_fp16([zoo.pipeline.unet]) and computes_in_fp16([zoo16.pipeline.unet])
    assert trainer(zoo).backward_step().scaler is None
    t16 = trainer(zoo16)
    assert t16.backward_step().scaler is not None
    assert all(p.dtype == torch.float32 for p in t16.mapper.parameters())   # trainable part stays fp32


@pytest.mark.parametrize("loss_factor", [1.0, 1e-4])
def test_fp16_mapper_gradient_matches_fp32(zoo, zoo16, loss_factor):
    """Same mapper, same batch and draws: the fp16 pipeline's scaled gradient points where the fp32 one does.
    ``loss_factor`` 1e-4 brings the tiny zoo's dL/dpred to the paper scale's ~1e-5·δ, where unscaled fp16
    backward underflows: there the plain fp16 gradient is mostly zeros and the scaled one is still right."""
    batch = list(range(8))
    g32 = mapper_grad(trainer(zoo), batch, loss_factor)
    g16 = mapper_grad(trainer(zoo16), batch, loss_factor)
    assert torch.isfinite(g16).all()
    cos = F.cosine_similarity(g32, g16, dim=0).item()
    assert cos > 0.99, cos
    zeros32, zeros16 = (g32 == 0).float().mean().item(), (g16 == 0).float().mean().item()
    assert zeros16 <= zeros32 + 0.01, (zeros16, zeros32)            # no gradient lost to underflow
    if loss_factor < 1:
        plain = mapper_grad(trainer(zoo16), batch, loss_factor, scaled=False)
        lost = (plain == 0).float().mean().item()
        assert lost > zeros32 + 0.2 or F.cosine_similarity(g32, plain, dim=0).item() < 0.9, lost  # the bug


def test_fp32_training_is_unchanged(zoo):
    """ScaledBackward without fp16 is exactly backward + step: two steps by hand equal two ``run`` steps."""
    a, b = trainer(zoo), trainer(zoo)
    a.run(2)
    from emobench.training import InOrderEpochSampler as EpochSampler

    opt = torch.optim.AdamW(b.mapper.parameters(), lr=b.config.lr, betas=(0.9, 0.999),
                            weight_decay=b.config.weight_decay, eps=1e-8)
    sampler = EpochSampler(len(b.items), b.config.batch_size, b.generator)
    with b.training():
        for _ in range(2):
            loss = b.loss(sampler.next())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    for p, q in zip(a.mapper.parameters(), b.mapper.parameters()):
        assert torch.equal(p, q)


def test_emogen_trains_in_fp16(zoo16):
    t = trainer(zoo16)
    before = [p.detach().clone() for p in t.mapper.parameters()]
    t.run(3)
    facts = t.scaled.facts()
    assert facts["loss_scaling"] is True and facts["steps_skipped_overflow"] < 3
    assert all(torch.isfinite(p).all() for p in t.mapper.parameters())
    assert any(not torch.equal(p, q) for p, q in zip(before, t.mapper.parameters()))


def test_textual_inversion_trains_in_fp16(zoo16, tmp_path):
    from baselines.textual_inversion import TextualInversionConfig, TextualInversionMethod

    method = TextualInversionMethod(TextualInversionConfig(steps=3, batch_size=4, max_images=8))
    facts = method.fit(FitContext(zoo=zoo16, dataset=zoo16.dataset, emotions=["fear"], artifact_dir=tmp_path,
                                  seed=0))
    fear = facts["per_emotion"]["fear"] if "per_emotion" in facts else facts["emotions"]["fear"]
    assert fear["loss_scaling"] is True
    from safetensors.torch import load_file

    vec = load_file(str(tmp_path / "fear.safetensors"))["<fear>"]
    assert vec.dtype == torch.float32 and torch.isfinite(vec).all()
    assert abs(fear["vector_norm"] - fear["init_norm"]) > 0   # the token moved
