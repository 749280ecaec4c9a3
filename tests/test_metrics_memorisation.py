"""The copy rate: the threshold is the stated percentile of held-out real images' nearest-training-image
distances (brute force here), a copied training image counts, real images count at about that percentile, and
the closest pairs carry the training image for the report."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from emobench.api import ScoreItem
from emobench.errors import EmobenchError
from emobench.metrics.memorisation import TABLE, CopyConfig, CopyRate
from emobench.metrics.nearest_train import SPACES, evenly_spaced, nearest

from support.coverage_fakes import split_zoo


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return split_zoo(tmp_path_factory.mktemp("mem"), train_per_emotion=10, test_per_emotion=12)


def _space(zoo, space, images):
    return (zoo.judges.fid_features(images) if space == "fid-features" else zoo.clip.encode_images(images)).double()


def test_threshold_is_the_percentile_of_real_distances(fake, isolated_cache):
    metric = CopyRate()
    metric.prepare(fake)
    ds = fake.dataset
    train = ds.load_images(ds.split("train"), size=16)
    test = ds.load_images(ds.split("test"), size=16)
    for space in SPACES:
        d = torch.cdist(_space(fake, space, test), _space(fake, space, train)).min(1).values.numpy()
        assert metric.thresholds[space] == pytest.approx(float(np.percentile(d, 5)), rel=1e-5)


def test_copies_count_and_real_images_sit_at_the_percentile(fake, isolated_cache):
    metric = CopyRate()
    metric.prepare(fake)
    ds = fake.dataset
    copies = ds.load_images(ds.split("train")[:6], size=16)
    items = [ScoreItem(s.emotion, "x", f"c{i}") for i, s in enumerate(ds.split("train")[:6])]
    feats = metric.features(copies, items, fake)
    assert feats[:, 0].abs().max() == 0 and feats[:, 1].tolist() == [0, 1, 2, 3, 4, 5]   # distance 0, itself
    vals = metric.values(feats, items)
    assert list(vals) == ["copy-rate", "copy-rate-clip"]
    assert vals["copy-rate"].tolist() == [1.0] * 6 and vals["copy-rate-clip"].tolist() == [1.0] * 6
    real = ds.split("test")
    rv = metric.values(metric.features(ds.load_images(real, size=16), [ScoreItem(s.emotion, "x", s.id) for s in real],
                                       fake), [])
    assert 0.0 < float(rv["copy-rate"].mean()) <= 0.1   # 5 % by construction (ties and rounding aside)


def test_features_do_not_depend_on_the_batch(fake, isolated_cache):
    metric = CopyRate()
    metric.prepare(fake)
    images = fake.dataset.load_images(fake.dataset.split("test")[:7], size=16)
    items = [ScoreItem("fear", "x", f"i{i}") for i in range(7)]
    whole = metric.features(images, items, fake)
    alone = torch.cat([metric.features(images[i:i + 1], items[i:i + 1], fake) for i in range(7)])
    assert torch.equal(whole[:, 1::2], alone[:, 1::2])                 # the same nearest training images
    assert torch.allclose(whole, alone, rtol=1e-5, atol=1e-6)          # at the same distance (float noise aside)


def test_closest_pairs_embed_the_training_image(fake, isolated_cache):
    metric = CopyRate(CopyConfig(pairs=3))
    metric.prepare(fake)
    ds = fake.dataset
    samples = ds.split("train")[:2] * 3 + ds.split("test")[:2]          # one image in several cells: once
    images = ds.load_images(samples, size=16)
    items = [ScoreItem(s.emotion, "x", f"sha{i % 2}" if i < 6 else f"sha-test{i}") for i, s in enumerate(samples)]
    tables: dict = {}
    metric.extra_tables("collapse \x1ffit 1", metric.features(images, items, fake), items, tables)
    pairs = tables[TABLE]["methods"]["collapse"]
    assert [p["image"] for p in pairs][:2] == ["sha0", "sha1"] and len({p["image"] for p in pairs}) == len(pairs)
    assert pairs[0]["ratio"] == 0 and pairs[0]["fit_seed"] == 1 and pairs[0]["train_id"] == ds.split("train")[0].id
    img = Image.open(io.BytesIO(base64.b64decode(pairs[0]["train_png"])))
    assert img.size == (16, 16)
    facts = metric.display()
    assert facts["copy-rate"]["pairs_table"] == TABLE and facts["copy-rate"]["threshold"] == metric.thresholds[SPACES[0]]


def test_helpers():
    assert evenly_spaced(10, 4) == [0, 2, 5, 7] and evenly_spaced(3, 0) == [0, 1, 2]
    d, i = nearest(torch.tensor([[0.0, 0.0], [5.0, 5.0]]), torch.tensor([[1.0, 0.0], [4.0, 4.0], [0.0, 0.5]]), chunk=2)
    assert i.tolist() == [2, 1] and d.tolist() == pytest.approx([0.5, 2 ** 0.5])
    with pytest.raises(EmobenchError, match="percentile"):
        CopyRate(CopyConfig(percentile=0))
