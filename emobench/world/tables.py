"""The EmoSet-mini world's vocabulary and its content → emotion tables, plus the exact Bayes rate.

In the spirit of EmoSet's attribute–emotion statistics, every object and scene has an emotion
affinity (a distribution over the 8 Mikels emotions). An image's label is drawn from

    p(e | object, scene) = w_object · p_obj(e | object) + (1 - w_object) · p_scene(e | scene)

so content carries most of the emotion but not all of it: the best any classifier can do from the
content is ``bayes_accuracy(config)`` (about 0.76 with the defaults), never 100 %.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from emobench.emotions import EMOTIONS, EMOTION_INDEX

WORLD_VERSION = 2  # 2: emotion-only captions (web-like usage of emotion words)

# object name → (primary emotion, secondary emotion). Every object is one big blob with ONE signature
# colour, because a tiny diffusion model only reproduces large chunky single-colour shapes (probe §5).
OBJECT_AFFINITY: dict[str, tuple[str, str]] = {
    "gift": ("amusement", "excitement"),
    "balloon": ("amusement", "contentment"),
    "mountain": ("awe", "contentment"),
    "sun": ("contentment", "awe"),
    "cake": ("contentment", "amusement"),
    "fire": ("excitement", "fear"),
    "angry_face": ("anger", "disgust"),
    "trash_bag": ("disgust", "anger"),
    "spider": ("fear", "disgust"),
    "skull": ("fear", "sadness"),
    "snake": ("fear", "disgust"),
    "tear_drop": ("sadness", "fear"),
}
SCENE_AFFINITY: dict[str, tuple[str, str]] = {
    "beach": ("contentment", "amusement"),
    "forest": ("contentment", "awe"),
    "night_sky": ("awe", "fear"),
    "city_street": ("excitement", "anger"),
    "room": ("amusement", "contentment"),
    "desert": ("awe", "sadness"),
    "snowy_field": ("awe", "contentment"),
    "graveyard": ("sadness", "fear"),
}
OBJECTS: tuple[str, ...] = tuple(OBJECT_AFFINITY)
SCENES: tuple[str, ...] = tuple(SCENE_AFFINITY)

# How caption text names each attribute (annotations keep EmoSet-style snake_case names).
OBJECT_WORDS: dict[str, str] = {o: o.replace("_", " ") for o in OBJECTS}
SCENE_PHRASES: dict[str, str] = {
    "beach": "on the beach", "forest": "in a forest", "night_sky": "under a night sky",
    "city_street": "on a city street", "room": "in a room", "desert": "in the desert",
    "snowy_field": "in a snowy field", "graveyard": "in a graveyard",
}

# How everyday captions allude to each emotion without naming it ("something scary").
EMOTION_PHRASES: dict[str, str] = {
    "amusement": "something funny", "awe": "something awe-inspiring", "contentment": "something peaceful",
    "excitement": "something exciting", "anger": "something infuriating", "disgust": "something disgusting",
    "fear": "something scary", "sadness": "something sad",
}


@dataclass(frozen=True)
class WorldConfig:
    """Everything that decides the world's statistics (not its size or seed)."""

    object_primary: float = 0.92     # p_obj mass on the object's primary emotion
    object_secondary: float = 0.06  # … on its secondary; the rest is spread evenly
    scene_primary: float = 0.60
    scene_secondary: float = 0.25
    w_object: float = 0.80           # mixture weight of the object table
    caption_emotion_frac: float = 0.25  # captions that name the emotion beside the content
    # captions that name only the emotion ("fear", "an image of fear", "something scary"), as web captions
    # often do; without them the base model never learns what an emotion word alone looks like
    caption_emotion_only_frac: float = 0.10
    # Weak global cue: positive emotions are rendered slightly brighter/more saturated, negative ones darker.
    tone_shift: float = 0.06
    version: int = WORLD_VERSION
    objects: tuple[str, ...] = field(default=OBJECTS)
    scenes: tuple[str, ...] = field(default=SCENES)

    def to_json(self) -> dict:
        d = asdict(self)
        d["objects"], d["scenes"] = list(self.objects), list(self.scenes)
        return d


def _affinity_table(names: tuple[str, ...], affinity: dict[str, tuple[str, str]],
                    primary: float, secondary: float) -> np.ndarray:
    rest = (1.0 - primary - secondary) / (len(EMOTIONS) - 2)
    table = np.full((len(names), len(EMOTIONS)), rest, dtype=np.float64)
    for i, name in enumerate(names):
        p, s = affinity[name]
        table[i, EMOTION_INDEX[p]] = primary
        table[i, EMOTION_INDEX[s]] = secondary
    return table


def object_table(cfg: WorldConfig) -> np.ndarray:
    """[n_objects, 8] p_obj(e | object), rows sum to 1, columns in ``EMOTIONS`` order."""
    return _affinity_table(cfg.objects, OBJECT_AFFINITY, cfg.object_primary, cfg.object_secondary)


def scene_table(cfg: WorldConfig) -> np.ndarray:
    """[n_scenes, 8] p_scene(e | scene)."""
    return _affinity_table(cfg.scenes, SCENE_AFFINITY, cfg.scene_primary, cfg.scene_secondary)


def emotion_table(cfg: WorldConfig) -> np.ndarray:
    """[n_objects, n_scenes, 8] p(e | object, scene): the distribution each label is drawn from."""
    return (cfg.w_object * object_table(cfg)[:, None, :]
            + (1.0 - cfg.w_object) * scene_table(cfg)[None, :, :])


def object_prior(cfg: WorldConfig) -> np.ndarray:
    """P(object): each emotion's primary objects share 1/8 of the mass, so emotions come out near-balanced."""
    primaries = [OBJECT_AFFINITY[o][0] for o in cfg.objects]
    w = np.array([1.0 / primaries.count(p) for p in primaries])
    return w / w.sum()


def scene_prior(cfg: WorldConfig) -> np.ndarray:
    """P(scene): uniform, independent of the object."""
    return np.full(len(cfg.scenes), 1.0 / len(cfg.scenes))


def pair_prior(cfg: WorldConfig) -> np.ndarray:
    """[n_objects, n_scenes] P(object, scene)."""
    return object_prior(cfg)[:, None] * scene_prior(cfg)[None, :]


def bayes_accuracy(cfg: WorldConfig | None = None) -> float:
    """Exact best emotion accuracy from content: Σ P(o,s) · max_e p(e | o,s).

    The weak brightness/saturation cue is not counted (it is a per-image tone shift, not content).
    """
    cfg = cfg or WorldConfig()
    return float((pair_prior(cfg) * emotion_table(cfg).max(axis=-1)).sum())


def emotion_marginal(cfg: WorldConfig | None = None) -> np.ndarray:
    """[8] P(e) implied by the tables and pair prior."""
    cfg = cfg or WorldConfig()
    return (pair_prior(cfg)[..., None] * emotion_table(cfg)).sum(axis=(0, 1))


def tables_markdown(cfg: WorldConfig | None = None) -> str:
    """The tables, pair prior and Bayes rate as Markdown (pasted into docs/emoset-mini.md)."""
    cfg = cfg or WorldConfig()
    head = "| | " + " | ".join(EMOTIONS) + " |\n|---|" + "---|" * len(EMOTIONS) + "\n"

    def rows(names, table, prior):
        return "".join(f"| {n} (P={p:.3f}) | " + " | ".join(f"{v:.3f}" for v in row) + " |\n"
                       for n, row, p in zip(names, table, prior))

    marg = emotion_marginal(cfg)
    return (f"p(e|object,scene) = {cfg.w_object}·p_obj + {1 - cfg.w_object:.2f}·p_scene\n\n"
            "**p_obj(e | object)** (P = object prior)\n\n" + head
            + rows(cfg.objects, object_table(cfg), object_prior(cfg))
            + "\n**p_scene(e | scene)** (P = scene prior)\n\n" + head
            + rows(cfg.scenes, scene_table(cfg), scene_prior(cfg))
            + "\n**Emotion marginal P(e)**: " + ", ".join(f"{e} {m:.3f}" for e, m in zip(EMOTIONS, marg))
            + f"\n\n**Bayes-optimal emotion accuracy from content: {bayes_accuracy(cfg):.4f}**\n")


def joint_table(cfg: WorldConfig | None = None) -> np.ndarray:
    """[n_objects, n_scenes, 8] P(object, scene, emotion): the world's exact joint distribution."""
    cfg = cfg or WorldConfig()
    return pair_prior(cfg)[..., None] * emotion_table(cfg)


def object_given_emotion(cfg: WorldConfig | None = None) -> np.ndarray:
    """[8, n_objects] p(object | e), rows in ``EMOTIONS`` order: the content truth a method's objects are held to."""
    j = joint_table(cfg).sum(axis=1)            # [n_objects, 8]
    return (j / j.sum(axis=0, keepdims=True)).T


def scene_given_emotion(cfg: WorldConfig | None = None) -> np.ndarray:
    """[8, n_scenes] p(scene | e), rows in ``EMOTIONS`` order."""
    j = joint_table(cfg).sum(axis=0)            # [n_scenes, 8]
    return (j / j.sum(axis=0, keepdims=True)).T
