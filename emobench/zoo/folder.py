"""Writing a zoo folder (the layout ``emobench.zoo.load`` reads; see docs/ARCHITECTURE.md "Zoo folder").

Used by both the real build (``mini_build``) and the test zoo (``emobench.testing.tiny``), so the two can
never drift apart.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

from emobench.zoo.arch import MiniArch, build_sample_scheduler, quiet_loading
from emobench.zoo.judges import JudgeNet, save_judge
from emobench.zoo.load import ZOO_FORMAT


def cast_safetensors(folder: Path, dtype: torch.dtype) -> None:
    """Rewrite every .safetensors file under ``folder`` with floating tensors in ``dtype`` (metadata kept).
    Shipping stores fp16 to halve the size; loaders cast back to fp32."""
    for f in sorted(folder.rglob("*.safetensors")):
        with safe_open(str(f), framework="pt") as src:
            meta = src.metadata()
            tensors = {k: src.get_tensor(k) for k in src.keys()}
        tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
        save_file(tensors, str(f), metadata=meta)


def write_zoo_folder(out: str | Path, *, pipe, clip: CLIPModel, tokenizer: CLIPTokenizer, judge: JudgeNet,
                     arch: MiniArch, scale: str, sampling: dict[str, Any], dataset: dict[str, Any] | None,
                     extra: dict[str, Any] | None = None, dtype: torch.dtype = torch.float32) -> Path:
    """Write ``zoo.json``, ``pipeline/``, ``clip/`` and ``judges/`` into ``out`` (created if needed)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with quiet_loading():
        _save_parts(out, pipe, clip, tokenizer, arch)
    save_judge(judge, out / "judges", facts=(extra or {}).get("judge_facts"))
    if dtype != torch.float32:
        for part in ("pipeline", "clip", "judges"):
            cast_safetensors(out / part, dtype)
    meta = {
        "format": ZOO_FORMAT, "version": 1, "scale": scale, "sampling": sampling,
        "dataset": dataset,
        "storage_dtype": str(dtype).replace("torch.", ""),
        "arch": arch.to_dict(),
        "components": {
            "pipeline": {"path": "pipeline", "class": "StableDiffusionPipeline",
                         "vae_class": type(pipe.vae).__name__},
            "clip": {"path": "clip", "class": "CLIPModel"},
            "judges": {"path": "judges", "class": "JudgeNet"},
        },
        **{k: v for k, v in (extra or {}).items() if k != "judge_facts"},
    }
    (out / "zoo.json").write_text(json.dumps(meta, indent=1))
    return out


def _save_parts(out: Path, pipe, clip: CLIPModel, tokenizer: CLIPTokenizer, arch: MiniArch) -> None:
    pipe.save_pretrained(out / "pipeline", safe_serialization=True)
    # The pipeline's __init__ forced clip_sample=False on its scheduler; the saved config must keep the
    # pixel-space setting, because load_zoo re-applies what the file says.
    sched = type(pipe.scheduler).from_config(pipe.scheduler.config,
                                             clip_sample=build_sample_scheduler().config.clip_sample)
    sched.save_pretrained(out / "pipeline" / "scheduler")
    clip.save_pretrained(out / "clip", safe_serialization=True)
    tokenizer.save_pretrained(out / "clip")
    CLIPImageProcessor(size={"shortest_edge": arch.image_size},
                       crop_size={"height": arch.image_size, "width": arch.image_size}).save_pretrained(out / "clip")
