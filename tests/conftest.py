"""Fixtures shared by the test modules: a tiny zoo (built once per session, in seconds, by
``emobench.testing.tiny``), loaded once per module, and a cache folder of the test's own. Shared fakes live in
``tests/support/`` (test modules never import each other)."""
from __future__ import annotations

from pathlib import Path

import pytest

from emobench.testing.tiny import tiny_zoo
from emobench.zoo.load import load_zoo


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory) -> Path:
    """The tiny zoo's folder (pipeline, CLIP, judges, dataset)."""
    return tiny_zoo(tmp_path_factory)


@pytest.fixture(scope="module")
def zoo(zoo_dir):
    """The tiny zoo loaded with its dataset; one per test module, so a module cannot leak state into another."""
    return load_zoo(zoo_dir)


@pytest.fixture
def isolated_cache(monkeypatch, tmp_path) -> Path:
    """``$EMOBENCH_CACHE`` (fits, features) in the test's own temporary folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EMOBENCH_CACHE", str(cache))
    return cache
