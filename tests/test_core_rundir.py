"""The lowest floor and the run folder's records: atomic writes leave no temp file, one cache root, one
quantisation, clear manifest errors."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from emobench.io import files, images
from emobench.rundir import layout


def test_atomic_write_replaces_and_cleans_up_on_error(tmp_path):
    target = tmp_path / "sub" / "summary.csv"
    files.atomic_write_text(target, "old\n")
    assert target.read_text() == "old\n"

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(target, broken)
    assert target.read_text() == "old\n"                      # the old file is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["summary.csv"]   # no temp file left


def test_cache_root_treats_empty_as_unset(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOBENCH_CACHE", "")
    assert files.cache_root() == Path.home() / ".cache" / "emobench"
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path))
    assert files.cache_root() == tmp_path


def test_png_round_trip_is_the_one_quantisation(tmp_path):
    img = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    back = images.decode_png(images.png_bytes(img))
    assert torch.equal((back * 255).round().to(torch.uint8), images.to_uint8(img))
    assert files.sha256_bytes(images.png_bytes(img)) == files.sha256_bytes(images.png_bytes(img))


def test_manifest_errors_are_clear(tmp_path):
    from emobench.errors import EmobenchError

    with pytest.raises(EmobenchError, match="no manifest.jsonl"):
        layout.read_manifest(tmp_path)
    assert layout.read_manifest(tmp_path, required=False) == []
    (tmp_path / "manifest.jsonl").write_text("{not json\n")
    with pytest.raises(EmobenchError, match="not a valid manifest line"):
        layout.read_manifest(tmp_path)
