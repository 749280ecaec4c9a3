"""EmoSet-mini emotion tables (world version 3): the generative tables, their targets, the Bayes rates, and that
sampled labels and contents follow them."""
import dataclasses

import numpy as np
import pytest

from emobench.emotions import EMOTIONS
from emobench.world import (OBJECTS, SCENES, WorldConfig, bayes_accuracy, emotion_marginal, emotion_table,
                            joint_table, object_given_emotion, scene_given_emotion, sample_world, world_stats)
from emobench.world.sample import sample_content
from emobench.world.tables import OBJECT_LEANS, SCENE_LEANS, WORLD_VERSION, object_table, pair_prior, scene_table


def test_world_vocabulary_sizes():
    assert WORLD_VERSION == 3
    assert len(OBJECTS) >= 20 and len(SCENES) >= 14
    # every leaned-on content is in the vocabulary, and every content is leaned on by some emotion
    assert {o for lean in OBJECT_LEANS.values() for o in lean} == set(OBJECTS)
    assert {s for lean in SCENE_LEANS.values() for s in lean} == set(SCENES)


def test_tables_are_distributions():
    cfg = WorldConfig()
    t = emotion_table(cfg)
    assert t.shape == (len(OBJECTS), len(SCENES), len(EMOTIONS))
    np.testing.assert_allclose(t.sum(-1), 1.0)
    np.testing.assert_allclose(pair_prior(cfg).sum(), 1.0)
    np.testing.assert_allclose(object_table(cfg).sum(-1), 1.0)
    np.testing.assert_allclose(scene_table(cfg).sum(-1), 1.0)
    assert (pair_prior(cfg) > 0).all()           # the spread reaches every (object, scene) pair


def test_v3_targets_hold_on_the_exact_tables():
    """The targets stated in docs/emoset-mini.md (and checked by `emobench zoo check`)."""
    st = world_stats()
    assert 0.5 <= st["object"].mutual_information <= 0.9
    assert 1.0 <= st["scene"].mutual_information <= 1.8
    assert st["object"].bayes_accuracy <= 0.50 and st["scene"].bayes_accuracy >= 0.55
    assert 0.65 <= bayes_accuracy() <= 0.85
    assert max(st["object"].top1_share.values()) <= 0.35
    # the scene says more about the emotion than the object, as in EmoSet
    assert st["scene"].mutual_information > st["object"].mutual_information
    assert st["object+scene"].bayes_accuracy == pytest.approx(bayes_accuracy())


def test_objects_and_scenes_are_independent_given_the_emotion():
    cfg = WorldConfig()
    j = joint_table(cfg)                                          # [O, S, 8]
    pe = j.sum(axis=(0, 1))
    prod = np.einsum("eo,es,e->ose", object_given_emotion(cfg), scene_given_emotion(cfg), pe)
    np.testing.assert_allclose(j, prod, atol=1e-12)
    np.testing.assert_allclose(pe, 1 / 8)


def test_bayes_rate_moves_with_the_spread():
    cfg = WorldConfig()
    spread = dataclasses.replace(cfg, object_spread=0.9, scene_spread=0.9)
    sharp = dataclasses.replace(cfg, object_spread=0.0, scene_spread=0.0)
    assert bayes_accuracy(spread) < bayes_accuracy(cfg) - 0.2 < bayes_accuracy(sharp) - 0.2


def test_a_smaller_vocabulary_keeps_the_tables_proper():
    cfg = dataclasses.replace(WorldConfig(), objects=OBJECTS[:12], scenes=SCENES[:8])
    np.testing.assert_allclose(object_given_emotion(cfg).sum(axis=1), 1.0)
    np.testing.assert_allclose(joint_table(cfg).sum(), 1.0)
    assert set(cfg.to_json()["object_leans"]["awe"]) <= set(OBJECTS[:12])
    assert cfg.to_json() != WorldConfig().to_json()


def test_sampled_content_follows_the_tables():
    cfg = WorldConfig()
    table = emotion_table(cfg)
    c = sample_content(np.random.default_rng(5), 40000, cfg)
    acc = np.mean(table[c.objects, c.scenes].argmax(-1) == c.emotions)
    rate = bayes_accuracy(cfg)
    se = np.sqrt(rate * (1 - rate) / len(c.emotions))
    assert abs(acc - rate) < 4 * se, (acc, rate)
    freq = np.bincount(c.emotions, minlength=len(EMOTIONS)) / len(c.emotions)
    np.testing.assert_allclose(freq, emotion_marginal(cfg), atol=0.01)
    fear = c.emotions == EMOTIONS.index("fear")
    obj = np.bincount(c.objects[fear], minlength=len(OBJECTS)) / fear.sum()
    np.testing.assert_allclose(obj, object_given_emotion(cfg)[EMOTIONS.index("fear")], atol=0.02)
    scn = np.bincount(c.scenes[fear], minlength=len(SCENES)) / fear.sum()
    np.testing.assert_allclose(scn, scene_given_emotion(cfg)[EMOTIONS.index("fear")], atol=0.02)


def test_written_labels_follow_the_table():
    _, anns = sample_world(seed=5, n=1000)
    table = emotion_table(WorldConfig())
    pred = [EMOTIONS[int(np.argmax(table[OBJECTS.index(a["object"][0]), SCENES.index(a["scene"])]))] for a in anns]
    acc = np.mean([p == a["emotion"] for p, a in zip(pred, anns)])
    assert abs(acc - bayes_accuracy()) < 0.06, acc


def test_published_tables_match_code():
    from pathlib import Path

    from emobench.world import tables_markdown

    doc = (Path(__file__).resolve().parents[1] / "docs" / "emoset-mini.md").read_text()
    assert f"Bayes-optimal emotion accuracy from content: {bayes_accuracy(WorldConfig()):.4f}" in doc
    assert tables_markdown().strip() in doc


def test_content_given_emotion_is_bayes_consistent_with_the_label_table():
    cfg = WorldConfig()
    po, ps = object_given_emotion(cfg), scene_given_emotion(cfg)
    assert po.shape == (8, len(cfg.objects)) and ps.shape == (8, len(cfg.scenes))
    np.testing.assert_allclose(po.sum(axis=1), 1.0)
    np.testing.assert_allclose(ps.sum(axis=1), 1.0)
    # p(o|e) P(e) summed over e is P(o): the joint is the product the world draws from
    marg = emotion_marginal(cfg)
    np.testing.assert_allclose((po * marg[:, None]).sum(axis=0), joint_table(cfg).sum(axis=(1, 2)))
    np.testing.assert_allclose(joint_table(cfg).sum(), 1.0)
    # and p(e | object, scene) is Bayes' rule on them
    e = EMOTIONS.index("sadness")
    o, s = OBJECTS.index("skull"), SCENES.index("graveyard")
    num = marg * po[:, o] * ps[:, s]
    assert emotion_table(cfg)[o, s, e] == pytest.approx(num[e] / num.sum())
