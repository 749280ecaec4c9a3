"""EmoSet-mini on disk: byte-identical rewrites, EmoSet layout, the loader reads it, cache, bad input."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emobench.data import EmoSetDataset
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.world import ensure_emoset_mini, sample_world, write_emoset_mini

SIZES = dict(seed=7, n_train=60, n_val=12, n_test=12)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return write_emoset_mini(tmp_path_factory.mktemp("w") / "mini", **SIZES)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_writes_are_byte_identical(world, tmp_path):
    again = write_emoset_mini(tmp_path / "again", workers=2, **SIZES)
    assert _files(world) == _files(again)


def test_layout_and_split_format(world):
    for name in ("train", "val", "test"):
        rows = json.loads((world / f"{name}.json").read_text())
        assert len(rows) == SIZES[f"n_{name}"]
        for emotion, image_id, img, ann in rows:
            assert img == f"image/{emotion}/{image_id}.png" and ann == f"annotation/{emotion}/{image_id}.json"
            assert (world / img).is_file()
            a = json.loads((world / ann).read_text())
            assert {"emotion", "brightness", "colorfulness", "scene", "object", "caption"} <= set(a)
            assert a["emotion"] == emotion and isinstance(a["object"], list)
    meta = json.loads((world / "world.json").read_text())
    assert meta["seed"] == 7 and meta["bayes_accuracy"] >= 0.70 and meta["version"] >= 1


def test_loader_reads_what_writer_wrote(world):
    ds = EmoSetDataset(world)
    splits = {n: ds.split(n) for n in ("train", "val", "test")}
    assert [len(v) for v in splits.values()] == [60, 12, 12]
    ids = [{s.id for s in v} for v in splits.values()]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    imgs = ds.load_images(splits["train"][:5])
    assert imgs.shape == (5, 3, 32, 32) and imgs.dtype == torch.float32 and 0 <= imgs.min() and imgs.max() <= 1
    mem, anns = sample_world(seed=7, n=60)  # the in-memory API gives the written training split
    assert torch.equal(imgs, torch.from_numpy(mem[:5]).permute(0, 3, 1, 2).float() / 255)
    assert [s.caption for s in splits["train"]] == [a["caption"] for a in anns]
    assert ds.load_images(splits["val"][:2], size=16).shape == (2, 3, 16, 16)
    assert set(ds.objects) >= {s.objects[0] for s in splits["train"]}
    assert all(s.emotion == "fear" for s in ds.by_emotion("train", "fear"))
    assert len(ds.content_hash) == 16 and ds.content_hash == EmoSetDataset(world).content_hash


def test_real_emoset_style_folder_without_caption(tmp_path):
    root = tmp_path / "EmoSet"
    for sub in ("image/awe", "annotation/awe"):
        (root / sub).mkdir(parents=True)
    from PIL import Image
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(root / "image/awe/awe_00001.jpg")
    (root / "annotation/awe/awe_00001.json").write_text(json.dumps(
        {"emotion": "awe", "brightness": 0.5, "colorfulness": 0.3, "scene": "mountain_snowy", "object": ["Sky"]}))
    (root / "train.json").write_text(json.dumps([["awe", "awe_00001", "image/awe/awe_00001.jpg",
                                                  "annotation/awe/awe_00001.json"]]))
    for s in ("val", "test"):
        (root / f"{s}.json").write_text("[]")
    ds = EmoSetDataset(root)
    (s,) = ds.split("train")
    assert ds.caption(s) == "a photo of a sky in a mountain snowy"
    assert ds.load_images([s], size=24).shape == (1, 3, 24, 24)
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(root / "image/awe/small.png")
    other = dataclasses.replace(s, image_path=root / "image/awe/small.png")
    with pytest.raises(EmobenchError, match="size="):
        ds.load_images([s, other])
    with pytest.raises(EmobenchError, match="missing.png"):
        ds.load_images([dataclasses.replace(s, image_path=root / "missing.png")])


def test_content_hash_changes_with_annotations(world, tmp_path):
    import shutil
    copy = Path(shutil.copytree(world, tmp_path / "copy"))
    ann = next((copy / "annotation").rglob("*.json"))
    rows = [r for n in ("train", "val", "test") for r in json.loads((copy / f"{n}.json").read_text())]
    assert any(r[-1] == str(ann.relative_to(copy)) for r in rows)
    ann.write_text(ann.read_text().replace('"caption"', '"caption_"'))
    assert EmoSetDataset(copy).content_hash != EmoSetDataset(world).content_hash


def test_damaged_folders_raise_naming_the_path(world, tmp_path):
    with pytest.raises(EmobenchError, match="does not exist"):
        EmoSetDataset(tmp_path / "nope")
    (tmp_path / "half" / "image").mkdir(parents=True)
    with pytest.raises(EmobenchError, match="train.json"):
        EmoSetDataset(tmp_path / "half")
    import shutil
    bad = Path(shutil.copytree(world, tmp_path / "bad"))
    (bad / "val.json").write_text("{not json")
    with pytest.raises(EmobenchError, match="val.json"):
        EmoSetDataset(bad).split("val")
    with pytest.raises(EmobenchError, match="not empty"):
        write_emoset_mini(world, **SIZES)


@pytest.mark.parametrize("kwargs,word", [({"seed": -3}, "-3"), ({"n_train": 0}, "n_train=0"),
                                         ({"n_val": 10**7}, "10000000"), ({"n_test": -1}, "n_test=-1"),
                                         ({"workers": 0}, "workers=0"), ({"seed": "1"}, "'1'")])
def test_write_bad_sizes(tmp_path, kwargs, word):
    with pytest.raises(EmobenchError) as err:
        write_emoset_mini(tmp_path / "x", **{**SIZES, **kwargs})
    assert word in str(err.value)
    assert not (tmp_path / "x").exists()


def test_ensure_writes_once_and_reuses(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    first = ensure_emoset_mini(seed=1, n_train=8, n_val=2, n_test=2)
    assert first.parent == tmp_path / "cache" / "emoset-mini"
    stamp = (first / "world.json").stat().st_mtime_ns
    assert ensure_emoset_mini(seed=1, n_train=8, n_val=2, n_test=2) == first
    assert (first / "world.json").stat().st_mtime_ns == stamp
    assert ensure_emoset_mini(seed=2, n_train=8, n_val=2, n_test=2) != first
    assert [p.name for p in first.parent.iterdir() if p.name.startswith(".")] == []
