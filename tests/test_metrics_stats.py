"""Interval procedures, their dual p-values, Holm, the jackknife and the U-statistic covariance, each checked
against a reference (scipy, a published example, exact enumeration, a closed form)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import binomtest
from scipy.stats import t as student_t

from emobench.api import MeanOfStats, MeanStat, PairwiseMeanStat
from emobench.group_stats import ustat_covariance
from emobench.metrics.pairs import pair_mask
from emobench.scoring.inference import Covariances, Member, difference_interval, value_interval
from emobench.scoring.intervals import (ComponentsInterval, MoverInterval, TInterval, WilsonInterval, from_spec,
                                       holm_levels)
from emobench.scoring.jackknife import replicate_values, replicates, stratum_covariance
from emobench.scoring.stats import holm


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, float("nan"), 0.01]) == pytest.approx([0.5, float("nan"), 0.02], nan_ok=True)
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])   # 2·0.8 capped at 1; monotone step-down
    assert holm([0.2, 0.01]) == pytest.approx([0.2, 0.02])


def test_holm_level_intervals_exclude_zero_exactly_when_marked():
    rng = np.random.default_rng(0)
    for _ in range(50):
        ivs = [TInterval(float(rng.normal(0, 2)), 1.0, float(rng.integers(3, 60))) for _ in range(12)]
        ps = [iv.p_value() for iv in ivs]
        for iv, p, level in zip(ivs, holm(ps), holm_levels(ps, 0.05)):
            lo, hi = iv.bounds(level)
            assert (p < 0.05) == (not lo <= 0 <= hi)


def test_wilson_matches_scipy():
    for x, n in ((0, 8), (8, 8), (3, 8), (37, 50), (1, 4)):
        ref = binomtest(x, n).proportion_ci(0.95, method="wilson")
        assert WilsonInterval(x / n, n).bounds(0.05) == pytest.approx((ref.low, ref.high), abs=1e-12)
    lo, hi = WilsonInterval(1.0, 8).bounds(0.05)
    assert hi == 1.0 and lo < 0.8                                       # all right: never zero width


def test_newcombe_independent_matches_the_published_example():
    # Newcombe (1998), Stat Med 17:873, Table II (a): 56/70 − 48/80, method 10 (score, no CC): 0.0524, 0.3339
    iv = MoverInterval(WilsonInterval(56 / 70, 70), WilsonInterval(48 / 80, 80), 0.0)
    assert iv.bounds(0.05) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    paired = MoverInterval(WilsonInterval(56 / 70, 70), WilsonInterval(48 / 80, 80), 0.6)
    lo, hi = paired.bounds(0.05)
    assert 0.0524 < lo and hi < 0.3339                                  # positive pairing narrows it


def test_p_values_are_the_duals_of_their_intervals():
    t = TInterval(0.8, 0.3, 7)
    assert t.p_value() == pytest.approx(2 * student_t.sf(0.8 / 0.3, 7))
    assert Interval_p_by_bisection(t) == pytest.approx(t.p_value(), rel=1e-6)
    m = MoverInterval(WilsonInterval(0.8, 40), WilsonInterval(0.55, 40), 0.3)
    p = m.p_value()
    lo, hi = m.bounds(p)
    assert lo == pytest.approx(0.0, abs=1e-9) and 0.0 < p < 0.05


def Interval_p_by_bisection(iv) -> float:
    from emobench.scoring.intervals import Interval

    return Interval.p_value(iv)


def test_specs_rebuild_the_same_interval():
    for iv in (TInterval(0.1, 0.02, 12.5, -1, 1, "t"), WilsonInterval(0.7, 33.3),
               MoverInterval(WilsonInterval(0.8, 40), WilsonInterval(0.55, 40), 0.3),
               ComponentsInterval(0.1, ((0.0004, 2.0), (0.0001, math.inf)), -1, 1),
               WilsonInterval(0.9, 40.0, "Wilson score", ((0.001, 2.0), (0.0005, math.inf)))):
        again = from_spec(iv.spec())
        assert again.bounds(0.01) == pytest.approx(iv.bounds(0.01)) and again.p_value() == pytest.approx(iv.p_value())


def test_jackknife_of_a_stratified_mean_is_its_unbiased_variance():
    rng = np.random.default_rng(1)
    strata = [5, 9, 7]
    x = rng.normal(size=sum(strata))
    y = x + rng.normal(size=sum(strata))
    rep = replicates(strata)
    lx, ly = (replicate_values(MeanStat(torch.from_numpy(v)), rep) for v in (x, y))
    n = sum(strata)
    parts = np.split(np.arange(n), np.cumsum(strata)[:-1])
    want_var = [(len(p) / n) ** 2 * x[p].var(ddof=1) / len(p) for p in parts]
    want_cov = [(len(p) / n) ** 2 * np.cov(x[p], y[p])[0, 1] / len(p) for p in parts]
    assert stratum_covariance(lx, lx, rep) == pytest.approx(want_var)
    assert stratum_covariance(lx, ly, rep) == pytest.approx(want_cov)
    grouped = replicates([40, 40], max_replicates=20)                  # delete-a-group past the cap
    assert grouped.per_stratum == [10, 10] and sorted(np.concatenate(grouped.groups[0])) == list(range(40))


@pytest.mark.parametrize("n,max_pairs", [(4, 100), (5, 6)])
def test_ustat_covariance_is_unbiased_by_enumeration(n, max_pairs):
    """Every sample of n draws from a 4-point population: the estimate's mean is the exact variance, for all
    pairs and for a sampled design of pairs; the covariance of two statistics likewise."""
    rng = np.random.default_rng(2)
    pts = rng.normal(size=(4, 2))
    da = torch.tensor(((pts[:, None] - pts[None]) ** 2).sum(-1))
    db = torch.tensor(np.abs(pts[:, None, 0] - pts[None, :, 0]))
    mask = pair_mask(n, max_pairs, 3, "x")
    ua, ub, var, cov = [], [], [], []
    for s in itertools.product(range(4), repeat=n):
        a, b = PairwiseMeanStat(da[np.ix_(s, s)], mask), PairwiseMeanStat(db[np.ix_(s, s)], mask)
        one = torch.ones(1, n, dtype=torch.float64)
        ua.append(float(a.evaluate(one)[0]))
        ub.append(float(b.evaluate(one)[0]))
        var.append(float(a.covariance(a)[0]))
        cov.append(float(a.covariance(b)[0]))
    assert np.mean(var) == pytest.approx(np.var(ua), rel=1e-9)
    assert np.mean(cov) == pytest.approx(np.cov(ua, ub, bias=True)[0, 1], rel=1e-9)
    assert math.isnan(ustat_covariance(da[:3, :3], da[:3, :3], ~torch.eye(3, dtype=torch.bool)))   # n < 4


def _member(values, strata):
    v = torch.tensor(values, dtype=torch.float64)
    return Member(MeanStat(v), [str(i) for i in range(len(values))], strata, float(v.mean()))


def test_no_zero_width_interval_for_a_proportion():
    ones = _member([1.0] * 32, [4] * 8)
    for iv in (value_interval([ones], [0], False),                                   # Wilson, stratified
               value_interval([ones, ones, ones], [0, 1, 2], True),                  # three identical fits
               difference_interval([ones], [ones], False, False),                    # Newcombe
               difference_interval([ones, ones], [ones], True, False)):             # fits vs baseline
        lo, hi = iv.bounds(0.05)
        assert hi - lo > 0.01, iv


def test_pooled_pairwise_rows_average_the_unbiased_and_the_jackknife_variance():
    rng = np.random.default_rng(3)
    strata = [6, 6, 6]

    def pooled(shift):
        parts = []
        for n in strata:
            x = rng.normal(size=(n, 2)) + shift
            parts.append(PairwiseMeanStat(torch.tensor(((x[:, None] - x[None]) ** 2).sum(-1))))
        return MeanOfStats(parts)

    stats = [pooled(0.0), pooled(0.5)]
    cells = [str(i) for i in range(sum(strata))]
    members = [Member(s, cells, strata, float(s.evaluate(torch.ones(1, 18, dtype=torch.float64))[0])) for s in stats]
    cov = Covariances(members)
    rep = replicates(strata)
    jack = stratum_covariance(members[0].reps(rep), members[1].reps(rep), rep)
    own = stats[0].covariance(stats[1]).numpy()
    assert cov.own and cov.cov(0, 1) == pytest.approx((jack + own) / 2)
    one = Covariances([Member(stats[0].stats[0], cells[:6], [6], 0.0)])
    assert not one.own                                                 # within one emotion: the jackknife


def test_components_interval_scales_each_part_by_its_own_t():
    # one part: the t interval itself; two: the root of the squared half-widths, each at its own df
    assert ComponentsInterval(0.5, ((0.04, 7.0),)).bounds(0.05) == pytest.approx(TInterval(0.5, 0.2, 7).bounds(0.05))
    iv = ComponentsInterval(0.5, ((0.04, 2.0), (0.09, math.inf)))
    half = math.sqrt(student_t.ppf(0.975, 2) ** 2 * 0.04 + 1.959963984540054 ** 2 * 0.09)
    assert iv.bounds(0.05) == pytest.approx((0.5 - half, 0.5 + half))
    p = iv.p_value()                                                   # the dual: 0 sits on the bound at α = p
    assert iv.bounds(p)[0] == pytest.approx(0.0, abs=1e-9)


def test_few_fits_keep_their_fit_part_on_k_minus_1_df():
    """With two fits whose values differ, the between-fit part keeps t on 1 df however many cells there are:
    one Satterthwaite df for the sum would let the cells' hundreds of df narrow it (87–91 % coverage)."""
    rng = np.random.default_rng(5)
    strata = [50] * 8
    fits = [_member(list(rng.normal(p, 0.3, 400)), strata) for p in (0.70, 0.78)]     # a mean, not 0/1
    iv = value_interval(fits, [0, 1], True)
    assert isinstance(iv, ComponentsInterval) and iv.parts[0][1] == 1.0
    between = iv.parts[0][0]
    lo, _ = iv.bounds(0.05)
    assert iv.value - lo >= student_t.ppf(0.975, 1) * math.sqrt(between) * (1 - 1e-12)


def test_a_learners_proportion_is_wilson_on_its_effective_n_with_the_parts_quantile():
    """A learner's accuracy: Wilson's score interval with n = p̂(1 − p̂)/Σv and z² = Σ t²_ν·v / Σv over its parts
    (the fit part on K − 1 df): the t interval of the same variance covered 89 % per emotion at 4 cells and 10
    fits; when every fit and cell agrees, Wilson's interval of the K·n outcomes as trials."""
    rng = np.random.default_rng(5)
    strata = [50] * 8
    fits = [_member(list((rng.random(400) < p).astype(float)), strata) for p in (0.70, 0.78)]
    iv = value_interval(fits, [0, 1], True)
    assert isinstance(iv, WilsonInterval) and iv.parts[0][1] == 1.0 and len(iv.parts) == 2
    total = sum(v for v, _ in iv.parts)
    assert iv.n == pytest.approx(iv.value * (1 - iv.value) / total)
    z = math.sqrt(sum(student_t.ppf(0.975, d) ** 2 * v for v, d in iv.parts) / total)
    ref = wilson_ref(iv.value, iv.n, z)
    assert iv.bounds(0.05) == pytest.approx(ref)
    assert from_spec(iv.spec()).bounds(0.01) == pytest.approx(iv.bounds(0.01))
    agree = [_member([1.0] * 4, [4]) for _ in range(3)]
    iv = value_interval(agree, [0, 1, 2], True)
    ref = binomtest(12, 12).proportion_ci(0.95, method="wilson")
    assert isinstance(iv, WilsonInterval) and iv.n == 12 and not iv.parts
    assert iv.bounds(0.05) == pytest.approx((ref.low, ref.high), abs=1e-12)


def wilson_ref(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's interval written out (Wilson 1927), with the quantile z given."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def test_a_side_whose_cells_all_agree_still_adds_variance_to_a_difference():
    """Four baseline cells of one emotion all right: the jackknife gives that side 0 variance, so a learner's
    Δ on that emotion read only the learner's spread (80 % coverage at 4 cells and 10 fits). The side gets the
    Agresti–Coull variance of its count instead; a learner's own fits are unaffected (the floor cancels)."""
    base = _member([1.0, 1.0, 1.0, 1.0], [4])
    fits = [_member(v, [4]) for v in ([1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 1.0])]
    cov = Covariances(fits + [base])
    p = 6 / 8
    assert cov.floor(3) == pytest.approx([p * (1 - p) / 8])
    assert list(cov.floor(0)) == [0.0]                                 # cells that disagree: no floor
    iv = difference_interval(fits, [base], True, False)
    assert iv.parts[-1][0] >= p * (1 - p) / 8 * (1 - 1e-12)           # the cells' part holds the floor
    alone = value_interval(fits + [base], [0, 1, 2], True)
    again = value_interval(fits, [0, 1, 2], True)
    assert alone.bounds(0.05) == pytest.approx(again.bounds(0.05))   # a learner's value: unchanged by floors
