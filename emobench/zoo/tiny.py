"""A complete tiny zoo: every part of the mini zoo, randomly initialised and a few KB–MB in size. Tests use it
through ``emobench.testing.tiny`` (with a per-session cache); the tiny paper zoo builds on it.

    from emobench.testing.tiny import build_tiny_zoo, tiny_zoo
    path = build_tiny_zoo(tmp_path / "zoo")            # writes a zoo folder, returns it
    zoo = load_zoo(path)                                # what every test then uses

    @pytest.fixture(scope="session")
    def zoo_dir(tmp_path_factory):
        return tiny_zoo(tmp_path_factory)               # built once per test session, then reused

Same classes and folder layout as the shipped mini zoo (pipeline with the pixel autoencoder, CLIP, judges,
an EmoSet-mini dataset), so code that works on it works on the real one; only the sizes differ.
Deterministic: the same seed writes byte-identical weights.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from emobench.zoo.arch import TINY, assemble_pipeline, build_clip, build_unet, build_vae, text_encoder_from_clip
from emobench.zoo.folder import write_zoo_folder
from emobench.zoo.judges import JudgeNet
from emobench.zoo.tokenizer import clip_tokenizer

TINY_SAMPLING = {"num_inference_steps": 4, "guidance_scale": 5.0, "height": 32, "width": 32,
                 "autocast_dtype": None, "clip_sample": True}
TINY_DATASET_SIZES = {"n_train": 96, "n_val": 32, "n_test": 32}

_TOKENIZER_DIR: Path | None = None


def _tokenizer(max_len: int):
    global _TOKENIZER_DIR
    if _TOKENIZER_DIR is None:  # writing the 49 408-entry vocabulary once per process saves ~1 s per zoo
        _TOKENIZER_DIR = Path(tempfile.mkdtemp(prefix="emobench-tiny-tok-"))
    return clip_tokenizer(max_len, cache_dir=_TOKENIZER_DIR)


def _write_dataset(out: Path, seed: int) -> dict | None:
    """A tiny EmoSet-mini in ``out`` via the world generator (None while the writer/loader are absent)."""
    try:
        from emobench.data.emoset import EmoSetDataset  # noqa: F401  (load_zoo needs it to read the folder)
        from emobench.world import write_emoset_mini
    except ImportError:
        return None

    write_emoset_mini(out, seed=seed, **TINY_DATASET_SIZES)
    return {"kind": "emoset-mini", "seed": seed, "path": "dataset", **TINY_DATASET_SIZES}


def build_tiny_zoo(out_dir: str | Path, seed: int = 0, *, with_dataset: bool = True) -> Path:
    """Write a complete tiny zoo folder into ``out_dir`` (created; must be empty or absent) and return it."""
    from emobench.world.tables import OBJECTS, SCENES

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    arch = TINY
    tokenizer = _tokenizer(arch.max_text_len)
    clip = build_clip(arch, seed)
    pipe = assemble_pipeline(build_unet(arch, seed + 1), build_vae(arch), text_encoder_from_clip(clip), tokenizer,
                             arch=arch)
    torch.manual_seed(seed + 2)
    judge = JudgeNet(OBJECTS, SCENES, widths=arch.judge_widths, image_size=arch.image_size).eval()
    dataset = _write_dataset(out / "dataset", seed) if with_dataset else None
    write_zoo_folder(out, pipe=pipe, clip=clip, tokenizer=tokenizer, judge=judge, arch=arch, scale="mini",
                     sampling=TINY_SAMPLING, dataset=dataset,
                     extra={"name": "tiny", "note": "randomly initialised test zoo (emobench.testing.tiny)"})
    return out
