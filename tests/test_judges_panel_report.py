"""Part 2 of the judge panel: per-judge Emo-A columns (``emo-a-mean`` with ``emo-a@<judge>``), κ tables in
``judges.json``, ``trained_against`` and ``control`` recorded in methods.json and used by the report (greyed
and daggered per-judge cells, the control method apart from the ranked ones), and the default method list
without controls."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from emobench.judges import is_trained_against
from emobench.metrics.agreement import agreement, cohen_kappa, fleiss_kappa
from emobench.testing.tiny import tiny_zoo
from support.fake_judges import PLUGINS


# ---------------------------------------------------------------- κ with known answers

def test_cohen_kappa_known_values():
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 → p_o = 0.7, p_e = 0.5, κ = 0.4
    a = torch.tensor([0] * 25 + [1] * 25)
    b = torch.tensor([0] * 20 + [1] * 5 + [0] * 10 + [1] * 15)
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 0, 3])
    assert cohen_kappa(labels, labels) == pytest.approx(1.0)
    assert cohen_kappa(torch.zeros(5, dtype=torch.long), torch.zeros(5, dtype=torch.long)) is None   # p_e = 1
    assert cohen_kappa(torch.tensor([0, 1]), torch.tensor([1, 0])) == pytest.approx(-1.0)


def test_fleiss_kappa_known_value():
    # Fleiss (1971) worked example as usually reproduced: 10 subjects, 14 raters, 5 categories → κ ≈ 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    labels = torch.tensor([[c for c, k in enumerate(row) for _ in range(k)] for row in table])
    assert fleiss_kappa(labels, k=5) == pytest.approx(0.2099, abs=1e-4)
    same = torch.tensor([[1, 1, 1], [2, 2, 2], [5, 5, 5]])
    assert fleiss_kappa(same) == pytest.approx(1.0)
    t = agreement(torch.stack([same[:, 0], same[:, 1]], 1), ["a", "b"])
    assert t == {"n": 3, "cohen": {"a|b": 1.0}, "fleiss": 1.0}


# ---------------------------------------------------------------- a tiny run with a three-judge panel

@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory):
    return tiny_zoo(tmp_path_factory)


@pytest.fixture(scope="module")
def run(zoo_dir, tmp_path_factory):
    from emobench.cli import main

    mp = pytest.MonkeyPatch()
    mp.setenv("EMOBENCH_JUDGES", PLUGINS)
    mp.setenv("EMOBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    out = tmp_path_factory.mktemp("runs") / "run"
    try:
        assert main(["run", "--zoo", str(zoo_dir), "--methods", "sd,judge-guided:scale=2", "--emotions",
                     "amusement,awe,anger,fear", "--n-per-emotion", "2", "--metrics", "emo-a,emo-a-mean",
                     "--out", str(out), "--no-progress"]) == 0
        assert main(["report", str(out), "--no-figures"]) == 0
    finally:
        mp.undo()
    return out


def test_per_judge_columns_and_primary_equals_emo_a(run):
    sc = pd.read_csv(run / "scores.csv")
    wide = sc.pivot_table(index=["method", "key"], columns="metric", values="value")
    assert {"emo-a", "emo-a-mean", "emo-a@cnn", "emo-a@colour", "emo-a@colour-copy"} <= set(wide.columns)
    assert (wide["emo-a@cnn"] == wide["emo-a"]).all()            # the primary judge's column is Emo-A itself
    assert (wide["emo-a@colour-copy"] == wide["emo-a@colour"]).all()
    mean = wide[["emo-a@cnn", "emo-a@colour", "emo-a@colour-copy"]].mean(axis=1)
    assert (wide["emo-a-mean"] - mean).abs().max() < 1e-12
    summary = json.loads((run / "summary.json").read_text())
    facts = summary["display"]["emo-a@colour"]
    assert facts["judge"] == "colour" and facts["family"] == "colour-stat" and facts["weights_hash"] == "colour-v1"
    assert summary["display"]["emo-a@cnn"]["primary"] is True
    rows = [r for r in summary["rows"] if r["metric"] == "emo-a@colour" and r["emotion"] == "all"
            and r["method"] == "judge-guided:scale=2.0"]
    assert rows and rows[0]["ci_low"] is not None and rows[0]["diff"] is not None   # CIs and Δ apply per judge


def test_judges_json_kappa(run):
    doc = json.loads((run / "judges.json").read_text())
    assert [j["name"] for j in doc["judges"]] == ["cnn", "colour", "colour-copy"]
    defined = [t["cohen"]["colour|colour-copy"] for m in doc["methods"].values()
               for t in [m, *m["emotions"].values()] if t["cohen"]["colour|colour-copy"] is not None]
    assert defined and all(k == 1.0 for k in defined)          # two judges that always agree
    sd = doc["methods"]["sd"]
    assert sd["n"] == 8 and set(sd["emotions"]) == {"amusement", "awe", "anger", "fear"}
    assert sum(t["n"] for t in sd["emotions"].values()) == 8
    assert "real (control)" in doc["methods"]


def test_methods_json_records_trained_against_and_control(run):
    methods = json.loads((run / "methods.json").read_text())
    assert methods["judge-guided:scale=2.0"]["trained_against"] == ["primary"]
    assert methods["judge-guided:scale=2.0"]["control"] is True
    assert methods["sd"]["trained_against"] == [] and methods["sd"]["control"] is False


def test_report_greys_trained_against_and_shows_the_control_apart(run):
    md = (run / "leaderboard.md").read_text()
    ranked = md.split("## Methods", 1)[1].split("\n## ", 1)[0]
    assert "`sd`" in ranked and "judge-guided" not in ranked
    assert "## Control methods (not ranked)" in md
    section = md.split("## Emotion judges", 1)[1]
    row = next(line for line in section.splitlines() if line.startswith("| `judge-guided"))
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[2].endswith("†") and not cells[3].endswith("†") and not cells[4].endswith("†")   # cnn only
    sd_row = next(line for line in section.splitlines() if line.startswith("| `sd`"))
    assert "†" not in sd_row
    assert "### Agreement between judges" in section and "held-out judges" in section
    page = (run / "index.html").read_text()
    assert page.count('class="greyed"') == 1 and "Control methods (not ranked)" in page
    csv = pd.read_csv(run / "leaderboard.csv")
    assert "emo-a@colour" in csv.columns
    assert csv.loc[csv["method"] == "judge-guided:scale=2.0", "section"].item() == "control-method"


def test_report_rule_matches_is_trained_against():
    from types import SimpleNamespace

    from emobench.report.judges_section import JudgeCol, greyed
    from emobench.report.metrics_display import MetricSpec

    spec = MetricSpec("emo-a@x", "x", True, 1)
    for ta in ([], ["primary"], ["x"], ["fam"], ["other"]):
        for primary in (True, False):
            col = JudgeCol(spec, "x", "fam", primary)
            run = SimpleNamespace(methods={"m": {"trained_against": ta}})
            assert greyed(run, "m", col) == is_trained_against(ta, SimpleNamespace(name="x", family="fam", primary=primary))


def test_default_method_list_skips_controls():
    from emobench.registry import methods
    from emobench.run.runner import resolve_methods

    labels = [m.label for m in resolve_methods([])]
    assert "judge-guided" not in labels and "sd" in labels
    assert methods().get("judge-guided").control is True and methods().get("sd").control is False
    assert [m.label for m in resolve_methods(["judge-guided"])] == ["judge-guided"]


def test_emo_a_mean_passes_the_metric_contract(zoo_dir, monkeypatch):
    from emobench.testing.metric_contract import check_metric
    from emobench.zoo.load import load_zoo

    monkeypatch.setenv("EMOBENCH_JUDGES", PLUGINS)
    report = check_metric("emo-a-mean", load_zoo(zoo_dir))
    failed = [r for r in report.results if not r.passed]
    assert not failed, failed
