"""The zero-training baselines ``attribute-prompt`` and ``emotion-words``: the draws (temperature 0 and 1, the
same attribute for the same cell), the wording, bad options, the contract kit, and runs at both scales."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from baselines import attribute_table as at
from baselines.attribute_prompt import AttributePromptConfig, AttributePromptMethod
from baselines.emotion_lexicon import LEXICON
from baselines.emotion_words import EmotionWordsConfig, EmotionWordsMethod
from emobench import registry
from emobench.api import EMOTIONS, Cell
from emobench.errors import EmobenchError
from emobench.sampling import truncated_text
from emobench.testing.contract import MethodContractTests, shared_tiny_zoo

T1, T2 = "an image of {emotion}", "a photo of {emotion}"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return shared_tiny_zoo(tmp_path_factory)


def loaded(zoo, **options):
    m = AttributePromptMethod(AttributePromptConfig(**options))
    m.load(zoo, None)
    return m


def draws(m, emotion, n, template=T1):
    return [m.draw(Cell(emotion, template, seed))[0].name for seed in range(n)]


# ------------------------------------------------------------------------------------------ the draws
def test_temperature_zero_draws_the_most_typical_attribute_once_per_emotion(zoo):
    m = loaded(zoo, temperature=0.0)
    typ = m.table.typicality()
    for e in EMOTIONS:
        got = set(draws(m, e, 60) + draws(m, e, 60, T2))
        assert len(got) == 1, (e, got)
        best = m.table.attributes[int(np.argmax(typ[EMOTIONS.index(e)]))].name
        assert got == {best}


def _chi2(m, emotion, q, n):
    names = [a.name for a in m.table.attributes]
    counts = np.bincount([names.index(x) for x in draws(m, emotion, n)], minlength=len(names))
    keep = q * n >= 5                          # chi-square needs expected counts of 5 or more: pool the rest
    obs = np.append(counts[keep], counts[~keep].sum())
    exp = np.append(q[keep] * n, q[~keep].sum() * n)
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return chisquare(obs, exp).pvalue


@pytest.mark.parametrize("emotion", ["amusement", "fear", "sadness"])
def test_temperature_one_draws_match_the_tables_distribution(zoo, emotion):
    m = loaded(zoo, temperature=1.0)
    p = m.table.p_given_emotion()[EMOTIONS.index(emotion)]
    assert np.allclose(m.table.tempered(emotion, 1.0), p)
    assert _chi2(m, emotion, p, 3000) > 1e-3
    # the test has power: the same draws are far from the sharper T = 0.5 distribution
    assert _chi2(m, emotion, m.table.tempered(emotion, 0.5), 3000) < 1e-6


def test_the_temperature_family_and_its_draws(zoo):
    m = loaded(zoo, temperature=0.5, source="objects")
    e = EMOTIONS.index("fear")
    p, pe = m.table.p_given_emotion()[e], m.table.p_emotion_given()[e]
    want = np.where(p > 0, p ** 2 * pe, 0)                  # q_T ∝ p^(1/T) · p(e|a)^(1/T − 1) at T = 1/2
    assert np.allclose(m.table.tempered("fear", 0.5), want / want.sum())
    assert _chi2(m, "fear", want / want.sum(), 3000) > 1e-3
    tiny = m.table.tempered("fear", 1e-9)                   # the limit T → 0 is the T = 0 draw
    assert tiny[m.table.most_typical("fear")] == pytest.approx(1.0)
    assert (m.table.tempered("fear", 0.3)[p == 0] == 0).all()   # never an attribute unseen with the emotion


def test_the_same_cell_draws_the_same_attribute_in_every_run(zoo):
    cells = [Cell(e, t, s) for e in EMOTIONS for t in (T1, T2) for s in range(6)]
    torch.manual_seed(1)
    first = [loaded(zoo).draw(c)[0] for c in cells]
    torch.manual_seed(2)
    np.random.seed(3)
    again = loaded(zoo)
    assert [again.draw(c)[0] for c in reversed(cells)][::-1] == first
    assert len({a.name for a in first}) > 4                 # and different cells do draw different attributes


def test_the_official_files_give_the_table(zoo, tmp_path):
    rows = {"object": [["fear", "fear_1", "spider"], ["fear", "fear_1", "spider"],   # an oversampled copy
                       ["fear", "fear_2", "spider"], ["fear", "fear_3", "plant"], ["awe", "awe_1", "plant"]],
            "scene": [["sadness", "sadness_1", "cemetery"], ["fear", "fear_1", "cemetery"]]}
    folder = write_official_import(tmp_path / "off", rows)
    m = loaded(zoo, official_dir=str(folder), source="objects")
    assert [a.name for a in m.table.attributes] == ["plant", "spider"]
    assert m.table.counts[EMOTIONS.index("fear")].tolist() == [1, 2]       # copies counted once
    assert m.config.official_files and m.table.attributes[0].noun == "a plant"
    both = loaded(zoo, official_dir=str(folder), temperature=0.0)
    assert both.table.attributes[both.table.most_typical("sadness")].name == "cemetery"
    assert both.table.attributes[2].where == "in a cemetery"                # generic wording: no captions
    (folder / "train_lists.json").write_text("{}")
    with pytest.raises(EmobenchError, match="altered"):
        loaded(zoo, official_dir=str(folder))


def write_official_import(out: Path, lists: dict) -> Path:
    """The part of a `python -m emogen.official import` folder attribute-prompt reads."""
    from emogen.official import FORMAT, MANIFEST, TRAIN_LISTS

    out.mkdir(parents=True)
    (out / TRAIN_LISTS).write_text(json.dumps(lists))
    files = {TRAIN_LISTS: hashlib.sha256((out / TRAIN_LISTS).read_bytes()).hexdigest()}
    (out / MANIFEST).write_text(json.dumps({"format": FORMAT, "version": 1, "files": files}))
    return out


# ------------------------------------------------------------------------------------------ wording and prompts
def test_the_mini_worlds_wording_is_reused_and_every_prompt_fits_16_tokens(zoo):
    from emobench.world.tables import OBJECT_WORDS, SCENE_PHRASES

    m = loaded(zoo)
    for a in m.table.attributes:
        if a.kind == "scene":
            assert a.where == SCENE_PHRASES[a.name] and a.noun in a.where
        else:
            assert a.noun.split(" ", 1)[1] == OBJECT_WORDS[a.name]          # "trash_bag" → "a trash bag"
    tok = zoo.pipeline.tokenizer
    assert tok.model_max_length == 16
    prompts = [m.prompt(Cell(e, T1, 0), a) for e in EMOTIONS for a in m.table.attributes]
    content = [m.prompt(Cell(e, "a {content}, evoking {emotion}", 0, "tear drop"), a)
               for e in EMOTIONS for a in m.table.attributes if a.kind == "scene"]
    assert "a photo of a trash bag, disgust" in prompts and "a tear drop in a graveyard, evoking fear" in content
    assert truncated_text(tok, prompts + content) == {}


def test_generic_wording_without_captions():
    samples = [SimpleNamespace(caption=None, scene="amusement_park", objects=("ice_cream",))]
    assert at.scene_phrases(samples) == {}
    a = at.wording("scene", "amusement_park", {})
    assert (a.noun, a.where) == ("an amusement park", "in an amusement park")
    assert at.wording("object", "ice_cream", {}).noun == "an ice cream"
    assert at.noun_of_place("under a night sky") == "a night sky" and at.noun_of_place("at sunset") == "sunset"


def test_content_cells_draw_a_scene_and_keep_the_content(zoo):
    m = loaded(zoo)
    cell = Cell("fear", "a {content}, evoking {emotion}", 3, "balloon")
    a, q = m.draw(cell)
    assert a.kind == "scene" and 0 < q <= 1
    assert m.prompt(cell, a) == f"a balloon {a.where}, evoking fear"
    with pytest.raises(EmobenchError, match="content cell"):
        loaded(zoo, source="objects").draw(cell)


# ------------------------------------------------------------------------------------------ emotion-words
def test_emotion_words_uses_only_words_the_mini_encoder_has_read(zoo):
    w = EmotionWordsMethod(EmotionWordsConfig())
    w.load(zoo, None)
    vocab = {t for s in zoo.dataset.split("train") if s.caption for t in s.caption.lower().replace(",", " ").split()}
    content = {t for n in [*zoo.dataset.objects, *zoo.dataset.scenes] for t in n.split("_")}
    for e in EMOTIONS:
        assert set(w.words[e]) <= vocab - content and all(x in LEXICON[e] for x in w.words[e])
        prompt, added = w.enrich(Cell(e, T1, 0))
        assert prompt == ", ".join([f"an image of {e}", *added]) and added == w.words[e][:3]
    assert "angry" not in w.words["anger"]                   # a content word of the mini world ("angry face")
    everything = EmotionWordsMethod(EmotionWordsConfig(vocabulary="all"))
    everything.load(zoo, None)
    assert len(everything.words["fear"]) == 8 and "angry" not in everything.words["anger"]


def test_emotion_words_keep_the_whole_lexicon_without_captions_but_never_a_content_word():
    from baselines.emotion_words import readable_words

    emoset = SimpleNamespace(objects=["ice_cream", "angry_dog"], scenes=["amusement_park"],
                             split=lambda name: [SimpleNamespace(caption=None)])
    got = readable_words(emoset, "auto")
    assert got["fear"] == list(LEXICON["fear"]) and got["anger"] == [w for w in LEXICON["anger"] if w != "angry"]
    assert readable_words(None, "auto") == {e: list(ws) for e, ws in LEXICON.items()}   # no dataset at all


def test_emotion_words_never_overflow_the_text_encoder(zoo):
    w = EmotionWordsMethod(EmotionWordsConfig(vocabulary="all", n_words=8))
    w.load(zoo, None)
    long = "a very detailed photograph of {emotion}"
    prompts = [w.enrich(Cell(e, long, 0))[0] for e in EMOTIONS]
    assert truncated_text(zoo.pipeline.tokenizer, prompts) == {}
    assert any(len(w.enrich(Cell(e, long, 0))[1]) < 8 for e in EMOTIONS)


def test_the_lexicon_keeps_its_rules():
    assert tuple(LEXICON) == EMOTIONS and all(len(ws) == 8 for ws in LEXICON.values())
    flat = [x for ws in LEXICON.values() for x in ws]
    assert len(flat) == len(set(flat))                       # no word in two emotions' lists
    assert not set(flat) & set(EMOTIONS)                     # no emotion name


# ------------------------------------------------------------------------------------------ options and contract
@pytest.mark.parametrize("spec", [
    "attribute-prompt:source=pairs", "attribute-prompt:temperature=-0.1", "attribute-prompt:temperature=1.5",
    "attribute-prompt:temperature=nan", "attribute-prompt:template=a photo of {emotion}",
    "attribute-prompt:template=a {thing} of {attribute}", "attribute-prompt:template=a photo of {attribute",
    "attribute-prompt:official_dir=/no/such/folder", "attribute-prompt:official_files=abc",
    "attribute-prompt:micro_batch=0", "emotion-words:n_words=-1", "emotion-words:n_words=9",
    "emotion-words:vocabulary=mini", "emotion-words:lexicon=mine",
])
def test_bad_options_are_refused_in_one_line(spec):
    with pytest.raises(EmobenchError) as err:
        registry.methods().create(spec)
    assert "\n" not in str(err.value) and spec.split(":", 1)[1].split("=")[0] in str(err.value)


class TestAttributePromptContract(MethodContractTests):
    method = "attribute-prompt"
    bad_options = [{"temperature": 2}, {"source": "pairs"}, {"template": "no attribute"}]


class TestAttributePromptModeContract(MethodContractTests):
    method = "attribute-prompt"
    options = {"temperature": 0, "source": "scenes"}


class TestEmotionWordsContract(MethodContractTests):
    method = "emotion-words"
    bad_options = [{"n_words": -1}, {"vocabulary": "mini"}]


# ------------------------------------------------------------------------------------------ runs at both scales
def _run(zoo_arg, zoo, tmp_path, **extra):
    from emobench.run import runner
    from emobench.spec.config import merge

    cfg = merge({"methods": ["sd", "attribute-prompt", "emotion-words:n_words=2"], "metrics": ["emo-a"],
                 "emotions": ["amusement", "fear"], "n_per_emotion": 2, "zoo": zoo_arg,
                 "out": str(tmp_path / "run"), **extra})
    result = runner.execute(cfg, zoo=zoo, progress=False)
    assert not result.failed, [(o.label, o.reason) for o in result.failed]
    return json.loads((tmp_path / "run" / "methods.json").read_text()), result


def test_both_run_on_the_mini_scale_zoo_and_declare_what_they_use(zoo, tmp_path):
    methods, result = _run(str(zoo.root), zoo, tmp_path)
    assert methods["attribute-prompt"]["uses_dataset_statistics"] is True
    assert methods["emotion-words:n_words=2"]["uses_dataset_statistics"] is True
    assert methods["sd"]["uses_dataset_statistics"] is False
    prompts = {r.method: r.prompt for r in result.records if r.seed == 0 and r.emotion == "fear"}
    assert prompts["attribute-prompt"].startswith("a photo of ") and prompts["attribute-prompt"].endswith(", fear")


def test_image_keys_of_a_dataset_reader_follow_the_dataset(zoo):
    from emobench.run.runner import MethodSpec, image_keys

    cells = [Cell("fear", T1, 0)]
    other = SimpleNamespace(weights_hash=zoo.weights_hash, dataset=SimpleNamespace(content_hash="0" * 16))
    reader = MethodSpec("attribute-prompt", "attribute-prompt", AttributePromptMethod(), None, 0, "")
    plain = MethodSpec("sd", "sd", registry.methods().create("sd")[1], None, 0, "")
    assert image_keys(reader, zoo, cells, None) != image_keys(reader, other, cells, None)
    assert image_keys(plain, zoo, cells, None) == image_keys(plain, other, cells, None)


@pytest.fixture(scope="module")
def paper_toml(tmp_path_factory):
    from emobench.cli import main as cli_main
    from emobench.testing.tiny import tiny_zoo

    from support.paper_fixtures import write_judge_files, write_paper_toml

    root = tmp_path_factory.mktemp("paper")
    toml = write_paper_toml(root / "paper.toml", tiny_zoo(tmp_path_factory), write_judge_files(root / "files"))
    assert cli_main(["zoo", "fit-judges", "--zoo", str(toml)]) == 0
    return toml


def test_both_run_on_the_tiny_paper_zoo_on_both_tracks(paper_toml, tmp_path):
    from emobench.zoo.load import load_zoo

    zoo = load_zoo(str(paper_toml))
    methods, _ = _run(str(paper_toml), zoo, tmp_path / "emotion")
    assert all(m["status"] == "ok" for m in methods.values())
    methods, result = _run(str(paper_toml), zoo, tmp_path / "content", track="content",
                           contents=["bird", "mountain"], templates=["a {content}, evoking {emotion}"],
                           metrics=["emo-a", "clip-a"])
    ap = [r.prompt for r in result.records if r.method == "attribute-prompt"]
    assert ap and all(p.split(",")[0].split(" ")[1] in ("bird", "mountain") for p in ap)
