"""Architectures of the mini zoo's networks, and the one place that assembles them into a pipeline.

``MiniArch`` fixes every size; ``MINI`` is what ``emobench zoo build mini`` trains and ``TINY`` is what the
test zoo (``emobench.testing.tiny``) uses. Both build the same classes SD 1.5 uses (``CLIPTextModel``,
``UNet2DConditionModel``, a diffusers DDPM scheduler, ``StableDiffusionPipeline``), so every method and metric runs
unchanged at both scales. The only non-SD part is the lossless pixel autoencoder (``pixel_vae``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from diffusers import DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPConfig, CLIPModel, CLIPTextModel, CLIPTokenizer

from emobench.zoo.pixel_vae import PixelShuffleVAE

EOS_TOKEN_ID = 49407   # "<|endoftext|>" in the real CLIP BPE vocabulary (emobench.zoo.tokenizer)
BOS_TOKEN_ID = 49406
VOCAB_SIZE = 49408


@dataclass(frozen=True)
class MiniArch:
    """Every size of a mini-scale zoo (defaults = the shipped mini zoo)."""

    image_size: int = 32
    vae_factor: int = 4                       # pixel-unshuffle factor: 3×32×32 ↔ 48×8×8
    max_text_len: int = 16                    # tokenizer model_max_length and text position embeddings
    # tiny CLIP. The text tower is stored twice (clip/ and pipeline/text_encoder/) and its 49 408-row BPE
    # embedding dominates it, so its width is what the 40 MB shipping budget pays for: 64.
    text_hidden: int = 64
    text_layers: int = 3
    text_heads: int = 4
    vision_hidden: int = 64
    vision_layers: int = 3
    vision_heads: int = 2
    vision_patch: int = 4
    projection_dim: int = 64
    # UNet on the 48×8×8 latent, sized by measurement for a 2-core AVX2 CPU (bench: ~110 MFLOP per forward,
    # ~16 img/s sampled at batch 64 with guidance): no attention at 8×8 (it doubles the step), cross- and
    # self-attention at 4×4, no mid block (−15 % time). The earlier 12×16×16 (32, 64, 128) UNet sampled at
    # ~5 img/s and trained at ~80 img/s, too slow both to train well and to meet the 15 img/s bar.
    unet_channels: tuple[int, ...] = (48, 128)
    unet_mid_block: bool = False
    unet_layers_per_block: int = 1
    unet_head_dim: int = 32
    unet_norm_groups: int = 16
    # What the UNet predicts. v (Salimans & Ho 2022) rather than SD 1.5's ε: a UNet this small cannot copy
    # its input to its output precisely, and under ε that error is multiplied by √((1-ᾱ)/ᾱ) (≈ 100 at the
    # noisiest steps) on its way to the implied image, so the image's layout — the scene — came out as noise.
    # Measured: docs/emoset-mini.md, "choices made by measurement".
    prediction_type: str = "v_prediction"
    # judges: 4 stages (32², 16², 8², 4²), ~27 MFLOP per image
    judge_widths: tuple[int, ...] = (16, 32, 64, 128)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


MINI = MiniArch()
TINY = MiniArch(vae_factor=2, unet_mid_block=True, text_hidden=32, text_layers=1, text_heads=2, vision_hidden=32, vision_layers=1, vision_heads=2,
                vision_patch=8, projection_dim=32, unet_channels=(16, 32, 32), unet_head_dim=8,
                unet_norm_groups=8, judge_widths=(8, 16, 32))


def clip_config(arch: MiniArch) -> CLIPConfig:
    text = dict(vocab_size=VOCAB_SIZE, hidden_size=arch.text_hidden, intermediate_size=4 * arch.text_hidden,
                num_hidden_layers=arch.text_layers, num_attention_heads=arch.text_heads,
                max_position_embeddings=arch.max_text_len, eos_token_id=EOS_TOKEN_ID, bos_token_id=BOS_TOKEN_ID,
                pad_token_id=EOS_TOKEN_ID, projection_dim=arch.projection_dim)
    vision = dict(hidden_size=arch.vision_hidden, intermediate_size=4 * arch.vision_hidden,
                  num_hidden_layers=arch.vision_layers, num_attention_heads=arch.vision_heads,
                  image_size=arch.image_size, patch_size=arch.vision_patch, projection_dim=arch.projection_dim)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=arch.projection_dim)


def build_clip(arch: MiniArch, seed: int) -> CLIPModel:
    torch.manual_seed(seed)
    return CLIPModel(clip_config(arch)).eval()


def text_encoder_from_clip(clip: CLIPModel) -> CLIPTextModel:
    """The diffusion text encoder is CLIP's text tower (as SD 1.5 sits on CLIP L/14), copied out."""
    te = CLIPTextModel(clip.config.text_config)
    # transformers 5: CLIPModel.text_model *is* a CLIPTextModel; 4.x: both wrap a CLIPTextTransformer
    target = getattr(te, "text_model", te)
    target.load_state_dict(clip.text_model.state_dict())
    return te.eval()


def build_unet(arch: MiniArch, seed: int) -> UNet2DConditionModel:
    torch.manual_seed(seed)
    latent_c = 3 * arch.vae_factor ** 2
    n = len(arch.unet_channels)
    down = ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1)
    up = ("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",)
    return UNet2DConditionModel(
        sample_size=arch.image_size // arch.vae_factor,
        in_channels=latent_c, out_channels=latent_c,
        down_block_types=down, up_block_types=up,
        block_out_channels=arch.unet_channels,
        layers_per_block=arch.unet_layers_per_block,
        cross_attention_dim=arch.text_hidden,
        attention_head_dim=arch.unet_head_dim,
        norm_num_groups=arch.unet_norm_groups,
        mid_block_type="UNetMidBlock2DCrossAttn" if arch.unet_mid_block else None,
    )


def build_vae(arch: MiniArch) -> PixelShuffleVAE:
    levels = arch.vae_factor.bit_length()   # factor 2 → 2 levels → vae_scale_factor 2
    c = 3 * arch.vae_factor ** 2
    return PixelShuffleVAE(factor=arch.vae_factor, in_channels=3, latent_channels=c,
                           sample_size=arch.image_size, block_out_channels=(c,) * levels)


# One noise schedule for training and sampling: SD's linear betas 1e-4…0.02 over 1000 steps.
SCHEDULE = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")


def build_train_scheduler(arch: MiniArch = MINI) -> DDPMScheduler:
    return DDPMScheduler(**SCHEDULE, prediction_type=arch.prediction_type, clip_sample=True)


def build_sample_scheduler(arch: MiniArch = MINI):
    """Ancestral DDPM with per-image seeded noise (``emobench.zoo.schedulers``: why this sampler). Pixel space:
    clipping x0 to [-1, 1] is right here (unlike SD's latent space)."""
    from emobench.zoo.schedulers import LatentSeededDDPMScheduler

    return LatentSeededDDPMScheduler(**SCHEDULE, prediction_type=arch.prediction_type, clip_sample=True,
                                     steps_offset=1)


def assemble_pipeline(unet: UNet2DConditionModel, vae: PixelShuffleVAE, text_encoder: CLIPTextModel,
                      tokenizer: CLIPTokenizer, scheduler=None, arch: MiniArch = MINI) -> StableDiffusionPipeline:
    """An unchanged ``StableDiffusionPipeline`` over the mini parts (no safety checker); the default
    scheduler predicts what ``arch`` says the UNet predicts."""
    scheduler = scheduler or build_sample_scheduler(arch)
    with quiet_loading():
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    restore_clip_sample(pipe, scheduler.config.get("clip_sample", False))
    pipe.set_progress_bar_config(disable=True)
    return pipe


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence diffusers/transformers progress bars, the pipeline's clip_sample deprecation notice and its
    "expected AutoencoderKL" type note while we build, save or load a mini pipeline (both are expected here:
    the pixel autoencoder is deliberate, and clip_sample is restored right after)."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    d_level, t_level = dlog.get_verbosity(), tlog.get_verbosity()
    d_bar, t_bar = dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled()
    dlog.set_verbosity_error()
    tlog.set_verbosity_error()
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            yield
    finally:
        dlog.set_verbosity(d_level)
        tlog.set_verbosity(t_level)
        if d_bar:
            dlog.enable_progress_bar()
        if t_bar:
            tlog.enable_progress_bar()


def restore_clip_sample(pipe: StableDiffusionPipeline, clip_sample: bool) -> None:
    """``StableDiffusionPipeline.__init__`` silently forces ``clip_sample=False`` (a shim for SD's latent
    checkpoints); put back what the scheduler's own config asked for."""
    if "clip_sample" in pipe.scheduler.config and pipe.scheduler.config.clip_sample != clip_sample:
        pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, clip_sample=clip_sample)


def param_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["MiniArch", "MINI", "TINY", "build_clip", "build_unet", "build_vae", "text_encoder_from_clip",
           "build_train_scheduler", "build_sample_scheduler", "assemble_pipeline", "restore_clip_sample",
           "param_count", "clip_config", "quiet_loading"]
