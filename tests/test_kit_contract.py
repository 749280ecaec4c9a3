"""The method contract kit: it passes a well-behaved method and catches each kind of violation.

The fake methods here draw images straight from the latents (no diffusion), so every check runs in
milliseconds; the built-in methods are checked against the real tiny zoo in test_kit_builtin.py.
"""
from __future__ import annotations

import dataclasses

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from emobench.api import GenerationResult, Method
from emobench.errors import EmobenchError
from emobench.sampling import sample
from emobench.testing.contract import (CHECKS, ContractSettings, MethodContractTests, shared_tiny_zoo,
                                       check_method)

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return shared_tiny_zoo(tmp_path_factory)


def _picture(latents: torch.Tensor, zoo, shift: float = 0.0) -> torch.Tensor:
    """A deterministic image made from a latent: 3 of its channels, upsampled, squashed into [0,1]."""
    x = latents[torch.arange(3) % latents.shape[0]][None].float()
    x = F.interpolate(x, size=(zoo.sampling.height, zoo.sampling.width), mode="nearest")
    return torch.sigmoid(x + shift)[0]


@dataclass(frozen=True)
class GoodConfig:
    strength: float = 1.0

    def __post_init__(self):
        if self.strength <= 0:
            raise EmobenchError(f"strength={self.strength} must be positive", "pass strength > 0")


class Good(Method):
    name = "fake-good"
    Config = GoodConfig

    def load(self, zoo, artifact_dir):
        self.zoo = zoo

    def shift(self, req) -> float:   # the cell's seed stands for the step noise a sampler draws from it
        return 0.1 * len(req.cell.emotion) * self.config.strength + 0.05 * (req.cell.seed % 5)

    def generate(self, requests):
        imgs = torch.stack([_picture(r.latents, self.zoo, self.shift(r)) for r in requests])
        return GenerationResult(imgs, [r.cell.prompt() for r in requests])


class SeedOnly(Good):
    """Ignores the plan's latents: draws its own noise from the seed."""

    def generate(self, requests):
        shape = self.zoo.latent_shape()
        imgs = torch.stack([_picture(torch.randn(shape, generator=torch.Generator().manual_seed(r.cell.seed)),
                                     self.zoo) for r in requests])
        return GenerationResult(imgs, [r.cell.prompt() for r in requests])


class GlobalRNG(Good):
    def generate(self, requests):
        imgs = torch.stack([_picture(r.latents + torch.randn_like(r.latents), self.zoo) for r in requests])
        return GenerationResult(imgs, [r.cell.prompt() for r in requests])


class WrongSize(Good):
    def generate(self, requests):
        out = super().generate(requests)
        return GenerationResult(out.images[..., ::2, ::2], out.prompts)


class NaNs(Good):
    def generate(self, requests):
        out = super().generate(requests)
        out.images[:, :, 0, 0] = float("nan")
        return out


class BatchDependent(Good):
    def generate(self, requests):
        out = super().generate(requests)
        return GenerationResult((out.images - out.images.mean(0, keepdim=True) + 0.5).clamp(0, 1), out.prompts)


@dataclass(frozen=True)
class LaxConfig:
    strength: float = 1.0   # no validation at all


class Lax(Good):
    Config = LaxConfig


class GoodLearner(Good):
    learns = True

    def fit(self, ctx):
        g = torch.Generator().manual_seed(ctx.seed)
        save_file({"offset": torch.rand(len(ctx.emotions), generator=g)}, str(ctx.artifact_dir / "offset.safetensors"))
        return {"steps": 1}

    def load(self, zoo, artifact_dir):
        super().load(zoo, artifact_dir)
        self.offset = float(load_file(str(Path(artifact_dir) / "offset.safetensors"))["offset"].sum())

    def shift(self, req):
        return self.offset + super().shift(req)


class PickleLearner(GoodLearner):
    def fit(self, ctx):
        torch.save({"offset": torch.zeros(2)}, ctx.artifact_dir / "offset.pt")
        return super().fit(ctx)


class UnseededLearner(GoodLearner):
    def fit(self, ctx):
        save_file({"offset": torch.rand(2)}, str(ctx.artifact_dir / "offset.safetensors"))
        return {}


class TouchesZoo(Good):
    """Swaps the pipeline's scheduler for its own: a private view's, so no other method sees it."""

    def load(self, zoo, artifact_dir):
        super().load(zoo, artifact_dir)
        sched = zoo.pipeline.scheduler
        zoo.pipeline.scheduler = type(sched).from_config(sched.config)


class SwapsGuidance(Good):
    """Written from the docs alone: replaces the zoo's sampling defaults (every other method would sample with
    them, under the same store keys, while protocol.json recorded the old guidance)."""

    def load(self, zoo, artifact_dir):
        super().load(zoo, artifact_dir)
        zoo.sampling = dataclasses.replace(zoo.sampling, guidance_scale=zoo.sampling.guidance_scale + 2)


class EditsWeights(Good):
    """Edits a shared network in place (judge or pipeline): an assignment-free change the view cannot stop."""

    target = "pipeline"

    def load(self, zoo, artifact_dir):
        super().load(zoo, artifact_dir)
        net = zoo.pipeline.unet if self.target == "pipeline" else zoo.judges.emotion
        with torch.no_grad():
            next(net.parameters()).add_(0.25)



class SampledLikeSD(Method):
    """Samples exactly as ``sd`` does, through the public toolkit, and says so."""

    name = "fake-sd-like"
    reduces_to_baseline: dict = {}

    def load(self, zoo, artifact_dir):
        self.zoo = zoo

    def pipe(self):
        return self.zoo.pipeline

    def generate(self, requests):
        prompts = [r.cell.prompt() for r in requests]
        return GenerationResult(sample(self.zoo, requests, prompt=prompts, pipe=self.pipe()), prompts)


class _DropsGenerator:
    """The zoo's pipeline, called without ``generator=``: the scheduler then seeds its step noise itself."""

    def __init__(self, pipe):
        self.inner, self.unet = pipe, pipe.unet

    def __call__(self, **kwargs):
        kwargs.pop("generator")
        return self.inner(**kwargs)


class IgnoresStepNoise(SampledLikeSD):
    """Takes the plan's latents but not its step noise: reproducible, seed- and batch-honouring, yet not the
    noise every other method draws for the cell."""

    def pipe(self):
        return _DropsGenerator(self.zoo.pipeline)


def test_a_method_that_ignores_the_step_noise_is_caught_without_any_declaration(zoo):
    report = check_method(IgnoresStepNoise, zoo)
    failed = [r.name for r in report.failed]
    assert failed == ["step_noise_honoured", "reduces_to_baseline"], report.format()
    assert "differ from 'sd'" in report.result("reduces_to_baseline").detail
    silent = type("SilentIgnoresStepNoise", (IgnoresStepNoise,), {"name": "silent", "reduces_to_baseline": None})
    report = check_method(silent, zoo, checks=["step_noise_honoured", "reduces_to_baseline"])
    assert [r.name for r in report.failed] == ["step_noise_honoured"], report.format()
    assert report.result("reduces_to_baseline").skipped   # it declared nothing: only the new check sees it


def test_a_method_that_takes_the_step_noise_reduces_to_sd(zoo):
    report = check_method(SampledLikeSD, zoo, checks=["reduces_to_baseline"])
    assert report.ok and not report.result("reduces_to_baseline").skipped, report.format()
    assert "byte-identical to 'sd'" in report.result("reduces_to_baseline").detail


def test_a_method_that_changes_the_shared_zoo_is_caught(zoo):
    original, sampling = zoo.pipeline.scheduler, zoo.sampling
    report = check_method(TouchesZoo, zoo, checks=["zoo_untouched"])   # its own view's scheduler: harmless
    assert report.ok and zoo.pipeline.scheduler is original, report.format()
    report = check_method(SwapsGuidance, zoo, checks=["output_contract", "zoo_untouched"])
    assert [r.name for r in report.failed] == ["output_contract", "zoo_untouched"], report.format()
    assert "zoo.sampling is shared by every method" in report.result("zoo_untouched").detail
    assert zoo.sampling is sampling
    for target, part in (("pipeline", "pipeline"), ("judge", "judges.emotion")):
        net = zoo.pipeline.unet if target == "pipeline" else zoo.judges.emotion
        weight = next(net.parameters())
        kept = weight.detach().clone()
        try:
            report = check_method(type("Edits", (EditsWeights,), {"target": target}), zoo, checks=["zoo_untouched"])
        finally:
            with torch.no_grad():
                weight.copy_(kept)
        assert not report.ok and f"the shared zoo changed ({part}" in report.result("zoo_untouched").detail


def test_a_good_method_passes_every_check(zoo):
    report = check_method(Good, zoo, settings=ContractSettings(bad_options=[{"strength": -1}]))
    assert report.ok, report.format()
    assert [r.name for r in report.results] == list(CHECKS)
    assert report.result("fit_artifacts").skipped
    assert "PASS" in report.format() and "all checks passed" in report.format()


def test_a_learning_method_fit_artifacts_reload_and_refit(zoo):
    report = check_method(GoodLearner, zoo)
    assert report.ok, report.format()
    assert "bit-identical" in report.result("fit_artifacts").detail


@pytest.mark.parametrize("cls, check, words", [
    (SeedOnly, "latents_honoured", "different latents"),
    (GlobalRNG, "determinism", "fresh instance"),
    (WrongSize, "output_contract", "shape"),
    (NaNs, "output_contract", "NaN"),
    (BatchDependent, "batch_independence", "batch of 3"),
    (PickleLearner, "fit_artifacts", "offset.pt"),
    (UnseededLearner, "fit_artifacts", "fitting twice"),
])
def test_each_violation_is_caught_with_its_reason(zoo, cls, check, words):
    report = check_method(cls, zoo, checks=[check])
    result = report.result(check)
    assert not report.ok and not result.passed, report.format()
    assert words in result.detail, result.detail


def test_bad_config_must_be_an_emobench_error(zoo):
    lax = check_method(Lax, zoo, settings=ContractSettings(bad_options=[{"strength": -1}]), checks=["bad_config"])
    assert not lax.ok and "were accepted" in lax.result("bad_config").detail
    # an unknown option is refused by the shared config builder for every method
    good = check_method(Good, zoo, checks=["bad_config"])
    assert good.ok, good.format()


def test_an_unknown_method_fails_resolve_and_nothing_else_runs(zoo):
    report = check_method("no-such-method-xyz", zoo)
    assert not report.result("resolve").passed
    assert "unknown method" in report.result("resolve").detail
    assert all("not run" in r.detail for r in report.results[1:])


def test_a_crash_inside_generate_is_a_failed_check_not_an_exception(zoo):
    class Crashes(Good):
        def generate(self, requests):
            raise RuntimeError("boom")

    report = check_method(Crashes, zoo, checks=["output_contract"])
    assert "RuntimeError: boom" in report.result("output_contract").detail


class TestMixinOnAGoodMethod(MethodContractTests):
    """The pytest mixin a plugin author subclasses (here on a fake that passes)."""

    method = GoodLearner
    bad_options = [{"strength": 0}]
