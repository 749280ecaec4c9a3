"""The official weight files the paper zoo's loader can recognise, by sha256 prefix (torch.hub's ``check_hash``
convention: a publisher puts the first hex digits of the file's sha256 in its name).

Only prefixes that a publisher states are listed: torchvision's ImageNet ResNet-50 and AlexNet file names. Every
other part (Stable Diffusion 1.5, CLIP ViT-L/14, the Places365 ResNet-50, torch-fidelity's Inception-v3, the
LPIPS linear layers) is **not pinned**: its hash is recorded in zoo.json but no file can be confirmed as the
official one. A hash that matches nothing listed is ``unknown``, never taken for the official file. Pure data:
the report imports this without torch.
"""
from __future__ import annotations

from typing import Mapping

OFFICIAL: dict[str, dict[str, str]] = {
    # torchvision's published file names: resnet50-0676ba61.pth, resnet50-11ad3fa6.pth, alexnet-owt-7be5be79.pth
    "judges.object": {"0676ba61": "torchvision ResNet50_Weights.IMAGENET1K_V1",
                      "11ad3fa6": "torchvision ResNet50_Weights.IMAGENET1K_V2"},
    "judges.lpips": {"7be5be79": "torchvision AlexNet_Weights.IMAGENET1K_V1 (LPIPS backbone)"},
}
NOT_PINNED = "not pinned"
UNKNOWN = "unknown (not a file emobench can confirm as official)"


def file_status(key: str, digest: str) -> str:
    """``official: <name>``, ``unknown (...)`` or ``not pinned`` for the component ``key`` with this sha256.

    LPIPS records ``<alexnet sha256>:<linear layers sha256>``; the AlexNet part is the one that is pinned."""
    known = OFFICIAL.get(key)
    if known is None:
        return NOT_PINNED
    name = known.get(str(digest).split(":", 1)[0][:8])
    return f"official: {name}" if name else UNKNOWN


def statuses(hashes: Mapping[str, str]) -> dict[str, str]:
    """Every recorded component's status, for zoo.json and the report."""
    return {k: file_status(k, v) for k, v in sorted(hashes.items())}


def is_official(key: str, digest: str) -> bool:
    return file_status(key, digest).startswith("official: ")
