"""Sampling the EmoSet-mini world in memory: content, emotion labels, tone, captions and pixels.

A split is made of fixed-size chunks, each with its own generator seeded by (seed, split, chunk), so
the images do not depend on how many processes render them, and ``sample_world(seed, n)`` returns
exactly the training split that ``write_emoset_mini(seed=seed, n_train=n)`` writes to disk.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from emobench.emotions import EMOTIONS, POSITIVE
from emobench.errors import EmobenchError
from emobench.world import draw
from emobench.world.tables import (EMOTION_PHRASES, OBJECT_WORDS, SCENE_PHRASES, WorldConfig, emotion_prior,
                                   object_given_emotion, scene_given_emotion)

CHUNK = 512
SPLITS = ("train", "val", "test")
MAX_SEED = 2**32 - 1
MAX_IMAGES = 1_000_000  # per split; 1 M 32×32 PNGs is ~3 GB of small files, beyond any sane use

CONTENT_TEMPLATES = ("{a} {obj} {where}", "a photo of {a} {obj} {where}", "a picture of {a} {obj} {where}",
                     "{a} {obj} {where}, a photo")
EMOTION_TEMPLATES = ("a photo of {emotion}, {content}", "{content}, evoking {emotion}",
                     "an image of {emotion}, {content}")
# Emotion-only captions: the word alone, the word in a frame, and an everyday allusion ({phrase}).
EMOTION_ONLY_TEMPLATES = ("{emotion}", "an image of {emotion}", "a photo of {emotion}", "{phrase}",
                          "a picture of {phrase}", "{emotion}, a photo")
CAPTION_KINDS = ("content", "emotion+content", "emotion-only")


@dataclass(frozen=True)
class Content:
    """Per-image choices for one chunk (indices into the config's vocabularies and ``EMOTIONS``)."""

    objects: np.ndarray
    scenes: np.ndarray
    emotions: np.ndarray


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
        raise EmobenchError(f"world seed {seed!r} is out of range",
                            f"use an integer seed between 0 and {MAX_SEED}")
    return int(seed)


def check_count(name: str, n: object, maximum: int = MAX_IMAGES) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= maximum:
        raise EmobenchError(f"{name}={n!r} is out of range",
                            f"use an integer between 1 and {maximum:,} for {name}")
    return int(n)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption_for(obj: str, scene: str, emotion: str, template: int, with_emotion: bool,
                emotion_only: bool = False) -> str:
    """A content caption, optionally naming the emotion ("a photo of fear, a spider in a graveyard"), or
    with ``emotion_only`` a caption that names the emotion and nothing else ("something scary")."""
    if emotion_only:
        return EMOTION_ONLY_TEMPLATES[template % len(EMOTION_ONLY_TEMPLATES)].format(
            emotion=emotion, phrase=EMOTION_PHRASES[emotion])
    word = OBJECT_WORDS[obj]
    content = CONTENT_TEMPLATES[template % len(CONTENT_TEMPLATES)].format(
        a=_article(word), obj=word, where=SCENE_PHRASES[scene])
    if not with_emotion:
        return content
    return EMOTION_TEMPLATES[template % len(EMOTION_TEMPLATES)].format(emotion=emotion, content=content)


def _colorfulness(img: np.ndarray) -> np.ndarray:
    """Hasler–Süsstrunk colourfulness of uint8 [N,H,W,3], scaled so 150 (very colourful) → 1."""
    x = img.astype(np.float32)
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    m = np.sqrt(rg.std(axis=(1, 2)) ** 2 + yb.std(axis=(1, 2)) ** 2) + \
        0.3 * np.sqrt(rg.mean(axis=(1, 2)) ** 2 + yb.mean(axis=(1, 2)) ** 2)
    return np.clip(m / 150.0, 0.0, 1.0)


def _brightness(img: np.ndarray) -> np.ndarray:
    """Mean Rec.601 luma in [0,1]."""
    x = img.astype(np.float32)
    return (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]).mean(axis=(1, 2)) / 255.0


def render(objects: np.ndarray, scenes: np.ndarray, emotions: np.ndarray, rng: np.random.Generator,
           cfg: WorldConfig) -> np.ndarray:
    """uint8 [N,32,32,3] for the given content; the emotion only sets the weak tone shift."""
    n = len(objects)
    img = np.zeros((n, draw.CANVAS, draw.CANVAS, 3), np.uint8)
    draw.draw_scenes(img, list(cfg.scenes), scenes, rng)
    draw.draw_objects(img, list(cfg.objects), objects, rng)
    small = draw.downsample(img)
    # The tone shift is linear, so applying it after the downsample equals applying it before (4x cheaper).
    sign = np.where(np.isin(emotions, [EMOTIONS.index(e) for e in POSITIVE]), 1.0, -1.0).astype(np.float32)
    gain = 1.0 + cfg.tone_shift * sign + rng.normal(0, 0.05, n).astype(np.float32)
    sat = 1.0 + 2.0 * cfg.tone_shift * sign + rng.normal(0, 0.08, n).astype(np.float32)
    grey = (small[..., 0:1] + small[..., 1:2] + small[..., 2:3]) * np.float32(1 / 3)
    small = (grey + (small - grey) * sat[:, None, None, None]) * gain[:, None, None, None]
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def _draw(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of ``probs`` [n, k] by inverse CDF (one uniform draw each)."""
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > np.cumsum(probs, axis=1)).sum(axis=1), probs.shape[1] - 1)


def sample_content(rng: np.random.Generator, n: int, cfg: WorldConfig) -> Content:
    """Draw the emotion from P(e), then object and scene independently from p(object | e) and p(scene | e)."""
    emotions = _draw(rng, np.broadcast_to(emotion_prior(cfg), (n, len(EMOTIONS))))
    objects = _draw(rng, object_given_emotion(cfg)[emotions])
    scenes = _draw(rng, scene_given_emotion(cfg)[emotions])
    return Content(objects, scenes, emotions)


def render_chunk(seed: int, split: str, chunk: int, n: int, cfg: WorldConfig) -> tuple[np.ndarray, list[dict]]:
    """One chunk of a split: images and EmoSet-style annotations (without file names)."""
    rng = np.random.default_rng([seed, SPLITS.index(split), chunk])
    c = sample_content(rng, n, cfg)
    # one uniform draw decides the caption kind, so the image stream is the same for any split of shares
    u = rng.random(n)
    with_emotion = u < cfg.caption_emotion_frac
    emotion_only = (u >= cfg.caption_emotion_frac) & (u < cfg.caption_emotion_frac + cfg.caption_emotion_only_frac)
    template = rng.integers(0, 12, n)
    images = render(c.objects, c.scenes, c.emotions, rng, cfg)
    bright, colour = _brightness(images), _colorfulness(images)
    anns = []
    for i in range(n):
        obj, scene, emo = cfg.objects[c.objects[i]], cfg.scenes[c.scenes[i]], EMOTIONS[c.emotions[i]]
        anns.append({
            "emotion": emo,
            # EmoSet quantises both to 11 levels 0.0 … 1.0; so do we, so its tooling reads ours.
            "brightness": round(float(bright[i]), 1),
            "colorfulness": round(float(colour[i]), 1),
            "scene": scene,
            "object": [obj],
            "caption": caption_for(obj, scene, emo, int(template[i]), bool(with_emotion[i]),
                                   bool(emotion_only[i])),
        })
    return images, anns


def chunk_sizes(n: int) -> list[int]:
    return [min(CHUNK, n - start) for start in range(0, n, CHUNK)]


def sample_world(seed: int = 0, n: int = 1000, split: str = "train",
                 config: WorldConfig | None = None) -> tuple[np.ndarray, list[dict]]:
    """In-memory world: (uint8 images [n,32,32,3], annotation dicts). Identical to the written split."""
    seed = check_seed(seed)
    n = check_count("n", n)
    if split not in SPLITS:
        raise EmobenchError(f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
    cfg = config or WorldConfig()
    images, anns = [], []
    for k, size in enumerate(chunk_sizes(n)):
        im, an = render_chunk(seed, split, k, size, cfg)
        images.append(im)
        anns.extend(an)
    return np.concatenate(images), anns


def render_batch(objects: list[str], scenes: list[str], seed: int = 0, emotions: list[str] | None = None,
                 config: WorldConfig | None = None) -> np.ndarray:
    """Render chosen content (e.g. a judge check grid): uint8 [N,32,32,3].

    ``emotions`` only set the weak tone shift; without them no tone shift is applied."""
    cfg = config or WorldConfig()
    seed = check_seed(seed)
    if len(objects) != len(scenes) or (emotions is not None and len(emotions) != len(objects)) or not objects:
        raise EmobenchError("render_batch needs equally long, non-empty objects/scenes (/emotions) lists",
                            f"got {len(objects)} objects and {len(scenes)} scenes")
    for name, vocab, kind in [(o, cfg.objects, "object") for o in objects] + [(s, cfg.scenes, "scene") for s in scenes]:
        if name not in vocab:
            raise EmobenchError(f"unknown {kind} {name!r}", f"use one of {', '.join(vocab)}")
    o = np.array([cfg.objects.index(x) for x in objects])
    s = np.array([cfg.scenes.index(x) for x in scenes])
    rng = np.random.default_rng([seed, 99])
    if emotions is None:
        return render(o, s, np.full(len(o), -1), rng, dataclasses.replace(cfg, tone_shift=0.0))
    for e in emotions:
        if e not in EMOTIONS:
            raise EmobenchError(f"unknown emotion {e!r}", f"use one of {', '.join(EMOTIONS)}")
    return render(o, s, np.array([EMOTIONS.index(e) for e in emotions]), rng, cfg)
