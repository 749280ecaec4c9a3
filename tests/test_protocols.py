"""Protocols and tracks (docs/protocols.md): fingerprints, the content track's plan, and a report that never
puts numbers of two protocols in one column."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from emobench.api import Cell, ImageRecord, ScoreItem, stable_hash
from emobench.spec.config import DEFAULT_TEMPLATE, RunConfig, merge
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.metrics.content_accuracy import ContentAccuracy
from emobench.spec.plan import Plan
from emobench.spec.protocol import REFERENCES, Protocol, matches_paper
from emobench.report import build_report
from emobench.rundir.results import load_run, merge_runs
from emobench.rundir.layout import read_manifest
from emobench.run.store import image_key
from support.report_fixture import make_run

REPO = Path(__file__).resolve().parents[1]


def _protocol(**kw) -> Protocol:
    base = dict(track="emotion", templates=(DEFAULT_TEMPLATE,), contents=(), emotions=tuple(EMOTIONS[:3]),
                n_per_group=4, seed=0, scale="mini", judges=(("clip", "c1"), ("judges", "j1")),
                sampler="LatentSeededDDPMScheduler", steps=25, guidance=7.5, resolution=(32, 32))
    base.update(kw)
    return Protocol(**base)


def _with_protocol(run: Path, p: Protocol) -> Path:
    (run / "protocol.json").write_text(json.dumps(p.to_json()))
    return run


# ------------------------------------------------------------------------------------------ cell identity

def test_emotion_cells_keys_and_records_are_unchanged_by_the_content_field():
    cell = Cell("fear", "an image of {emotion}", 3)
    assert cell.cell_id == "fear|an image of {emotion}|3"
    # the key as it was computed before cells had a content field
    old = stable_hash({"method": "sd", "config": {}, "weights": "w", "cell": ["fear", "an image of {emotion}", 3]},
                      n=24)
    assert image_key("sd", {}, "w", cell) == old
    rec = ImageRecord("sd", "fear", "an image of {emotion}", 3, "an image of fear", "k", "s", "images/k.png")
    assert "content" not in json.loads(rec.to_json())
    assert ImageRecord.from_json(rec.to_json()) == rec


def test_content_enters_the_cell_key_and_the_prompt():
    a = Cell("fear", "a {content}, evoking {emotion}", 0, "spider")
    b = dataclasses.replace(a, content="cake")
    assert a.prompt() == "a spider, evoking fear" and a.prompt("<fear>") == "a spider, evoking <fear>"
    assert a.cell_id != b.cell_id and image_key("sd", {}, "w", a) != image_key("sd", {}, "w", b)
    rec = ImageRecord("sd", "fear", a.template, 0, a.prompt(), "k", "s", "images/k.png", content="spider")
    assert ImageRecord.from_json(rec.to_json()).cell == a


# ------------------------------------------------------------------------------------------ config and plan

def test_emotion_config_hash_does_not_see_the_track_fields():
    cfg = merge({"methods": "sd"})
    assert "track" not in cfg.hashed() and "contents" not in cfg.hashed()
    assert merge({"methods": "sd", "track": "emotion"}).config_hash == cfg.config_hash


def test_content_track_gets_its_template_and_checks_fields():
    cfg = merge({"methods": "sd", "track": "content"})
    assert cfg.templates == ("a {content}, evoking {emotion}",)
    assert cfg.hashed()["track"] == "content"
    with pytest.raises(EmobenchError, match=r"must contain \{content\} and \{emotion\}"):
        merge({"track": "content", "templates": ["an image of {emotion}"]})
    with pytest.raises(EmobenchError, match=r"must contain \{emotion\}"):
        merge({"templates": ["a {content}, evoking {emotion}"]})   # emotion track: {content} is a stray field
    with pytest.raises(EmobenchError, match="unknown track"):
        merge({"track": "valence"})
    with pytest.raises(EmobenchError, match="has no content"):
        merge({"contents": "spider"})


def test_content_plan_pairs_every_content_and_emotion_on_the_same_seeds():
    cfg = merge({"track": "content", "emotions": "fear,awe", "n_per_emotion": 2, "seed": 5})
    plan = Plan.from_config(cfg, (4, 8, 8), ("spider", "cake"))
    assert len(plan.cells) == 2 * 2 * 2
    assert {(c.content, c.seed) for c in plan.cells} == {(c, s) for c in ("spider", "cake") for s in (5, 6)}
    assert all("content" in c for c in plan.to_json()["cells"])
    emotion_plan = Plan.from_config(merge({"emotions": "fear"}), (4, 8, 8))
    assert all("content" not in c for c in emotion_plan.to_json()["cells"])
    with pytest.raises(EmobenchError, match="no contents"):
        Plan.from_config(cfg, (4, 8, 8), ())


# ------------------------------------------------------------------------------------------ protocol

def test_fingerprint_is_stable_and_sees_every_field():
    p = _protocol()
    assert p.fingerprint == Protocol.from_json(json.loads(json.dumps(p.to_json()))).fingerprint
    assert len(p.fingerprint) == 12
    for change in ({"track": "content"}, {"templates": ("a photo of {emotion}",)}, {"judges": (("clip", "c2"),)},
                   {"steps": 50}, {"guidance": 5.0}, {"resolution": (64, 64)}, {"n_per_group": 2}, {"seed": 1},
                   {"sampler": "DDIMScheduler"}, {"contents": ("spider",)}, {"metric_options": ("clip-a:top_k=1",)}):
        assert _protocol(**change).fingerprint != p.fingerprint, change
    assert "track (emotion vs content)" in p.differences(_protocol(track="content"))


def test_reference_rows_only_beside_the_paper_protocol_they_were_measured_under():
    assert matches_paper(_protocol()) is None   # mini scale: no paper numbers beside it
    paper = _protocol(scale="paper", emotions=tuple(EMOTIONS))
    assert matches_paper(paper) is REFERENCES["emogen-paper"]
    assert matches_paper(_protocol(scale="paper", emotions=tuple(EMOTIONS), templates=("a photo of {emotion}",))) is None
    assert matches_paper(dataclasses.replace(paper, track="content", templates=("a {content}, evoking {emotion}",))) \
        is REFERENCES["emoctrl-paper"]


def test_emoctrl_reference_table_is_packaged_unchanged():
    assert (REPO / "leaderboards/paper/emoctrl_table1.csv").read_bytes() == \
        (REPO / "emobench/report/paper_emoctrl_table1.csv").read_bytes()
    rows = (REPO / "emobench/report/paper_emoctrl_table1.csv").read_text().splitlines()
    emogen = next(r for r in rows if r.startswith("EmoGen,"))
    assert emogen.startswith("EmoGen,0.4523,0.4342,0.1497,0.701,0.539")


# ------------------------------------------------------------------------------------------ report

def test_report_refuses_to_merge_runs_of_different_protocols(tmp_path):
    a = _with_protocol(make_run(tmp_path / "a", methods=("sd", "emogen")), _protocol())
    b = _with_protocol(make_run(tmp_path / "b", methods=("sd", "textual-inversion")),
                       _protocol(track="content", templates=("a {content}, evoking {emotion}",), contents=("spider",)))
    with pytest.raises(EmobenchError, match=r"protocols differ .*track \(emotion vs content\)"):
        merge_runs([load_run(a), load_run(b)])

    res = build_report([a, b], tmp_path / "out", figures=False, html=False)
    index = (tmp_path / "out" / "leaderboard.md").read_text()
    fa, fb = load_run(a).fingerprint, load_run(b).fingerprint
    assert fa != fb and f"protocol-{fa}" in index and f"protocol-{fb}" in index and "differs from" in index
    board_a = (tmp_path / "out" / f"protocol-{fa}" / "leaderboard.md").read_text()
    board_b = (tmp_path / "out" / f"protocol-{fb}" / "leaderboard.md").read_text()
    assert "`emogen`" in board_a and "textual-inversion" not in board_a and fa in board_a
    assert "`textual-inversion`" in board_b and "`emogen`" not in board_b and fb in board_b
    assert f"protocol-{fa}/leaderboard.csv" in res.files
    csv_a = (tmp_path / "out" / f"protocol-{fa}" / "leaderboard.csv").read_text().splitlines()
    header = csv_a[0].split(",")
    assert header[:8] == ["section", "method", "display_name", "status", "reason", "n", "n_fits", "protocol"]
    assert all(line.split(",")[7] == fa for line in csv_a[1:])


def test_report_merges_runs_of_one_protocol(tmp_path):
    p = _protocol()
    a = _with_protocol(make_run(tmp_path / "a", methods=("sd", "emogen")), p)
    b = _with_protocol(make_run(tmp_path / "b", methods=("sd", "textual-inversion")), p)
    build_report([a, b], tmp_path / "out", figures=False, html=False)
    board = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "`emogen`" in board and "`textual-inversion`" in board and p.fingerprint in board


# ------------------------------------------------------------------------------------------ CLIP-A / EC-A

def test_content_accuracy_values():
    m = ContentAccuracy()
    feats = torch.zeros(3, len(EMOTIONS) + 1)
    feats[0, EMOTIONS.index("fear")], feats[0, -1] = 1, 1      # content and emotion right
    feats[1, EMOTIONS.index("awe")], feats[1, -1] = 1, 1       # content right, emotion wrong
    feats[2, EMOTIONS.index("fear")] = 1                       # emotion right, content wrong
    items = [ScoreItem("fear", "p", str(i), "spider") for i in range(3)]
    vals = m.values(feats, items)
    assert vals["clip-a"].tolist() == [1, 1, 0] and vals["ec-a"].tolist() == [1, 0, 0]
    assert m.needs_content and set(m.display()) == {"clip-a", "ec-a"}


class _VectorClip:
    """A CLIP whose every image embeds to e0 and whose texts embed at a chosen cosine with e0."""

    def __init__(self, cosines: dict[str, float]):
        self.cosines = cosines

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(images.shape[0], 3)
        out[:, 0] = 2.0   # not unit length: CLIP-A normalises
        return out

    def encode_texts(self, texts) -> torch.Tensor:
        c = torch.tensor([self.cosines[t] for t in texts], dtype=torch.float64)
        return torch.stack([c, (1 - c ** 2).sqrt(), torch.zeros_like(c)], 1).float() * 3


def _content_zoo(contents, cosines):
    from emobench.zoo.base import Judges, Zoo
    from support.metrics_fakes import ColourEmotionJudge

    return Zoo(name="vectors", scale="paper", pipeline=None, clip=_VectorClip(cosines),
               judges=Judges(emotion=ColourEmotionJudge()), contents=tuple(contents))


def test_a_caption_is_scored_by_its_cosine_not_by_its_rank():
    """EmoCtrl's two CLIP-A rules: an element must be in the top-5 over the zoo's elements; a caption must have
    cosine > 0.15 with the image. The cosines are chosen so that the two rules disagree on every caption."""
    from emobench.metrics.content_accuracy import ContentConfig
    from support.metrics_fakes import CENTERS

    elements = [f"thing{k}" for k in range(6)]
    cosines = {f"a photo of a {e}": 0.9 - 0.1 * k for k, e in enumerate(elements)}   # 0.9 … 0.4
    cosines |= {"A bird flying in the sky.": 0.2,    # ranks 7th of 8: a top-5 rule would miss it; cosine > 0.15
                "A cat on the floor.": 0.1,           # first of the two captions: a top-5 rule would hit it
                "a photo of a A bird flying in the sky.": 0.95, "a photo of a A cat on the floor.": 0.95}
    zoo = _content_zoo(elements + ["A bird flying in the sky.", "A cat on the floor."], cosines)
    contents = ["thing0", "thing5", "A bird flying in the sky.", "A cat on the floor."]
    images = CENTERS[EMOTIONS.index("fear")][None, :, None, None].expand(len(contents), 3, 4, 4).clone()
    items = [ScoreItem("fear", "p", str(i), content=c) for i, c in enumerate(contents)]
    m = ContentAccuracy()
    vals = m.values(m.features(images, items, zoo), items)
    assert vals["clip-a"].tolist() == [1, 0, 1, 0]   # thing5 is 6th of 6 elements; captions: 0.2 yes, 0.1 no
    assert vals["ec-a"].tolist() == [1, 0, 1, 0]     # every image is judged "fear", as requested
    wrong = [ScoreItem("awe", "p", str(i), content=c) for i, c in enumerate(contents)]
    assert m.values(m.features(images, wrong, zoo), wrong)["ec-a"].tolist() == [0, 0, 0, 0]
    # the threshold is an option (it changes the column, so the protocol records it like top_k)
    loose = ContentAccuracy(ContentConfig(threshold=0.05))
    assert loose.values(loose.features(images, items, zoo), items)["clip-a"].tolist() == [1, 0, 1, 1]
    # a caption needs no list (its rule is absolute); an element outside the zoo's list cannot be ranked
    free = [ScoreItem("fear", "p", "x", content="A dog on the ground.")]
    cosines["A dog on the ground."] = 0.3
    assert m.values(m.features(images[:1], free, zoo), free)["clip-a"].tolist() == [1]
    with pytest.raises(EmobenchError, match="'dog' is not in the zoo's content list"):
        m.features(images[:1], [ScoreItem("fear", "p", "x", content="dog")], zoo)


def test_named_content_lists_and_their_templates():
    from emobench.data.content_lists import is_caption, named_list

    elements, captions = named_list("emoctrl-elements"), named_list("emoctrl-captions")
    assert len(elements) == 45 == len(set(elements)) and elements == tuple(sorted(elements))   # 'cake' once
    assert len(captions) == 31 and all(is_caption(c) for c in captions) and not any(map(is_caption, elements))
    assert named_list("emoctrl") == elements + captions and "A bird flying in the sky." in captions
    # a list with captions gets a template a sentence fits; given templates are kept; elements keep theirs
    assert merge({"track": "content", "content_list": "emoctrl-captions"}).templates == ("{content} ({emotion})",)
    assert merge({"track": "content", "contents": ["A dog on the ground."]}).templates == ("{content} ({emotion})",)
    assert merge({"track": "content", "content_list": "emoctrl-elements"}).templates == \
        ("a {content}, evoking {emotion}",)
    assert merge({"track": "content", "content_list": "emoctrl", "templates": ["{emotion}: {content}"]}).templates \
        == ("{emotion}: {content}",)
    assert Cell("fear", "{content} ({emotion})", 0, "A bird flying in the sky.").prompt() == \
        "A bird flying in the sky. (fear)"
    # the field stays out of the config hash unless set
    plain = merge({"track": "content"})
    assert "content_list" not in plain.hashed()
    assert merge({"track": "content", "content_list": "emoctrl"}).config_hash != plain.config_hash


def test_an_unknown_content_list_is_one_clear_line(capsys):
    from emobench.cli import main as cli_main

    with pytest.raises(EmobenchError, match="unknown content list 'emoctrl-caption' .*did you mean 'emoctrl-captions'"):
        merge({"track": "content", "content_list": "emoctrl-caption"})
    with pytest.raises(EmobenchError, match="track 'emotion' has no content"):
        merge({"content_list": "emoctrl"})
    assert cli_main(["run", "--track", "content", "--content-list", "emoctrl-caption", "--no-progress"]) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1 and err[0].startswith("emobench: error: unknown content list 'emoctrl-caption'"), err


def test_resolve_contents_plans_a_named_list_within_what_the_zoo_can_score():
    from emobench.spec.tracks import resolve_contents

    zoo = _content_zoo(["spider", "cake"], {})
    run = {"track": "content"}
    assert resolve_contents(merge(run), zoo) == ("spider", "cake")
    captions = resolve_contents(merge(run | {"content_list": "emoctrl-captions"}), zoo)
    assert len(captions) == 31   # captions need no candidates
    assert resolve_contents(merge(run | {"content_list": "emoctrl-captions", "contents": ["A cake on the table."]}),
                            zoo) == ("A cake on the table.",)
    with pytest.raises(EmobenchError, match="'A dog.' is not in the content list 'emoctrl-captions'"):
        resolve_contents(merge(run | {"content_list": "emoctrl-captions", "contents": ["A dog."]}), zoo)
    # EmoCtrl's elements cannot be ranked among a zoo list that lacks them ('beach' is first of the 45)
    with pytest.raises(EmobenchError, match="'beach' is not in the zoo's content list"):
        resolve_contents(merge(run | {"content_list": "emoctrl"}), zoo)


# ------------------------------------------------------------------------------------------ end to end

def test_content_run_end_to_end_on_the_tiny_zoo(zoo, zoo_dir, tmp_path, isolated_cache):
    from emobench.run import runner
    from emobench.spec.tracks import zoo_contents

    contents = list(zoo_contents(zoo))[:2]
    cfg = merge({"zoo": str(zoo_dir), "methods": "sd", "emotions": "awe,fear", "n_per_emotion": 1,
                 "track": "content", "contents": contents, "metrics": "emo-a,clip-a", "out": str(tmp_path / "r")})
    res = runner.execute(cfg, zoo=zoo, progress=False)
    run = res.run_dir
    proto = json.loads((run / "protocol.json").read_text())
    assert proto["track"] == "content" and proto["contents"] == contents and len(proto["fingerprint"]) == 12
    recs = read_manifest(run)
    assert len(recs) == 4 and {r.content for r in recs} == set(contents)
    assert all(r.prompt == f"a {r.content}, evoking {r.emotion}" for r in recs)
    import pandas as pd

    summary = pd.read_csv(run / "summary.csv")
    assert set(summary["protocol"]) == {proto["fingerprint"]}
    assert {"emo-a", "clip-a", "ec-a"} <= set(summary["metric"])
    sd = summary[(summary.method == "sd") & (summary.emotion == "all")].set_index("metric")["value"]
    assert 0 <= sd["ec-a"] <= min(sd["clip-a"], sd["emo-a"])
    # an emotion-track run of the same zoo has another fingerprint, and clip-a does not apply there
    with pytest.raises(EmobenchError, match="scores content"):
        runner.execute(merge({"zoo": str(zoo_dir), "methods": "sd", "emotions": "awe", "n_per_emotion": 1,
                              "metrics": "clip-a", "out": str(tmp_path / "e")}), zoo=zoo, progress=False)


def test_a_run_that_plans_a_caption_end_to_end_on_the_tiny_zoo(zoo, zoo_dir, tmp_path, isolated_cache):
    """A caption (not in the mini zoo's list: captions need none) beside an element: the caption default
    template, the caption as written in the prompt, and CLIP-A scored for both."""
    from emobench.run import runner
    from emobench.spec.tracks import zoo_contents

    element = zoo_contents(zoo)[0]
    contents = ["A bird flying in the sky.", element]
    cfg = merge({"zoo": str(zoo_dir), "methods": "sd", "emotions": "fear", "n_per_emotion": 1, "track": "content",
                 "contents": contents, "metrics": "clip-a", "out": str(tmp_path / "r")})
    run = runner.execute(cfg, zoo=zoo, progress=False).run_dir
    assert json.loads((run / "protocol.json").read_text())["templates"] == ["{content} ({emotion})"]
    assert sorted(r.prompt for r in read_manifest(run)) == sorted(f"{c} (fear)" for c in contents)
    import pandas as pd

    summary = pd.read_csv(run / "summary.csv")
    sd = summary[(summary.method == "sd") & (summary.emotion == "all")].set_index("metric")["value"]
    assert {"clip-a", "ec-a"} <= set(sd.index) and sd["clip-a"] in (0, 0.5, 1)
