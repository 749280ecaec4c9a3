"""EmoSet-mini: a procedural, CPU-cheap stand-in for EmoSet where emotion is carried by content.

Public API (the zoo trainer and ``emobench zoo world`` use these):

* ``write_emoset_mini(out_dir, seed=0, n_train=20000, n_val=2000, n_test=2000, config=None, workers=1) -> Path``
* ``ensure_emoset_mini(seed=0, n_train=20000, n_val=2000, n_test=2000, config=None, cache_dir=None, workers=2) -> Path``
* ``sample_world(seed=0, n=1000, split="train", config=None) -> (uint8 [n,32,32,3], list[dict])``
* ``render_batch(objects, scenes, seed=0, emotions=None, config=None) -> uint8 [N,32,32,3]``
* ``bayes_accuracy(config=None) -> float``, ``WorldConfig``, ``OBJECTS``, ``SCENES``
* the exact tables: ``joint_table``, ``object_given_emotion``, ``scene_given_emotion``, ``emotion_table``,
  ``emotion_marginal``, and ``world_stats`` (entropies, I(E; C), Bayes rates per kind of content)
"""
from emobench.world.sample import caption_for, render_batch, sample_world
from emobench.world.tables import (OBJECTS, SCENES, WorldConfig, bayes_accuracy, emotion_marginal, emotion_table,
                                   joint_table, object_given_emotion, scene_given_emotion, tables_markdown,
                                   world_stats)
from emobench.world.write import ensure_emoset_mini, write_emoset_mini

__all__ = ["OBJECTS", "SCENES", "WorldConfig", "bayes_accuracy", "caption_for", "emotion_marginal",
           "emotion_table", "ensure_emoset_mini", "joint_table", "object_given_emotion", "scene_given_emotion",
           "render_batch", "sample_world", "tables_markdown", "world_stats", "write_emoset_mini"]
