"""The scorer's statistics settings and Holm's correction.

Design (docs/metrics.md, "Which interval each number has"):

* The sampling unit is the **cell** (emotion, template, seed); emotions are strata of fixed size. Every
  method gets the same cells, so a difference of two methods is **paired** by cell.
* Intervals follow the statistic's kind and the method's fits (``scoring.inference``): Wilson / Newcombe
  score intervals for proportions, t intervals on a stratified jackknife (or a statistic's own unbiased
  U-statistic) variance otherwise, random effects over a learning method's fits.
* A difference's p-value is the dual of its own interval (``scoring.intervals``), Holm-corrected once per
  table with each distinct test counted once (``scoring.family``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch


@dataclass(frozen=True)
class BootstrapConfig:
    """Resampling settings (the name is kept from the bootstrap the scorer used before the jackknife).

    ``n_resamples``: at most this many jackknife replicates per series (delete-one-cell up to this many cells,
    else delete-a-group, groups taken round-robin within each emotion); ``seed``: the shuffled control's deal;
    ``alpha``: 1 − the intervals' level. ``emobench agree`` bootstraps with it (``draw_weights``)."""

    n_resamples: int = 1000
    seed: int = 0
    alpha: float = 0.05       # 95 % intervals


def _stream_seed(seed: int, stream: str) -> int:
    digest = hashlib.sha256(f"{seed}|{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def draw_weights(n: int, stream: str, cfg: BootstrapConfig) -> torch.Tensor:
    """Multinomial resample counts ``[B, n]`` (float64), deterministic in (cfg.seed, stream, n): the bootstrap
    of ``emobench agree``'s rank correlations (``report.rank_agreement``); the scorer's intervals use none."""
    if n == 0:
        return torch.zeros(cfg.n_resamples, 0, dtype=torch.float64)
    rng = np.random.default_rng(_stream_seed(cfg.seed, stream))
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=cfg.n_resamples)
    return torch.from_numpy(counts.astype(np.float64))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (monotone step-down); nan entries stay nan and are not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.where(np.isfinite(p))[0]
    m = idx.size
    if m == 0:
        return out.tolist()
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()
