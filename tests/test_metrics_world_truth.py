"""The distance of a method's judged content to the world's exact p(content | emotion), on a synthetic world
(another WorldConfig than the default, learned from the dataset's world.json): an oracle judge and images drawn
in the world's exact proportions give the distance of the rounding alone, one object drawn always gives
1 − p(that object | emotion); a zoo without a world is refused with the reason."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from emobench.api import Group, ScoreItem, ScoringContext
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.metrics.world_truth import ContentTruthDistance, truth_on_labels, world_config
from emobench.world.tables import WorldConfig, object_given_emotion, scene_given_emotion
from emobench.world.write import world_json
from emobench.zoo.base import Judges, Zoo

WORLD = WorldConfig(object_spread=0.55, scene_spread=0.25, tone_shift=0.05)   # not the default world


def _world_zoo(tmp_path, cfg: WorldConfig = WORLD, scale: str = "mini") -> Zoo:
    root = tmp_path / "dataset"
    root.mkdir(parents=True, exist_ok=True)
    (root / "world.json").write_text(json.dumps(world_json(0, 10, 2, 2, cfg)))
    judges = Judges(object=SimpleNamespace(labels=list(reversed(cfg.objects))),   # another label order
                    scene=SimpleNamespace(labels=list(cfg.scenes)))
    return Zoo(name="synthetic-world", scale=scale, pipeline=None, judges=judges,
               dataset=SimpleNamespace(root=root), hashes={})


def _allocate(p: np.ndarray, n: int) -> np.ndarray:
    """n draws in the proportions p, largest remainders first (deterministic)."""
    base = np.floor(p * n).astype(int)
    rest = np.argsort(-(p * n - base), kind="stable")[: n - base.sum()]
    base[rest] += 1
    return base


def _labels(counts: np.ndarray, names, labels) -> list[int]:
    return [labels.index(names[i]) for i, c in enumerate(counts) for _ in range(int(c))]


def test_world_config_is_learned_from_the_dataset(tmp_path):
    zoo = _world_zoo(tmp_path)
    assert world_config(zoo) == WORLD


@pytest.mark.parametrize("emotion", ["awe", "fear"])
def test_exact_proportions_and_one_object(tmp_path, emotion):
    zoo = _world_zoo(tmp_path)
    metric = ContentTruthDistance()
    metric.prepare(zoo)
    row = EMOTIONS.index(emotion)
    p_obj, p_scene = object_given_emotion(WORLD)[row], scene_given_emotion(WORLD)[row]
    n = 400
    objs, scenes = _allocate(p_obj, n), _allocate(p_scene, n)
    obj_labels, scene_labels = zoo.judges.object.labels, zoo.judges.scene.labels
    feats = torch.tensor([_labels(objs, WORLD.objects, obj_labels), _labels(scenes, WORLD.scenes, scene_labels)],
                         dtype=torch.float32).T
    items = [ScoreItem(emotion, "x", f"i{i}") for i in range(n)]
    stat = metric.group_stat(Group("m", emotion, items, features=lambda: feats, images=lambda: None),
                             ScoringContext(lambda e: None), zoo)
    want = (np.abs(objs / n - p_obj).sum() / 2 + np.abs(scenes / n - p_scene).sum() / 2) / 2
    assert float(stat.evaluate(torch.ones(1, n, dtype=torch.float64))) == pytest.approx(want, abs=1e-12)
    assert want < 0.01
    # every image shows the emotion's most likely object and scene: TV = 1 − p(that content | emotion)
    top_o, top_s = int(p_obj.argmax()), int(p_scene.argmax())
    one = torch.tensor([[obj_labels.index(WORLD.objects[top_o]), scene_labels.index(WORLD.scenes[top_s])]] * n,
                       dtype=torch.float32)
    stat = metric.group_stat(Group("m", emotion, items, features=lambda: one, images=lambda: None),
                             ScoringContext(lambda e: None), zoo)
    assert float(stat.evaluate(torch.ones(1, n, dtype=torch.float64))) == pytest.approx(
        ((1 - p_obj[top_o]) + (1 - p_scene[top_s])) / 2, abs=1e-12)
    assert stat.extra["n_fake"] == n


def test_mass_on_names_the_judge_cannot_say_always_counts():
    out = truth_on_labels(np.array([0.5, 0.3, 0.2]), ["a", "b", "c"], ["b", "a"])
    assert out.tolist() == [0.3, 0.5, 0.2]


def test_no_world_no_score(tmp_path):
    with pytest.raises(EmobenchError, match="paper scale"):
        world_config(_world_zoo(tmp_path, scale="paper"))
    bare = Zoo(name="custom", scale="custom", pipeline=None, dataset=SimpleNamespace(root=tmp_path / "none"))
    with pytest.raises(EmobenchError, match="no world truth"):
        ContentTruthDistance().prepare(bare)


def test_the_tiny_zoo_names_its_world(zoo):
    assert world_config(zoo) == WorldConfig()
