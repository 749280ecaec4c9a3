"""The shipped mini zoo against this checkout's EmoSet-mini world.

The zoo records the key of the world it was trained on, and loading its dataset refuses another world. When the
world changes (a new world version), the shipped zoo must be rebuilt: one test says so
(``test_zoo_shipped.test_shipped_zoo_is_built_on_this_world`` fails, naming the rebuild), and the tests that
measure the shipped zoo's models on the world's images skip with the same reason instead of failing a dozen
ways on judges whose labels no longer match the world's."""
from __future__ import annotations

import json

import pytest


def shipped_world_problem() -> str | None:
    """None when the shipped mini zoo was built on this checkout's world, else what is wrong and what to do."""
    from emobench.world import WorldConfig
    from emobench.world.write import world_key
    from emobench.zoo.load import SHIPPED_MINI

    ds = json.loads((SHIPPED_MINI / "zoo.json").read_text()).get("dataset", {})
    cfg = WorldConfig()
    key = world_key(int(ds["seed"]), int(ds["n_train"]), int(ds["n_val"]), int(ds["n_test"]), cfg)
    if ds.get("world_key") == key:
        return None
    return (f"the shipped mini zoo was built on EmoSet-mini world key {str(ds.get('world_key'))[:12]}, this "
            f"checkout draws world version {cfg.version} (key {key[:12]}): rebuild the zoo, refit its panel and "
            "prefits (docs/emoset-mini.md, 'Rebuilding the mini zoo')")


def require_shipped_world() -> None:
    """Skip (with the reason) a test that measures the shipped zoo on this checkout's world when they differ."""
    problem = shipped_world_problem()
    if problem:
        pytest.skip(problem)
