"""``torchvision``: a user-supplied emotion classifier of another family, a torchvision network with an
8-way head fine-tuned on EmoSet, from a local state dict (``torch.load(weights_only=True)`` or safetensors)::

    [panel.torchvision]
    path = "judges/resnet50-emoset.pth"   # model.state_dict() of torchvision.models.resnet50(num_classes=8)
    arch = "resnet50"                      # any torchvision.models name
    labels = ["amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness"]
    resize = 256                           # preprocessing: shorter side → resize, centre crop → crop,
    crop = 224                             # ImageNet mean/std (torchvision's eval transform)
    held_out_accuracy = 0.71               # optional: your own figure, copied into the card
    validated_on = "EmoSet test split"

``labels`` is required: the order of the head's outputs is the trainer's choice, never assumed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from emobench.errors import EmobenchError
from emobench.judges.base import Judge, JudgePlugin
from emobench.judges.sources import file_sha256, toml_labels, toml_path, toml_section

EXPECTED = "a torchvision classifier state dict with an 8-way head fine-tuned on EmoSet"


class TorchvisionEmotionNet(nn.Module):
    def __init__(self, net: nn.Module, resize: int, crop: int):
        super().__init__()
        self.net, self.resize, self.crop = net.eval(), int(resize), int(crop)
        for p in self.net.parameters():
            p.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from emobench.zoo.paper_judges import IMAGENET_MEAN, IMAGENET_STD, resize_crop_normalise

        dev = next(self.net.parameters()).device
        return self.net(resize_crop_normalise(images.to(dev), self.resize, self.crop, IMAGENET_MEAN, IMAGENET_STD))


def torchvision_judge(path: Path, arch: str, labels: Sequence[str], resize: int = 256, crop: int = 224,
                      name: str = "torchvision", card: dict[str, Any] | None = None,
                      device: torch.device | str = "cpu") -> Judge:
    import torchvision

    from emobench.zoo.paper_judges import safe_state_dict

    state = safe_state_dict(Path(path))
    try:
        net = torchvision.models.get_model(arch, weights=None, num_classes=len(labels))
        net.load_state_dict(state)
    except (ValueError, RuntimeError, KeyError) as err:
        raise EmobenchError(f"{path} does not fit torchvision {arch} with {len(labels)} classes: "
                            f"{str(err).splitlines()[0]}",
                            f"set arch to the network it was trained as, and labels to its {len(labels)} outputs") from err
    module = TorchvisionEmotionNet(net, resize, crop).to(device)
    return Judge(name, f"torchvision-{arch}", tuple(labels), file_sha256(Path(path)), module, {
        "architecture": f"torchvision {arch}, {len(labels)}-way head; Resize {resize} → CenterCrop {crop} → ImageNet norm",
        "trained_on": "user-supplied (fine-tuned on EmoSet by whoever supplied it)",
        "validated_on": None, "held_out_accuracy": None, "file": str(path), **(card or {})})


class TorchvisionJudge(JudgePlugin):
    name = "torchvision"
    family = "torchvision"
    description = "a user-supplied torchvision emotion classifier (paper TOML [panel.torchvision])"

    def build(self, zoo) -> Judge:
        sec = toml_section(zoo, self.name)
        path = toml_path(zoo, self.name, sec, EXPECTED)
        if "labels" not in sec:
            raise EmobenchError(f"{zoo.source}: [panel.{self.name}] declares no labels",
                                "add labels = [...] listing the emotion of each output, in output order")
        labels = toml_labels(zoo, self.name, sec, ())
        card = {k: v for k, v in sec.items() if k in ("validated_on", "held_out_accuracy", "trained_on")}
        return torchvision_judge(path, str(sec.get("arch", "resnet50")), labels, int(sec.get("resize", 256)),
                                 int(sec.get("crop", 224)), self.name, card, zoo.device)
