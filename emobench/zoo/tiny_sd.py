"""Tiny, random-weight parts in Stable Diffusion 1.5's own layout, for the paper zoo's dry run.

Every class and every config key is SD 1.5's (``runwayml/stable-diffusion-v1-5``'s ``model_index.json``):
``AutoencoderKL`` with 4 latent channels and four blocks (a factor-8 latent, ``scaling_factor`` 0.18215),
``UNet2DConditionModel`` with SD's block types and a cross-attention mid block, ``CLIPTextModel`` with 77
positions and SD's legacy special-token ids (so pooling takes the argmax token id, as SD 1.5's text encoder
does), the real CLIP BPE tokenizer with ``model_max_length`` 77, and SD 1.5's ``PNDMScheduler`` config. Only the
widths and depths are tiny, so a dry run exercises exactly the code a real SD 1.5 folder goes through — the
pixel autoencoder, 12 latent channels and 16 tokens of the mini zoo are nowhere in it.

The CLIP folder (the stand-in for ViT-L/14) has the same 77-position text tower and openai's config ids.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from emobench.zoo.arch import quiet_loading

SD_MAX_TEXT = 77   # CLIPTokenizer.model_max_length and max_position_embeddings of SD 1.5 / ViT-L/14
IMAGE_SIZE = 64    # 64 px → an 8×8 latent, four UNet levels (8, 4, 2, 1) as SD's 64×64 latent has
TEXT_WIDTH = 32
# SD 1.5's scheduler/scheduler_config.json (PNDM, scaled-linear betas, ε-prediction)
SD15_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                      set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1, trained_betas=None,
                      prediction_type="epsilon")
# openai/clip-vit-large-patch14's and SD 1.5's text configs carry these (legacy) ids; transformers then pools
# at the largest token id, which is where SD's pooled output (and EmoGen's "token" pooling) lands
LEGACY_IDS = dict(bos_token_id=0, eos_token_id=2, pad_token_id=1)


def _text_config(seed_width: int = TEXT_WIDTH) -> dict:
    return dict(vocab_size=49408, hidden_size=seed_width, intermediate_size=4 * seed_width, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=SD_MAX_TEXT, hidden_act="quick_gelu",
                projection_dim=seed_width, **LEGACY_IDS)


def build_clip(seed: int):
    """A tiny ``CLIPModel`` shaped like ViT-L/14's config (77 text positions, quick_gelu, legacy ids)."""
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(seed)
    vision = dict(hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                  image_size=32, patch_size=8, projection_dim=TEXT_WIDTH, hidden_act="quick_gelu")
    return CLIPModel(CLIPConfig(text_config=_text_config(), vision_config=vision, projection_dim=TEXT_WIDTH)).eval()


def build_text_encoder(clip):
    """SD 1.5's text encoder is CLIP ViT-L/14's text tower: here, the tiny CLIP's, copied out."""
    from transformers import CLIPTextConfig, CLIPTextModel

    te = CLIPTextModel(CLIPTextConfig(**_text_config()))
    target = getattr(te, "text_model", te)
    target.load_state_dict(clip.text_model.state_dict())
    return te.eval()


def build_vae(seed: int):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, sample_size=IMAGE_SIZE,
                         down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                         block_out_channels=(8, 16, 16, 16), layers_per_block=1, norm_num_groups=8,
                         act_fn="silu", scaling_factor=0.18215).eval()


def build_unet(seed: int):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=IMAGE_SIZE // 8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(16, 16, 32, 32), layers_per_block=1, cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=8, norm_num_groups=8, mid_block_type="UNetMidBlock2DCrossAttn").eval()


def write_tiny_sd(out: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write ``out/stable-diffusion`` (a ``StableDiffusionPipeline.save_pretrained`` folder) and ``out/clip``
    (``CLIPModel`` + tokenizer + image processor); returns both folders."""
    from diffusers import PNDMScheduler, StableDiffusionPipeline
    from transformers import CLIPImageProcessor

    from emobench.zoo.tokenizer import clip_tokenizer

    tokenizer = clip_tokenizer(SD_MAX_TEXT, cache_dir=Path(tempfile.mkdtemp(prefix="emobench-sd-tok-")))
    clip = build_clip(seed)
    with quiet_loading():
        pipe = StableDiffusionPipeline(vae=build_vae(seed + 1), text_encoder=build_text_encoder(clip),
                                       tokenizer=tokenizer, unet=build_unet(seed + 2),
                                       scheduler=PNDMScheduler(**SD15_SCHEDULER), safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
        sd_dir, clip_dir = out / "stable-diffusion", out / "clip"
        pipe.save_pretrained(sd_dir, safe_serialization=True)
        clip.save_pretrained(clip_dir, safe_serialization=True)
        tokenizer.save_pretrained(clip_dir)
        CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(clip_dir)
    return sd_dir, clip_dir
