"""EmoSet-mini emotion tables: Bayes rate from the tables, and that sampled labels follow them."""
import dataclasses

import numpy as np
from emobench.emotions import EMOTIONS
from emobench.world import (OBJECTS, SCENES, WorldConfig, bayes_accuracy, emotion_marginal, emotion_table,
                            sample_world)
from emobench.world.sample import sample_content
from emobench.world.tables import pair_prior


def test_world_vocabulary_sizes():
    assert len(OBJECTS) >= 10 and len(SCENES) >= 8


def test_tables_are_distributions():
    t = emotion_table(WorldConfig())
    assert t.shape == (len(OBJECTS), len(SCENES), len(EMOTIONS))
    np.testing.assert_allclose(t.sum(-1), 1.0)
    np.testing.assert_allclose(pair_prior(WorldConfig()).sum(), 1.0)


def test_bayes_rate_in_target_band():
    rate = bayes_accuracy(WorldConfig())
    assert 0.70 <= rate <= 0.85


def test_bayes_rate_moves_with_table_sharpness():
    cfg = WorldConfig()
    softer = dataclasses.replace(cfg, object_primary=0.6, object_secondary=0.2, w_object=0.6)
    assert bayes_accuracy(softer) < bayes_accuracy(cfg) - 0.1


def test_empirical_argmax_accuracy_matches_bayes_rate():
    cfg = WorldConfig()
    table = emotion_table(cfg)
    # labels exactly as sample_world draws them (content is sampled before any pixel is drawn)
    c = sample_content(np.random.default_rng(5), 20000, cfg)
    acc = np.mean(table[c.objects, c.scenes].argmax(-1) == c.emotions)
    rate = bayes_accuracy(cfg)
    se = np.sqrt(rate * (1 - rate) / len(c.emotions))
    assert abs(acc - rate) < 4 * se, (acc, rate)
    # and the empirical emotion frequencies follow the table's marginal
    freq = np.bincount(c.emotions, minlength=len(EMOTIONS)) / len(c.emotions)
    np.testing.assert_allclose(freq, emotion_marginal(cfg), atol=0.015)


def test_written_labels_follow_the_table():
    _, anns = sample_world(seed=5, n=600)
    table = emotion_table(WorldConfig())
    pred = [EMOTIONS[int(np.argmax(table[OBJECTS.index(a["object"][0]), SCENES.index(a["scene"])]))] for a in anns]
    acc = np.mean([p == a["emotion"] for p, a in zip(pred, anns)])
    assert 0.70 <= acc <= 0.83, acc


def test_published_tables_match_code():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[1] / "docs" / "emoset-mini.md").read_text()
    assert f"Bayes-optimal emotion accuracy from content: {bayes_accuracy(WorldConfig()):.4f}" in doc


def test_content_given_emotion_is_bayes_consistent_with_the_label_table():
    from emobench.world import joint_table, object_given_emotion, scene_given_emotion
    cfg = WorldConfig()
    po, ps = object_given_emotion(cfg), scene_given_emotion(cfg)
    assert po.shape == (8, len(cfg.objects)) and ps.shape == (8, len(cfg.scenes))
    np.testing.assert_allclose(po.sum(axis=1), 1.0)
    np.testing.assert_allclose(ps.sum(axis=1), 1.0)
    # p(o|e) P(e) summed over e is P(o): the joint is the product the world draws from
    marg = emotion_marginal(cfg)
    np.testing.assert_allclose((po * marg[:, None]).sum(axis=0), joint_table(cfg).sum(axis=(1, 2)))
    np.testing.assert_allclose(joint_table(cfg).sum(), 1.0)
