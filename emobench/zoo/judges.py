"""The mini zoo's judges: one small CNN trained on EmoSet-mini, never shared with any generator.

One backbone (3 stages of two 3×3 conv + BN + ReLU) with three heads — object, scene, emotion — exposed
through the ``Judges`` fields:

* ``object`` / ``scene`` / ``emotion``: ``JudgeClassifier`` views (``ImageClassifier``: ``.labels``, float
  images in ``[0,1]`` of any size → logits);
* ``fid_features``: ``JudgeFeatures``, the pooled penultimate features ``[N, D]`` (torchmetrics' FID/KID
  accept it as a custom ``feature`` module: it has ``num_features`` and also takes uint8 images);
* ``lpips``: ``JudgeLPIPS``, the LPIPS formulation on the backbone's per-stage features (unit-normalise
  channels, squared difference, spatial mean, sum over stages) with uniform channel weights.

Saved as ``judges/judge.safetensors`` + ``judges/judge.json`` (architecture, label vocabularies, training facts).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.zoo.base import Judges

WEIGHTS = "judge.safetensors"
CONFIG = "judge.json"


def to_float01(images: torch.Tensor) -> torch.Tensor:
    """uint8 (0..255) or float ([0,1]) images → float32 in [0,1]."""
    if images.dtype == torch.uint8:
        return images.float() / 255.0
    return images.float()


class JudgeNet(nn.Module):
    """Backbone + object/scene/emotion heads. Input: float ``[N,3,H,W]`` in [0,1] (resized to ``image_size``)."""

    def __init__(self, objects: Sequence[str], scenes: Sequence[str], emotions: Sequence[str] = EMOTIONS,
                 widths: Sequence[int] = (32, 64, 128), image_size: int = 32):
        super().__init__()
        self.objects, self.scenes, self.emotions = list(objects), list(scenes), list(emotions)
        self.widths, self.image_size = tuple(widths), image_size
        stages, c_in = [], 3
        for w in self.widths:
            stages.append(nn.Sequential(
                nn.Conv2d(c_in, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            ))
            c_in = w
        self.stages = nn.ModuleList(stages)
        d = self.widths[-1]
        self.heads = nn.ModuleDict({
            "object": nn.Linear(d, len(self.objects)),
            "scene": nn.Linear(d, len(self.scenes)),
            "emotion": nn.Linear(d, len(self.emotions)),
        })

    @property
    def num_features(self) -> int:
        return self.widths[-1]

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        x = to_float01(images).to(next(self.parameters()).device)
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True,
                              align_corners=False)
        return (x - 0.5) / 0.25

    def stage_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps after each stage (stages 2+ start with a 2× max-pool)."""
        x, feats = self.prepare(images), []
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = stage(x)
            feats.append(x)
        return feats

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.stage_features(images)[-1].mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.embed(images)
        return {name: head(h) for name, head in self.heads.items()}

    def config(self) -> dict[str, Any]:
        return {"objects": self.objects, "scenes": self.scenes, "emotions": self.emotions,
                "widths": list(self.widths), "image_size": self.image_size}


class JudgeClassifier(nn.Module):
    """One head of a ``JudgeNet`` as an ``ImageClassifier``: images → logits over ``labels``."""

    def __init__(self, net: JudgeNet, head: str):
        super().__init__()
        self.net, self.head = net, head
        self.labels: list[str] = {"object": net.objects, "scene": net.scenes, "emotion": net.emotions}[head]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.heads[self.head](self.net.embed(images))


class JudgeFeatures(nn.Module):
    """Penultimate features for FID/KID (a network trained separately from every generator)."""

    scale_note = ("computed on the mini judge's pooled features, not Inception-v3's 2048 pool features: its "
                  "values are not on the scale of published numbers; compare methods with each other only")

    def __init__(self, net: JudgeNet):
        super().__init__()
        self.net = net
        self.num_features = net.num_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.embed(images)


class JudgeLPIPS(nn.Module):
    """LPIPS distance on the judge backbone: Σ_stages mean_hw ‖n(f(x)) − n(f(y))‖², n = unit-norm over channels."""

    scale_note = ("LPIPS here is unweighted LPIPS on the mini judge's backbone (uniform channel weights, no "
                  "learned layer), about 3 on the mini zoo; the paper's LPIPS (AlexNet, learned weights) lies in "
                  "[0, 1]")

    def __init__(self, net: JudgeNet):
        super().__init__()
        self.net = net

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Per-image unit-normalised stage features: LPIPS diversity runs the backbone once per image, not
        twice per pair (``compare(features(x), features(y)) == forward(x, y)``)."""
        return [f / (f.norm(dim=1, keepdim=True) + 1e-10) for f in self.net.stage_features(images)]

    @staticmethod
    def compare(fx: list[torch.Tensor], fy: list[torch.Tensor]) -> torch.Tensor:
        total = torch.zeros(fx[0].shape[0], device=fx[0].device)
        for a, b in zip(fx, fy):
            total = total + ((a - b) ** 2).sum(dim=1).mean(dim=(1, 2))
        return total

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.compare(self.features(x), self.features(y))


def judges_from_net(net: JudgeNet) -> Judges:
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return Judges(emotion=JudgeClassifier(net, "emotion"), object=JudgeClassifier(net, "object"),
                  scene=JudgeClassifier(net, "scene"), fid_features=JudgeFeatures(net), lpips=JudgeLPIPS(net))


def save_judge(net: JudgeNet, folder: str | Path, facts: dict[str, Any] | None = None,
               dtype: torch.dtype = torch.float32) -> Path:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(out / WEIGHTS))
    (out / CONFIG).write_text(json.dumps({"format": "emobench-judge", "version": 1, "arch": "JudgeNet",
                                          **net.config(), "facts": facts or {}}, indent=1))
    return out


def load_judge_net(folder: str | Path, device: str | torch.device = "cpu") -> JudgeNet:
    folder = Path(folder)
    cfg_path, w_path = folder / CONFIG, folder / WEIGHTS
    if not cfg_path.is_file() or not w_path.is_file():
        raise EmobenchError(f"judge folder {folder} lacks {CONFIG} or {WEIGHTS}",
                            "rebuild the zoo with `emobench zoo build mini --out DIR`")
    try:
        cfg = json.loads(cfg_path.read_text())
        net = JudgeNet(cfg["objects"], cfg["scenes"], cfg.get("emotions", EMOTIONS), cfg["widths"],
                       cfg.get("image_size", 32))
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(w_path)).items()}
        net.load_state_dict(state)
    except EmobenchError:
        raise
    except Exception as err:  # damaged json or weights
        raise EmobenchError(f"cannot load judge from {folder}: {type(err).__name__}: {err}",
                            "the file is damaged; rebuild the zoo with `emobench zoo build mini --out DIR`") from err
    return net.to(device).eval()


def load_judges(folder: str | Path, device: str | torch.device = "cpu") -> Judges:
    return judges_from_net(load_judge_net(folder, device))
