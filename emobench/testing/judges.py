"""The judge contract kit: the checks every emotion judge must pass, on a fixture of images with known labels.

    from emobench.testing.judges import JudgeContractTests, dataset_fixture

    class TestMyJudge(JudgeContractTests):
        @pytest.fixture(scope="class")
        @classmethod
        def judge(cls):                        # a built emobench.judges.Judge
            return MyJudgePlugin().build(zoo)

        @pytest.fixture(scope="class")
        @classmethod
        def fixture(cls):                      # (images [N,3,H,W] in [0,1], emotion names): known labels
            return dataset_fixture(zoo.dataset, per_emotion=8)

The checks: the label order declared (the eight emotions, each once, one per logit); ``predict_proba`` is
``[N, 8]`` probabilities in ``EMOTIONS`` order (a judge re-declared with permuted labels and permuted logits
gives the same answer; the judged emotion is its own label at the argmax logit); uint8 and float images and
other sizes are accepted; the same images give the same answer, alone or in a batch; the card names what it
was trained and validated on and its held-out accuracy; on the fixture the judge is as accurate as its card
says, within sampling error (skipped for judges whose card has no figure: random test weights).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import pytest
import torch
import torch.nn.functional as F

from emobench.emotions import EMOTION_INDEX, EMOTIONS
from emobench.judges.base import CARD_KEYS, Judge


def dataset_fixture(dataset: Any, per_emotion: int = 8, split: str = "test",
                    size: int | None = None) -> tuple[torch.Tensor, list[str]]:
    """The first ``per_emotion`` images of each emotion of a split (centre-cropped and resized to ``size``
    when given: real EmoSet images differ in size), and their annotated emotions."""
    from emobench.zoo.fit_judges import _samples

    rows = _samples(dataset, split, per_emotion)
    return dataset.load_images(rows, size=size), [r.emotion for r in rows]


def fixture_accuracy(judge: Judge, images: torch.Tensor, labels: Sequence[str]) -> float:
    pred = judge.predict_proba(images).argmax(1)
    return float((pred == torch.tensor([EMOTION_INDEX[e] for e in labels])).float().mean())


def permuted(judge: Judge, seed: int = 0) -> Judge:
    """The same network declared with its labels (and logit columns) in a shuffled order."""
    perm = torch.randperm(len(judge.labels), generator=torch.Generator().manual_seed(seed)).tolist()
    fn = judge.logits_fn
    return Judge(judge.name, judge.family, tuple(judge.labels[i] for i in perm), judge.weights_hash,
                 lambda x: fn(x)[:, perm], dict(judge.card), judge.primary, judge.differentiable)


class JudgeContractTests:
    """Mixin: subclasses provide the ``judge`` and ``fixture`` fixtures (see the module docstring)."""

    atol: float = 1e-4      # probabilities: batch composition and uint8 round trips move them this little

    def test_declares_its_label_order(self, judge, fixture):
        assert sorted(judge.labels) == sorted(EMOTIONS), f"labels {judge.labels} are not the eight emotions"
        with torch.no_grad():
            logits = judge.logits_fn(fixture[0][:2])
        assert logits.shape == (2, len(judge.labels)), "one logit per declared label"

    def test_predict_proba_is_probabilities_in_emotions_order(self, judge, fixture):
        images = fixture[0][:8]
        p = judge.predict_proba(images)
        assert p.shape == (len(images), len(EMOTIONS)) and p.dtype == torch.float32
        assert torch.isfinite(p).all() and (p >= 0).all()
        assert torch.allclose(p.sum(1), torch.ones(len(images)), atol=1e-5)
        with torch.no_grad():
            raw = judge.logits_fn(images).argmax(1)
        assert [EMOTIONS[i] for i in p.argmax(1)] == [judge.labels[i] for i in raw]
        assert torch.allclose(permuted(judge).predict_proba(images), p, atol=1e-6)

    def test_accepts_uint8_and_any_size(self, judge, fixture):
        images = fixture[0][:4]
        p = judge.predict_proba(images)
        u8 = judge.predict_proba((images * 255).round().to(torch.uint8))
        assert torch.allclose(u8, p, atol=1e-2)
        big = F.interpolate(images, scale_factor=2, mode="nearest")
        assert judge.predict_proba(big).shape == p.shape

    def test_deterministic_and_batch_independent(self, judge, fixture):
        images = fixture[0][:6]
        p = judge.predict_proba(images)
        assert torch.equal(judge.predict_proba(images), p)
        alone = torch.cat([judge.predict_proba(images[i:i + 1]) for i in range(len(images))])
        assert torch.allclose(alone, p, atol=self.atol)

    def test_card_and_weights_hash(self, judge):
        assert judge.name and judge.family and len(judge.weights_hash) >= 16
        missing = [k for k in CARD_KEYS if k not in judge.card]
        assert not missing, f"card lacks {missing}"
        acc = judge.card["held_out_accuracy"]
        assert acc is None or 0.0 <= float(acc) <= 1.0

    def test_known_labels_fixture_matches_the_card(self, judge, fixture):
        acc = judge.card.get("held_out_accuracy")
        if acc is None:
            pytest.skip("the card reports no held-out accuracy to compare with")
        images, labels = fixture
        n, p = len(labels), float(acc)
        got = fixture_accuracy(judge, images, labels)
        slack = 4 * math.sqrt(max(p * (1 - p), 0.01) / n)   # four standard errors of a binomial proportion
        assert got >= p - slack, f"fixture accuracy {got:.3f} on {n} known labels, card says {p:.3f}"


__all__ = ["JudgeContractTests", "dataset_fixture", "fixture_accuracy", "permuted"]
