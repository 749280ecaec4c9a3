"""Stage 1: the emotion space. An image encoder trained as an emotion classifier; its penultimate layer
(``fc_1``, pre-ReLU, as the official ``BackBone`` children[1:-1]) is the emotion vector; per-emotion
Gaussians over the training split's vectors are what generation samples from.

Official network (``training/model.py:6-25``): ResNet-50 trunk → 2048 → ``fc_1`` Linear(2048→768) →
``fc_2`` = ReLU, Dropout(0.5), Linear(768→8). Input normalised with mean = std = 0.5 (not ImageNet's).
Mini scale: a small CNN trunk with the same head, ``fc_1`` out = the text encoder's width.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emobench.training import sha256_file

if TYPE_CHECKING:  # pragma: no cover
    from emogen.data import ImageBank

# torchvision's ImageNet ResNet-50 checkpoints (V1 = the official ``pretrained=True``, and V2); used only if already
# on disk, never downloaded. Like torch.hub's ``check_hash``, a file counts only if its sha256 starts with the hex
# in its name (the pre-2021 name resnet50-19c8e357.pth does not follow that rule, so it cannot be verified).
RESNET50_FILES = ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth")
IMAGENET_RESNET50 = {"0676ba61": "torchvision ResNet50_Weights.IMAGENET1K_V1", "11ad3fa6": "torchvision ResNet50_Weights.IMAGENET1K_V2"}


class SmallTrunk(nn.Sequential):
    """Three conv stages (two 3×3 conv + BN + ReLU each, each stage starting with stride 2, like a ResNet
    stem: 32 px → 16/8/4) and global average pooling. ~10 M multiply-adds per 32 px image."""

    def __init__(self, widths: Sequence[int] = (32, 64, 128)):
        layers: list[nn.Module] = []
        c_in = 3
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c_in, w, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                       nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c_in = w
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        super().__init__(*layers)
        self.out_features = c_in


def resnet50_trunk(init: str, zoo: Any = None) -> tuple[nn.Module, bool]:
    """torchvision ResNet-50 without its fc; ImageNet weights only if verified ones are at hand
    (:func:`imagenet_resnet50`)."""
    import torchvision

    net = torchvision.models.resnet50(weights=None)
    loaded = False
    net.imagenet_source = None  # type: ignore[attr-defined]
    if init == "imagenet":
        state, source = imagenet_resnet50(zoo)
        if state is not None:
            net.load_state_dict(state)
            loaded = True
            net.imagenet_source = source  # type: ignore[attr-defined]
    net.fc = nn.Identity()
    net.out_features = 2048  # type: ignore[attr-defined]
    return net, loaded


def imagenet_resnet50(zoo: Any = None) -> tuple[dict[str, torch.Tensor] | None, str | None]:
    """(state dict, where it came from) of torchvision's ImageNet ResNet-50, or (None, None).

    Looked for, in order: the zoo's object judge (the paper zoo's ``[judges.object]``, wherever its TOML points,
    is that very network; used when the sha256 the zoo recorded for it matches a torchvision name), then torch.hub's
    checkpoint folder. A hub file whose sha256 does not match its name is refused (a file with the right name is
    not proof of ImageNet weights)."""
    from emobench.errors import EmobenchError

    digest = (getattr(zoo, "hashes", None) or {}).get("judges.object") or ""
    net = getattr(getattr(getattr(zoo, "judges", None), "object", None), "net", None)
    if net is not None and digest[:8] in IMAGENET_RESNET50:
        # a copy: the encoder is trained, the judge must stay as it is
        state = {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}
        return state, f"the zoo's [judges.object] ({IMAGENET_RESNET50[digest[:8]]}, sha256 {digest[:12]}…)"
    path = find_resnet50_weights()
    if path is None:
        return None, None
    want = path.stem.split("-")[-1]
    got = sha256_file(path)
    if not got.startswith(want):
        raise EmobenchError(f"{path} is not torchvision's ImageNet ResNet-50: its sha256 starts {got[:8]}, its name "
                            f"says {want}", "delete or replace the file, or train stage 1 from scratch with "
                            "emogen:encoder_init=none")
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state, f"{path} ({IMAGENET_RESNET50.get(want, 'torchvision')}, sha256 verified)"


def find_resnet50_weights() -> Path | None:
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    for name in RESNET50_FILES:
        if (hub / name).is_file():
            return hub / name
    return None


class EmotionEncoder(nn.Module):
    """trunk → fc_1 (emotion vector) → fc_2 = ReLU, Dropout(0.5), Linear(→ n classes)."""

    def __init__(self, trunk: nn.Module, width: int, n_classes: int, kind: str, image_size: int):
        super().__init__()
        self.kind, self.image_size, self.width = kind, image_size, width
        self.trunk = trunk
        self.fc_1 = nn.Linear(trunk.out_features, width)
        self.fc_2 = nn.Sequential(nn.ReLU(), nn.Dropout(0.5), nn.Linear(width, n_classes))

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[0,1] images of any size → the encoder's size, normalised to [-1,1] (mean = std = 0.5, as official)."""
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear",
                                   antialias=True, align_corners=False)
        return (images - 0.5) / 0.5

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The emotion vector: ``fc_1`` output, pre-ReLU."""
        return self.fc_1(self.trunk(self.preprocess(images)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc_2(self.embed(images))


def build_encoder(kind: str, width: int, n_classes: int, image_size: int, init: str = "none",
                  seed: int = 0, zoo: Any = None) -> tuple[EmotionEncoder, bool]:
    torch.manual_seed(seed)  # initial weights depend on the fit seed only
    if kind == "resnet50":
        trunk, pretrained = resnet50_trunk(init, zoo)
    else:
        trunk, pretrained = SmallTrunk(), False
    return EmotionEncoder(trunk, width, n_classes, kind, image_size), pretrained


def train_encoder(encoder: EmotionEncoder, images: "ImageBank", labels: torch.Tensor, steps: int,
                  batch: int, lr: float, generator: torch.Generator, flip: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> tuple[list[float], float]:
    """Cross-entropy training (AdamW, cosine decay to 0); batches drawn without replacement per epoch."""
    device = next(encoder.parameters()).device
    opt = torch.optim.AdamW(encoder.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    encoder.train()
    losses: list[float] = []
    n = len(images)
    order: list[int] = []
    start = time.perf_counter()
    for step in range(steps):
        idx = []
        while len(idx) < min(batch, n):
            if not order:
                order = torch.randperm(n, generator=generator).tolist()
            idx.append(order.pop())
        x = images.get(idx).to(device)
        if flip:
            mask = torch.rand(len(idx), generator=generator) < 0.5
            x = torch.where(mask.to(device)[:, None, None, None], x.flip(-1), x)
        loss = F.cross_entropy(encoder(x), labels[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if progress is not None and (step % 20 == 0 or step == steps - 1):
            progress(step + 1, steps)
    encoder.eval()
    return losses, time.perf_counter() - start


@torch.no_grad()
def embed_all(encoder: EmotionEncoder, images: "ImageBank") -> tuple[torch.Tensor, torch.Tensor]:
    """(emotion vectors, logits) on CPU of every image of ``images``, in eval mode."""
    encoder.eval()
    device = next(encoder.parameters()).device
    vecs, logits = [], []
    for x in images.chunks():
        v = encoder.embed(x.to(device))
        vecs.append(v.cpu())
        logits.append(encoder.fc_2(v).cpu())
    if not vecs:
        return torch.zeros(0, encoder.width), torch.zeros(0, encoder.fc_2[-1].out_features)
    return torch.cat(vecs), torch.cat(logits)


class EmotionSpace:
    """Per-emotion Gaussians over emotion vectors: mean, unbiased std, optional full covariance."""

    def __init__(self, emotions: Sequence[str], mean: torch.Tensor, std: torch.Tensor,
                 scale_tril: torch.Tensor | None = None):
        self.emotions = list(emotions)
        self.mean, self.std, self.scale_tril = mean, std, scale_tril

    @classmethod
    def fit(cls, emotions: Sequence[str], vectors: torch.Tensor, labels: torch.Tensor,
            covariance: str = "diag") -> "EmotionSpace":
        from emobench.errors import EmobenchError

        means, stds, trils = [], [], []
        for i, e in enumerate(emotions):
            v = vectors[labels == i].double()
            if v.shape[0] < 2:
                raise EmobenchError(f"the training split has {v.shape[0]} image(s) of {e!r}; a Gaussian needs 2+",
                                    f"add training images of {e} or leave it out with --emotions")
            means.append(v.mean(0))
            stds.append(v.std(0, unbiased=True))
            if covariance == "full":
                cov = torch.cov(v.T) + 1e-5 * torch.eye(v.shape[1], dtype=v.dtype)  # jitter keeps it PD
                trils.append(torch.linalg.cholesky(cov))
        tril = torch.stack(trils).float() if trils else None
        return cls(emotions, torch.stack(means).float(), torch.stack(stds).float(), tril)

    def index(self, emotion: str) -> int:
        from emobench.errors import EmobenchError

        if emotion not in self.emotions:
            raise EmobenchError(f"emogen was fitted for {', '.join(self.emotions)}, not {emotion!r}",
                                f"refit with {emotion} included (emobench fit emogen --emotions ...)")
        return self.emotions.index(emotion)

    def sample(self, emotion: str, generator: torch.Generator) -> torch.Tensor:
        """One vector v ~ N(μ_e, Σ_e); the draw depends only on ``generator``."""
        i = self.index(emotion)
        z = torch.randn(self.mean.shape[1], generator=generator, dtype=torch.float32)
        if self.scale_tril is not None:
            return self.mean[i] + self.scale_tril[i] @ z
        return self.mean[i] + self.std[i] * z

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"mean": self.mean.contiguous(), "std": self.std.contiguous()}
        if self.scale_tril is not None:
            out["scale_tril"] = self.scale_tril.contiguous()
        return out

    @classmethod
    def from_tensors(cls, emotions: Sequence[str], t: dict[str, torch.Tensor]) -> "EmotionSpace":
        return cls(emotions, t["mean"], t["std"], t.get("scale_tril"))
