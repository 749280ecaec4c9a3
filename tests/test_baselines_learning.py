"""The learning baselines (textual-inversion, dreambooth) on the tiny zoo: artifacts that plain diffusers
loads and that give the plugin's images, determinism, resumable per-emotion fits, and bad input."""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
import torch

from baselines.dreambooth import DreamBoothConfig, DreamBoothMethod
from baselines.textual_inversion import TextualInversionConfig, TextualInversionMethod
from emobench.api import Cell, FitContext, GenerationRequest
from emobench.errors import EmobenchError
from emobench.sampling import cell_generators
from emobench.zoo.load import load_zoo

TI_TINY = TextualInversionConfig(steps=2, batch_size=4)
DB_TINY = DreamBoothConfig(steps=2, batch_size=4)


def requests(zoo, emotions: list[str], seeds=(0, 1), template: str = "an image of {emotion}"):
    shape = zoo.latent_shape()
    return [GenerationRequest(Cell(e, template, s), torch.randn(shape, generator=torch.Generator().manual_seed(s)))
            for e in emotions for s in seeds]


def fit(method, zoo, out: Path, emotions, dataset=None, seed: int = 0, progress=None) -> dict:
    ctx = FitContext(zoo=zoo, dataset=dataset if dataset is not None else zoo.dataset, emotions=emotions,
                     artifact_dir=out, seed=seed, progress=progress)
    return method.fit(ctx)


@pytest.fixture(scope="module")
def plain(zoo_dir):
    return plain_pipeline(zoo_dir)


def plain_pipeline(zoo_dir: Path):
    """The zoo's generator loaded with nothing but diffusers (the scheduler loaded on its own, so its config is
    exactly the saved one: StableDiffusionPipeline's constructor would force clip_sample=False)."""
    import emobench.zoo.pixel_vae  # noqa: F401  (lets diffusers resolve the pixel autoencoder class)
    import emobench.zoo.schedulers  # noqa: F401  (… and the seeded DDPM scheduler class)
    from diffusers import StableDiffusionPipeline

    folder = zoo_dir / "pipeline"
    pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None, feature_extractor=None,
                                                   requires_safety_checker=False)
    pipe.scheduler = type(pipe.scheduler).from_pretrained(folder / "scheduler")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sd_micro_batch() -> int:
    """Cells per pipeline call of the ``sd`` sampler the plugins share (padded calls of a fixed size)."""
    from baselines.stable_diffusion import StableDiffusionMethod

    return int(getattr(StableDiffusionMethod.Config(), "micro_batch", 1))


def plain_generate(pipe, zoo, prompts, latents, seeds, pad_to: int | None = None):
    """One plain pipeline call per image, with one CPU generator per row seeded by the cell's seed (the mini
    zoo's sampler is ancestral, and the shared sampler passes these). ``pad_to``: padded with zero latents and
    empty prompts to that many rows, as the shared sampler does (kernels pick their blocking by batch size, so
    only calls of the same size agree to the last bit)."""
    s = zoo.sampling
    pad_to = pad_to or 1
    out = []
    with torch.no_grad():
        for p, z, seed in zip(prompts, latents, seeds):
            zs = torch.cat([z[None], z.new_zeros((pad_to - 1, *z.shape))])
            gens = cell_generators([seed], pad_to - 1)
            out.append(pipe(prompt=[p] + [""] * (pad_to - 1), latents=zs, num_inference_steps=s.num_inference_steps,
                            guidance_scale=s.guidance_scale, height=s.height, width=s.width, generator=gens,
                            output_type="pt").images[:1])
    return torch.cat(out)


def assert_same_images(got: torch.Tensor, pipe, zoo, prompts, latents, seeds) -> None:
    """Bit-exact against plain diffusers called the way the sampler calls it, and within float noise of a
    plain one-image call."""
    exact = plain_generate(pipe, zoo, prompts, latents, seeds, pad_to=sd_micro_batch())
    torch.testing.assert_close(got, exact, rtol=0, atol=1e-6)
    single = plain_generate(pipe, zoo, prompts, latents, seeds)
    torch.testing.assert_close(got, single, rtol=0, atol=2e-3)


def sha(path: Path) -> str:
    """Digest of a safetensors file's content: tensors and metadata (the file bytes are not stable, as the
    safetensors writer orders metadata keys by a randomly seeded hash map)."""
    from safetensors import safe_open

    h = hashlib.sha256()
    with safe_open(str(path), "pt") as f:
        h.update(repr(sorted((f.metadata() or {}).items())).encode())
        for name in sorted(f.keys()):
            t = f.get_tensor(name)
            h.update(name.encode() + str(t.dtype).encode() + str(tuple(t.shape)).encode())
            h.update(t.contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class NoImagesFor:
    """A dataset view in which one emotion has no training images."""

    def __init__(self, dataset, emotion: str):
        self._d, self._e = dataset, emotion
        self.root = dataset.root

    def by_emotion(self, split, emotion):
        return [] if emotion == self._e else self._d.by_emotion(split, emotion)

    def load_images(self, samples, size=None):
        return self._d.load_images(samples, size)


# ------------------------------------------------------------------------------------ textual inversion


def test_ti_embedding_loads_in_plain_diffusers_and_gives_the_same_images(zoo, plain, tmp_path):
    method = TextualInversionMethod(TI_TINY)
    facts = fit(method, zoo, tmp_path, ["fear", "awe"])
    assert set(facts["emotions"]) == {"fear", "awe"} and facts["skipped"] == []
    fear = facts["emotions"]["fear"]
    assert fear["steps"] == 2 and fear["n_images"] > 0
    assert fear["vector_norm"] != fear["init_norm"]                      # the token moved
    assert fear["fixed_batch_loss_after"] != fear["fixed_batch_loss_before"]
    method.load(zoo, tmp_path)
    reqs = requests(zoo, ["fear"])
    got = method.generate(reqs)
    assert got.prompts == ["an image of <fear>"] * 2

    plain.load_textual_inversion(str(tmp_path / "fear.safetensors"))
    assert_same_images(got.images, plain, zoo, got.prompts, torch.stack([r.latents for r in reqs]),
                       [r.cell.seed for r in reqs])

    # the token matters: the learned embedding, not the plain word, produced these images
    base = plain_generate(plain, zoo, ["an image of fear"] * 2, torch.stack([r.latents for r in reqs]),
                          [r.cell.seed for r in reqs], pad_to=sd_micro_batch())
    assert not torch.allclose(got.images, base)
    # the zoo's own tokenizer is untouched (every other method samples from it)
    assert "<fear>" not in zoo.pipeline.tokenizer.get_vocab()


def test_ti_multi_vector_token_and_init_word(zoo, plain, tmp_path):
    method = TextualInversionMethod(TextualInversionConfig(steps=1, batch_size=2, num_vectors=2, init_word="photo"))
    fit(method, zoo, tmp_path, ["sadness"])
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "sadness.safetensors")
    assert list(saved) == ["<sadness>"] and saved["<sadness>"].shape[0] == 2
    method.load(zoo, tmp_path)
    reqs = requests(zoo, ["sadness"], seeds=(3,))
    got = method.generate(reqs)
    plain.load_textual_inversion(str(tmp_path / "sadness.safetensors"))
    assert_same_images(got.images, plain, zoo, got.prompts, torch.stack([r.latents for r in reqs]),
                       [r.cell.seed for r in reqs])


def test_ti_training_encoding_equals_the_loaded_embedding(zoo, tmp_path):
    """What the token contributes during training (spliced vectors) is what load_textual_inversion builds."""
    import copy

    from safetensors.torch import save_file

    from baselines._training import encode_text
    from emobench.sampling import private_pipeline
    from baselines.textual_inversion import _TokenSpace

    dim = zoo.pipeline.text_encoder.get_input_embeddings().weight.shape[1]
    vectors = torch.randn(2, dim, generator=torch.Generator().manual_seed(0))
    space = _TokenSpace(zoo.pipeline)
    with space.learning(["<x>", "<x>_1"], torch.nn.Parameter(vectors.clone())):
        got = encode_text(zoo.pipeline, ["an image of <x> <x>_1"], space.tokenizer, space.text_encoder)
    save_file({"<x>": vectors}, str(tmp_path / "x.safetensors"))
    pipe = private_pipeline(zoo.pipeline, tokenizer=copy.deepcopy(zoo.pipeline.tokenizer),
                            text_encoder=copy.deepcopy(zoo.pipeline.text_encoder))
    pipe.load_textual_inversion(str(tmp_path / "x.safetensors"))
    want = pipe.encode_prompt("an image of <x>", torch.device("cpu"), 1, False)[0]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_ti_fit_is_deterministic_and_per_emotion(zoo, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    fit(TextualInversionMethod(TI_TINY), zoo, a, ["fear", "awe"])
    fit(TextualInversionMethod(TI_TINY), zoo, b, ["awe"])   # alone, in another order: same bytes
    assert sha(a / "awe.safetensors") == sha(b / "awe.safetensors")
    c = tmp_path / "c"
    fit(TextualInversionMethod(TI_TINY), zoo, c, ["awe"], seed=1)
    assert sha(a / "awe.safetensors") != sha(c / "awe.safetensors")


def test_ti_refit_skips_fitted_emotions_and_keeps_them_after_an_error(zoo, tmp_path):
    method = TextualInversionMethod(TI_TINY)
    broken = NoImagesFor(zoo.dataset, "anger")
    with pytest.raises(EmobenchError, match="no training images for 'anger'"):
        fit(method, zoo, tmp_path, ["fear", "anger"], dataset=broken)
    kept = sha(tmp_path / "fear.safetensors")
    assert not (tmp_path / "anger.safetensors").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]

    ticks: list[tuple[str, int, int]] = []
    facts = fit(method, zoo, tmp_path, ["fear", "anger"], progress=lambda *a: ticks.append(a))
    assert facts["skipped"] == ["fear"]
    assert sha(tmp_path / "fear.safetensors") == kept
    assert ticks and {t[0] for t in ticks} == {"anger"} and ticks[-1][1:] == (2, 2)


def test_ti_bad_input(zoo, tmp_path):
    with pytest.raises(EmobenchError, match="already exists in the zoo's tokenizer"):
        fit(TextualInversionMethod(TextualInversionConfig(steps=1, token="{emotion}")), zoo, tmp_path, ["fear"])
    with pytest.raises(EmobenchError, match="needs an emotion dataset"):
        TextualInversionMethod(TI_TINY).fit(FitContext(zoo=zoo, dataset=None, emotions=["fear"],
                                                       artifact_dir=tmp_path))
    with pytest.raises(EmobenchError):
        TextualInversionMethod(TextualInversionConfig(steps=0))
    method = TextualInversionMethod(TI_TINY)
    method.load(zoo, tmp_path)   # no embeddings in it
    with pytest.raises(EmobenchError, match="no fitted artifact for 'fear'"):
        method.generate(requests(zoo, ["fear"], seeds=(0,)))


def test_ti_broken_split_file_is_a_clear_error_and_keeps_fitted_emotions(zoo, tmp_path):
    import shutil

    from emobench.data.emoset import EmoSetDataset

    root = tmp_path / "emoset"
    shutil.copytree(zoo.dataset.root, root)
    out = tmp_path / "art"
    fit(TextualInversionMethod(TI_TINY), zoo, out, ["fear"], dataset=EmoSetDataset(root))
    (root / "train.json").write_text("{not json")
    with pytest.raises(EmobenchError):
        fit(TextualInversionMethod(TI_TINY), zoo, out, ["fear", "awe"], dataset=EmoSetDataset(root))
    assert (out / "fear.safetensors").exists()


# ------------------------------------------------------------------------------------ dreambooth


@pytest.fixture(scope="module")
def db_fitted(zoo, tmp_path_factory) -> tuple[Path, dict]:
    """A tiny LoRA DreamBooth fit of fear and awe, shared by the generation tests."""
    out = tmp_path_factory.mktemp("dreambooth")
    return out, fit(DreamBoothMethod(DB_TINY), zoo, out, ["fear", "awe"])


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_db_lora_loads_in_plain_diffusers_and_gives_the_same_images(zoo, zoo_dir, plain, db_fitted, fuse):
    art, facts = db_fitted
    fear = facts["emotions"]["fear"]
    assert fear["prompt"] == "an image of sks fear"
    assert fear["fixed_batch_loss_after"] != fear["fixed_batch_loss_before"]   # the adapters moved
    method = DreamBoothMethod(dataclasses.replace(DB_TINY, fuse=fuse))
    method.load(zoo, art)
    reqs = requests(zoo, ["fear", "awe"], seeds=(0,))
    interleaved = [reqs[1], reqs[0]]
    with torch.inference_mode():   # as the runner calls it
        got = method.generate(interleaved)
    assert got.prompts == ["an image of sks awe", "an image of sks fear"]

    for k, r in enumerate(interleaved):
        # fused: diffusers' documented fuse-then-unload, on a fresh pipeline (fusing writes into its weights)
        pipe = plain_pipeline(zoo_dir) if fuse else plain
        pipe.load_lora_weights(str(art), weight_name=f"{r.cell.emotion}.safetensors")
        if fuse:
            pipe.fuse_lora(components=["unet"], lora_scale=1.0)
            pipe.unload_lora_weights()
        assert_same_images(got.images[k : k + 1], pipe, zoo, [got.prompts[k]], r.latents[None], [r.cell.seed])
        if not fuse:
            pipe.unload_lora_weights()
    # the zoo's own UNet carries no adapter afterwards, nor does the private one once fused
    assert not getattr(zoo.pipeline.unet, "peft_config", None)
    if fuse:
        assert not getattr(method._pipe.unet, "peft_config", None)


def test_db_generation_leaves_the_baselines_images_byte_identical(zoo, db_fitted):
    from baselines.stable_diffusion import StableDiffusionMethod

    art, _ = db_fitted
    reqs = requests(zoo, ["fear", "awe"], seeds=(0, 1))
    sd = StableDiffusionMethod()
    sd.load(zoo, None)
    before = sd.generate(reqs).images
    weights = {k: v.clone() for k, v in zoo.pipeline.unet.state_dict().items()}
    for fuse in (True, False):
        db = DreamBoothMethod(dataclasses.replace(DB_TINY, fuse=fuse))
        db.load(zoo, art)
        with torch.inference_mode():
            db.generate(reqs)
            db.generate(list(reversed(reqs)))
    after = sd.generate(reqs).images
    assert torch.equal(before, after)
    assert all(torch.equal(v, weights[k]) for k, v in zoo.pipeline.unet.state_dict().items())


def test_db_fused_images_do_not_depend_on_what_was_sampled_before(zoo, db_fitted):
    """Switching emotion restores the fused layers from the zoo's UNet (no unfuse drift): fear sampled first,
    after awe, and by a fresh instance are the same bytes; fused and unfused differ at most by float rounding."""
    art, _ = db_fitted
    fear = requests(zoo, ["fear"], seeds=(0, 1))
    awe = requests(zoo, ["awe"], seeds=(0,))
    method = DreamBoothMethod(DB_TINY)
    method.load(zoo, art)
    first = method.generate(fear).images
    method.generate(awe)
    again = method.generate(fear).images
    fresh = DreamBoothMethod(DB_TINY)
    fresh.load(zoo, art)
    assert torch.equal(first, again) and torch.equal(first, fresh.generate(fear).images)
    unfused = DreamBoothMethod(dataclasses.replace(DB_TINY, fuse=False))
    unfused.load(zoo, art)
    torch.testing.assert_close(first, unfused.generate(fear).images, rtol=0, atol=1e-4)


def test_db_file_read_fusion_gives_diffusers_fuse_lora_bytes(zoo, db_fitted, monkeypatch):
    """The merge computed from the LoRA file (no peft layers) and diffusers' ``fuse_lora`` + unload (the path a
    file that is not a plain LoRA takes) leave the same weights, emotion after emotion."""
    import baselines.dreambooth as db

    art, _ = db_fitted
    order = ("fear", "awe", "fear")
    fast, slow = DreamBoothMethod(DB_TINY), DreamBoothMethod(DB_TINY)
    fast.load(zoo, art)
    slow.load(zoo, art)
    fused = []
    for e in order:
        fast.generate(requests(zoo, [e], seeds=(0,)))
        fused.append({k: v.clone() for k, v in fast._pipe.unet.state_dict().items()})
    monkeypatch.setattr(db, "_lora_deltas", lambda path, unet: None)
    base = zoo.pipeline.unet.state_dict()
    for e, want in zip(order, fused):
        slow.generate(requests(zoo, [e], seeds=(0,)))
        got = slow._pipe.unet.state_dict()
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)
        changed = [k for k in got if not torch.equal(got[k], base[k])]
        assert changed and all(k.endswith(tuple(f".{t}.weight" for t in db.LORA_TARGETS)) for k in changed)
        assert not getattr(slow._pipe.unet, "peft_config", None)


def test_db_fuse_is_a_generation_option():
    """Fused and unfused sampling share one fit: ``fuse`` is not in the artifact key's config."""
    assert "fuse" not in DreamBoothMethod().fit_config()
    assert DreamBoothMethod(DreamBoothConfig(fuse=False)).fit_config() == DreamBoothMethod().fit_config()
    assert DreamBoothMethod(DreamBoothConfig(rank=8)).fit_config() != DreamBoothMethod().fit_config()


def test_db_lora_fit_is_deterministic(zoo, tmp_path):
    fit(DreamBoothMethod(DB_TINY), zoo, tmp_path / "a", ["contentment"])
    fit(DreamBoothMethod(DB_TINY), zoo, tmp_path / "b", ["contentment"])
    assert sha(tmp_path / "a" / "contentment.safetensors") == sha(tmp_path / "b" / "contentment.safetensors")


def test_db_full_finetune_and_prior_preservation(zoo, tmp_path):
    method = DreamBoothMethod(DreamBoothConfig(steps=1, batch_size=2, lora=False, prior_weight=1.0,
                                               n_class_images=2))
    facts = fit(method, zoo, tmp_path, ["excitement"])
    assert facts["emotions"]["excitement"]["n_class_images"] == 2
    assert (tmp_path / "unet-excitement" / "config.json").exists()
    method.load(zoo, tmp_path)
    reqs = requests(zoo, ["excitement"], seeds=(0,))
    got = method.generate(reqs)
    assert got.images.shape == (1, 3, zoo.sampling.height, zoo.sampling.width)
    assert 0.0 <= float(got.images.min()) and float(got.images.max()) <= 1.0


def test_db_missing_emotion_is_a_clear_error(zoo, tmp_path):
    method = DreamBoothMethod(DB_TINY)
    method.load(zoo, tmp_path)
    with pytest.raises(EmobenchError, match="no fitted artifact for 'disgust'"):
        method.generate(requests(zoo, ["disgust"], seeds=(0,)))
    with pytest.raises(EmobenchError, match="no training images"):
        fit(method, zoo, tmp_path, ["disgust"], dataset=NoImagesFor(zoo.dataset, "disgust"))


# ------------------------------------------------------------------------------------ paper-scale path


@pytest.fixture(scope="module")
def sd_like_dir(tmp_path_factory, zoo) -> Path:
    """A tiny SD-shaped pipeline with a real AutoencoderKL (latent space, scaling factor), saved to disk."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32),
                                layers_per_block=1, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                attention_head_dim=8, norm_num_groups=8)
    vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8, 16), latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=8, sample_size=32, scaling_factor=0.18215)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                        num_attention_heads=2, max_position_embeddings=16, eos_token_id=49407,
                                        bos_token_id=49406, pad_token_id=49407))
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=zoo.pipeline.tokenizer, unet=unet,
                                   scheduler=sched, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    out = tmp_path_factory.mktemp("sd-like")
    pipe.save_pretrained(out, safe_serialization=True)
    return out


def test_paper_scale_path_fit_save_reload_generate(zoo, sd_like_dir, tmp_path):
    import dataclasses

    sd_zoo = load_zoo(sd_like_dir)          # a bare diffusers folder: scale "custom", no dataset of its own
    assert sd_zoo.scale == "custom" and sd_zoo.pipeline.vae.config.scaling_factor == pytest.approx(0.18215)
    sd_zoo.sampling = dataclasses.replace(sd_zoo.sampling, num_inference_steps=2)
    reqs = requests(sd_zoo, ["awe"], seeds=(0,))
    for method_cls, cfg in ((TextualInversionMethod, TI_TINY), (DreamBoothMethod, DB_TINY)):
        out = tmp_path / method_cls.name
        fit(method_cls(cfg), sd_zoo, out, ["awe"], dataset=zoo.dataset)
        again = method_cls(cfg)              # a fresh instance, as a later run would build it
        again.load(sd_zoo, out)
        images = again.generate(reqs).images
        assert images.shape == (1, 3, sd_zoo.sampling.height, sd_zoo.sampling.width)
        assert torch.isfinite(images).all() and 0.0 <= float(images.min()) and float(images.max()) <= 1.0


def test_entry_points_registered():
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="emobench.methods")}
    if "textual-inversion" not in eps:
        pytest.skip("package metadata not reinstalled since the entry points were added")
    assert eps["textual-inversion"] == "baselines.textual_inversion:TextualInversionMethod"
    assert eps["dreambooth"] == "baselines.dreambooth:DreamBoothMethod"
