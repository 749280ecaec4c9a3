"""The paper-scale zoo: SD 1.5, CLIP ViT-L/14, EmoSet and the paper's judges, from a TOML of local paths.

``load_zoo("paper.toml")`` lands here. Nothing is downloaded: every part is a local folder or file, and a
part that is not where the TOML (or its usual cache) says is named with what should be there, all missing
parts in one message. Pickled checkpoints (torchvision/Places365 ``.pth``) are read with
``torch.load(weights_only=True)``, never unpickled.

    [pipeline]  path = "/models/stable-diffusion-v1-5"   # diffusers StableDiffusionPipeline folder
    [clip]      path = "/models/clip-vit-large-patch14"  # transformers CLIPModel folder (safetensors)
    [dataset]   path = "/data/EmoSet-118K"               # EmoSet root (image/, annotation/, train.json, ...)
    [judges.emotion] path = "emo-a-probe"                # written by `emobench zoo fit-judges --zoo paper.toml`
    [judges.object]  path = "resnet50-0676ba61.pth"      # torchvision ImageNet ResNet-50 (default: torch hub cache)
    [judges.scene]   path = "resnet50_places365.pth.tar" # Places365 ResNet-50 (+ labels = categories_places365.txt)
    [judges.fid]     path = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity Inception (hub cache)
    [judges.lpips]   path = "alexnet-owt-7be5be79.pth"   # torchvision AlexNet for LPIPS (hub cache)

The content track's list is EmoCtrl's 45 test elements unless the TOML names another at the top level
(``contents = "emoctrl"`` for elements and captions, ``"dataset-objects"`` for EmoSet's objects; see
``emobench.data.content_lists``). Relative paths are relative to the TOML file. On CUDA the generator runs in float16 with SDPA attention
(diffusers' default processor on torch 2); the judges stay float32 so scores do not depend on the dtype.
On CPU everything is float32 (slow, but the same code).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from emobench.errors import EmobenchError
from emobench.zoo.base import Judges, SamplingDefaults, Zoo
from emobench.zoo.hashing import file_sha256, files_hash, weights_files
from emobench.zoo.paper_judges import (AlexLPIPS, InceptionFeatures, imagenet_labels, lpips_linear_file, load_probe,
                                       load_torchvision_classifier, places365_labels, safe_state_dict)
from emobench.zoo.paper_spec import PROBE_CONFIG, PROBE_WEIGHTS, PaperSpec, Part, missing_error, read_paper_toml
from emobench.zoo.pipeline import load_pipeline

__all__ = ["load_paper_zoo", "pick_device", "read_paper_toml", "safe_state_dict", "PROBE_CONFIG", "PROBE_WEIGHTS"]


def pick_device(spec: PaperSpec, override: torch.device | str | None) -> tuple[torch.device, torch.dtype]:
    want = spec.device
    if want == "auto":  # a CUDA device passed by the caller wins; else CUDA whenever there is one
        if override is not None and torch.device(override).type == "cuda":
            want = str(override)
        else:
            want = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(want)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EmobenchError(f"{spec.toml} asks for device {want!r} but CUDA is not available",
                            "set [runtime] device = \"auto\" or \"cpu\"")
    names = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
    if spec.dtype == "auto":
        dtype = torch.float16 if device.type == "cuda" else torch.float32
    elif spec.dtype in names:
        dtype = names[spec.dtype]
    else:
        raise EmobenchError(f"[runtime] dtype = {spec.dtype!r} in {spec.toml}", "use auto, float16, bfloat16 or float32")
    return device, dtype


def load_paper_zoo(path: str | Path, device: torch.device | str | None = None, *,
                   with_probe: bool = True) -> Zoo:
    """Load the paper-scale zoo described by ``path``. ``with_probe=False`` is for ``fit-judges``, which
    trains the Emo-A probe this zoo will then carry."""
    from emobench.zoo.clip import load_clip

    spec = read_paper_toml(path)
    missing = spec.missing(skip=() if with_probe else ("judges.emotion",))
    if missing:
        raise missing_error(spec, missing)
    dev, dtype = pick_device(spec, device)
    parts = spec.parts

    pipe = load_pipeline(parts["pipeline"].path, dev)
    if dtype != torch.float32:
        pipe = pipe.to(dtype=dtype)
    if dev.type == "cuda":  # PyTorch's fused scaled-dot-product attention (diffusers' default on torch 2, made sure)
        from diffusers.models.attention_processor import AttnProcessor2_0

        pipe.unet.set_attn_processor(AttnProcessor2_0())
    _set_scheduler(pipe, spec)
    hashes = {f"pipeline.{k}": files_hash(weights_files(parts["pipeline"].path / k), parts["pipeline"].path / k)
              for k in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")}
    if spec.sampling.get("scheduler"):
        hashes["pipeline.scheduler"] += ":" + str(spec.sampling["scheduler"])
    sampling = SamplingDefaults(**{k: v for k, v in spec.sampling.items()
                                   if k in SamplingDefaults.__dataclass_fields__})

    clip = load_clip(parts["clip"].path, dev)
    hashes["clip"] = files_hash(weights_files(parts["clip"].path), parts["clip"].path)

    from emobench.data.emoset import EmoSetDataset

    dataset = EmoSetDataset(parts["dataset"].path)

    judges = Judges()
    if with_probe:
        judges.emotion = load_probe(parts["judges.emotion"].path, clip).to(dev)
        hashes["judges.emotion"] = files_hash(weights_files(parts["judges.emotion"].path), parts["judges.emotion"].path)
    obj = parts["judges.object"]
    judges.object = load_torchvision_classifier(obj, None)
    judges.object.labels = imagenet_labels(len(judges.object.labels)) or judges.object.labels
    judges.object.to(dev)
    scene = parts["judges.scene"]
    judges.scene = load_torchvision_classifier(scene, places365_labels(scene)).to(dev)
    judges.fid_features = InceptionFeatures(safe_state_dict(parts["judges.fid"].path)).to(dev)
    lpips_part = parts["judges.lpips"]
    linear_file = lpips_linear_file(lpips_part)
    if not linear_file.is_file():
        raise missing_error(spec, [Part("judges.lpips", linear_file, "LPIPS v0.1 alex linear layers (alex.pth)", {})])
    judges.lpips = AlexLPIPS(safe_state_dict(lpips_part.path), safe_state_dict(linear_file)).to(dev)
    for key in ("judges.object", "judges.scene", "judges.fid", "judges.lpips"):
        hashes[key] = file_sha256(parts[key].path)
    hashes["judges.lpips"] += ":" + file_sha256(linear_file)

    from emobench.data.content_lists import named_list

    return Zoo(name=spec.name, scale="paper", pipeline=pipe, sampling=sampling, clip=clip, judges=judges,
               dataset=dataset, root=spec.toml.parent, source=spec.toml, hashes=hashes, device=dev,
               contents=named_list(spec.contents, dataset))


def _set_scheduler(pipe: Any, spec: PaperSpec) -> None:
    """``[sampling] scheduler = "UniPCMultistepScheduler"`` swaps the sampler (EmoGen samples with UniPC)."""
    name = spec.sampling.get("scheduler")
    if not name:
        return
    from emobench.zoo.schedulers import swap_scheduler

    try:
        pipe.scheduler = swap_scheduler(pipe.scheduler, str(name))
    except ValueError:
        raise EmobenchError(f"[sampling] scheduler = {name!r} in {spec.toml} is not a diffusers scheduler",
                            "use a class name such as UniPCMultistepScheduler, DDIMScheduler or PNDMScheduler") from None
