"""The intervals cover: a fast version of benchmarks/interval_coverage.py on a synthetic pool (seconds).

Eight strata of 300 items: a 0/1 outcome (an accuracy: Wilson / Newcombe without fits) and 3-d points (a
pairwise mean of squared distances: a U-statistic). A baseline and a learner whose fits tilt the pool (between-
fit SD of the accuracy: 5 points) are drawn as the scorer would see them (``emobench.testing.coverage``,
which calls ``scoring.inference``), and the coverage of the learner's, the baseline's and the difference's
95 % intervals is counted. The test fails when the rows together drop below the band (93 %, less one binomial
standard error) or one row below 88 %: replacing the random-effects interval by a cells-only one (the fit
spread unseen: about 60 %) does. The full operating range is measured by the benchmark.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from emobench.api import MeanOfStats, MeanStat, PairwiseMeanStat
from emobench.testing.coverage import Setting, World, calibrate, simulate

P, S = 300, 8


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Thousands of tiny tensor operations: torch's thread pool only adds overhead (and contention)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pool():
    rng = np.random.default_rng(0)
    y = [(rng.random(P) < p).astype(np.float64) for p in rng.uniform(0.4, 0.9, S)]
    x = [rng.normal(size=(P, 3)) * rng.uniform(0.5, 1.5) for _ in range(S)]
    d = [torch.from_numpy(((a[:, None] - a[None]) ** 2).sum(-1)) for a in x]
    return y, x, d


class Accuracy:
    name = "accuracy"

    def __init__(self, y):
        self.y = y

    def pooled(self, sel):
        return MeanStat(torch.from_numpy(np.concatenate([self.y[e][s] for e, s in enumerate(sel)])))

    def single(self, e, s):
        return MeanStat(torch.from_numpy(self.y[e][s]))

    def truth(self, probs):
        return float(np.mean([p @ y for p, y in zip(probs, self.y)]))

    def truth_single(self, e, p):
        return float(p @ self.y[e])


class Diversity:
    name = "diversity"

    def __init__(self, d):
        self.d = d

    def pooled(self, sel):
        return MeanOfStats([self.single(e, s) for e, s in enumerate(sel)])

    def single(self, e, s):
        return PairwiseMeanStat(self.d[e][np.ix_(s, s)])

    def truth(self, probs):
        return float(np.mean([self.truth_single(e, p) for e, p in enumerate(probs)]))

    def truth_single(self, e, p):
        return float(p @ self.d[e].numpy() @ p)


def _world(y, x):
    flat = [np.full(P, 1.0 / P)] * S
    return World(flat, flat, [np.stack([yy, xx[:, 0]]) for yy, xx in zip(y, x)])


def _accuracy_tallies(pool, setting: Setting, seed: int) -> dict:
    """Pooled tallies per row (learner, baseline, difference) of the accuracy at ``setting``, the fits' spread
    calibrated to ``setting.sd``."""
    y, x, _ = pool
    world = _world(y, x)
    acc = Accuracy(y)
    lam = calibrate(world, acc, setting.sd, fits=200)
    return {r.row: r.tally for r in simulate(world, [acc], setting, lam, seed=seed, target_draws=300)}


def test_intervals_cover_with_fits_and_few_cells(pool):
    y, x, d = pool
    world = _world(y, x)
    acc, div = Accuracy(y), Diversity(d)
    lam = calibrate(world, acc, 0.05, fits=200)
    hits = total = 0
    for setting, sources in ((Setting(8, 3, 0.05, 0.25, 160), (acc, div)),     # 3 fits, SD 5 points
                             (Setting(4, 2, 0.05, 0.25, 160), (acc,))):       # 4 cells, 2 fits
        for r in simulate(world, sources, setting, lam, seed=1, target_draws=300):
            t = r.tally
            assert t.total == setting.reps, r
            assert t.hits / t.total >= 0.88, r.as_dict()       # every row (160 reps: binomial SE 1.7 %)
            hits, total = hits + t.hits, total + t.total
    assert hits / total >= 0.925, hits / total                 # all 1,440 together: the band, less one SE
    assert hits / total <= 0.985, hits / total                 # and not wildly conservative


def test_one_fit_of_a_learner_prints_the_caveat_where_cells_only_would_undercover(pool):
    res = _accuracy_tallies(pool, Setting(50, 1, 0.05, 0.25, 100), seed=2)
    assert res["learner"].total == 0 and res["learner"].notes == 100          # no interval, the caveat
    assert res["difference"].total == 0 and res["difference"].notes == 100
    assert res["learner"].naive_hits / 100 < 0.85                              # what a cells-only one would cover
    assert res["baseline"].hits / res["baseline"].total >= 0.90                # the baseline does not learn


def test_two_fits_keep_their_coverage_when_they_land_close(pool):
    """Two fits at 50 cells per emotion, fit SD 3 points: the learner's interval must cover although the
    cells' hundreds of degrees of freedom tempt a single Satterthwaite df (that covered 87–91 % here and on the
    zoo's pool). Pooled over the 8 strata, 300 repetitions."""
    res = _accuracy_tallies(pool, Setting(50, 2, 0.03, 0.25, 300), seed=3)
    cov = res["learner"].hits / res["learner"].total
    assert cov >= 0.93 - 0.0126, cov                           # the band, less one binomial SE at 300


def test_a_learner_near_one_keeps_its_coverage_per_stratum_at_four_cells(pool):
    """Ten fits, 4 cells per stratum, a learner that gets 85–98 % right where the images it shares with the
    baseline (ρ = 0.25) get 40–84 %: most draws show no shared miss, and a t interval on the measured spread
    covered 85 % (every draw whose 40 outcomes all agree missed); Wilson on the effective n with the parts'
    quantile, and the score interval of the K·n trials when all agree, cover. Per stratum, 200 repetitions."""
    y, _, _ = pool
    flat = [np.full(P, 1.0 / P)] * S
    keen = [np.where(yy == 1, 8.0, 1.0) / np.where(yy == 1, 8.0, 1.0).sum() for yy in y]
    rng = np.random.default_rng(5)
    world = World(flat, keen, [np.stack([yy, rng.normal(size=P)]) for yy in y])
    acc = Accuracy(y)
    setting = Setting(4, 10, 0.03, 0.25, 200)
    lam = calibrate(world, acc, setting.sd, fits=200)
    res = {(r.level, r.row): r.tally for r in simulate(world, [acc], setting, lam, seed=4, strata=tuple(range(S)),
                                                        target_draws=300)}
    t = res[("per stratum", "learner")]
    assert t.total == 200 * S
    cov = t.hits / t.total
    assert cov >= 0.93 - math.sqrt(0.95 * 0.05 / t.total), cov     # the band, less one binomial SE at 1,600
