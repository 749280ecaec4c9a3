"""The tiny zoo for tests of emobench and of its plugins: ``build_tiny_zoo(out_dir)`` writes one (the builder
lives in ``emobench.zoo.tiny``), ``tiny_zoo(tmp_path_factory)`` builds it once per pytest session.

    from emobench.testing.tiny import build_tiny_zoo, tiny_zoo
    @pytest.fixture(scope="session")
    def zoo_dir(tmp_path_factory):
        return tiny_zoo(tmp_path_factory)               # built once per test session, then reused
"""
from __future__ import annotations

from pathlib import Path

from emobench.zoo.tiny import TINY_DATASET_SIZES, TINY_SAMPLING, build_tiny_zoo

__all__ = ["TINY_DATASET_SIZES", "TINY_SAMPLING", "build_tiny_zoo", "tiny_zoo"]

_SESSION_ZOOS: dict[int, Path] = {}


def tiny_zoo(tmp_path_factory, seed: int = 0) -> Path:
    """Session-cached tiny zoo for pytest: build once per (process, seed) under ``tmp_path_factory``.
    Treat the folder as read-only (copy it first if a test must change it)."""
    path = _SESSION_ZOOS.get(seed)
    if path is None or not (path / "zoo.json").is_file():
        path = build_tiny_zoo(tmp_path_factory.mktemp(f"tiny-zoo-{seed}"), seed)
        _SESSION_ZOOS[seed] = path
    return path
