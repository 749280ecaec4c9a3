"""EmoSet-mini in memory: shapes, determinism, captions, attributes and bad input."""
import numpy as np
import pytest

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.world import OBJECTS, SCENES, render_batch, sample_world


def test_sample_world_shapes_and_keys():
    images, anns = sample_world(seed=1, n=40)
    assert images.shape == (40, 32, 32, 3) and images.dtype == np.uint8
    for a in anns:
        assert set(a) == {"emotion", "brightness", "colorfulness", "scene", "object", "caption"}
        assert a["emotion"] in EMOTIONS and a["scene"] in SCENES and a["object"][0] in OBJECTS
        assert 0.0 <= a["brightness"] <= 1.0 and 0.0 <= a["colorfulness"] <= 1.0


def test_sample_world_is_deterministic_and_seed_dependent():
    a, ann_a = sample_world(seed=3, n=520)   # spans two chunks
    b, ann_b = sample_world(seed=3, n=520)
    c, _ = sample_world(seed=4, n=520)
    assert np.array_equal(a, b) and ann_a == ann_b
    assert not np.array_equal(a, c)


def test_splits_differ():
    a, _ = sample_world(seed=2, n=100)
    b, _ = sample_world(seed=2, n=100, split="val")
    assert not np.array_equal(a, b)


def test_caption_kinds_in_their_documented_shares():
    from emobench.world.tables import EMOTION_PHRASES, WorldConfig

    cfg = WorldConfig()
    _, anns = sample_world(seed=0, n=2400)
    has_content = np.array([a["object"][0].replace("_", " ") in a["caption"] for a in anns])
    names = np.array([a["emotion"] in a["caption"] or EMOTION_PHRASES[a["emotion"]] in a["caption"] for a in anns])
    se = lambda p: 4 * np.sqrt(p * (1 - p) / len(anns))   # ±4 standard errors
    emotion_only, with_both = np.mean(names & ~has_content), np.mean(names & has_content)
    assert abs(emotion_only - cfg.caption_emotion_only_frac) <= se(cfg.caption_emotion_only_frac), emotion_only
    assert abs(with_both - cfg.caption_emotion_frac) <= se(cfg.caption_emotion_frac), with_both
    assert (names | has_content).all()                  # every caption names the content, the emotion or both
    # emotion-only captions are drawn with their image: the image's own label, its content from p(content | e)
    only = [a for a, n, c in zip(anns, names, has_content) if n and not c]
    assert {a["caption"] for a in only} >= {"fear", "an image of fear", "something scary"}


def test_caption_shares_leave_the_images_unchanged():
    """One uniform draw picks the caption kind, so changing the shares changes captions only."""
    import dataclasses

    from emobench.world.tables import WorldConfig

    a, anns_a = sample_world(seed=1, n=600)
    b, anns_b = sample_world(seed=1, n=600, config=dataclasses.replace(WorldConfig(), caption_emotion_only_frac=0.0))
    assert np.array_equal(a, b)
    assert [x["emotion"] for x in anns_a] == [x["emotion"] for x in anns_b]
    assert sum(x["caption"] != y["caption"] for x, y in zip(anns_a, anns_b)) > 30


def test_brightness_tracks_pixels():
    images, anns = sample_world(seed=0, n=300)
    mean = images.mean(axis=(1, 2, 3)) / 255
    b = np.array([a["brightness"] for a in anns])
    assert np.corrcoef(mean, b)[0, 1] > 0.9


def test_render_batch_chosen_content():
    im = render_batch(["spider", "sun"], ["graveyard", "beach"], seed=0)
    assert im.shape == (2, 32, 32, 3)
    # the sun is yellow: red+green high, blue low in the centre
    centre = im[1, 12:20, 12:20].reshape(-1, 3).mean(0)
    assert centre[0] > 180 and centre[1] > 150 and centre[2] < 100
    with pytest.raises(EmobenchError, match="unicorn"):
        render_batch(["unicorn"], ["beach"])


@pytest.mark.parametrize("kwargs,word", [({"seed": -1}, "-1"), ({"n": 0}, "n=0"), ({"n": 10**9}, "1000000000"),
                                         ({"seed": 2**40}, str(2**40)), ({"split": "dev"}, "dev")])
def test_bad_input_names_value(kwargs, word):
    with pytest.raises(EmobenchError) as err:
        sample_world(**{"seed": 0, "n": 5, **kwargs})
    assert word in str(err.value) and "—" in str(err.value)


def test_no_content_name_holds_an_emotion_word():
    """A content caption must not teach an emotion word (EmoSet's "amusement park" is the mini world's carnival)."""
    from emobench.world.tables import EMOTION_PHRASES, OBJECT_WORDS, SCENE_PHRASES

    words = set(EMOTIONS) | {p.split()[-1] for p in EMOTION_PHRASES.values()}
    contents = [*OBJECT_WORDS.values(), *SCENE_PHRASES.values()]
    assert not [(c, w) for c in contents for w in words if w in c.split()]
