"""Loading a diffusers ``StableDiffusionPipeline`` folder safely (safetensors only, never a pickle) and reading
its sampling defaults; shared by the folder loader (``zoo.load``) and the paper loader (``zoo.paper``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from emobench.errors import EmobenchError
from emobench.zoo.base import SamplingDefaults

PICKLED_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def check_safetensors(folder: Path) -> None:
    """Refuse a component folder whose weights exist only as pickles (we never unpickle)."""
    for sub in [folder, *[p for p in folder.iterdir() if p.is_dir()]]:
        files = [p for p in sub.iterdir() if p.is_file()]
        pickled = [p for p in files if p.suffix in PICKLED_SUFFIXES]
        if pickled and not any(p.suffix == ".safetensors" for p in files):
            raise EmobenchError(f"{pickled[0]} is a pickled checkpoint and there is no .safetensors beside it",
                                "emobench never unpickles; convert it to safetensors (e.g. load it yourself and "
                                "call save_pretrained(..., safe_serialization=True))")


def load_pipeline(folder: Path, device: torch.device | str = "cpu"):
    """``StableDiffusionPipeline.from_pretrained`` (safetensors only, offline), with the loud checks."""
    from diffusers import StableDiffusionPipeline

    # let diffusers resolve the mini zoo's autoencoder and scheduler classes by module name
    from emobench.zoo import pixel_vae, schedulers  # noqa: F401
    from emobench.zoo.arch import quiet_loading, restore_clip_sample

    folder = Path(folder)
    index_file = folder / "model_index.json"
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as err:
        raise EmobenchError(f"cannot read {index_file}: {err}",
                            "pass a complete diffusers StableDiffusionPipeline folder") from err
    missing = [k for k in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
               if not isinstance(index.get(k), list) or index[k][0] is None]
    if missing:
        raise EmobenchError(f"{index_file} has no {', '.join(missing)}: not a StableDiffusionPipeline folder",
                            "pass a folder saved by StableDiffusionPipeline.save_pretrained")
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        if not (folder / part).is_dir():
            raise EmobenchError(f"{folder / part} is missing", "the pipeline folder is incomplete; re-save it")
    check_safetensors(folder)
    for part in ("unet", "vae", "text_encoder"):
        if not any(p.suffix == ".safetensors" for p in (folder / part).iterdir()):
            raise EmobenchError(f"{folder / part} has no .safetensors weights",
                                "re-save the pipeline with save_pretrained(..., safe_serialization=True)")
    try:
        with quiet_loading():
            pipe = StableDiffusionPipeline.from_pretrained(
                folder, use_safetensors=True, local_files_only=True, dtype=torch.float32,
                safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    except EmobenchError:
        raise
    except Exception as err:
        raise EmobenchError(f"cannot load the diffusers pipeline in {folder}: {type(err).__name__}: "
                            f"{str(err).splitlines()[0] if str(err) else ''}",
                            "the folder is damaged or not a StableDiffusionPipeline; re-save or rebuild it") from err
    sched_cfg = folder / "scheduler" / "scheduler_config.json"
    try:
        restore_clip_sample(pipe, bool(json.loads(sched_cfg.read_text()).get("clip_sample", False)))
    except (OSError, ValueError) as err:
        raise EmobenchError(f"cannot read {sched_cfg}: {err}", "the pipeline folder is damaged; re-save it") from err
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def sampling_from_pipeline(pipe, steps: int = 50, guidance: float = 7.5) -> SamplingDefaults:
    """Defaults for a bare pipeline: image size from the unet/vae configs, diffusers' own step/guidance
    (``pipe=None``: the dataclass defaults, for a zoo loaded without its pipeline)."""
    if pipe is None:
        return SamplingDefaults(num_inference_steps=steps, guidance_scale=guidance)
    size = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    return SamplingDefaults(num_inference_steps=steps, guidance_scale=guidance, height=size, width=size)


def sampling_from_meta(d: dict[str, Any], pipe) -> SamplingDefaults:
    base = sampling_from_pipeline(pipe, SamplingDefaults.num_inference_steps, SamplingDefaults.guidance_scale)
    fields = {k: d[k] for k in ("num_inference_steps", "guidance_scale", "height", "width", "autocast_dtype",
                                "channels_last") if k in d}
    return SamplingDefaults(**{**base.__dict__, **fields})


# ---------------------------------------------------------------------------------------------- hashes
