"""The EmoSet-mini world's vocabulary and its emotion → content tables, plus the exact Bayes rates.

World version 3 is generative, like a photo collection: an image's emotion e is drawn first (uniform over the
8 Mikels emotions), then its object and its scene, independently given e:

    p(object | e) = (1 − object_spread) · lean_e(object) + object_spread / n_objects
    p(scene | e)  = (1 − scene_spread)  · lean_e(scene)  + scene_spread  / n_scenes

``OBJECT_LEANS`` / ``SCENE_LEANS`` say which contents each emotion leans on (relative weights). The shapes
follow EmoSet's own statistics (counted from the official EmoGen training lists, see docs/emoset-mini.md):
an emotion is spread thinly over many objects, each weakly informative and shared with other emotions, and
leans harder on a few signature scenes (sadness → graveyard, amusement → carnival, disgust → landfill),
so a scene says more about the emotion than an object does. Labels are therefore genuinely ambiguous: the
best any classifier can do from the content is ``bayes_accuracy(config)``, well below 100 %.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from emobench.emotions import EMOTIONS

WORLD_VERSION = 3  # 2: emotion-only captions; 3: generative tables on EmoSet's shape, 20 objects, 16 scenes

# 24 objects were piloted; ghost, bomb, crown and ice cream were dropped: the tiny generator drew them as the
# object of the same colour family (skull, spider, sun, moon) too often (docs/emoset-mini.md, the pilot)
OBJECTS: tuple[str, ...] = (
    "gift", "balloon", "mountain", "sun", "cake", "fire", "angry_face", "trash_bag", "spider", "skull", "snake",
    "tear_drop", "star", "heart", "moon", "rainbow", "house", "mushroom", "storm_cloud", "car")
SCENES: tuple[str, ...] = (
    "beach", "forest", "night_sky", "city_street", "room", "desert", "snowy_field", "graveyard", "carnival",
    "meadow", "stage", "landfill", "swamp", "cave", "hospital", "underwater")

# emotion → the objects it leans on (relative weights); every object is shared by one to three emotions
OBJECT_LEANS: dict[str, dict[str, float]] = {
    "amusement": {"balloon": 3, "gift": 3, "rainbow": 2, "car": 2, "cake": 2, "heart": 1},
    "awe": {"mountain": 4, "star": 3, "moon": 3, "rainbow": 2, "sun": 2},
    "contentment": {"sun": 3, "cake": 3, "house": 3, "heart": 3, "moon": 1},
    "excitement": {"fire": 3, "car": 3, "gift": 2, "star": 2, "balloon": 2},
    "anger": {"angry_face": 4, "fire": 3, "storm_cloud": 2, "trash_bag": 1, "snake": 1},
    "disgust": {"trash_bag": 4, "mushroom": 3, "snake": 2, "spider": 2, "skull": 1},
    "fear": {"spider": 3, "skull": 3, "snake": 3, "storm_cloud": 2, "fire": 1},
    "sadness": {"tear_drop": 4, "storm_cloud": 3, "moon": 2, "house": 1, "skull": 1},
}
# emotion → the scenes it leans on. The top-1 shares follow EmoSet's per emotion (official lists: sadness →
# cemetery 65 %, amusement → amusement park 43 %, disgust → landfill 40 %, but awe, contentment and fear at most
# 12–17 % on any one scene, excitement and anger 22–25 %): a pilot with every emotion on one signature scene
# (32–60 %) gave a base model that drew that scene for the bare emotion word and out-scored real images
# (sd / real Emo-A 1.03, above the 0.75–0.95 band)
SCENE_LEANS: dict[str, dict[str, float]] = {
    "amusement": {"carnival": 5, "room": 3, "beach": 2},
    "awe": {"night_sky": 3, "snowy_field": 3, "desert": 3, "underwater": 3, "meadow": 1, "forest": 1},
    "contentment": {"meadow": 3, "beach": 3, "forest": 3, "room": 2, "snowy_field": 1},
    "excitement": {"stage": 3, "city_street": 3, "carnival": 2, "night_sky": 1},
    "anger": {"city_street": 3, "stage": 2, "landfill": 2, "room": 2, "hospital": 1},
    "disgust": {"landfill": 5, "swamp": 4, "hospital": 2},
    "fear": {"cave": 3, "swamp": 3, "forest": 3, "night_sky": 2, "underwater": 2, "hospital": 1},
    "sadness": {"graveyard": 8, "hospital": 2, "room": 1},
}

# How caption text names each attribute (annotations keep EmoSet-style snake_case names). No content name holds an
# emotion word (EmoSet's "amusement park" is the carnival here): a content caption must not teach an emotion word.
OBJECT_WORDS: dict[str, str] = {o: o.replace("_", " ") for o in OBJECTS}
SCENE_PHRASES: dict[str, str] = {
    "beach": "on the beach", "forest": "in a forest", "night_sky": "under a night sky",
    "city_street": "on a city street", "room": "in a room", "desert": "in the desert",
    "snowy_field": "in a snowy field", "graveyard": "in a graveyard", "carnival": "at a carnival",
    "meadow": "in a meadow", "stage": "on a stage", "landfill": "at a landfill", "swamp": "in a swamp",
    "cave": "in a cave", "hospital": "in a hospital", "underwater": "under the sea",
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

    object_spread: float = 0.40      # share of p(object | e) spread evenly over every object
    scene_spread: float = 0.10       # … of p(scene | e) over every scene
    caption_emotion_frac: float = 0.25  # captions that name the emotion beside the content
    # captions that name only the emotion ("fear", "an image of fear", "something scary"), as web captions
    # often do; without them the base model never learns what an emotion word alone looks like
    caption_emotion_only_frac: float = 0.10
    # Weak global cue: positive emotions are rendered slightly brighter/more saturated, negative ones darker.
    # 0.06 in version 2; halved in 3, where the content is more ambiguous and 0.06 lifted a judge 4 points above
    # the content's Bayes rate (0.789 against 0.746 in the pilot) instead of about 1
    tone_shift: float = 0.03
    version: int = WORLD_VERSION
    objects: tuple[str, ...] = field(default=OBJECTS)
    scenes: tuple[str, ...] = field(default=SCENES)

    def to_json(self) -> dict:
        d = asdict(self)
        d["objects"], d["scenes"] = list(self.objects), list(self.scenes)
        # the leans are module constants: recorded here so that world.json and the world key carry them
        d["object_leans"] = {e: {o: w for o, w in OBJECT_LEANS[e].items() if o in self.objects} for e in EMOTIONS}
        d["scene_leans"] = {e: {s: w for s, w in SCENE_LEANS[e].items() if s in self.scenes} for e in EMOTIONS}
        return d


def _given_emotion(names: tuple[str, ...], leans: dict[str, dict[str, float]], spread: float) -> np.ndarray:
    table = np.empty((len(EMOTIONS), len(names)), dtype=np.float64)
    for i, e in enumerate(EMOTIONS):
        w = np.array([float(leans[e].get(n, 0.0)) for n in names])
        lean = w / w.sum() if w.sum() > 0 else np.full(len(names), 1.0 / len(names))
        table[i] = (1.0 - spread) * lean + spread / len(names)
    return table


def emotion_prior(cfg: WorldConfig | None = None) -> np.ndarray:
    """[8] P(e): uniform, the first draw of every image."""
    return np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))


def object_given_emotion(cfg: WorldConfig | None = None) -> np.ndarray:
    """[8, n_objects] p(object | e), rows in ``EMOTIONS`` order: the content truth a method's objects are held to."""
    cfg = cfg or WorldConfig()
    return _given_emotion(cfg.objects, OBJECT_LEANS, cfg.object_spread)


def scene_given_emotion(cfg: WorldConfig | None = None) -> np.ndarray:
    """[8, n_scenes] p(scene | e), rows in ``EMOTIONS`` order."""
    cfg = cfg or WorldConfig()
    return _given_emotion(cfg.scenes, SCENE_LEANS, cfg.scene_spread)


def joint_table(cfg: WorldConfig | None = None) -> np.ndarray:
    """[n_objects, n_scenes, 8] P(object, scene, emotion) = P(e) p(object | e) p(scene | e): the exact joint."""
    cfg = cfg or WorldConfig()
    po, ps = object_given_emotion(cfg), scene_given_emotion(cfg)       # [8, O], [8, S]
    return np.einsum("e,eo,es->ose", emotion_prior(cfg), po, ps)


def pair_prior(cfg: WorldConfig | None = None) -> np.ndarray:
    """[n_objects, n_scenes] P(object, scene)."""
    return joint_table(cfg).sum(axis=-1)


def emotion_table(cfg: WorldConfig | None = None) -> np.ndarray:
    """[n_objects, n_scenes, 8] p(e | object, scene): what a label given its content follows."""
    j = joint_table(cfg)
    return j / j.sum(axis=-1, keepdims=True)      # every pair has mass: the spread reaches every content


def object_prior(cfg: WorldConfig | None = None) -> np.ndarray:
    """[n_objects] P(object)."""
    return pair_prior(cfg).sum(axis=1)


def scene_prior(cfg: WorldConfig | None = None) -> np.ndarray:
    """[n_scenes] P(scene)."""
    return pair_prior(cfg).sum(axis=0)


def object_table(cfg: WorldConfig | None = None) -> np.ndarray:
    """[n_objects, 8] p(e | object): what the object alone says about the emotion."""
    j = joint_table(cfg).sum(axis=1)
    return j / j.sum(axis=1, keepdims=True)


def scene_table(cfg: WorldConfig | None = None) -> np.ndarray:
    """[n_scenes, 8] p(e | scene)."""
    j = joint_table(cfg).sum(axis=0)
    return j / j.sum(axis=1, keepdims=True)


def bayes_accuracy(cfg: WorldConfig | None = None) -> float:
    """Exact best emotion accuracy from content: Σ_(o,s) max_e P(o, s, e).

    The weak brightness/saturation cue is not counted (it is a per-image tone shift, not content).
    """
    return float(joint_table(cfg).max(axis=-1).sum())


def emotion_marginal(cfg: WorldConfig | None = None) -> np.ndarray:
    """[8] P(e) implied by the tables (the uniform prior: the tables condition on it)."""
    return joint_table(cfg).sum(axis=(0, 1))


def world_stats(cfg: WorldConfig | None = None) -> dict:
    """Exact ``ContentStats`` of the world for ``object``, ``scene`` and ``object+scene``."""
    from emobench.world.stats import content_stats

    cfg = cfg or WorldConfig()
    j = joint_table(cfg)                                   # [O, S, 8]
    pairs = [f"{o}|{s}" for o in cfg.objects for s in cfg.scenes]
    return {"object": content_stats(j.sum(axis=1).T, cfg.objects, "object"),
            "scene": content_stats(j.sum(axis=0).T, cfg.scenes, "scene"),
            "object+scene": content_stats(j.reshape(-1, len(EMOTIONS)).T, pairs, "object+scene")}


def tables_markdown(cfg: WorldConfig | None = None) -> str:
    """The tables, marginals and Bayes rates as Markdown (pasted into docs/emoset-mini.md)."""
    cfg = cfg or WorldConfig()
    head = "| | " + " | ".join(EMOTIONS) + " | P |\n|---|" + "---|" * (len(EMOTIONS) + 1) + "\n"

    def rows(names, table, prior):
        return "".join(f"| {n} | " + " | ".join(f"{x:.3f}" if x >= 0.0005 else "·" for x in row) + f" | {p:.3f} |\n"
                       for n, row, p in zip(names, table.T, prior))

    st = world_stats(cfg)
    return (f"p(object | e) = {1 - cfg.object_spread:.2f}·lean_e + {cfg.object_spread:.2f}/{len(cfg.objects)}, "
            f"p(scene | e) = {1 - cfg.scene_spread:.2f}·lean_e + {cfg.scene_spread:.2f}/{len(cfg.scenes)}, "
            "P(e) = 1/8\n\n**p(object | emotion)** (columns sum to 1; P = the object's share of all images)\n\n"
            + head + rows(cfg.objects, object_given_emotion(cfg), object_prior(cfg))
            + "\n**p(scene | emotion)**\n\n" + head + rows(cfg.scenes, scene_given_emotion(cfg), scene_prior(cfg))
            + "\n**Bayes-optimal emotion accuracy** from the object alone "
            f"{st['object'].bayes_accuracy:.4f}, from the scene alone {st['scene'].bayes_accuracy:.4f}; "
            f"I(E; object) = {st['object'].mutual_information:.3f} bits, "
            f"I(E; scene) = {st['scene'].mutual_information:.3f} bits.\n\n"
            f"**Bayes-optimal emotion accuracy from content: {bayes_accuracy(cfg):.4f}**\n")
