"""The official weight files, read from the weight lock (``emobench/zoo/weights.lock``, checked file by file by
``emobench.zoo.weights_lock``), as statuses of a zoo's component hashes.

``OFFICIAL`` holds the lock's file-name prefixes (torch.hub's ``check_hash`` convention: torchvision's ImageNet
ResNet-50 and AlexNet); the report's paper-reference rule checks the judges against these. A component hash
equal to a full-sha256 pin (e.g. pytorch-fid's Inception file) is official too. A part without a pin is **not
pinned**; a hash that matches none of a pinned part's entries is ``unknown``, never taken for the official file.
Pure data: the report imports this without torch.
"""
from __future__ import annotations

from typing import Mapping

def _lock() -> list[dict]:
    import tomllib
    from pathlib import Path

    return list(tomllib.loads(Path(__file__).with_name("weights.lock").read_text()).get("pin", []))


# {part: {file-name prefix: name}}: the lock's prefix pins (torchvision's published file names:
# resnet50-0676ba61.pth, resnet50-11ad3fa6.pth, alexnet-owt-7be5be79.pth)
OFFICIAL: dict[str, dict[str, str]] = {}
for _pin in _lock():
    if _pin.get("prefix"):
        OFFICIAL.setdefault(_pin["part"], {})[_pin["prefix"]] = _pin["name"]
NOT_PINNED = "not pinned"
UNKNOWN = "unknown (not a file emobench can confirm as official)"


def _full_pins() -> dict[str, dict[str, str]]:
    """{part: {full sha256: name}} of the weight lock's full-digest pins (emobench/zoo/weights.lock)."""
    out: dict[str, dict[str, str]] = {}
    for pin in _lock():
        if pin.get("sha256"):
            out.setdefault(pin["part"], {})[pin["sha256"]] = pin["name"]
    return out


def file_status(key: str, digest: str) -> str:
    """``official: <name>``, ``unknown (...)`` or ``not pinned`` for the component ``key`` with this sha256.

    LPIPS records ``<alexnet sha256>:<linear layers sha256>``; the AlexNet part is the one that is pinned. A
    digest equal to a full-sha256 pin of the weight lock is official too."""
    full = _full_pins().get(key, {}).get(str(digest).split(":", 1)[0])
    if full:
        return f"official: {full}"
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
