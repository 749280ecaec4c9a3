"""Agreement between emotion judges on the same images: Cohen's κ for a pair, Fleiss' κ for a panel.

Both compare the judged emotions (argmax labels in ``EMOTIONS`` order), not accuracies: two judges that are
both wrong in the same way agree. κ is undefined (``None``) when chance agreement is already 1 (every judge
gives one label to every image), and for fewer than two images.
"""
from __future__ import annotations

from itertools import combinations
from typing import Any, Sequence

import torch

from emobench.emotions import EMOTIONS

K = len(EMOTIONS)


def _kappa(p_obs: float, p_exp: float) -> float | None:
    if p_exp >= 1.0 - 1e-12:
        return None
    return (p_obs - p_exp) / (1.0 - p_exp)


def cohen_kappa(a: torch.Tensor, b: torch.Tensor, k: int = K) -> float | None:
    """Cohen's κ between two raters' labels ``[n]`` (ints in ``[0, k)``)."""
    n = int(a.numel())
    if n < 2:
        return None
    joint = torch.zeros(k, k, dtype=torch.float64)
    joint.index_put_((a.long(), b.long()), torch.ones(n, dtype=torch.float64), accumulate=True)
    joint /= n
    return _kappa(float(joint.diagonal().sum()), float(joint.sum(1) @ joint.sum(0)))


def fleiss_kappa(labels: torch.Tensor, k: int = K) -> float | None:
    """Fleiss' κ of ``labels [n_images, n_raters]`` (each image rated by every rater)."""
    n, m = labels.shape if labels.ndim == 2 else (0, 0)
    if n < 2 or m < 2:
        return None
    counts = torch.zeros(n, k, dtype=torch.float64)
    counts.scatter_add_(1, labels.long(), torch.ones(n, m, dtype=torch.float64))
    p_i = ((counts ** 2).sum(1) - m) / (m * (m - 1))
    p_j = counts.sum(0) / (n * m)
    return _kappa(float(p_i.mean()), float((p_j ** 2).sum()))


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def agreement(labels: torch.Tensor, judges: Sequence[str]) -> dict[str, Any]:
    """κ table of one set of images: ``labels [n, len(judges)]`` → n, Cohen's κ per pair, Fleiss' κ."""
    pairs = {f"{judges[i]}|{judges[j]}": _r(cohen_kappa(labels[:, i], labels[:, j]))
             for i, j in combinations(range(len(judges)), 2)}
    return {"n": int(labels.shape[0]), "cohen": pairs, "fleiss": _r(fleiss_kappa(labels))}


__all__ = ["cohen_kappa", "fleiss_kappa", "agreement"]
