"""CMMD, the (truncated) Vendi score, intra-FID and content coverage against reference implementations or
textbook formulas on fixed inputs, and their bootstrap rows against the same formulas on the resampled sets."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from emobench.api import Group, ScoreItem, ScoringContext
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.metrics.cmmd import CMMD, CmmdConfig, CmmdStat
from emobench.metrics.content_coverage import HeadsStat, js_divergence
from emobench.metrics.fid import FidStat, IntraFID, fid_reference_value
from emobench.metrics.vendi import Vendi, VendiStat, vendi_from_eigenvalues


def _feats(seed: int, n: int, d: int = 8, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def _one(n: int) -> torch.Tensor:
    return torch.ones(1, n, dtype=torch.float64)


# ------------------------------------------------------------------------------------------------ CMMD

def official_cmmd(x: np.ndarray, y: np.ndarray, sigma: float = 10.0, scale: float = 1000.0) -> float:
    """The formula of google-research's cmmd/distance.py (V-statistic means over all pairs), written out."""
    gamma = 1 / (2 * sigma ** 2)

    def k_mean(a, b):
        sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return np.exp(-gamma * sq).mean()
    return scale * (k_mean(x, x) + k_mean(y, y) - 2 * k_mean(x, y))


def unbiased_cmmd(x: np.ndarray, y: np.ndarray, sigma: float = 10.0) -> float:
    """MMD² U-statistic with explicit loops over distinct pairs."""
    k = lambda a, b: np.exp(-((a - b) ** 2).sum() / (2 * sigma ** 2))  # noqa: E731
    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return 1000 * (xx + yy - 2 * xy)


def _unit(a: torch.Tensor) -> np.ndarray:
    return (a / a.norm(dim=1, keepdim=True)).numpy()


def test_cmmd_biased_equals_the_official_formula():
    fake, real = _feats(0, 20, shift=0.3), _feats(1, 30)
    got = CmmdStat(fake, real, CmmdConfig(estimator="biased")).evaluate(_one(20))
    assert float(got) == pytest.approx(official_cmmd(_unit(fake), _unit(real)), rel=1e-10)


def test_cmmd_unbiased_equals_the_u_statistic_also_on_a_resample():
    fake, real = _feats(2, 12, shift=0.5), _feats(3, 15)
    stat = CmmdStat(fake, real, CmmdConfig())
    assert float(stat.evaluate(_one(12))) == pytest.approx(unbiased_cmmd(_unit(fake), _unit(real)), rel=1e-9)
    w = torch.tensor([[2.0, 0, 1, 1, 3, 0, 0, 1, 1, 2, 1, 0]])
    multiset = np.repeat(_unit(fake), w[0].long().numpy(), axis=0)   # repeats are distinct draws of a pair
    assert float(stat.evaluate(w)) == pytest.approx(unbiased_cmmd(multiset, _unit(real)), rel=1e-9)


def test_cmmd_labels_its_estimator():
    assert CMMD().display()["cmmd"]["label"] == "CMMD"
    assert CMMD(CmmdConfig(estimator="biased")).display()["cmmd"]["label"] == "CMMD (biased, official)"
    with pytest.raises(EmobenchError, match="estimator"):
        CMMD(CmmdConfig(estimator="median"))


# ------------------------------------------------------------------------------------------------ Vendi

def test_vendi_untruncated_equals_the_vendi_score_package_with_weights():
    from vendi_score import vendi   # the oracle: a dev dependency (pyproject's [dev])
    x = _feats(4, 25, d=6)
    stat = VendiStat(x, truncation=0)
    assert float(stat.evaluate(_one(25))) == pytest.approx(vendi.score_dual(x.numpy()), rel=1e-9)
    w = torch.distributions.Multinomial(25, torch.ones(25)).sample((3,)).double()
    u = _unit(x)
    for row in w:   # a resample's multiset = the kernel weighted by the draw probabilities
        want = vendi.score_K(u @ u.T, p=(row / row.sum()).numpy())
        assert float(stat.evaluate(row[None])) == pytest.approx(want, rel=1e-8)


def test_truncated_vendi_follows_the_paper():
    """Ospanov & Farnia: keep the t largest eigenvalues of K/n, spread the rest of the mass evenly over them."""
    x = _feats(5, 40, d=30)
    u = _unit(x)
    ev = np.sort(np.linalg.eigvalsh(u @ u.T / 40))[::-1].clip(min=0)
    for t in (3, 10):
        top = ev[:t] + (1 - ev[:t].sum()) / t
        want = float(np.exp(-(top * np.log(top)).sum()))
        assert float(VendiStat(x, truncation=t).evaluate(_one(40))) == pytest.approx(want, rel=1e-9)
        assert 1 <= want <= t
    # one image repeated has Vendi 1 at any truncation
    assert float(vendi_from_eigenvalues(torch.tensor([[1.0, 0, 0, 0]]), 2)) == pytest.approx(1.0)


def test_vendi_uses_the_smaller_side_without_changing_the_value():
    x = _feats(6, 20, d=5)   # n > d: the d × d form
    w = torch.distributions.Multinomial(20, torch.ones(20)).sample((4,)).double()
    wide = VendiStat(torch.cat([x, torch.zeros(20, 30, dtype=torch.float64)], 1), 0)   # n < d: the n × n form
    assert torch.allclose(VendiStat(x, 0).evaluate(w), wide.evaluate(w), rtol=1e-9)
    assert Vendi().display()["vendi"]["role"] == "diversity" and Vendi().display()["vendi"]["label"] == "Vendi (t=16)"


# ------------------------------------------------------------------------------------------------ intra-FID

def test_intra_fid_is_the_mean_of_the_per_emotion_fids():
    zoo = None   # FID takes nothing from the zoo once features are given
    fakes = {e: _feats(10 + i, 24, d=4, shift=0.1 * i) for i, e in enumerate(EMOTIONS[:3])}
    reals = {e: _feats(20 + i, 30, d=4) for i, e in enumerate(EMOTIONS[:3])}
    metric = IntraFID()
    assert metric.display()["fid-intra"]["same_per_emotion_as"] == "fid"
    groups = [Group("m", e, [ScoreItem(e, "x", f"{e}{i}") for i in range(24)], features=lambda f=f: f,
                    images=lambda: None) for e, f in fakes.items()]
    ctx = ScoringContext(lambda e: reals[e])
    stats = [metric.group_stat(g, ctx, zoo) for g in groups]
    per = [fid_reference_value(fakes[e], reals[e]) for e in fakes]
    for s, want in zip(stats, per):
        assert isinstance(s, FidStat) and float(s.evaluate(_one(24))) == pytest.approx(want, rel=1e-6)
    pooled = metric.pooled_stat(groups, stats, ctx, zoo)
    assert float(pooled.evaluate(_one(72))) == pytest.approx(np.mean(per), rel=1e-6)


# ------------------------------------------------------------------------------------------------ content

def test_js_divergence_equals_scipy():
    from scipy.spatial.distance import jensenshannon

    p = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)
    q = torch.tensor([0.25, 0.25, 0.25, 0.25], dtype=torch.float64)
    for row, got in zip(p, js_divergence(p, q[None])):
        assert float(got) == pytest.approx(jensenshannon(row.numpy(), q.numpy(), base=2) ** 2, abs=1e-12)


def test_content_coverage_and_jsd_by_hand():
    # objects judged on 6 generated images; the real object mix of the emotion over 4 labels
    fake = torch.tensor([[0, 1], [0, 1], [0, 0], [1, 0], [0, 1], [0, 1]], dtype=torch.float32)
    objects = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
    scenes = torch.tensor([0.5, 0.5], dtype=torch.float64)
    cov = HeadsStat(fake, [objects, scenes], [4, 2], "coverage", {})
    jsd = HeadsStat(fake, [objects, scenes], [4, 2], "jsd", {})
    # objects reached: 0 and 1 → 0.4 + 0.3; scenes: both → 1
    assert float(cov.evaluate(_one(6))) == pytest.approx((0.7 + 1.0) / 2)
    p_obj = torch.tensor([5 / 6, 1 / 6, 0, 0], dtype=torch.float64)
    p_scene = torch.tensor([2 / 6, 4 / 6], dtype=torch.float64)
    want = (float(js_divergence(p_obj[None], objects[None])) + float(js_divergence(p_scene[None], scenes[None]))) / 2
    assert float(jsd.evaluate(_one(6))) == pytest.approx(want)
    assert cov.extra["object_coverage"] == pytest.approx(0.7) and cov.extra["scene_coverage"] == pytest.approx(1.0)
    # a resample that drew only image 3 (object 1, scene 0) reaches object 1 and scene 0 only
    w = torch.tensor([[0, 0, 0, 6, 0, 0]], dtype=torch.float64)
    assert float(cov.evaluate(w)) == pytest.approx((0.3 + 0.5) / 2)
