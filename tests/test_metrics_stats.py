"""Bootstrap draws, CIs, paired differences, p-values and Holm correction."""
from __future__ import annotations

import math
import numpy as np
import pytest
import torch

from emobench.api import MeanStat
from emobench.scoring.stats import (BootstrapConfig, bootstrap_p_value, draw_weights, estimate, holm, paired_difference,
                            percentile_ci)


def test_draws_are_seeded_per_stream_and_sum_to_n():
    cfg = BootstrapConfig(n_resamples=50, seed=3)
    a, b = draw_weights(10, "cells|awe", cfg), draw_weights(10, "cells|awe", cfg)
    assert torch.equal(a, b) and a.shape == (50, 10) and torch.all(a.sum(1) == 10)
    assert not torch.equal(a, draw_weights(10, "cells|fear", cfg))
    assert not torch.equal(a, draw_weights(10, "cells|awe", BootstrapConfig(n_resamples=50, seed=4)))


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, float("nan"), 0.01]) == pytest.approx([0.5, float("nan"), 0.02], nan_ok=True)
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])   # 2·0.8 capped at 1; monotone step-down
    assert holm([0.2, 0.01]) == pytest.approx([0.2, 0.02])


def test_p_value_and_ci():
    assert math.isnan(bootstrap_p_value(np.ones(999)))     # no spread: a degenerate distribution carries no p
    assert bootstrap_p_value(np.r_[np.ones(500), -np.ones(500)]) == pytest.approx(1.0)
    # a large effect goes below the percentile form's 2/(B+1) floor, so Holm can still call it significant
    big = np.random.default_rng(0).normal(5.0, 1.0, 1000)
    assert bootstrap_p_value(big) < 1e-5
    mid = np.random.default_rng(0).normal(2.0, 1.0, 100_000)
    assert bootstrap_p_value(mid) == pytest.approx(0.0455, abs=0.003)   # 2·Φ(−2)
    assert percentile_ci(np.arange(101.0), 0.1) == pytest.approx((5.0, 95.0))
    assert percentile_ci(np.array([np.nan, 1.0, 1.0]), 0.05) == (1.0, 1.0)


def test_paired_difference_is_tighter_than_the_marginal_cis():
    # Two methods whose per-cell values share a large cell effect: the paired CI sees only the small shift.
    g = torch.Generator().manual_seed(0)
    cell = torch.randn(40, generator=g)
    a, b = cell + 0.3 + 0.05 * torch.randn(40, generator=g), cell
    cfg = BootstrapConfig(n_resamples=1000, seed=0)
    w = draw_weights(40, "cells|x", cfg)
    ea = estimate(a.double().mean().item(), MeanStat(a).evaluate(w), cfg)
    eb = estimate(b.double().mean().item(), MeanStat(b).evaluate(w), cfg)
    d = paired_difference(ea, eb, cfg)
    assert d.diff == pytest.approx(float((a - b).double().mean()))
    assert ea.ci_low < eb.ci_high            # the marginal CIs overlap ...
    assert d.ci_low > 0.25 and d.p_value < 0.01   # ... but the paired difference is clear
    assert (d.ci_high - d.ci_low) < 0.2 * (ea.ci_high - ea.ci_low)
