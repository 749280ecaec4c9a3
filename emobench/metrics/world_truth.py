"""At mini scale the world's truth is known: how far is the judged content of a method's images from the world's
exact p(content | emotion)?

EmoSet-mini is drawn from tables (``emobench.world.tables``): every emotion has an exact distribution over
objects and over scenes (``object_given_emotion(cfg)``, ``scene_given_emotion(cfg)``, rows in ``EMOTIONS``
order). ``content-tv`` is, per emotion, the total-variation distance between the histogram of what the zoo's
object judge sees in a method's images and the world's p(object | emotion), averaged with the same distance for
scenes (0: the method draws the emotion's content exactly as often as the world does; 1: never any content the
world shows with that emotion). The ``all`` row is the mean over emotions; the interval is the scorer's
bootstrap over cells (and fits). Per-head values are in ``summary.json`` (``object_tv``, ``scene_tv``).

What it also measures: the judges' own errors and the sampling noise of n images. The real control (held-out
images drawn from the world) reads the floor at the run's n: a method is as close to the truth as real images
are when its interval overlaps the control's.

The world's config is learned from the zoo: its dataset's ``world.json`` (written with EmoSet-mini; the mini
zoo's ``zoo.json`` names the world by key, checked here). A zoo without one (paper scale, a custom zoo, real
EmoSet) has no world truth, and the metric says so instead of scoring.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from emobench.api import Group, GroupStat, ScoreItem, ScoringContext, SetMetric
from emobench.emotions import EMOTION_INDEX
from emobench.errors import EmobenchError
from emobench.metrics.content_coverage import HEADS, HeadsStat, content_labels

if TYPE_CHECKING:  # pragma: no cover
    from emobench.world.tables import WorldConfig
    from emobench.zoo.base import Zoo

NO_TRUTH_FIX = "content-tv needs an EmoSet-mini world (the mini zoo or a zoo built by `emobench zoo build mini`)"


def world_config(zoo: "Zoo") -> "WorldConfig":
    """The config of the world the zoo's dataset was drawn from; EmobenchError when the zoo has no world."""
    from emobench.world.tables import WorldConfig

    if zoo.scale == "paper":
        raise EmobenchError("no world truth at paper scale: EmoSet's p(content | emotion) is unknown", NO_TRUTH_FIX)
    root = getattr(zoo.dataset, "root", None)
    path = Path(root) / "world.json" if root is not None else None
    if path is None or not path.is_file():
        raise EmobenchError(f"zoo {zoo.name!r} has no world truth: its dataset is not an EmoSet-mini world "
                            "(no world.json)", NO_TRUTH_FIX)
    meta = json.loads(path.read_text())
    raw = meta.get("config") if isinstance(meta, dict) and meta.get("format") == "emoset-mini" else None
    known = {f.name for f in dataclasses.fields(WorldConfig)}
    recorded = {"object_leans", "scene_leans"}   # module constants, written beside the config for the world key
    if not isinstance(raw, dict) or set(raw) - known - recorded:
        raise EmobenchError(f"{path} describes a world this emobench cannot read "
                            f"(fields {sorted(set(raw or {}) - known - recorded) or 'missing'})",
                            "score with the emobench version that wrote the dataset")
    cfg = WorldConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in known})
    mine = cfg.to_json()
    if any(k in raw and raw[k] != mine[k] for k in recorded):
        raise EmobenchError(f"{path} was drawn with other content leans than this emobench's world tables",
                            "score with the emobench version that wrote the dataset, or rebuild the zoo")
    _check_zoo_key(zoo, meta, cfg)
    return cfg


def _check_zoo_key(zoo: "Zoo", meta: dict, cfg: "WorldConfig") -> None:
    """The zoo's own record of its world (``zoo.json``: dataset kind, seed, sizes, world key) must name this one."""
    from emobench.world.write import world_key

    zoo_json = Path(zoo.root) / "zoo.json" if zoo.root is not None else None
    spec = json.loads(zoo_json.read_text()).get("dataset") if zoo_json is not None and zoo_json.is_file() else None
    if not isinstance(spec, dict) or not spec.get("world_key"):
        return
    key = world_key(int(meta["seed"]), int(meta["n_train"]), int(meta["n_val"]), int(meta["n_test"]), cfg)
    if key != spec["world_key"]:
        raise EmobenchError(f"the zoo's dataset is world {key[:12]}…, its zoo.json names {spec['world_key'][:12]}…",
                            "use the dataset the zoo was built on")


def truth_on_labels(truth: np.ndarray, world_names: Sequence[str], labels: Sequence[str]) -> torch.Tensor:
    """The world's distribution ``truth [C_world]`` laid out on a judge's labels, plus one slot for the world's
    mass on names the judge cannot say (unreachable: it always counts as distance)."""
    index = {name: i for i, name in enumerate(labels)}
    out = torch.zeros(len(labels) + 1, dtype=torch.float64)
    for name, p in zip(world_names, truth):
        out[index.get(name, len(labels))] += float(p)
    return out


class ContentTruthDistance(SetMetric):
    name = "content-tv"
    label, decimals, order = "Content TV to world truth", 3, 32
    requires = ("judges.object", "judges.scene", "dataset")
    higher_is_better = False

    def __init__(self, config: Any = None):
        super().__init__(config)
        self.world: "WorldConfig | None" = None

    def prepare(self, zoo: "Zoo") -> None:
        self.world = world_config(zoo)

    def display(self) -> dict[str, dict[str, Any]]:
        facts = super().display()
        facts[self.name].update(judges=list(HEADS), reference="the world's exact p(content | emotion)")
        return facts

    def feature_id(self) -> list:
        return ["content-labels"]   # the same cached judge labels as content-coverage

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        return content_labels(images, zoo, self.batch_size)

    def group_stat(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        from emobench.world.tables import object_given_emotion, scene_given_emotion

        if self.world is None:
            raise RuntimeError("content-tv: prepare(zoo) was not called before scoring")
        if group.emotion not in EMOTION_INDEX:
            raise EmobenchError(f"{group.emotion!r} is not an emotion of the world", "score the eight emotions")
        row = EMOTION_INDEX[group.emotion]
        targets, sizes = [], []
        for head, table, names in (("object", object_given_emotion(self.world), self.world.objects),
                                   ("scene", scene_given_emotion(self.world), self.world.scenes)):
            labels = list(getattr(zoo.judges, head).labels)
            targets.append(truth_on_labels(table[row], names, labels))
            sizes.append(len(labels) + 1)
        return HeadsStat(group.features(), targets, sizes, "tv", {"n_fake": group.n})
