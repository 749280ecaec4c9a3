"""Content statistics of a joint (emotion, content) table, checked against hand-computed cases and against the
textbook formula I = Σ p(e,c) log2 p(e,c) / (p(e) p(c)); the exact world figures against counts of a sample."""
import numpy as np
import pytest

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.world import WorldConfig, sample_world, world_stats
from emobench.world.stats import content_stats, count_table


def _mi_reference(p: np.ndarray) -> float:
    p = p / p.sum()
    pe, pc = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log2(p[nz] / (pe @ pc)[nz])).sum())


def test_hand_computed_cases():
    names = [f"c{i}" for i in range(8)]
    diag = content_stats(np.eye(8) / 8, names, "object")
    assert diag.mutual_information == pytest.approx(3.0) and diag.bayes_accuracy == pytest.approx(1.0)
    assert diag.h_content_given_emotion == pytest.approx(0.0) and diag.top1_share["fear"] == 1.0
    flat = content_stats(np.full((8, 8), 1 / 64), names, "object")
    assert flat.mutual_information == pytest.approx(0.0, abs=1e-12) and flat.bayes_accuracy == pytest.approx(1 / 8)
    assert flat.h_content == pytest.approx(3.0) and flat.top5_share["awe"] == pytest.approx(5 / 8)
    assert flat.distinct == 8 and flat.distinct_per_emotion["awe"] == 8


def test_mutual_information_matches_the_reference_formula():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 30, (8, 13)) * (rng.random((8, 13)) < 0.6)
    s = content_stats(counts, [str(i) for i in range(13)], "scene", exact=False)
    assert s.mutual_information == pytest.approx(_mi_reference(counts.astype(float)), abs=1e-12)
    assert s.n == counts.sum() and s.exact is False
    assert s.bayes_accuracy == pytest.approx(counts.max(0).sum() / counts.sum())
    assert s.distinct_per_emotion[EMOTIONS[0]] == int((counts[0] > 0).sum())


def test_count_table_and_bad_input():
    counts, names = count_table([("fear", "spider"), ("fear", "spider"), ("awe", "mountain")])
    assert names == ["mountain", "spider"] and counts.sum() == 3
    assert counts[EMOTIONS.index("fear"), 1] == 2
    with pytest.raises(EmobenchError, match="joy"):
        count_table([("joy", "cake")])
    with pytest.raises(EmobenchError, match="no images"):
        content_stats(np.zeros((8, 2)), ["a", "b"], "object")


def test_world_stats_agree_with_counts_of_a_sample():
    exact = world_stats(WorldConfig())
    _, anns = sample_world(seed=3, n=6000)
    obj, _ = count_table([(a["emotion"], a["object"][0]) for a in anns])
    scn, _ = count_table([(a["emotion"], a["scene"]) for a in anns])
    for kind, counts in (("object", obj), ("scene", scn)):
        emp = content_stats(counts, [str(i) for i in range(counts.shape[1])], kind, exact=False)
        # plug-in estimates of a few hundred cells carry a small positive bias in I
        assert emp.mutual_information == pytest.approx(exact[kind].mutual_information, abs=0.05)
        assert emp.bayes_accuracy == pytest.approx(exact[kind].bayes_accuracy, abs=0.03)
