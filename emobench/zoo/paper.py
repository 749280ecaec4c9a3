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

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from emobench.errors import EmobenchError
from emobench.zoo.base import Judges, PendingPart, PendingPipeline, SamplingDefaults, Zoo
from emobench.zoo.clip_lazy import LazyClip, load_clip_checked
from emobench.zoo.hashing import file_sha256, files_hash, weights_files
from emobench.zoo.paper_judges import (AlexLPIPS, InceptionFeatures, TorchvisionClassifier, imagenet_labels,
                                       lpips_linear_file, load_probe, load_torchvision_classifier, places365_labels,
                                       safe_state_dict)
from emobench.zoo.paper_spec import PROBE_CONFIG, PROBE_WEIGHTS, PaperSpec, Part, missing_error, read_paper_toml
from emobench.zoo.pipeline import load_pipeline

__all__ = ["load_paper_zoo", "pick_device", "read_paper_toml", "safe_state_dict", "PROBE_CONFIG", "PROBE_WEIGHTS",
           "PARTS_FOR_FIT_JUDGES"]


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


PARTS_FOR_FIT_JUDGES = ("clip", "dataset")   # what `emobench zoo fit-judges` reads: nothing else must exist


def load_paper_zoo(path: str | Path, device: torch.device | str | None = None, *,
                   with_probe: bool = True, lazy: bool = False, needs: Sequence[str] | None = None) -> Zoo:
    """Load the paper-scale zoo described by ``path``.

    ``needs`` lists the parts to load (default: all of them; ``with_probe=False`` leaves out the Emo-A probe,
    which ``fit-judges`` trains); only those must exist, so ``fit-judges`` runs before Places365 or the FID
    Inception are downloaded. ``lazy=True`` (what ``emobench run`` and ``score`` use) loads the generator, CLIP
    and each judge on first use: a finished run's resume reads none of them. The hashes that key images and
    scores are computed either way (cached by file size and mtime, ``emobench.zoo.hashing``), and the
    dataset's referenced images are checked before anything runs."""
    spec = read_paper_toml(path)
    parts = spec.parts
    wanted = [k for k in (needs if needs is not None else parts) if with_probe or k != "judges.emotion"]
    missing = [parts[k] for k in wanted if parts[k].problem() is not None]
    if missing:
        raise missing_error(spec, missing)
    dev, dtype = pick_device(spec, device)
    hashes: dict[str, str] = {}
    sampling = SamplingDefaults(**{k: v for k, v in spec.sampling.items()
                                   if k in SamplingDefaults.__dataclass_fields__})
    pipe: Any = None
    if "pipeline" in wanted:
        folder = parts["pipeline"].path
        hashes.update({f"pipeline.{k}": files_hash(weights_files(folder / k), folder / k)
                       for k in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")})
        if spec.sampling.get("scheduler"):
            hashes["pipeline.scheduler"] += ":" + str(spec.sampling["scheduler"])
        pipe = _pending_generator(spec, dev, dtype)
        if not lazy:
            pipe = pipe.load()
    clip: Any = None
    if "clip" in wanted:
        hashes["clip"] = files_hash(weights_files(parts["clip"].path), parts["clip"].path)
        clip = LazyClip(parts["clip"].path, dev) if lazy else load_clip_checked(parts["clip"].path, dev)
    dataset = None
    if "dataset" in wanted:
        from emobench.data.emoset import EmoSetDataset

        dataset = EmoSetDataset(parts["dataset"].path)
        dataset.check_images()   # every referenced image, before anything is generated (one line if not)
    judges = Judges()
    for key, load in _judge_loaders(spec, dev, clip).items():
        if key not in wanted:
            continue
        hashes[key] = _judge_hash(spec, key)
        field = "fid_features" if key == "judges.fid" else key.removeprefix("judges.")
        # the probe loads on first access (tiny; the panel reads its type); the networks on first call
        cls = {"judges.object": TorchvisionClassifier, "judges.scene": TorchvisionClassifier,
               "judges.fid": InceptionFeatures, "judges.lpips": AlexLPIPS}.get(key)
        setattr(judges, field, PendingPart(load, cls) if lazy else load())

    from emobench.data.content_lists import named_list
    from emobench.zoo.weights_lock import part_status, verify_parts

    # what the weight lock says of each part's files (hashes cached: the files were hashed just above)
    checked = verify_parts({k: parts[k].path for k in wanted if k != "dataset"})
    return Zoo(name=spec.name, scale="paper", pipeline=pipe, sampling=sampling, clip=clip, judges=judges,
               dataset=dataset, root=spec.toml.parent, source=spec.toml, hashes=hashes, device=dev,
               contents=named_list(spec.contents, dataset) if dataset is not None else None,
               official={k: part_status(v) for k, v in checked.items()})


def _pending_generator(spec: PaperSpec, dev: torch.device, dtype: torch.dtype) -> PendingPipeline:
    """SD 1.5 as a ``PendingPipeline``: latent shape and sampler name from its configs, weights on first use."""
    folder = spec.parts["pipeline"].path

    def load():
        pipe = load_pipeline(folder, dev)
        if dtype != torch.float32:
            pipe = pipe.to(dtype=dtype)
        if dev.type == "cuda":  # PyTorch's fused scaled-dot-product attention (diffusers' default on torch 2)
            from diffusers.models.attention_processor import AttnProcessor2_0

            pipe.unet.set_attn_processor(AttnProcessor2_0())
        _set_scheduler(pipe, spec)
        return pipe

    try:
        unet = json.loads((folder / "unet" / "config.json").read_text())
        vae = json.loads((folder / "vae" / "config.json").read_text())
        sched = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    except (OSError, ValueError) as err:
        raise EmobenchError(f"cannot read the configs of {folder}: {err}",
                            "pass a complete diffusers StableDiffusionPipeline folder") from err
    name = str(spec.sampling.get("scheduler") or sched.get("_class_name", ""))
    # diffusers' own rule: vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
    return PendingPipeline(load, int(unet["in_channels"]), 2 ** (len(vae.get("block_out_channels", [0] * 4)) - 1),
                           name)


def _judge_loaders(spec: PaperSpec, dev: torch.device, clip: Any) -> dict[str, Callable[[], Any]]:
    parts = spec.parts

    def emotion():
        return load_probe(parts["judges.emotion"].path, clip).to(dev)

    def obj():
        net = load_torchvision_classifier(parts["judges.object"], None)
        net.labels = imagenet_labels(len(net.labels)) or net.labels
        return net.to(dev)

    def scene():
        return load_torchvision_classifier(parts["judges.scene"], places365_labels(parts["judges.scene"])).to(dev)

    def fid():
        return InceptionFeatures(safe_state_dict(parts["judges.fid"].path)).to(dev)

    def lpips():
        return AlexLPIPS(safe_state_dict(parts["judges.lpips"].path),
                         safe_state_dict(_lpips_linear(spec))).to(dev)

    return {"judges.emotion": emotion, "judges.object": obj, "judges.scene": scene, "judges.fid": fid,
            "judges.lpips": lpips}


def _lpips_linear(spec: PaperSpec) -> Path:
    linear_file = lpips_linear_file(spec.parts["judges.lpips"])
    if not linear_file.is_file():
        raise missing_error(spec, [Part("judges.lpips", linear_file, "LPIPS v0.1 alex linear layers (alex.pth)", {})])
    return linear_file


def _judge_hash(spec: PaperSpec, key: str) -> str:
    part = spec.parts[key]
    if key == "judges.emotion":
        return files_hash(weights_files(part.path), part.path)
    if key == "judges.lpips":
        return file_sha256(part.path) + ":" + file_sha256(_lpips_linear(spec))
    return file_sha256(part.path)


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
