"""RunConfig precedence and hash, the plan's cells and latents, and the store's atomic, verified records."""
from __future__ import annotations

import torch

from emobench.api import Cell
from emobench.spec.config import DEFAULT_TEMPLATE, merge, read_toml
from emobench.spec.plan import Plan, cell_latent
from emobench.rundir.layout import load_images
from emobench.run.store import ImageStore, image_key


def test_precedence_and_hash(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('[run]\nmethods = ["sd", "noise"]\nseed = 3\nn_per_emotion = 5\nemotions = ["fear", "awe"]\n')
    cfg = merge(read_toml(toml), {"seed": "7", "methods": None})
    assert cfg.seed == 7 and cfg.n_per_emotion == 5 and cfg.methods == ("sd", "noise")
    assert cfg.emotions == ("awe", "fear")  # canonical order: argument order cannot change a run
    assert cfg.templates == (DEFAULT_TEMPLATE,)
    assert merge(read_toml(toml), {"seed": 7, "batch_size": 1, "out": "x"}).config_hash == cfg.config_hash
    assert merge(read_toml(toml), {"seed": 8}).config_hash != cfg.config_hash


def test_plan_cells_and_seeds():
    cfg = merge({"emotions": "fear,awe", "n_per_emotion": 5, "seed": 10, "templates": "a {emotion},b {emotion}"})
    plan = Plan.from_config(cfg, (4, 2, 2))
    awe = [c for c in plan.cells if c.emotion == "awe"]
    assert [(c.template, c.seed) for c in awe] == [("a {emotion}", 10), ("b {emotion}", 10), ("a {emotion}", 11),
                                                   ("b {emotion}", 11), ("a {emotion}", 12)]
    assert [c.emotion for c in plan.cells] == ["awe"] * 5 + ["fear"] * 5
    a, b = plan.requests([awe[0], plan.cells[5]])
    assert torch.equal(a.latents, b.latents)  # same seed → the same tensor, whatever the emotion
    assert torch.equal(a.latents, cell_latent(10, (4, 2, 2)))
    assert not torch.equal(a.latents, plan.latent(awe[2]))


def test_store_roundtrip_and_corruption(tmp_path):
    store = ImageStore(tmp_path)
    cell = Cell("fear", DEFAULT_TEMPLATE, 0)
    key = image_key("m", None, "w", cell)
    img = torch.rand(3, 8, 8)
    rec = store.put(key, img, method="m", cell=cell, prompt="an image of fear")
    assert store.lookup(key) == rec
    back = load_images([rec], tmp_path)
    assert torch.equal(back[0], (img * 255).round() / 255)
    assert not list(tmp_path.rglob("*.tmp"))
    (tmp_path / rec.path).write_bytes(b"not a png")
    assert store.lookup(key) is None  # a damaged image is regenerated, never trusted
    assert image_key("m", None, "w2", cell) != key and image_key("m", {"a": 1}, "w", cell) != key
