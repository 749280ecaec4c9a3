"""Fitting EmoGen: stage 1 (emotion space) then stage 2 (mapping network), through the ``Method.fit`` contract.

Artifacts written into ``ctx.artifact_dir``:
``encoder.safetensors`` (stage-1 network), ``space.safetensors`` (per-emotion mean/std[/scale_tril]),
``mapper.safetensors``, optionally ``emo_probe.safetensors`` (L_emo), and ``emogen.json`` (format, config,
resolved settings, emotions, the zoo's weights hash, the dataset's content hash, and the fit's facts).
"""
from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from emobench.api import EMOTIONS, FitContext, stable_hash
from emobench.errors import EmobenchError
from emobench.training import derive_seed
from emogen.config import KEY_OMITTED_AT, PAPER_STAGE1_EPOCHS, EmoGenConfig, Resolved, resolve
from emogen.data import ImageBank, split_samples
from emogen.emotion_space import EmotionEncoder, EmotionSpace, build_encoder, embed_all, train_encoder
from emogen.mapper import n_parameters
from emogen.stage2 import Stage2Trainer, clip_text_projection
from emogen.version import FORMAT, VERSION


def seed_of(*parts: Any) -> int:
    """A seed derived from named parts (fit seed, stage; or cell seed, emotion, slot)."""
    return derive_seed("emogen", *parts)


def fit_emogen(config: EmoGenConfig, ctx: FitContext) -> dict[str, Any]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_of("init", ctx.seed))
        return _fit(config, ctx)


def _fit(config: EmoGenConfig, ctx: FitContext) -> dict[str, Any]:
    zoo, dataset = ctx.zoo, ctx.dataset
    if dataset is None:
        raise EmobenchError("emogen needs an emotion dataset to fit on, and the zoo has none",
                            "use a zoo with a dataset (the default mini zoo has one) or pass --emoset PATH")
    unknown = [e for e in ctx.emotions if e not in EMOTIONS]
    if unknown:
        raise EmobenchError(f"unknown emotion(s) {unknown}", f"use emotions from: {', '.join(EMOTIONS)}")
    emotions = [e for e in EMOTIONS if e in set(ctx.emotions)]   # canonical order
    if config.attr_weight > 0 and not (getattr(dataset, "objects", None) or getattr(dataset, "scenes", None)):
        # checked before stage 1 so that no training time is spent on a fit that cannot finish
        raise EmobenchError(
            f"the emotion dataset at {getattr(dataset, 'root', '?')} has no object/scene annotations, so the "
            "attribute loss is impossible",
            "train without it: emogen:attr_weight=0 (the paper's 'without attribute loss' ablation)")
    if config.attr_weight > 0 or config.emo_weight > 0:
        clip_text_projection(zoo)   # fails now (no CLIP, widths differ), not after stage 1 has trained
    res = resolve(config, zoo)
    out = Path(ctx.artifact_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def progress(stage: str):
        return (lambda done, total: ctx.progress(stage, done, total)) if ctx.progress else None

    # ------------------------------------------------------------------ stage 1: emotion space
    train, train_labels = split_samples(dataset, "train", emotions)
    test, test_labels = split_samples(dataset, "test", emotions)
    if not train:
        raise EmobenchError(f"the dataset at {getattr(dataset, 'root', '?')} has no training images of "
                            f"{', '.join(emotions)}", "check its train split, or choose other --emotions")
    enc_bank = ImageBank(dataset, train, res.image_size, crop=config.encoder_crop)
    key1 = stable_hash({"stage1": {k: getattr(config, k) for k in STAGE1_FIELDS
                                   if not (k in KEY_OMITTED_AT and getattr(config, k) == KEY_OMITTED_AT[k])},
                        "resolved": [res.encoder, res.image_size, res.width, res.stage1_steps],
                        "dataset": getattr(dataset, "content_hash", None), "emotions": emotions, "seed": ctx.seed})
    resumed = _resume_stage1(out, key1, res, emotions, zoo.device)
    if resumed is not None:   # a previous attempt of this very fit finished stage 1 (the core keeps partials)
        encoder, space, stage1 = resumed
        vectors, _ = embed_all(encoder, enc_bank)
        stage1 = {**stage1, "resumed": True}
    else:
        encoder, space, vectors, stage1 = _stage1(config, res, ctx, emotions, train, train_labels, test, test_labels,
                                                  enc_bank, progress("emogen stage 1 (emotion encoder)"))
        save_file({k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()},
                  str(out / "encoder.safetensors"))
        if config.space == "official":   # the authors' Gaussians replace ours (docs: only with their encoder)
            from emogen.official import OfficialFiles

            space = EmotionSpace.from_tensors(emotions, OfficialFiles(config.official_dir).space(emotions))
            if space.mean.shape[1] != res.width:
                raise EmobenchError(f"the official emotion space is {space.mean.shape[1]}-d, this zoo's text "
                                    f"encoder {res.width}-d", "use emogen:space=official with the paper zoo only")
            stage1["space"] = "official"
        save_file(space.tensors(), str(out / "space.safetensors"))
        (out / "stage1.json").write_text(json.dumps({"key": key1, "facts": stage1}, indent=2, sort_keys=True))

    # ------------------------------------------------------------------ stage 2: mapping network
    diff_size = int(zoo.sampling.height)
    same = diff_size == res.image_size and config.framing == "crop" and config.encoder_crop == 1.0
    diff_bank = enc_bank if same else ImageBank(dataset, train, diff_size, framing=config.framing)
    trainer = Stage2Trainer.build(config, res, zoo, dataset, train, train_labels, len(emotions), vectors, diff_bank,
                                  seed_of("stage2", ctx.seed), seed_of("probe", ctx.seed))
    full2 = trainer.default_steps(res.stage2_steps)
    steps2 = ctx.loop_steps(full2)   # a pilot (FitContext.max_steps) runs a few and reports the full length
    report2 = progress("emogen stage 2 (mapper)")
    secs2 = trainer.run(steps2, (lambda done, _total: report2(done, full2)) if report2 else None)
    mapper, probe, trace, items, conf, vocab = (trainer.mapper, trainer.probe, trainer.trace, trainer.items,
                                                trainer.conf, trainer.vocab)
    save_file({k: v.detach().cpu().contiguous() for k, v in mapper.state_dict().items()},
              str(out / "mapper.safetensors"))
    if probe is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in probe.state_dict().items()},
                  str(out / "emo_probe.safetensors"))
    stage2 = {
        "steps": steps2, "batch": config.batch_size, "epochs": round(steps2 * config.batch_size / len(items), 4),
        "n_items": len(items), "seconds": round(secs2, 2), "seconds_per_step": round(secs2 / steps2, 4),
        "mapper_parameters": n_parameters(mapper), "loss_first": _mean(trace["loss"][:20]),
        "loss_last": _mean(trace["loss"][-20:]), "ldm_first": _mean(trace["ldm"][:20]),
        "ldm_last": _mean(trace["ldm"][-20:]),
        "attr_first": _mean(trace["attr"][:20]) if trace["attr"] else None,
        "attr_last": _mean(trace["attr"][-20:]) if trace["attr"] else None,
        "attr_top1_last": _mean(trace["attr_acc"][-50:]) if trace["attr_acc"] else None,
        "attr_bank_size": len(vocab.names), "confidence_mean": round(float(conf.mean()), 4),
        **trainer.scaled.facts(), **trainer.data_facts,
    }
    facts = {
        "format": FORMAT, "version": VERSION, "emotions": emotions, "config": config.training_dict(),
        "resolved": asdict(res), "width": res.width, "zoo_weights_hash": zoo.weights_hash,
        "dataset_hash": getattr(dataset, "content_hash", None), "seed": ctx.seed,
        "stage1": stage1, "stage2": stage2, "wall_seconds": round(time.perf_counter() - started, 2),
        "torch_threads": torch.get_num_threads(),
    }
    if config.uses_official():
        from emogen.official import OfficialFiles

        facts["official_files"] = OfficialFiles(config.official_dir).files_hash
    (out / "emogen.json").write_text(json.dumps(facts, indent=2, sort_keys=True))
    return facts


# options that change stage 1's outputs (a partial fit with the same ones can skip stage 1)
STAGE1_FIELDS = ("encoder", "encoder_init", "encoder_image_size", "stage1_steps", "stage1_batch", "stage1_lr",
                 "covariance", "flip", "encoder_crop")


def _stage1(config: EmoGenConfig, res: Resolved, ctx: FitContext, emotions: list[str], train: list,
            train_labels: torch.Tensor, test: list, test_labels: torch.Tensor, enc_bank: ImageBank, report
            ) -> tuple[EmotionEncoder, EmotionSpace, torch.Tensor, dict[str, Any]]:
    """Train the emotion encoder, embed the train split, fit the Gaussians, measure held-out accuracy."""
    encoder, imagenet = build_encoder(res.encoder, res.width, len(emotions), res.image_size, config.encoder_init,
                                      seed_of("encoder", ctx.seed), zoo=ctx.zoo)
    encoder.to(ctx.zoo.device)
    full1 = res.stage1_steps or math.ceil(PAPER_STAGE1_EPOCHS * len(train) / config.stage1_batch)
    steps1 = ctx.loop_steps(full1)   # a pilot runs a few steps; progress reports the full length
    g1 = torch.Generator().manual_seed(seed_of("stage1", ctx.seed))
    loss1, secs1 = train_encoder(encoder, enc_bank, train_labels, steps1, config.stage1_batch, config.stage1_lr,
                                 g1, config.flip, (lambda done, _total: report(done, full1)) if report else None)
    vectors, train_logits = embed_all(encoder, enc_bank)
    test_vectors, test_logits = embed_all(encoder, ImageBank(ctx.dataset, test, res.image_size))
    space = EmotionSpace.fit(emotions, vectors, train_labels, config.covariance)
    # do held-out vectors cluster by emotion? the nearest emotion mean as a classifier
    nearest = -torch.cdist(test_vectors, space.mean) if len(test) else test_logits
    facts = {
        "encoder": res.encoder, "imagenet_init": imagenet, "image_size": res.image_size, "steps": steps1,
        "batch": config.stage1_batch, "seconds": round(secs1, 2), "seconds_per_step": round(secs1 / steps1, 4),
        "loss_first": _mean(loss1[:20]), "loss_last": _mean(loss1[-20:]), "n_train": len(train),
        "n_test": len(test), "train_accuracy": _acc(train_logits, train_labels),
        "test_accuracy": _acc(test_logits, test_labels) if len(test) else None,
        "test_accuracy_chance": _majority(test_labels, len(emotions)) if len(test) else None,
        "test_nearest_mean_accuracy": _acc(nearest, test_labels) if len(test) else None,
        "vector_norm_mean": round(float(space.mean.norm(dim=1).mean()), 4),
        "vector_std_mean": round(float(space.std.mean()), 4),
    }
    if imagenet:
        facts["imagenet_source"] = getattr(encoder.trunk, "imagenet_source", None)
    if res.encoder == "resnet50" and config.encoder_init == "imagenet" and not imagenet:
        facts["note"] = ("ImageNet ResNet-50 weights were not found (neither as the zoo's [judges.object] nor under "
                         "torch.hub's checkpoint folder); the encoder was trained from random initialisation")
        warnings.warn(f"emobench: emogen: {facts['note']} (official: ImageNet init)", stacklevel=2)
    return encoder, space, vectors, facts


def _resume_stage1(out: Path, key: str, res: Resolved, emotions: list[str], device: torch.device
                   ) -> tuple[EmotionEncoder, EmotionSpace, dict[str, Any]] | None:
    """Stage 1's outputs from an earlier attempt of the same fit (same key), else None."""
    meta_path = out / "stage1.json"
    if not (meta_path.is_file() and (out / "encoder.safetensors").is_file() and (out / "space.safetensors").is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError:
        return None
    if meta.get("key") != key:
        return None
    encoder, _ = build_encoder(res.encoder, res.width, len(emotions), res.image_size, "none")
    encoder.load_state_dict(load_file(str(out / "encoder.safetensors")))
    encoder.to(device).eval()
    space = EmotionSpace.from_tensors(emotions, load_file(str(out / "space.safetensors")))
    return encoder, space, meta["facts"]


def _mean(values: list[float]) -> float | None:
    return round(float(sum(values) / len(values)), 5) if values else None


def _acc(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return round(float((logits.argmax(1) == labels).float().mean()), 4) if len(labels) else float("nan")


def _majority(labels: torch.Tensor, k: int) -> float:
    return round(float(torch.bincount(labels, minlength=k).max()) / len(labels), 4)
