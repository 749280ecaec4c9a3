"""Measured coverage of the scorer's 95 % intervals: a simulation harness on a pool of items.

A *source* turns a selection of pool items into the statistic the scorer would build (``GroupStat``) and, for
statistics that have one, gives the population value of a probability distribution over the pool (its
truth). Simulated methods are distributions over the pool: a baseline (no fits, like ``sd``) and a learner
whose K fits are drawn from a *fit population*: each fit tilts the learner's distribution along the pool's
tilt axes (per-item scores, e.g. "shows a spider", "the judge gets it right") by λ·g with g ~ N(0, 1) per fit
and axis, λ calibrated so that one chosen source's value has a stated between-fit SD. Every replication
draws K fits, n cells per stratum for every population (a cell's image is shared by all populations with
probability ``rho``, the way one seed's latent is shared across methods), and asks
``scoring.inference`` — the code the scorer runs — for the intervals of the learner's value, the baseline's
value and their paired difference, pooled over strata and per stratum. The target of an interval is the
population value (its expectation over fits for the learner); for statistics without one (FID: its value
depends on n), the mean of the statistic over independent draws at the same n.

``benchmarks/test_interval_coverage.py`` runs it on the shipped zoo's images; ``tests/test_interval_coverage.py``
on a synthetic pool, in seconds.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np
import torch

from emobench.group_stats import GroupStat
from emobench.scoring.inference import Member, difference_interval, value_interval
from emobench.scoring.intervals import Interval

LEVEL = 0.05


class Source(Protocol):
    name: str

    def pooled(self, sel: Sequence[np.ndarray]) -> GroupStat: ...          # item indices per stratum
    def single(self, stratum: int, sel: np.ndarray) -> GroupStat: ...
    def truth(self, probs: Sequence[np.ndarray]) -> float | None: ...     # None: a Monte Carlo target
    def truth_single(self, stratum: int, probs: np.ndarray) -> float | None: ...


@dataclass
class World:
    """Per stratum: the baseline's and the learner's distribution over that stratum's pool items, and the
    axes ``[A, items]`` a fit may tilt along (standardised here)."""

    base: list[np.ndarray]
    learner: list[np.ndarray]
    axes: list[np.ndarray]

    def __post_init__(self) -> None:
        self.axes = [(a - a.mean(1, keepdims=True)) / np.where(a.std(1, keepdims=True) > 0, a.std(1, keepdims=True), 1)
                     for a in (np.atleast_2d(np.asarray(x, dtype=np.float64)) for x in self.axes)]

    @property
    def strata(self) -> int:
        return len(self.base)

    def fit(self, rng: np.random.Generator, lam: float) -> list[np.ndarray]:
        g = rng.standard_normal(self.axes[0].shape[0])
        out = []
        for p, a in zip(self.learner, self.axes):
            w = p * np.exp(lam * (g @ a))
            out.append(w / w.sum())
        return out


@dataclass(frozen=True)
class Setting:
    cells: int            # per stratum
    fits: int             # of the learner
    sd: float             # between-fit SD of the calibration source's value (its units)
    rho: float = 0.25     # chance that a cell's image is shared by every population
    reps: int = 500


@dataclass
class Tally:
    hits: int = 0
    total: int = 0
    notes: int = 0        # rows that printed a note instead of an interval
    width: float = 0.0
    naive_hits: int = 0   # K = 1 learner: what a cells-only interval would have covered

    def add(self, iv: Interval | str, target: float, naive: Interval | None = None) -> None:
        if isinstance(iv, str):
            self.notes += 1
            if naive is not None and not isinstance(naive, str):
                lo, hi = naive.bounds(LEVEL)
                self.naive_hits += int(lo <= target <= hi)
            return
        lo, hi = iv.bounds(LEVEL)
        self.total += 1
        self.hits += int(lo <= target <= hi)
        self.width += hi - lo

    def row(self) -> dict:
        cov = self.hits / self.total if self.total else math.nan
        return {"coverage": cov, "se": math.sqrt(cov * (1 - cov) / self.total) if self.total else math.nan,
                "intervals": self.total, "notes": self.notes, "mean_width": self.width / self.total if self.total else math.nan,
                "naive_coverage": self.naive_hits / self.notes if self.notes else math.nan}


def calibrate(world: World, source: Source, sd: float, seed: int = 0, fits: int = 400) -> float:
    """λ such that the SD over fits of ``source``'s population value is ``sd`` (bisection; 0 for sd = 0)."""
    if sd <= 0:
        return 0.0

    def spread(lam: float) -> float:
        rng = np.random.default_rng(seed)
        return float(np.std([source.truth(world.fit(rng, lam)) for _ in range(fits)], ddof=1))

    lo, hi = 0.0, 0.5
    while spread(hi) < sd and hi < 64:
        lo, hi = hi, hi * 2
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spread(mid) < sd else (lo, mid)
    return (lo + hi) / 2


def _draw(rng: np.random.Generator, pops: Sequence[list[np.ndarray]], base: list[np.ndarray], n: int,
          rho: float) -> list[list[np.ndarray]]:
    """n cells per stratum for every population; a cell takes the shared image with probability rho."""
    out = [[] for _ in pops]
    for e, b in enumerate(base):
        shared = rng.choice(b.size, n, p=b)
        for k, pop in enumerate(pops):
            own = rng.choice(b.size, n, p=pop[e])
            out[k].append(np.where(rng.random(n) < rho, shared, own))
    return out


def _mix(p: list[np.ndarray], base: list[np.ndarray], rho: float) -> list[np.ndarray]:
    return [rho * b + (1 - rho) * x for x, b in zip(p, base)]


def _value(stat: GroupStat) -> float:
    return float(stat.evaluate(torch.ones(1, stat.n, dtype=torch.float64))[0])


@dataclass
class Targets:
    learner: float
    base: float

    @property
    def diff(self) -> float:
        return self.learner - self.base


def _exact(source: Source, fits: Sequence[list[np.ndarray]], stratum: int | None) -> np.ndarray | None:
    """Population values of many distributions (a source may offer ``truth_many`` for speed)."""
    many = getattr(source, "truth_many", None)
    if many is not None:
        return many(fits, stratum)
    out = [source.truth(p) if stratum is None else source.truth_single(stratum, p[stratum]) for p in fits]
    return None if out[0] is None else np.asarray(out, dtype=np.float64)


def targets(world: World, sources: Sequence[Source], lam: float, s: Setting, rng: np.random.Generator,
            strata: Sequence[int | None], draws: int = 1000) -> dict[tuple[str, int | None], Targets]:
    """Per (source, stratum): the population values (exact sources: mean over ``draws`` fits) or, without
    one, the mean statistic over ``draws`` independent draws at n cells."""
    fits = [_mix(world.fit(rng, lam), world.base, s.rho) for _ in range(draws)]
    out = {}
    for src in sources:
        for e in strata:
            base = _exact(src, [world.base], e)
            if base is not None:
                out[(src.name, e)] = Targets(float(np.mean(_exact(src, fits, e))), float(base[0]))
                continue

            def mc(pops: Sequence[list[np.ndarray]]) -> float:
                vals = []
                for pop in pops:
                    sel = _draw(rng, [pop], world.base, s.cells, 0.0)[0]
                    vals.append(_value(src.pooled(sel) if e is None else src.single(e, sel[e])))
                return float(np.nanmean(vals))
            out[(src.name, e)] = Targets(mc(fits), mc([world.base] * draws))
    return out


@dataclass
class Result:
    source: str
    level: str            # "pooled" | "per stratum"
    row: str              # "learner" | "baseline" | "difference"
    setting: Setting
    lam: float
    tally: Tally = field(default_factory=Tally)

    def as_dict(self) -> dict:
        s = self.setting
        return {"statistic": self.source, "level": self.level, "row": self.row, "cells": s.cells, "fits": s.fits,
                "between_fit_sd": s.sd, "rho": s.rho, "reps": s.reps, "lambda": self.lam, **self.tally.row()}


def simulate(world: World, sources: Sequence[Source], s: Setting, lam: float, seed: int = 0,
             strata: Sequence[int] = (), target_draws: int = 1000, max_replicates: int = 1000,
             log: Callable[[str], None] | None = None, progress: bool = False) -> list[Result]:
    """Coverage of the learner's, the baseline's and the difference's intervals for every source, pooled
    and for the listed strata (per-stratum results are summed over them); ``progress``: a bar over the
    repetitions on stderr (a FID setting at 400 cells per emotion runs for an hour on one core)."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    levels: list[tuple[str, int | None]] = [("pooled", None)] + [("per stratum", e) for e in strata]
    tg = targets(world, sources, lam, s, rng, [e for _, e in levels], target_draws)
    res = {(src.name, lvl, row): Result(src.name, lvl, row, s, lam)
           for src in sources for lvl in ("pooled", "per stratum")[:1 + bool(strata)]
           for row in ("learner", "baseline", "difference")}
    reps = range(s.reps)
    if progress:
        from tqdm.auto import tqdm
        reps = tqdm(reps, desc=f"cells {s.cells} fits {s.fits} sd {s.sd:g}", unit="rep", mininterval=10)
    for _ in reps:
        fits = [_mix(world.fit(rng, lam), world.base, 0.0) for _ in range(s.fits)]
        sels = _draw(rng, fits + [world.base], world.base, s.cells, s.rho)
        for src in sources:
            for lvl, e in levels:
                if e is None:
                    stats = [src.pooled(sel) for sel in sels]
                    strata_n = [s.cells] * world.strata
                else:
                    stats = [src.single(e, sel[e]) for sel in sels]
                    strata_n = [s.cells]
                cells = [str(i) for i in range(sum(strata_n))]
                members = [Member(st, cells, strata_n, _value(st)) for st in stats]
                k = s.fits
                t = tg[(src.name, e)]
                naive = value_interval(members, list(range(k)), False, max_replicates) if k == 1 else None
                res[(src.name, lvl, "learner")].tally.add(
                    value_interval(members, list(range(k)), True, max_replicates), t.learner, naive)
                res[(src.name, lvl, "baseline")].tally.add(value_interval(members, [k], False, max_replicates), t.base)
                naive_d = difference_interval(members[:k], members[k:], False, False, max_replicates) if k == 1 else None
                res[(src.name, lvl, "difference")].tally.add(
                    difference_interval(members[:k], members[k:], True, False, max_replicates), t.diff, naive_d)
    if log:
        log(f"cells {s.cells} fits {s.fits} sd {s.sd} rho {s.rho}: {s.reps} reps in {time.perf_counter() - t0:.0f} s")
    return list(res.values())
