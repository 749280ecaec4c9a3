"""Each metric against a reference: torchmetrics on the same features, or values computed by hand."""
from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from emobench.api import Group, PairwiseMeanStat, ScoreItem, ScoringContext
from emobench.metrics.clip_score import ClipScore
from emobench.metrics.fid import FidStat, KidStat, fid_reference_value
from emobench.metrics.lpips_diversity import LpipsConfig, LpipsDiversity
from emobench.metrics.pairs import pair_mask
from emobench.metrics.semantic_clarity import SemanticClarity
from emobench.metrics.semantic_diversity import SemanticDiversity, SemanticDiversityCos, SemDConfig

from support.metrics_fakes import AbsLPIPS, CENTERS, FakeClip, StatsFeatures, colour_image, fake_zoo


def _images(n: int, seed: int, size: int = 16) -> torch.Tensor:
    return torch.stack([colour_image(CENTERS[(seed + i) % 8] * 0.7 + 0.1, seed=seed * 100 + i, size=size,
                                     noise=0.2) for i in range(n)])


def _items(n: int, emotion: str = "awe", prompt: str = "an image of awe") -> list[ScoreItem]:
    return [ScoreItem(emotion, prompt, f"id{i}") for i in range(n)]


@pytest.mark.parametrize("n_fake,n_real", [(30, 40), (8, 10)])   # full-rank and rank-deficient covariances
def test_fid_equals_torchmetrics(n_fake, n_real):
    from torchmetrics.image.fid import FrechetInceptionDistance

    net = StatsFeatures()
    fake, real = _images(n_fake, 1), _images(n_real, 2)
    tm = FrechetInceptionDistance(feature=net, normalize=True)
    tm.update(real, real=True)
    tm.update(fake, real=False)
    expected = float(tm.compute())
    stat = FidStat(net(fake), net(real), None)
    got = float(stat.evaluate(torch.ones(1, n_fake, dtype=torch.float64))[0])
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert ("unreliable" in stat.warning) == (n_fake < 12)
    assert stat.extra == {"n_fake": n_fake, "n_real": n_real, "feature_dim": 12}


@pytest.mark.parametrize("n", [8, 20])   # n ≤ D (n×n eigen-problem) and n > D (D×D), D = 12
def test_fid_bootstrap_weights_equal_explicit_resample(n):
    net = StatsFeatures()
    f, r = net(_images(n, 3)), net(_images(30, 4))
    stat = FidStat(f, r, None)
    counts = torch.from_numpy(np.random.default_rng(0).multinomial(n, [1 / n] * n, size=3)).double()
    got = stat.evaluate(counts)
    for row, g in zip(counts, got):
        explicit = f.double().repeat_interleave(row.long(), dim=0)
        assert float(g) == pytest.approx(fid_reference_value(explicit, r), rel=1e-6)


def test_kid_equals_torchmetrics_and_explicit_resample():
    from torchmetrics.image.kid import KernelInceptionDistance, poly_mmd

    net = StatsFeatures()
    fake, real = _images(12, 5), _images(12, 6)
    tm = KernelInceptionDistance(feature=net, subsets=1, subset_size=12, normalize=True)
    tm.update(real, real=True)
    tm.update(fake, real=False)
    expected = float(tm.compute()[0])
    stat = KidStat(net(fake), net(real), 3, None, 1.0)
    assert float(stat.evaluate(torch.ones(1, 12, dtype=torch.float64))[0]) == pytest.approx(expected, rel=1e-5)
    # unequal sizes: the unbiased MMD² by hand
    f, r = net(_images(7, 7)).double(), net(real).double()
    k = lambda x, y: (x @ y.T / 12 + 1) ** 3  # noqa: E731
    kff, krr = k(f, f), k(r, r)
    hand = ((kff.sum() - kff.trace()) / 42 + (krr.sum() - krr.trace()) / 132 - 2 * k(f, r).mean())
    assert float(KidStat(f, r, 3, None, 1.0).evaluate(torch.ones(1, 7))[0]) == pytest.approx(float(hand), rel=1e-9)
    # equal sizes through torchmetrics' own function, with a weighted (duplicating) resample
    w = torch.tensor([[2.0] + [1.0] * 10 + [0.0]])
    dup = net(fake).double().repeat_interleave(w[0].long(), dim=0)
    ff = k(dup, dup)
    hand_dup = (ff.sum() - ff.trace()) / (12 * 11) + (krr.sum() - krr.trace()) / 132 - 2 * k(dup, r).mean()
    assert float(stat.evaluate(w)[0]) == pytest.approx(float(hand_dup), rel=1e-9)
    assert float(poly_mmd(net(real).double(), net(fake).double())) == pytest.approx(expected, rel=1e-5)


def test_lpips_consistent_with_module():
    zoo = SimpleNamespace(judges=SimpleNamespace(lpips=AbsLPIPS()))
    imgs = _images(6, 8)
    metric = LpipsDiversity()
    group = Group("m", "awe", _items(6), features=lambda: None, images=lambda: imgs)
    stat = metric.group_stat(group, ScoringContext(lambda e: None), zoo)
    direct = [float(zoo.judges.lpips(imgs[i:i + 1], imgs[j:j + 1])[0]) for i, j in itertools.combinations(range(6), 2)]
    assert float(stat.evaluate(torch.ones(1, 6))[0]) == pytest.approx(np.mean(direct), rel=1e-9)
    assert zoo.judges.lpips.calls == 15 + 15 and stat.extra["pairs"] == 15
    # sampled pairs: only the sampled ones are averaged, and the sample is seeded
    small = LpipsDiversity(LpipsConfig(max_pairs=5))
    s1 = small.group_stat(group, ScoringContext(lambda e: None), zoo)
    mask = pair_mask(6, 5, 0, "awe")
    assert int(mask.triu(1).sum()) == 5 and torch.equal(mask, pair_mask(6, 5, 0, "awe"))
    pairs = torch.nonzero(mask.triu(1)).tolist()
    assert float(s1.evaluate(torch.ones(1, 6))[0]) == pytest.approx(np.mean(
        [float(zoo.judges.lpips(imgs[i:i + 1], imgs[j:j + 1])[0]) for i, j in pairs]), rel=1e-9)


def test_sem_d_both_variants_by_hand():
    feats = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 2.0], [1.0, 1.0, 0.0]])
    group = Group("m", "awe", _items(3), features=lambda: feats, images=lambda: None)
    ctx = ScoringContext(lambda e: None)
    mse = SemanticDiversity().group_stat(group, ctx, None)
    cos = SemanticDiversityCos().group_stat(group, ctx, None)
    # pairs: (0,1): (1+1+0)/3; (0,2): (0+1+4)/3; (1,2): (1+0+4)/3
    assert float(mse.evaluate(torch.ones(1, 3))[0]) == pytest.approx((2 / 3 + 5 / 3 + 5 / 3) / 3)
    c01, c02, c12 = 4 / 5, 1 / (np.sqrt(5) * np.sqrt(2)), 1 / (np.sqrt(5) * np.sqrt(2))
    assert float(cos.evaluate(torch.ones(1, 3))[0]) == pytest.approx(np.mean([1 - c01, 1 - c02, 1 - c12]))
    # a resample drawing image 0 twice and image 1 once: the duplicate is not a pair → pairs (0,1) ×2 only
    assert float(mse.evaluate(torch.tensor([[2.0, 1.0, 0.0]]))[0]) == pytest.approx(2 / 3)
    sampled = SemanticDiversity(SemDConfig(max_pairs=2)).group_stat(group, ctx, None)
    assert sampled.extra["pairs"] == 2


def test_pairwise_stat_matches_explicit_duplicates_formula():
    d = torch.rand(5, 5, generator=torch.Generator().manual_seed(0)).double()
    d = (d + d.T) * (1 - torch.eye(5, dtype=torch.float64))
    w = torch.tensor([[3.0, 0.0, 1.0, 1.0, 0.0]])
    draws = [0, 0, 0, 2, 3]
    vals = [d[a, b] for x, a in enumerate(draws) for y, b in enumerate(draws) if x != y and a != b]
    assert float(PairwiseMeanStat(d).evaluate(w)[0]) == pytest.approx(float(np.mean(vals)))


def test_sem_c_by_hand(tmp_path):
    zoo = fake_zoo(tmp_path, dataset=False)
    imgs = _images(4, 9)
    feats = SemanticClarity().features(imgs, _items(4), zoo)
    vals = SemanticClarity().values(feats, _items(4))["sem-c"]
    m = imgs.mean(dim=(2, 3)).double().numpy()
    for judge_w, col in ((zoo.judges.object.weight, 0), (zoo.judges.scene.weight, 1)):
        logits = m @ judge_w.double().numpy().T
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        assert feats[:, col].numpy() == pytest.approx(p.max(1), rel=1e-5)
    assert vals.numpy() == pytest.approx(np.maximum(feats[:, 0].numpy(), feats[:, 1].numpy()))


class _TmClipModel:
    """Adapts FakeClip to the (model, processor) pair torchmetrics' clip_score expects."""

    def __init__(self, clip):
        self.clip, self.texts = clip, []
        self.config = SimpleNamespace()

    def to(self, device):
        return self

    def get_image_features(self, pixel_values):
        return self.clip.encode_images(pixel_values)

    def get_text_features(self, input_ids, attention_mask=None):
        return self.clip.encode_texts([self.texts[i] for i in input_ids[:, 0].tolist()])


class _TmProcessor:
    def __init__(self, model):
        self.model = model

    def __call__(self, images=None, text=None, return_tensors="pt", padding=True):
        if images is not None:
            return {"pixel_values": torch.stack(images)}
        start = len(self.model.texts)
        self.model.texts.extend(text)
        ids = torch.arange(start, start + len(text))[:, None]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def test_clip_score_equals_torchmetrics():
    from torchmetrics.functional.multimodal import clip_score

    clip = FakeClip()
    zoo = SimpleNamespace(clip=clip)
    imgs = _images(5, 10)
    prompts = [f"an image of {w}" for w in ("awe", "fear", "anger", "joy", "dread")]
    items = [ScoreItem("awe", p, f"i{k}") for k, p in enumerate(prompts)]
    metric = ClipScore()
    got = metric.values(metric.features(imgs, items, zoo), items)["clip-score"]
    model = _TmClipModel(clip)
    for k in range(5):
        expected = float(clip_score(imgs[k], prompts[k], lambda: (model, _TmProcessor(model))))
        assert float(got[k]) == pytest.approx(expected, rel=1e-5, abs=1e-5)
    assert metric.item_key(items[0]) == prompts[0]   # cached per (image, prompt)


class _SplitLPIPS(AbsLPIPS):
    """The same distance, offered also as per-image features + comparison (the fast path)."""

    def __init__(self):
        super().__init__()
        self.feature_calls = 0

    def features(self, x):
        self.feature_calls += x.shape[0]
        return [x.float(), x.float().mean(1, keepdim=True)]

    def compare(self, fx, fy):
        return (fx[0] - fy[0]).abs().mean(dim=(1, 2, 3))


def test_lpips_split_fast_path_equals_pairwise():
    imgs = _images(7, 11)
    group = Group("m", "awe", _items(7), features=lambda: None, images=lambda: imgs)
    slow = SimpleNamespace(judges=SimpleNamespace(lpips=AbsLPIPS()))
    fast = SimpleNamespace(judges=SimpleNamespace(lpips=_SplitLPIPS()))
    ctx = ScoringContext(lambda e: None)
    a = LpipsDiversity().group_stat(group, ctx, slow)
    b = LpipsDiversity().group_stat(group, ctx, fast)
    assert torch.allclose(a.dist, b.dist, rtol=1e-6, atol=1e-9)
    # 7 images through the network once, against 21 pair calls (each running it on both images)
    assert fast.judges.lpips.feature_calls == 7 and fast.judges.lpips.calls == 0 and slow.judges.lpips.calls == 21
