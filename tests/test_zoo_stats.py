"""``emobench zoo stats``: EmoSet's figures from small fake official lists (raw pickles and an
``emogen.official import`` folder), a dataset's annotations, the exact world tables, the side-by-side table,
the zoo card, and refusals (another world, an altered import, a planted pickle)."""
from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest

from emobench.cli import main as cli
from emobench.errors import EmobenchError
from emobench.testing.tiny import tiny_zoo
from emobench.world import bayes_accuracy, world_stats
from emobench.zoo import stats
from support.official_fixtures import write_official_repo

# (image id, attribute folder) rows as in the official lists: fear_00001 is listed three times (the balanced
# lists repeat images of rare attributes), and "Spider"/"spider" are one attribute after the import's renaming
OBJECT_ROWS = [("fear_00001", "Spider")] * 3 + [("fear_00002", "spider"), ("awe_00001", "Mountain"),
                                                ("awe_00002", "spider")]
SCENE_ROWS = [("sadness_00001", "cemetery"), ("sadness_00002", "cemetery"), ("awe_00003", "sky"),
              ("amusement_00001", "amusement park"), ("amusement_00001", "amusement park")]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return write_official_repo(tmp_path_factory.mktemp("off") / "EmoGen",
                               ids={"object": OBJECT_ROWS, "scene": SCENE_ROWS})


@pytest.fixture(scope="module")
def imported(clone, tmp_path_factory):
    from emogen.official import main

    out = tmp_path_factory.mktemp("imp") / "official"
    assert main(["import", str(clone), "--out", str(out)]) == 0
    return out


def _check_official(src: stats.StatsSource) -> None:
    obj, scn = src.stats["object"], src.stats["scene"]
    assert "object+scene" not in src.stats            # the official lists are disjoint by construction
    assert obj.n == 4 and scn.n == 4                   # unique image ids, not rows
    # objects: fear spider ×2, awe mountain ×1, awe spider ×1 → Bayes (2 + 1) / 4; fear is all spider
    assert obj.bayes_accuracy == pytest.approx(0.75) and obj.distinct == 2
    assert obj.top1_share["fear"] == 1.0 and obj.top1_share["awe"] == 0.5 and obj.top1_content["fear"] == "spider"
    assert obj.distinct_per_emotion == {**{e: 0 for e in obj.distinct_per_emotion}, "fear": 1, "awe": 2}
    # scenes: each scene belongs to one emotion → Bayes 1, I = H(C) = H(E)
    assert scn.bayes_accuracy == pytest.approx(1.0)
    assert scn.mutual_information == pytest.approx(scn.h_content) == pytest.approx(1.5)
    assert scn.top1_content["amusement"] == "amusement_park"


def test_official_figures_from_the_raw_pickles(clone):
    _check_official(stats.official_source(clone))
    _check_official(stats.official_source(clone / "dataset_balance"))


def test_official_figures_from_an_import_folder(imported):
    _check_official(stats.official_source(imported))


def test_altered_import_and_planted_pickle_are_refused(imported, clone, tmp_path):
    bad = tmp_path / "altered"
    shutil.copytree(imported, bad)
    lists = json.loads((bad / "train_lists.json").read_text())
    lists["object"] = lists["object"][:1]
    (bad / "train_lists.json").write_text(json.dumps(lists))
    with pytest.raises(EmobenchError, match="altered"):
        stats.official_source(bad)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    db = tmp_path / "dataset_balance"
    shutil.copytree(clone / "dataset_balance", db)
    (db / "scene_norepeat.pkl").write_bytes(pickle.dumps(["/x/scene/(1)sky/awe_00001.jpg", Payload()]))
    with pytest.raises(EmobenchError, match="not a plain-data pickle"):
        stats.official_source(db)
    assert not marker.exists()
    with pytest.raises(EmobenchError, match="neither an official import"):
        stats.official_source(tmp_path / "nowhere")


def test_world_source_is_the_exact_tables():
    src = stats.world_source()
    assert src.how == "exact tables" and src.stats["object+scene"].bayes_accuracy == pytest.approx(bayes_accuracy())
    assert src.stats["scene"].mutual_information == world_stats()["scene"].mutual_information


def test_tiny_zoo_counts_its_dataset(tmp_path_factory):
    root = tiny_zoo(tmp_path_factory)
    src = stats.zoo_source(root)
    assert src.how == "annotations" and set(src.stats) == {"object", "scene", "object+scene"}
    assert src.stats["object"].n == 96 + 32 + 32
    assert stats.zoo_source(root, splits=("train",)).stats["scene"].n == 96


def test_a_zoo_of_another_world_is_refused_and_its_own_world_is_exact(tmp_path_factory, tmp_path):
    from emobench.world import WorldConfig
    from emobench.world.write import world_key

    meta = json.loads((tiny_zoo(tmp_path_factory) / "zoo.json").read_text())
    sizes = {"seed": 0, "n_train": 20000, "n_val": 2000, "n_test": 2000}
    meta["dataset"] = {"kind": "emoset-mini", **sizes, "world_key": "6646cfc6038e9608"}   # the v2 world
    (tmp_path / "zoo.json").write_text(json.dumps(meta))
    with pytest.raises(EmobenchError, match="another EmoSet-mini world"):
        stats.zoo_source(tmp_path)
    meta["dataset"]["world_key"] = world_key(0, 20000, 2000, 2000, WorldConfig())
    (tmp_path / "zoo.json").write_text(json.dumps(meta))
    assert stats.zoo_source(tmp_path).how == "exact tables"


def test_cli_prints_the_side_by_side_table_and_json(imported, capsys):
    assert cli(["zoo", "stats", "--world", "--official", str(imported)]) == 0
    out = capsys.readouterr().out
    head = out.splitlines()[0]
    assert head.startswith("| statistic | EmoSet-mini object | EmoSet-mini scene | EmoSet-mini object+scene | "
                           "EmoSet object | EmoSet scene |")
    assert "I(E; C), bits" in out and "emotion accuracy from this content alone" in out
    assert cli(["zoo", "stats", "--world", "--official", str(imported), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["how"] for s in data["sources"]] == ["exact tables", "official lists"]
    assert data["sources"][1]["stats"]["object"]["bayes_accuracy"] == pytest.approx(0.75)
    assert cli(["zoo", "stats", "--world", "--dataset", str(imported)]) == 2
    assert "one zoo, dataset or world" in capsys.readouterr().err


def test_stats_go_into_the_card(tmp_path_factory, tmp_path, imported):
    from emobench.zoo.card import write_card
    from emobench.zoo.check import CheckResult

    root = tmp_path / "zoo"
    shutil.copytree(tiny_zoo(tmp_path_factory), root)
    write_card(root, CheckResult(figures={}, bars={}), {}, 0.0)
    card = json.loads((root / "card.json").read_text())
    assert card["content_stats"]["sources"][0]["how"] == "annotations"   # the zoo's own, written at build time
    assert "## How much of the emotion the content carries" in (root / "card.md").read_text()
    assert cli(["zoo", "stats", str(root), "--official", str(imported), "--card"]) == 0
    card = json.loads((root / "card.json").read_text())
    assert [s["label"] for s in card["content_stats"]["sources"]] == ["zoo", "EmoSet"]
    write_card(root, CheckResult(figures={}, bars={}), {}, 0.0)          # a re-check keeps EmoSet's column
    assert "EmoSet object" in (root / "card.md").read_text()


def test_emoset_style_annotations_are_counted(tmp_path, capsys):
    """EmoSet-118K's own annotation files: capitalised names, several objects (the first counts), images without
    a scene or without objects."""
    anns = [("fear", ["Spider", "Dog"], "Forest"), ("fear", ["spider"], None), ("awe", [], "Sky"),
            ("awe", ["Mountain"], "sky")]
    (tmp_path / "image").mkdir()
    rows = []
    for i, (emotion, objects, scene) in enumerate(anns):
        (tmp_path / "annotation" / emotion).mkdir(parents=True, exist_ok=True)
        ann = {"emotion": emotion, "object": objects, **({"scene": scene} if scene else {})}
        (tmp_path / "annotation" / emotion / f"{emotion}_{i:05d}.json").write_text(json.dumps(ann))
        rows.append([emotion, f"{emotion}_{i:05d}", f"image/{emotion}/{emotion}_{i:05d}.jpg",
                     f"annotation/{emotion}/{emotion}_{i:05d}.json"])
    for split, part in (("train", rows[:3]), ("val", rows[3:]), ("test", [])):
        (tmp_path / f"{split}.json").write_text(json.dumps(part))
    src = stats.dataset_source(tmp_path)
    assert src.stats["object"].n == 3 and src.stats["scene"].n == 3 and src.stats["object+scene"].n == 2
    assert src.stats["object"].top1_content["fear"] == "spider" and src.stats["object"].top1_share["fear"] == 1.0
    assert src.stats["scene"].top1_content["awe"] == "sky" and src.stats["scene"].distinct == 2
    assert stats.dataset_source(tmp_path, splits=("train",)).stats["object"].n == 2
    assert cli(["zoo", "stats", "--dataset", str(tmp_path), "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sources"][0]["stats"]["scene"]["n"] == 1
