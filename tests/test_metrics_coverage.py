"""k-NN precision / recall / density / coverage: equal to the ``prdc`` package on fixed features, 1 for a set
against itself, the bootstrap's resamples equal to the definitions on the drawn images, and independent of how
resamples are batched."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from emobench.api import Group, ScoreItem, ScoringContext
from emobench.errors import EmobenchError
from emobench.metrics.coverage import KnnCoverage, KnnCoverageClip
from emobench.metrics.knn import KnnManifolds, KnnStat, prdc


def _feats(seed: int, n: int, d: int = 6, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def _stats(real: torch.Tensor, fake: torch.Tensor, k: int) -> dict[str, KnnStat]:
    m = KnnManifolds.build(real, fake, k)
    return {c: KnnStat(m, c, {}) for c in ("precision", "recall", "density", "coverage")}


@pytest.mark.parametrize("seed,k,shift", [(0, 5, 0.0), (1, 3, 0.7), (2, 5, 1.5), (3, 1, 0.3)])
def test_equals_the_prdc_package(seed, k, shift, capsys):
    import prdc as prdc_package   # the oracle: a dev dependency (pyproject's [dev], installed by scripts/setup.sh)
    real, fake = _feats(seed, 60), _feats(seed + 100, 45, shift=shift)
    want = prdc_package.compute_prdc(real.numpy(), fake.numpy(), nearest_k=k)
    got = prdc(real, fake, k)
    stats = _stats(real, fake, k)
    for col in ("precision", "recall", "density", "coverage"):
        assert got[col] == pytest.approx(float(want[col]), abs=1e-12), col
        point = stats[col].evaluate(torch.ones(1, fake.shape[0], dtype=torch.float64))
        assert float(point[0]) == pytest.approx(float(want[col]), abs=1e-12), col


def test_a_set_against_itself_is_one():
    real = _feats(7, 80)
    got = prdc(real, real.clone(), 5)
    assert got["precision"] == 1.0 and got["recall"] == 1.0 and got["coverage"] == 1.0
    assert got["density"] == pytest.approx(1.0, abs=0.3)   # each real point sits in about k real balls


def test_one_repeated_image_has_precision_but_no_recall_or_coverage():
    real = _feats(8, 400)
    proto = real[:1] * 0.5                    # a typical (central) image, inside the real manifold
    stats = _stats(real, proto.repeat(30, 1), 5)
    one = torch.ones(1, 30, dtype=torch.float64)
    assert float(stats["precision"].evaluate(one)) == 1.0
    assert float(stats["recall"].evaluate(one)) == 0.0          # a point's ball has radius 0
    assert float(stats["coverage"].evaluate(one)) < 0.1         # it lies in few real balls


def test_a_resample_is_the_definition_on_the_drawn_images():
    real, fake = _feats(9, 50), _feats(10, 30, shift=0.4)
    stats = _stats(real, fake, 4)
    g = torch.Generator().manual_seed(0)
    draws = torch.multinomial(torch.ones(30), 30 * 6, replacement=True, generator=g).view(6, 30)
    w = torch.stack([torch.bincount(r, minlength=30) for r in draws]).double()
    for b in range(6):
        drawn = w[b] > 0
        on_drawn = prdc(real, fake[drawn], 4)   # the distinct drawn images: recall and coverage
        counts = w[b][drawn]                     # precision: each draw counts, as a mean over the multiset
        per = [prdc(real, fake[i:i + 1].repeat(5, 1), 4)["precision"] for i in torch.nonzero(drawn).flatten().tolist()]
        want_p = float((counts * torch.tensor(per, dtype=torch.float64)).sum() / counts.sum())
        assert float(stats["recall"].evaluate(w[b:b + 1])) == pytest.approx(on_drawn["recall"], abs=1e-12)
        assert float(stats["coverage"].evaluate(w[b:b + 1])) == pytest.approx(on_drawn["coverage"], abs=1e-12)
        assert float(stats["precision"].evaluate(w[b:b + 1])) == pytest.approx(want_p, abs=1e-12)


def test_resamples_do_not_depend_on_their_batching():
    real, fake = _feats(11, 40), _feats(12, 25)
    stats = _stats(real, fake, 5)
    w = torch.distributions.Multinomial(25, torch.ones(25)).sample((50,)).double()
    for s in stats.values():
        whole = s.evaluate(w)
        assert torch.equal(whole, torch.cat([s.evaluate(w[i:i + 7]) for i in range(0, 50, 7)]))


def test_recall_is_undefined_with_k_or_fewer_drawn_images():
    real, fake = _feats(13, 30), _feats(14, 10)
    stats = _stats(real, fake, 5)
    w = torch.zeros(1, 10, dtype=torch.float64)
    w[0, :3] = torch.tensor([4.0, 3.0, 3.0])
    assert torch.isnan(stats["recall"].evaluate(w)).all()


def test_too_few_reference_images_is_a_clear_error():
    with pytest.raises(EmobenchError, match="k = 5"):
        KnnManifolds.build(_feats(1, 5), _feats(2, 20), 5)


def test_metric_columns_and_feature_spaces(zoo):
    m, c = KnnCoverage(), KnnCoverageClip()
    assert list(m.display()) == ["coverage", "recall", "precision", "density"]
    assert list(c.display()) == ["coverage-clip", "recall-clip", "precision-clip", "density-clip"]
    assert m.display()["coverage"]["role"] == "coverage" and c.display()["coverage-clip"]["role"] == ""
    assert m.feature_id() == ["fid-features"] and c.feature_id() == ["clip-image"]   # shared with FID, Sem-D
    images = zoo.dataset.load_images(zoo.dataset.split("test")[:6], size=32)
    items = [ScoreItem("fear", "x", f"i{i}") for i in range(6)]
    real = m.features(images, items, zoo)
    group = Group("m", "fear", items, features=lambda: real, images=lambda: images)
    stats = KnnCoverage(KnnCoverage.Config(k=2)).group_stats(group, ScoringContext(lambda e: real), zoo)
    assert list(stats) == ["coverage", "recall", "precision", "density"]
    one = torch.ones(1, 6, dtype=torch.float64)
    assert [float(stats[c].evaluate(one)) for c in ("coverage", "recall", "precision")] == [1.0, 1.0, 1.0]
