"""Which interval each number has: the procedure follows the statistic's kind and the method's fits.

The core names no metric. A row's statistic is one of three kinds, read from the statistic itself:

* **proportion**: a mean of per-image values that are all 0 or 1 (an accuracy);
* **mean**: any other mean of per-image values;
* **set**: any other ``GroupStat`` (FID, KID, a pairwise diversity, a plugin's statistic).

Its cell-sampling (co)variances come from the stratified delete-one-cell jackknife (``scoring.jackknife``;
exact for means); in pooled rows of a statistic that also knows its own unbiased estimate
(``GroupStat.covariance``: the pairwise means, U-statistics) from the mean of the two. A learning method
fitted K ≥ 2 times adds the spread of its fits:

    Var(mean over fits) = s²_fits / K  +  C,

s²_fits the sample variance of the K fit values (it holds the between-fit variance and each fit's own cell
noise), C the part of the cell variance the fits share (the same cells, so the same seeds): C = K·V̄ − W̄ over
(K − 1), with V̄ the cell variance of the fit mean and W̄ the mean cell variance of one fit (both from the same
covariances, so a paired difference is done the same way). The interval is t on Satterthwaite's degrees of
freedom (K − 1 for the fit part): a random-effects interval whose between-fit part does not shrink with few
fits. One fit of a learning method has no s²: its rows say "1 fit: fit-to-fit spread not measured" and carry
no interval and no test.

A learner's proportion gets Wilson's score interval on the effective n of that variance, p̂(1 − p̂)/Var, with
the parts' own quantile (``intervals.WilsonInterval`` with parts) instead of the symmetric t interval.

Without fits: proportions get Wilson's score interval (per emotion; the pooled row with the effective n of
its stratified variance), their paired differences Newcombe's hybrid score interval (MOVER with the paired
correlation); means and set statistics a t interval. Measured coverage: benchmarks/RESULTS.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from emobench.group_stats import GroupStat, MeanStat
from emobench.scoring.intervals import ComponentsInterval, Interval, MoverInterval, TInterval, WilsonInterval
from emobench.scoring.jackknife import Replicates, replicates, stratum_covariance

ONE_FIT = "1 fit: fit-to-fit spread not measured"
TINY = 1e-12        # a variance of a proportion this small is every cell and fit agreeing, not information


@dataclass
class Member:
    """One population's statistic on its cells: a method without fits, one fit of a learner, or a control."""

    stat: GroupStat
    cells: list[str]
    strata: list[int]                            # cells per stratum (emotion), in column order
    value: float
    replicate_values: Callable[[Replicates], np.ndarray] | None = None   # jackknife replicates (cached by the engine)
    _reps: dict = field(default_factory=dict, repr=False)

    def reps(self, rep: Replicates) -> np.ndarray:
        key = rep.per_stratum.__repr__()
        if key not in self._reps:
            if self.replicate_values is not None:
                self._reps[key] = self.replicate_values(rep)
            else:
                from emobench.scoring.jackknife import replicate_values
                self._reps[key] = replicate_values(self.stat, rep)
        return self._reps[key]


class _Subset(GroupStat):
    """A statistic evaluated on some of its cells (the rest weigh 0): members compared on common cells."""

    def __init__(self, stat: GroupStat, idx: np.ndarray):
        self.stat, self.idx, self.n = stat, torch.from_numpy(idx), len(idx)
        self.extra = {}
        self.value_range = getattr(stat, "value_range", (-math.inf, math.inf))

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        full = torch.zeros(weights.shape[0], self.stat.n, dtype=torch.float64)
        full[:, self.idx] = weights.double()
        return self.stat.evaluate(full)


def restrict(members: Sequence[Member]) -> list[Member]:
    """The members on the cells all of them have (in the first's order); unchanged when they agree."""
    if all(m.cells == members[0].cells for m in members):
        return list(members)
    common = set(members[0].cells).intersection(*(m.cells for m in members[1:]))
    first = members[0]
    stratum = np.repeat(np.arange(len(first.strata)), first.strata)
    keep = [i for i, c in enumerate(first.cells) if c in common]
    cells = [first.cells[i] for i in keep]
    strata = [int(np.sum(stratum[keep] == e)) for e in range(len(first.strata))]
    strata = [n for n in strata if n > 0]
    out = []
    for m in members:
        pos = {c: i for i, c in enumerate(m.cells)}
        idx = np.asarray([pos[c] for c in cells], dtype=np.int64)
        stat = MeanStat(m.stat.values[torch.from_numpy(idx)]) if isinstance(m.stat, MeanStat) else _Subset(m.stat, idx)
        value = float(stat.evaluate(torch.ones(1, len(idx), dtype=torch.float64))[0]) if len(idx) else math.nan
        out.append(Member(stat, cells, strata, value))
    return out


def kind_of(stat: GroupStat) -> str:
    if isinstance(stat, MeanStat):
        v = stat.values
        return "proportion" if bool(torch.all((v == 0) | (v == 1))) else "mean"
    return "set"


@dataclass
class Covariances:
    """Per-stratum cell covariances between members on one layout: the jackknife's, averaged with the
    statistic's own unbiased estimate in pooled rows when it has one; ``df`` per stratum for Satterthwaite."""

    members: list[Member]
    max_replicates: int = 1000
    use_own: bool = True

    def __post_init__(self) -> None:
        self.rep = replicates(self.members[0].strata, self.max_replicates)
        self.memo: dict[tuple[int, int], np.ndarray] = {}
        self.floors: dict[int, np.ndarray] = {}
        # pooled rows of a statistic with its own unbiased covariance (a pairwise mean) take the mean of that and
        # the jackknife's: the unbiased estimate is so noisy at a few cells per emotion that its t interval
        # under-covers (measured 82–87 % at 4 cells, 93–95 % at 8–16), while the jackknife counts a pairwise
        # mean's degenerate part twice (98–99 % at 4–8 cells); their mean covers 94–97 % from 4 cells on
        # (benchmarks/RESULTS.md). Within one emotion the jackknife alone covers (95–97 %).
        self.own = self.use_own and len(self.rep.strata) > 1 and \
            all(m.cells == self.members[0].cells for m in self.members) and \
            self.members[0].stat.covariance(self.members[0].stat) is not None

    @property
    def df(self) -> np.ndarray:
        return np.asarray([g - 1 for g in self.rep.per_stratum], dtype=np.float64)

    def cov(self, i: int, j: int) -> np.ndarray:
        key = (min(i, j), max(i, j))
        if key not in self.memo:
            a, b = self.members[i], self.members[j]
            c = np.asarray(stratum_covariance(a.reps(self.rep), b.reps(self.rep), self.rep), dtype=np.float64)
            own = a.stat.covariance(b.stat) if self.own else None
            if own is not None and len(own) == len(c):
                c = (c + np.asarray(own, dtype=np.float64)) / 2
            self.memo[key] = c.reshape(-1)
        return self.memo[key]

    def floor(self, i: int) -> np.ndarray:
        """Per stratum, what member i's cell variance must at least be: for a proportion (a mean of 0/1 values),
        the Agresti–Coull variance of the stratum's count where its cells all agree (the jackknife's is then 0:
        four baseline cells all right would otherwise add nothing to a Δ's interval); 0 elsewhere."""
        if i in self.floors:
            return self.floors[i]
        m = self.members[i]
        out = np.zeros(len(m.strata), dtype=np.float64)
        v = m.stat.values.numpy() if isinstance(m.stat, MeanStat) else None
        if v is not None and np.all((v == 0) | (v == 1)):
            n_all, start = float(len(v)), 0
            for e, n_e in enumerate(m.strata):
                x = v[start:start + n_e]
                start += n_e
                if n_e and (x.min() == x.max()):
                    out[e] = (n_e / n_all) ** 2 * _agresti_coull(float(x.sum()), n_e)
        self.floors[i] = out
        return out

    def jackknife(self) -> "Covariances":
        return Covariances(self.members, self.max_replicates, use_own=False)


@dataclass
class Combination:
    """Σ_m c_m · (mean over the fits of method m): a method's value (one term) or a paired difference (two)."""

    groups: list[list[int]]       # member indices per method (its fits)
    coefs: list[float]
    learner: list[bool]

    def value(self, members: Sequence[Member]) -> float:
        return float(sum(c * np.mean([members[i].value for i in g]) for g, c in zip(self.groups, self.coefs)))


def _variance(comb: Combination, cov: Covariances) -> tuple[float, float, np.ndarray, list[tuple[float, float]]]:
    """(total variance, Satterthwaite df, cell part per stratum, independent parts as (variance, df)) of a
    combination: one between-fit part per learning method with K ≥ 2 fits (K − 1 df), then the cells'."""
    # members without fits (a baseline, a control) beside a learner's fits; without fits on either side the
    # variance is the cells' own (Wilson / Newcombe handle proportions there)
    with_fits = any(len(g) > 1 for g in comb.groups)
    sides = {g[0] for g in comb.groups if len(g) == 1} if with_fits else set()

    def cv(i: int, j: int) -> np.ndarray:
        # the own cell variance of a side without fits, floored (Covariances.floor); a learner's fits are left
        # as they are: their cell noise is in s² already
        c = cov.cov(i, j)
        if i != j or i not in sides:
            return c
        f = cov.floor(i)
        return np.where(f > 0, np.maximum(c, f), c) if c.shape == f.shape else c   # elsewhere c as it is (a
        # pairwise mean's unbiased per-stratum estimate may be negative, and must stay so)

    flat = [(i, c / len(g)) for g, c in zip(comb.groups, comb.coefs) for i in g]
    cells = sum(ci * cj * cv(i, j) for i, ci in flat for j, cj in flat)
    between, df_terms = 0.0, 0.0
    parts: list[tuple[float, float]] = []
    for g, c, learner in zip(comb.groups, comb.coefs, comb.learner):
        k = len(g)
        if k < 2:
            continue
        w = np.mean([cv(i, i) for i in g], axis=0)                            # one fit's cell variance
        v = np.mean([cv(i, j) for i in g for j in g], axis=0)                 # the fit mean's
        cells = cells - c * c * (w - v) / (k - 1)                             # independent part: in s² already
        s2 = float(np.var([cov.members[i].value for i in g], ddof=1))
        between += c * c * s2 / k
        df_terms += (c * c * s2 / k) ** 2 / (k - 1)
        parts.append((c * c * s2 / k, float(k - 1)))
    cells = np.asarray(cells, dtype=np.float64)
    total_cells = float(np.sum(cells))
    # a side without fits keeps at least its floored variance: a learner's shared-cell estimate C can come out
    # negative at a few cells and would otherwise cancel it (4 cells, 10 fits: the Δ covered 80 %)
    side_floor = sum(c * c * float(np.sum(cov.floor(g[0]))) for g, c in zip(comb.groups, comb.coefs) if g[0] in sides)
    c_part = max(total_cells, side_floor, 0.0)
    pos = np.clip(cells, 0, None)
    nu_c = math.inf
    if c_part > 0 and float(np.sum(pos)) > 0:   # Satterthwaite over the strata: ν_c = (Σ C_e)² / Σ C_e²/df_e
        dfs = cov.df
        spread = float(np.sum([c * c / d if d > 0 else (math.inf if c > 0 else 0.0) for c, d in zip(pos, dfs)]))
        df_terms += c_part ** 2 * spread / float(np.sum(pos)) ** 2
        nu_c = float(np.sum(pos)) ** 2 / spread if spread > 0 else math.inf
    parts.append((c_part, nu_c))
    total = between + c_part
    df = total ** 2 / df_terms if df_terms > 0 else math.inf
    return total, df, cells, parts


def _cells_ok(total: float, cells: np.ndarray) -> bool:
    return math.isfinite(total) and bool(np.all(np.isfinite(cells))) and float(np.sum(cells)) > 0


def _solve(comb: Combination, cov: Covariances) -> tuple[float, float, np.ndarray, Covariances, list]:
    total, df, cells, parts = _variance(comb, cov)
    if cov.own and not _cells_ok(total, cells):    # the mean with the unbiased estimate came out ≤ 0: jackknife
        jk = cov.jackknife()
        total, df, cells, parts = _variance(comb, jk)
        return total, df, cells, jk, parts
    return total, df, cells, cov, parts


def _t_or_components(value: float, total: float, df: float, parts: list[tuple[float, float]], low: float,
                     high: float, procedure: str) -> Interval:
    """With a between-fit part: each part on its own df (``ComponentsInterval``); without: one t on the cells'
    Satterthwaite df (the two agree when the cells' part is the only one)."""
    if len(parts) > 1:
        return ComponentsInterval(value, tuple(parts), low, high, procedure)
    return TInterval(value, math.sqrt(total), df, low, high, procedure)


def _agresti_coull(x: float, n: float) -> float:
    """Agresti–Coull variance of a proportion of x successes in n trials (two added of each)."""
    p = (x + 2) / (n + 4)
    return p * (1 - p) / (n + 4)


def _ac_variance(members: Sequence[Member], idx: Sequence[int]) -> float:
    """Agresti–Coull variance of the pooled proportion of these members: what stands in for the variance when
    every fit and cell agrees (no interval of a proportion has zero width)."""
    n = sum(sum(members[i].strata) for i in idx)
    x = sum(members[i].value * sum(members[i].strata) for i in idx)
    return _agresti_coull(x, n)


def value_interval(members: Sequence[Member], fits: Sequence[int], learner: bool,
                   max_replicates: int = 1000) -> Interval | str:
    """The interval of one method's (or control's) value; a note instead when it cannot be measured."""
    if learner and len(fits) == 1:
        return ONE_FIT
    sub = restrict([members[i] for i in fits])
    if not sub[0].cells:
        return "its fits share no cell"
    comb = Combination([list(range(len(sub)))], [1.0], [learner])
    value = comb.value(sub)
    if not math.isfinite(value):
        return "no value"
    kind = kind_of(sub[0].stat)
    cov = Covariances(list(sub), max_replicates)
    if kind == "proportion" and len(sub) == 1:
        m = sub[0]
        if len(m.strata) == 1:
            return WilsonInterval(value, float(m.strata[0]))
        v = float(np.sum(cov.cov(0, 0)))
        n = float(sum(m.strata))
        n_eff = value * (1 - value) / v if (v > 0 and 0 < value < 1) else n
        return WilsonInterval(value, n_eff, "Wilson score (stratified)")
    total, df, cells, used, parts = _solve(comb, cov)
    if not math.isfinite(total):
        return "variance not estimable (too few cells per emotion)"
    if kind == "proportion":
        if total <= TINY:
            # no measured spread (every outcome agrees, or fits of equal value with no cell effect they share):
            # Wilson's interval of the K·n outcomes as trials (a t interval with the pooled count's Agresti–Coull
            # variance missed every all-agreeing draw on a synthetic world whose learner gets ~97 % right)
            return WilsonInterval(value, float(len(sub) * sum(sub[0].strata)),
                                  "Wilson score (no measured spread: the K·n outcomes as trials)")
        # several fits (one member returned above) and a spread, so 0 < p̂ < 1 and a fit part: Wilson on the
        # effective n of the random-effects variance with the parts' own quantile (intervals.WilsonInterval);
        # its symmetric t interval covered 89 % per emotion at 4 cells
        return WilsonInterval(value, value * (1 - value) / total, _name(used, len(sub), score=True), tuple(parts))
    if total <= 0:
        return "variance not estimable (every replicate equal)"
    low, high = getattr(sub[0].stat, "value_range", (-math.inf, math.inf))
    return _t_or_components(value, total, df, parts, low, high, _name(used, len(sub)))


def difference_interval(a: Sequence[Member], b: Sequence[Member], learner_a: bool, learner_b: bool,
                        max_replicates: int = 1000) -> Interval | str:
    """The interval of mean(a's fits) − mean(b's fits) on the same cells (paired); a note when none."""
    if (learner_a and len(a) == 1) or (learner_b and len(b) == 1):
        return ONE_FIT
    members = restrict(list(a) + list(b))
    if not members[0].cells:
        return "no cell in common"
    comb = Combination([list(range(len(a))), list(range(len(a), len(members)))], [1.0, -1.0],
                       [learner_a, learner_b])
    value = comb.value(members)
    if not math.isfinite(value):
        return "no value"
    kind = kind_of(members[0].stat)
    cov = Covariances(members, max_replicates)
    if kind == "proportion" and len(a) == 1 and len(b) == 1:
        ia, ib = value_interval(members, [0], False), value_interval(members, [1], False)
        if isinstance(ia, str) or isinstance(ib, str):
            return ia if isinstance(ia, str) else ib
        va, vb, cab = (float(np.sum(cov.cov(i, j))) for i, j in ((0, 0), (1, 1), (0, 1)))
        r = cab / math.sqrt(va * vb) if va > 0 and vb > 0 else 0.0
        return MoverInterval(ia, ib, max(-1.0, min(1.0, r)))
    total, df, cells, used, parts = _solve(comb, cov)
    if not math.isfinite(total):
        return "variance not estimable (too few cells per emotion)"
    k = max(len(a), len(b))
    if kind == "proportion":
        if total <= TINY:
            total = _ac_variance(members, range(len(a))) + _ac_variance(members, range(len(a), len(members)))
            return TInterval(value, math.sqrt(total), df, -1.0, 1.0, _name(used, k))
        return _t_or_components(value, total, df, parts, -1.0, 1.0, _name(used, k))
    if total <= 0:
        return "variance not estimable (every replicate equal)"
    low, high = getattr(members[0].stat, "value_range", (-math.inf, math.inf))
    return _t_or_components(value, total, df, parts, low - high, high - low, _name(used, k))


def _name(cov: Covariances, fits: int, score: bool = False) -> str:
    """The procedure as ``p_note`` and ``interval`` name it."""
    var = "mean of U-statistic and jackknife variances" if cov.own else "jackknife variance"
    base = f"Wilson score (effective n of the {var})" if score else f"t ({var})"
    return f"{base}, random effects over fits (fit part on K − 1 df)" if fits > 1 else base
