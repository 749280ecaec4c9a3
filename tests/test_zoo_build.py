"""The mini-zoo build runs end to end at toy size (few steps, tiny networks) and writes a loadable, carded zoo."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from emobench.errors import EmobenchError
from emobench.zoo.arch import TINY
from emobench.zoo.check import content_prompts, evaluate_bars, world_figures
from emobench.zoo.load import load_zoo
from emobench.zoo.mini_build import BuildConfig, augment_like_generator, build_mini

TOY = BuildConfig(seed=3, n_train=64, n_val=16, n_test=24, clip_steps=2, clip_batch=16, unet_steps=2,
                  unet_batch=4, unet_warmup=1, judge_steps=2, judge_batch=8, eval_seeds=1,
                  eval_scenes_per_object=1, storage_dtype="float16", arch=TINY)


def test_toy_build_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    out = build_mini(tmp_path / "zoo", TOY, log=lambda s: None)
    meta = json.loads((out / "zoo.json").read_text())
    assert meta["storage_dtype"] == "float16" and meta["dataset"]["seed"] == 3
    card = json.loads((out / "card.json").read_text())
    for key in ("object_judge_acc", "scene_judge_acc", "emotion_judge_acc", "emotion_bayes_acc", "gen_object_acc",
                "gen_scene_acc", "gen_emotion_prompt_acc", "real_emotion_acc", "sampling_img_per_s"):
        assert 0 <= card["figures"][key] and (key == "sampling_img_per_s" or card["figures"][key] <= 1)
    assert [s["steps"] for s in card["build"]["stages"]] == [2, 2, 2]
    assert (out / "samples.png").stat().st_size > 0 and "## samples.png" in (out / "card.md").read_text()
    zoo = load_zoo(out)                        # fp16 on disk, fp32 in memory
    assert zoo.pipeline.unet.dtype == torch.float32
    # the saved sampler predicts what the UNet was trained to predict
    assert zoo.pipeline.scheduler.config.prediction_type == TINY.prediction_type == "v_prediction"
    assert zoo.dataset is not None and len(zoo.dataset.split("test")) == 24
    with pytest.raises(EmobenchError, match="not empty"):
        build_mini(out, TOY, log=lambda s: None)


def test_toy_build_is_deterministic(tmp_path, monkeypatch):
    """Same config and seed → the same weights, byte for byte (what lets a rebuild reproduce the card)."""
    from emobench.zoo.load import file_sha256

    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    cfg = dataclasses.replace(TOY, unet_steps=3)
    a = build_mini(tmp_path / "a", cfg, log=lambda s: None)
    b = build_mini(tmp_path / "b", cfg, log=lambda s: None)

    def weights(root):
        return {str(p.relative_to(root)): file_sha256(p) for p in sorted(root.rglob("*.safetensors"))}

    wa = weights(a)
    assert len(wa) >= 4 and wa == weights(b)      # UNet, text encoder, CLIP, judges (+ the VAE's anchor)


def test_augment_keeps_range_and_is_seeded():
    x = torch.rand(16, 3, 32, 32)
    a = augment_like_generator(x, torch.Generator().manual_seed(0))
    b = augment_like_generator(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == x.shape and 0 <= a.min() and a.max() <= 1
    assert not torch.equal(a, x)


def test_content_prompts_cover_every_scene():
    from emobench.world import OBJECTS, SCENES

    triples = content_prompts(list(OBJECTS), list(SCENES), 2)
    assert len(triples) == 2 * len(OBJECTS)
    assert {s for _, s, _ in triples} == set(SCENES)
    assert {o for o, _, _ in triples} == set(OBJECTS)


def test_bars():
    f = dict(world_figures(), object_judge_acc=0.97, scene_judge_acc=0.99, emotion_judge_acc=0.73,
             emotion_bayes_acc=0.76, gen_object_acc=0.5, gen_scene_acc=0.9, gen_emotion_prompt_acc=0.6,
             real_emotion_acc=0.73, emotion_calibration=0.6 / 0.73, sampling_img_per_s=1.0)
    bars = evaluate_bars(f)
    assert bars["object_judge_acc"] and bars["emotion_judge_acc"] and bars["gen_scene_acc"]
    assert not bars["gen_object_acc"] and not bars["sampling_img_per_s"]
    assert bars["gen_emotion_prompt_acc"] and not evaluate_bars({**f, "gen_emotion_prompt_acc": 0.1})["gen_emotion_prompt_acc"]
    # the calibration band: the base model's Emo-A is 0.75–0.95 of the real images' (real SD 1.5: about 0.9)
    assert bars["emotion_calibration"]
    assert not evaluate_bars({**f, "emotion_calibration": 0.41})["emotion_calibration"]
    assert not evaluate_bars({**f, "emotion_calibration": 1.02})["emotion_calibration"]
    assert not evaluate_bars({**f, "gen_scene_acc": 0.85})["gen_scene_acc"]      # v3's bar is 0.90


def test_world_bars_pass_on_this_world_and_fail_on_version_2s():
    """The version 3 targets (docs/emoset-mini.md) hold on the exact tables; version 2's figures fail them."""
    f = world_figures()
    assert f["world_objects"] >= 20 and f["world_scenes"] >= 14
    from emobench.zoo.check import world_bars

    assert all(world_bars(f).values()), world_bars(f)
    v2 = {**f, "world_mi_object_bits": 1.59, "world_mi_scene_bits": 0.05, "world_bayes_object": 0.761,
          "world_bayes_scene": 0.218, "world_max_top1_object_share": 0.85}
    assert not any(v for k, v in world_bars(v2).items() if k != "emotion_bayes_acc")


def test_card_sizes_list_every_stored_part(tmp_path):
    from emobench.zoo.card import _sizes

    for part, n in (("pipeline", 3000), ("clip", 2000), ("judges", 1000)):
        (tmp_path / part).mkdir()
        (tmp_path / part / "w.safetensors").write_bytes(b"x" * n * 1000)
    assert "prefit" not in _sizes(tmp_path)
    (tmp_path / "prefit" / "emogen").mkdir(parents=True)
    (tmp_path / "prefit" / "emogen" / "w.safetensors").write_bytes(b"x" * 500_000)
    sizes = _sizes(tmp_path)
    assert sizes == {"pipeline": 3.0, "clip": 2.0, "judges": 1.0, "prefit": 0.5, "total": 6.5}
