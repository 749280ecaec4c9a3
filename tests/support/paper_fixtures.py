"""A paper-zoo TOML pointing at tiny saved models: the tiny zoo's SD pipeline, CLIP and EmoSet-format dataset,
plus randomly initialised judges in the paper's own file formats, written by the same code as
``emobench zoo make-tiny-paper`` (``emobench.zoo.tiny_paper``). The session's tiny zoo is reused for the
pipeline, CLIP and data, which keeps the tests fast; test_paper_zoo checks make-tiny-paper itself.
"""
from __future__ import annotations

from pathlib import Path

from emobench.zoo.tiny_paper import paper_toml, write_judge_files

__all__ = ["write_judge_files", "write_paper_toml"]


def write_paper_toml(path: Path, zoo_dir: Path, judges: dict[str, Path], probe: str = "emo-a-probe") -> Path:
    return paper_toml(path, zoo_dir / "pipeline", zoo_dir / "clip", zoo_dir / "dataset", judges, probe)
