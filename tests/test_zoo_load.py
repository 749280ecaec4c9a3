"""load_zoo on the tiny test zoo: every part loads through from_pretrained, generates, and bad input is refused."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from emobench.errors import EmobenchError
from emobench.zoo.load import load_zoo
from emobench.zoo.pixel_vae import PixelShuffleVAE


@pytest.fixture(scope="module")
def zoo(zoo_dir):
    return load_zoo(zoo_dir, with_dataset=False)


def _copy(zoo_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(zoo_dir, tmp_path / "zoo"))


def test_tiny_zoo_loads_every_part(zoo):
    assert isinstance(zoo.pipeline.vae, PixelShuffleVAE)
    # the pipeline forces clip_sample=False; pixel space wants clipping and load_zoo restores it
    assert zoo.pipeline.scheduler.config.clip_sample is True
    assert zoo.latent_shape() == (12, 16, 16)
    assert zoo.clip is not None and zoo.judges.emotion is not None and zoo.judges.lpips is not None
    assert set(zoo.hashes) >= {"pipeline.unet", "pipeline.vae", "pipeline.text_encoder", "clip", "judges"}
    assert zoo.weights_hash != zoo.judges_hash


def test_model_index_names_an_importable_vae_class(zoo_dir):
    index = json.loads((zoo_dir / "pipeline" / "model_index.json").read_text())
    assert index["vae"] == ["emobench.zoo.pixel_vae", "PixelShuffleVAE"]


def test_pixel_vae_round_trip_is_exact():
    vae = PixelShuffleVAE()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    z = vae.encode(x).latent_dist.sample()
    assert z.shape == (2, 12, 16, 16)
    assert torch.equal(vae.decode(z).sample, x)


def test_pipeline_generates_deterministically(zoo):
    lat = torch.randn(2, *zoo.latent_shape(), generator=torch.Generator().manual_seed(0))
    kw = dict(latents=lat, num_inference_steps=2, guidance_scale=zoo.sampling.guidance_scale, output_type="pt")
    a = zoo.pipeline(["a gift on the beach", "a skull in a graveyard"], **kw).images
    b = zoo.pipeline(["a gift on the beach", "a skull in a graveyard"], **kw).images
    assert a.shape == (2, 3, 32, 32) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b)


def test_judges_and_clip_interfaces(zoo):
    x = torch.rand(3, 3, 32, 32)
    big = torch.nn.functional.interpolate(x, size=64)
    for judge in (zoo.judges.object, zoo.judges.scene, zoo.judges.emotion):
        logits = judge(x)
        assert logits.shape == (3, len(judge.labels))
        assert judge(big).shape == logits.shape          # any image size
    assert len(zoo.judges.emotion.labels) == 8
    feats = zoo.judges.fid_features(x)
    assert feats.shape == (3, zoo.judges.fid_features.num_features)
    d = zoo.judges.lpips(x, x.flip(0))
    assert d.shape == (3,) and torch.allclose(zoo.judges.lpips(x, x), torch.zeros(3), atol=1e-6)
    assert d[0] > 0 and torch.allclose(d[1], torch.zeros(()), atol=1e-6)   # middle image paired with itself
    assert zoo.clip.encode_images(big).shape[0] == 3
    assert zoo.clip.encode_texts(["a gift on the beach", "fear"]).shape[0] == 2


def test_fid_features_work_with_torchmetrics(zoo):
    from torchmetrics.image.fid import FrechetInceptionDistance

    fid = FrechetInceptionDistance(feature=zoo.judges.fid_features, normalize=True)
    g = torch.Generator().manual_seed(0)
    fid.update(torch.rand(40, 3, 32, 32, generator=g), real=True)
    fid.update(torch.rand(40, 3, 32, 32, generator=g) * 0.5, real=False)
    assert float(fid.compute()) > 0


def test_bare_diffusers_folder_is_a_custom_zoo(zoo_dir):
    z = load_zoo(zoo_dir / "pipeline")
    assert z.scale == "custom" and z.clip is None and z.judges.emotion is None
    assert (z.sampling.height, z.sampling.width) == (32, 32)
    with pytest.raises(EmobenchError, match="judges.emotion"):
        z.require("judges.emotion")


def test_missing_and_wrong_paths(tmp_path):
    with pytest.raises(EmobenchError, match="does not exist"):
        load_zoo(tmp_path / "nope")
    with pytest.raises(EmobenchError, match="neither a zoo folder"):
        load_zoo(tmp_path)
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(EmobenchError, match="is a file"):
        load_zoo(tmp_path / "f.txt")


def test_damaged_zoo_json(zoo_dir, tmp_path):
    z = _copy(zoo_dir, tmp_path)
    (z / "zoo.json").write_text("{not json")
    with pytest.raises(EmobenchError, match="zoo.json"):
        load_zoo(z)


def test_pickled_checkpoint_refused_with_file_named(zoo_dir, tmp_path):
    z = _copy(zoo_dir, tmp_path)
    unet = z / "pipeline" / "unet"
    (unet / "diffusion_pytorch_model.safetensors").unlink()
    (unet / "diffusion_pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(EmobenchError, match=r"diffusion_pytorch_model\.bin.*never unpickles"):
        load_zoo(z)


def test_damaged_weights(zoo_dir, tmp_path):
    z = _copy(zoo_dir, tmp_path)
    (z / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"garbage")
    with pytest.raises(EmobenchError, match="cannot load the diffusers pipeline"):
        load_zoo(z)
    z2 = _copy(zoo_dir, tmp_path / "b")
    (z2 / "judges" / "judge.safetensors").write_bytes(b"garbage")
    with pytest.raises(EmobenchError, match="judge"):
        load_zoo(z2)


def test_swapped_vae_class_is_refused(zoo_dir, tmp_path):
    """A model_index.json naming a plain AutoencoderKL must not silently load a random VAE."""
    z = _copy(zoo_dir, tmp_path)
    index_file = z / "pipeline" / "model_index.json"
    index = json.loads(index_file.read_text())
    index["vae"] = ["diffusers", "AutoencoderKL"]
    index_file.write_text(json.dumps(index))
    with pytest.raises(EmobenchError):
        load_zoo(z)


def test_missing_component_folder(zoo_dir, tmp_path):
    z = _copy(zoo_dir, tmp_path)
    shutil.rmtree(z / "pipeline" / "text_encoder")
    with pytest.raises(EmobenchError, match="text_encoder"):
        load_zoo(z)


def test_paper_toml_hook(tmp_path):
    with pytest.raises(EmobenchError):
        load_zoo(tmp_path / "paper.toml")


def test_scoring_load_skips_the_pipeline_and_defers_clip(zoo_dir, zoo):
    """``emobench score`` loads a zoo with_pipeline=False: same hashes (so the same score-cache keys), no
    generator, and the CLIP model loaded only when a feature is actually computed — with the same result."""
    from emobench.zoo.load import LazyClip

    light = load_zoo(zoo_dir, with_dataset=False, with_pipeline=False)
    assert light.pipeline is None
    assert light.hashes == zoo.hashes and light.judges_hash == zoo.judges_hash
    assert isinstance(light.clip, LazyClip) and light.clip._clip is None
    with pytest.raises(EmobenchError, match="pipeline"):
        light.latent_shape()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(light.clip.encode_images(x), zoo.clip.encode_images(x))
    assert light.clip._clip is not None
    with torch.no_grad():
        assert torch.equal(light.judges.emotion(x), zoo.judges.emotion(x))


def test_scoring_load_reports_a_damaged_clip_when_used(zoo_dir, tmp_path):
    d = _copy(zoo_dir, tmp_path)
    for f in (d / "clip").glob("*.safetensors"):
        f.write_bytes(b"not a safetensors file")
    light = load_zoo(d, with_dataset=False, with_pipeline=False)   # judges still load: scoring can go on
    with pytest.raises(EmobenchError, match="CLIP"):
        light.clip.encode_images(torch.rand(1, 3, 32, 32))
