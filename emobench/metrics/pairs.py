"""Which image pairs a diversity metric (Sem-D, LPIPS) measures within a group."""
from __future__ import annotations

import torch

from emobench.api import stable_hash


def pair_mask(n: int, max_pairs: int, seed: int, stream: str) -> torch.Tensor:
    """Symmetric bool ``[n, n]``: all pairs i≠j when there are at most ``max_pairs``, else a seeded sample of
    ``max_pairs`` distinct unordered pairs (the official script drew 10 unseeded pairs, with repeats).

    The sample depends on (seed, stream, n) only — not on the method — so the same cell pairs are measured
    for every method and the comparison stays paired.
    """
    mask = ~torch.eye(n, dtype=torch.bool)
    total = n * (n - 1) // 2
    if total <= max_pairs:
        return mask
    iu = torch.triu_indices(n, n, 1)
    g = torch.Generator().manual_seed(int(stable_hash([seed, stream, n])[:12], 16))
    pick = torch.randperm(total, generator=g)[:max_pairs]
    out = torch.zeros(n, n, dtype=torch.bool)
    out[iu[0, pick], iu[1, pick]] = True
    return out | out.T
