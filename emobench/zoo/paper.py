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

Relative paths are relative to the TOML file. On CUDA the generator runs in float16 with SDPA attention
(diffusers' default processor on torch 2); the judges stay float32 so scores do not depend on the dtype.
On CPU everything is float32 (slow, but the same code).
"""
from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.zoo.base import Judges, SamplingDefaults, Zoo

# The files torchvision / torch-fidelity put into the torch hub cache ("their usual caches").
HUB_FILES = {
    "object": "resnet50-0676ba61.pth",                       # ResNet50_Weights.IMAGENET1K_V1 (pretrained=True)
    "fid": "weights-inception-2015-12-05-6726825d.pth",      # torch-fidelity's FID Inception (torchmetrics FID)
    "lpips": "alexnet-owt-7be5be79.pth",                     # AlexNet_Weights.IMAGENET1K_V1 (LPIPS backbone)
}
PROBE_WEIGHTS, PROBE_CONFIG = "probe.safetensors", "probe.json"
PAPER_SAMPLING = {"num_inference_steps": 50, "guidance_scale": 7.5, "height": 512, "width": 512}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FIT_JUDGES = "emobench zoo fit-judges --zoo {toml}"


def hub_checkpoint(name: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / name


# ---------------------------------------------------------------------------------------------- the TOML
@dataclass(frozen=True)
class Part:
    """One part of the paper zoo: where it is and what must be there."""

    key: str            # "pipeline", "judges.object", ...
    path: Path
    expected: str       # what should be at that path, for the error message
    options: dict[str, Any]

    def problem(self) -> str | None:
        """None if the part looks complete, else what is wrong with it."""
        p = self.path
        checks: dict[str, Callable[[], str | None]] = {
            "pipeline": lambda: None if (p / "model_index.json").is_file() else "no model_index.json",
            "clip": lambda: None if (p / "config.json").is_file() and any(p.glob("*.safetensors"))
            else "no config.json + *.safetensors",
            "dataset": lambda: None if (p / "image").is_dir() and (p / "annotation").is_dir()
            else "no image/ and annotation/ folders",
            "judges.emotion": lambda: None if (p / PROBE_WEIGHTS).is_file() and (p / PROBE_CONFIG).is_file()
            else f"no {PROBE_WEIGHTS} + {PROBE_CONFIG}",
        }
        if not p.exists():
            return "does not exist"
        if self.key in checks:
            return checks[self.key]()
        return None if p.is_file() else "is not a file"

    def describe(self) -> str:
        return f"[{self.key}] {self.path}: {self.problem()} (expected {self.expected})"


@dataclass(frozen=True)
class PaperSpec:
    toml: Path
    name: str
    parts: dict[str, Part]
    sampling: dict[str, Any]
    device: str
    dtype: str

    def missing(self, skip: Sequence[str] = ()) -> list[Part]:
        return [p for k, p in self.parts.items() if k not in skip and p.problem() is not None]


_EXPECTED = {
    "pipeline": "a diffusers StableDiffusionPipeline folder of Stable Diffusion 1.5 (model_index.json, unet/, vae/, "
                "text_encoder/, tokenizer/, scheduler/, safetensors weights)",
    "clip": "a transformers CLIPModel + CLIPTokenizer folder of CLIP ViT-L/14 (config.json, model.safetensors, "
            "tokenizer files)",
    "dataset": "the EmoSet root (image/<emotion>/, annotation/<emotion>/, train.json, val.json, test.json)",
    "judges.emotion": f"the Emo-A linear probe ({PROBE_WEIGHTS} + {PROBE_CONFIG}); train it with `{FIT_JUDGES}`",
    "judges.object": f"the torchvision ImageNet ResNet-50 weights ({HUB_FILES['object']}, what "
                     "resnet50(weights='IMAGENET1K_V1') caches)",
    "judges.scene": "the Places365 ResNet-50 checkpoint (resnet50_places365.pth.tar from the Places365 release)",
    "judges.fid": f"torch-fidelity's FID Inception-v3 weights ({HUB_FILES['fid']}, what torchmetrics' FID caches)",
    "judges.lpips": f"the torchvision AlexNet weights ({HUB_FILES['lpips']}, what LPIPS(net='alex') caches)",
}


def _section(doc: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = doc
    for k in dotted.split("."):
        node = node.get(k, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def read_paper_toml(path: str | Path) -> PaperSpec:
    path = Path(path).expanduser().resolve()
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise EmobenchError(f"cannot read paper zoo file {path}: {err}",
                            "fix the TOML (see docs/paper-scale.md for a complete example)") from err
    parts: dict[str, Part] = {}
    for key, expected in _EXPECTED.items():
        sec = _section(doc, key)
        raw = sec.get("path")
        if raw is None and key.removeprefix("judges.") in HUB_FILES:
            where = hub_checkpoint(HUB_FILES[key.removeprefix("judges.")])
        elif raw is None:
            where = path.parent / f"<[{key}] path not set in {path.name}>"
        else:
            where = Path(os.path.expandvars(str(raw))).expanduser()
            where = where if where.is_absolute() else path.parent / where
        parts[key] = Part(key, where, expected.replace("{toml}", str(path)),
                          {k: v for k, v in sec.items() if k != "path"})
    runtime = _section(doc, "runtime")
    sampling = {**PAPER_SAMPLING, **_section(doc, "sampling")}
    return PaperSpec(toml=path, name=str(doc.get("name", path.stem)), parts=parts, sampling=sampling,
                     device=str(runtime.get("device", "auto")), dtype=str(runtime.get("dtype", "auto")))


def missing_error(spec: PaperSpec, missing: Sequence[Part]) -> EmobenchError:
    return EmobenchError(
        f"paper zoo {spec.toml}: {len(missing)} part(s) missing: " + "; ".join(p.describe() for p in missing),
        f"put each part there or fix its path in {spec.toml.name} (docs/paper-scale.md lists where to get them)")


# ---------------------------------------------------------------------------------------------- hashing
def weights_files(folder: Path) -> list[Path]:
    """The files a loader actually reads: configs, tokenizer files and the non-variant safetensors
    (an SD folder also carries .bin/.ckpt copies and fp16 variants that never load; hashing them is waste)."""
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name.startswith("."):
            continue
        if p.suffix in (".json", ".txt") or (p.suffix == ".safetensors" and p.name.count(".") == 1):
            out.append(p)
    return out


def files_hash(files: Sequence[Path], root: Path) -> str:
    import hashlib

    from emobench.zoo.load import file_sha256

    h = hashlib.sha256()
    for p in files:
        rel = p.relative_to(root) if p.is_relative_to(root) else Path(p.name)
        h.update(str(rel).encode() + b"\0" + file_sha256(p).encode() + b"\n")
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------- judges
def safe_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's tensors without unpickling code: safetensors, or ``torch.load(weights_only=True)``;
    unwraps ``{"state_dict": ...}`` and DataParallel's ``module.`` prefix (the Places365 release has both)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise EmobenchError(f"cannot read {path}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
                            "point the TOML at an intact weights file (safetensors or a tensors-only .pth)") from err
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise EmobenchError(f"{path} holds a {type(obj).__name__}, not a state dict",
                            "save the weights with torch.save(model.state_dict(), path) or as safetensors")
    return {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def resize_crop_normalise(x: torch.Tensor, resize: int, crop: int, mean: Sequence[float],
                          std: Sequence[float]) -> torch.Tensor:
    """torchvision's Resize(shorter side) → CenterCrop → Normalize, on float tensors in [0,1]."""
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    h, w = x.shape[-2:]
    s = resize / min(h, w)
    nh, nw = max(crop, round(h * s)), max(crop, round(w * s))
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
    top, left = (nh - crop) // 2, (nw - crop) // 2
    x = x[..., top:top + crop, left:left + crop]
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    sd = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - m) / sd


class TorchvisionClassifier(nn.Module):
    """A Sem-C judge: the official protocol's Resize 256 → CenterCrop 224 → ImageNet normalisation → logits."""

    def __init__(self, net: nn.Module, labels: Sequence[str]):
        super().__init__()
        self.net = net.eval()
        self.labels = list(labels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        dev = next(self.net.parameters()).device
        return self.net(resize_crop_normalise(images.to(dev), 256, 224, IMAGENET_MEAN, IMAGENET_STD))


def load_torchvision_classifier(part: Part, labels: Sequence[str] | None) -> TorchvisionClassifier:
    import torchvision

    arch = str(part.options.get("arch", "resnet50"))
    state = safe_state_dict(part.path)
    n_classes = int(state["fc.weight"].shape[0]) if "fc.weight" in state else None
    if n_classes is None:
        raise EmobenchError(f"{part.path} has no fc.weight: not a torchvision ResNet state dict",
                            f"expected {part.expected}")
    try:
        net = torchvision.models.get_model(arch, weights=None, num_classes=n_classes)
        net.load_state_dict(state)
    except (ValueError, RuntimeError) as err:
        raise EmobenchError(f"{part.path} does not fit a torchvision {arch}: {str(err).splitlines()[0]}",
                            f"expected {part.expected} (set arch = \"...\" under [{part.key}] for another "
                            "architecture)") from err
    if labels is None or len(labels) != n_classes:
        labels = [f"class_{i}" for i in range(n_classes)]
    return TorchvisionClassifier(net, labels)


def imagenet_labels(n: int) -> list[str] | None:
    from torchvision.models import ResNet50_Weights

    cats = list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
    return cats if len(cats) == n else None


def places365_labels(part: Part) -> list[str] | None:
    """``categories_places365.txt`` lines look like ``/a/airfield 0``; the label is the path's last part."""
    raw = part.options.get("labels")
    if raw is None:
        return None
    path = Path(os.path.expandvars(str(raw))).expanduser()
    if not path.is_file():
        raise EmobenchError(f"[{part.key}] labels file {path} does not exist",
                            "point labels at categories_places365.txt or remove the key")
    return [line.split()[0].strip("/").split("/", 1)[-1] for line in path.read_text().splitlines() if line.strip()]


class EmotionProbe(nn.Module):
    """Emo-A as in EmoGen: CLIP image features (projected, not normalised) → Linear(D → 8)."""

    def __init__(self, clip: Any, linear: nn.Linear, labels: Sequence[str] = EMOTIONS):
        super().__init__()
        self.clip, self.fc, self.labels = clip, linear, list(labels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.clip.encode_images(images).float()
        return self.fc(feats.to(self.fc.weight.device))


def load_probe(folder: Path, clip: Any) -> EmotionProbe:
    from safetensors.torch import load_file

    cfg = json.loads((folder / PROBE_CONFIG).read_text())
    state = load_file(str(folder / PROBE_WEIGHTS))
    w = state["fc.weight"]
    linear = nn.Linear(w.shape[1], w.shape[0])
    linear.load_state_dict({"weight": w.float(), "bias": state["fc.bias"].float()})
    return EmotionProbe(clip, linear.eval(), cfg.get("labels", list(EMOTIONS)))


class InceptionFeatures(nn.Module):
    """torch-fidelity's FID Inception-v3 (the network torchmetrics' FID uses): images → 2048-d pool features.

    torch-fidelity would unpickle its weights file; we read it with ``weights_only=True`` and hand the
    tensors to its constructor instead.
    """

    num_features = 2048

    def __init__(self, state: dict[str, torch.Tensor]):
        super().__init__()
        from torch_fidelity import feature_extractor_inceptionv3 as fe

        with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: state):
            self.net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images if images.dtype == torch.uint8 else (images.float().clamp(0, 1) * 255).round().to(torch.uint8)
        dev = next(self.net.parameters()).device
        out = self.net(x.to(dev))
        return (out[0] if isinstance(out, (tuple, list)) else out).reshape(x.shape[0], -1).float()


class AlexLPIPS(nn.Module):
    """LPIPS(net='alex', v0.1) from torchmetrics, its backbone loaded from a local AlexNet weights file:
    ``(x, y)`` float in [0,1] → ``[N]`` distances."""

    def __init__(self, alexnet_state: dict[str, torch.Tensor], linear_state: dict[str, torch.Tensor]):
        super().__init__()
        from torchmetrics.functional.image.lpips import _LPIPS

        self.net = _LPIPS(pretrained=False, net="alex", pnet_rand=True)  # built empty; nothing downloads
        # torchmetrics' Alexnet slices keep torchvision's layer indices: features.<i> → slice<k>.<i>
        mapped = {}
        for name, _ in self.net.net.named_parameters():
            idx_and_param = name.split(".", 1)[1]
            mapped[name] = alexnet_state[f"features.{idx_and_param}"]
        self.net.net.load_state_dict(mapped)
        # lin0..lin4 are also reachable as lins.0..4 (a ModuleList of the same layers): load by the lin<k> names
        lins = {k: v for k, v in linear_state.items() if k.split(".")[0][3:].isdigit() and k.startswith("lin")}
        missing, _ = self.net.load_state_dict(lins, strict=False)
        if not lins or any(k.split(".")[0][3:].isdigit() and k.startswith("lin") for k in missing):
            raise EmobenchError("the LPIPS linear-layer file lacks lin0..lin4 weights",
                                "use torchmetrics' bundled lpips_models/alex.pth (the default)")
        self.net.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        dev = next(self.net.parameters()).device
        return self.net(x.float().to(dev), y.float().to(dev), normalize=True).reshape(-1)


def lpips_linear_file(part: Part) -> Path:
    raw = part.options.get("linear")
    if raw is not None:
        return Path(os.path.expandvars(str(raw))).expanduser()
    import torchmetrics.functional.image.lpips as tl

    return Path(tl.__file__).parent / "lpips_models" / "alex.pth"


# ---------------------------------------------------------------------------------------------- loading
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
    from emobench.zoo.load import load_pipeline

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
    from emobench.zoo.load import file_sha256

    for key in ("judges.object", "judges.scene", "judges.fid", "judges.lpips"):
        hashes[key] = file_sha256(parts[key].path)
    hashes["judges.lpips"] += ":" + file_sha256(linear_file)

    return Zoo(name=spec.name, scale="paper", pipeline=pipe, sampling=sampling, clip=clip, judges=judges,
               dataset=dataset, root=spec.toml.parent, source=spec.toml, hashes=hashes, device=dev)


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
