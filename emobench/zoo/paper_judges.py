"""The paper zoo's judge networks, built from local weights without unpickling: torchvision classifiers
(ImageNet objects, Places365 scenes), the Emo-A CLIP probe, torch-fidelity's FID Inception and LPIPS-alex."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.zoo.paper_spec import IMAGENET_MEAN, IMAGENET_STD, PROBE_CONFIG, PROBE_WEIGHTS, Part

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

        # Its constructor fetches the weights through ``fe.load_state_dict_from_url``: point that at our tensors
        # for the duration of the call (nothing downloads, nothing is unpickled).
        fetch = fe.load_state_dict_from_url
        fe.load_state_dict_from_url = lambda *a, **k: state
        try:
            self.net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
        finally:
            fe.load_state_dict_from_url = fetch

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
    # where torchmetrics keeps it, found without importing torchmetrics (seconds: a finished run's resume and
    # `zoo verify` only need the path)
    from importlib.util import find_spec

    spec = find_spec("torchmetrics")
    if spec is None or not spec.submodule_search_locations:
        raise EmobenchError("torchmetrics is not installed", "pip install torchmetrics (LPIPS' linear layers ship with it)")
    return Path(list(spec.submodule_search_locations)[0]) / "functional" / "image" / "lpips_models" / "alex.pth"
