"""Fit budgets: paper-scale defaults for textual inversion and DreamBooth (the diffusers examples' steps, batch and
learning rate) fill only the options a spec leaves unset and only on a paper zoo, so mini fits keep their keys;
and every learner's budget options (EmoGen's stage 1 too) are what its training loops actually run, on the
mini-layout test zoo and on a paper zoo alike."""
from __future__ import annotations

from collections import defaultdict

import pytest

import baselines.dreambooth as db_module
import baselines.textual_inversion as ti_module
from emobench import registry
from emobench.api import FitContext
from emobench.run import runner
from emobench.zoo.load import zoo_scale
from emobench.zoo.paper import load_paper_zoo

from support.paper_fixtures import write_judge_files, write_paper_toml

PAPER_TI = {"steps": 3000, "batch_size": 4, "lr": 2e-3}
PAPER_DB = {"steps": 500, "batch_size": 1, "lr": 1e-4, "full_lr": 5e-6}


def test_paper_defaults_fill_unset_options_only_at_paper_scale():
    reg = registry.methods()
    for name, paper in (("textual-inversion", PAPER_TI), ("dreambooth", PAPER_DB)):
        mini_label, mini = reg.create(name, "mini")
        assert mini_label == name and mini.config == reg.get(name).Config()   # mini: the Config's defaults
        label, m = reg.create(name, "paper")
        assert label == name and {k: getattr(m.config, k) for k in paper} == paper
        label, m = reg.create(f"{name}:steps=7", "paper")   # an explicit option always wins
        assert label == f"{name}:steps=7" and m.config.steps == 7 and m.config.lr == paper["lr"]
        mini_steps = reg.get(name).Config().steps   # the mini default, given explicitly on a paper zoo, is named
        assert reg.create(f"{name}:steps={mini_steps}", "paper")[0] == f"{name}:steps={mini_steps}"
        assert reg.create(f"{name}:steps={paper['steps']}", "paper")[0] == name   # = the paper default
    assert reg.create("sd", "paper")[1].config == reg.get("sd").Config()


def test_the_run_resolves_methods_with_its_zoos_scale(tmp_path):
    assert zoo_scale("mini") == "mini" and zoo_scale(str(tmp_path / "paper.toml")) == "paper"
    ti = runner.resolve_methods(["textual-inversion", "sd"], "paper")[1]
    assert ti.label == "textual-inversion" and ti.method.config.steps == 3000


def _ticks(ctx_progress: dict):
    def progress(stage: str, done: int, total: int) -> None:
        ctx_progress[stage].append((done, total))
    return progress


def _fit(zoo, spec: str, tmp_path, emotions=("fear",)):
    """Fit ``spec`` on ``zoo`` directly (no cache); returns (facts, ticks per stage, batch sizes seen)."""
    ticks: dict[str, list] = defaultdict(list)
    label, method = registry.methods().create(spec, zoo.scale)
    ctx = FitContext(zoo=zoo, dataset=zoo.dataset, emotions=emotions, artifact_dir=tmp_path / label.replace(":", "_"),
                     seed=0, progress=_ticks(ticks))
    return method.fit(ctx), ticks


@pytest.fixture(scope="module")
def paper_zoo(tmp_path_factory):
    """A paper-scale zoo (the TOML loader, scale "paper") over the tiny test parts."""
    from emobench.testing.tiny import tiny_zoo

    root = tmp_path_factory.mktemp("paper-budget")
    toml = write_paper_toml(root / "paper.toml", tiny_zoo(tmp_path_factory), write_judge_files(root / "files"))
    return load_paper_zoo(toml, with_probe=False)


@pytest.mark.parametrize("scale", ["mini", "paper"])
def test_every_budget_option_is_what_the_loops_run(scale, zoo, paper_zoo, tmp_path, monkeypatch):
    z = zoo if scale == "mini" else paper_zoo
    assert z.scale == scale
    seen: dict[str, list[int]] = defaultdict(list)
    for module, key in ((ti_module, "ti"), (db_module, "db")):
        real = module.denoising_loss

        def spy(unet, scheduler, latents, cond, gen, *a, _real=real, _key=key, **k):
            seen[_key].append(latents.shape[0])
            return _real(unet, scheduler, latents, cond, gen, *a, **k)
        monkeypatch.setattr(module, "denoising_loss", spy)

    facts, ticks = _fit(z, "textual-inversion:steps=3:batch_size=2:max_images=5", tmp_path)
    assert facts["emotions"]["fear"]["steps"] == 3 and facts["emotions"]["fear"]["n_images"] == 5
    assert [d for d, _ in ticks["fear"]] == [1, 2, 3] and set(seen["ti"]) == {2}
    facts, ticks = _fit(z, "dreambooth:steps=2:batch_size=3:max_images=4", tmp_path)
    assert facts["emotions"]["fear"]["steps"] == 2 and facts["emotions"]["fear"]["n_images"] == 4
    assert [d for d, _ in ticks["fear"]] == [1, 2] and set(seen["db"]) == {3}
    # EmoGen: stage 1 takes stage1_steps / stage1_batch, stage 2 steps / batch_size, at paper scale too
    facts, ticks = _fit(z, "emogen:stage1_steps=2:stage1_batch=4:steps=3:batch_size=2:encoder_init=none", tmp_path,
                        ("awe", "fear"))
    assert (facts["stage1"]["steps"], facts["stage1"]["batch"]) == (2, 4)
    assert (facts["stage2"]["steps"], facts["stage2"]["batch"]) == (3, 2)
    stage1 = [v for k, v in ticks.items() if "stage 1" in k][0]
    stage2 = [v for k, v in ticks.items() if "stage 2" in k][0]
    assert stage1[-1] == (2, 2) and stage2[-1] == (3, 3)
    if scale == "paper":   # ResNet-50 at paper scale, never upsampled beyond the zoo's 32 px
        assert facts["stage1"]["encoder"] == "resnet50" and facts["stage1"]["image_size"] == 32
