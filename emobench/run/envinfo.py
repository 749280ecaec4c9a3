"""What ran a run: package versions, git sha, Python, torch threads/device and determinism flags (env.json)."""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

PACKAGES = ("emobench", "torch", "torchvision", "diffusers", "transformers", "open_clip_torch", "safetensors",
            "accelerate", "peft", "torchmetrics", "numpy", "scipy", "pandas", "pillow", "tqdm")


@lru_cache(maxsize=None)  # fixed for the life of a process; saves ~0.1 s per run
def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@lru_cache(maxsize=None)
def git_info(repo: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag of the emobench source tree (None outside a git checkout)."""
    root = repo or Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}
    return {"sha": sha, "dirty": dirty}


def environment(device: torch.device | str = "cpu") -> dict[str, Any]:
    return {
        "packages": dict(package_versions()),
        "git": dict(git_info()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
    }
