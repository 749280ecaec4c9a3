"""A plugin cannot change another method's results, and a bad metric cannot sink the others: a method gets the
zoo read-only (it fails alone when it tries to change what the others share, and their images, store keys and
protocol stay what they were), and the scorer checks each metric's output (one finite value per image, matched
by key) and records a broken metric as failed with one line and a log while the others are written."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from support.isolation_plugins import PLUGINS

from emobench.run import runner
from emobench.scoring import score_run
from emobench.spec.config import merge


@pytest.fixture(autouse=True)
def _env(monkeypatch, isolated_cache):
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)


def run(zoo, zoo_dir, out: Path, methods: str, metrics: str = "brightness") -> runner.RunResult:
    return runner.execute(merge({"zoo": str(zoo_dir), "emotions": "awe,fear", "n_per_emotion": 2, "out": str(out),
                                 "methods": methods, "metrics": metrics}), zoo=zoo, progress=False)


def stored(out: Path, method: str) -> dict[str, bytes]:
    keys = [json.loads(x)["key"] for x in (out / "manifest.jsonl").read_text().splitlines()
            if json.loads(x)["method"] == method]
    return {k: (out / "images" / f"{k}.png").read_bytes() for k in keys}


def test_a_method_that_swaps_shared_sampling_fails_alone(zoo, zoo_dir, tmp_path):
    alone = run(zoo, zoo_dir, tmp_path / "alone", "sd")
    mixed = run(zoo, zoo_dir, tmp_path / "mixed", "swapper,sd")
    status = {o.label: (o.status, o.reason or "") for o in mixed.outcomes}
    assert status["swapper"][0] == "failed" and "zoo.sampling is shared by every method" in status["swapper"][1]
    assert status["sd"][0] == "ok"
    assert stored(tmp_path / "mixed", "sd") == stored(tmp_path / "alone", "sd")   # same keys, same bytes
    for name in ("protocol.json", "zoo.json"):
        assert json.loads((tmp_path / "mixed" / name).read_text()) == json.loads((tmp_path / "alone" / name).read_text())
    assert zoo.sampling.guidance_scale == json.loads((tmp_path / "mixed" / "protocol.json").read_text())["guidance"]


def test_a_bad_metric_cannot_sink_the_others(zoo, zoo_dir, tmp_path, capsys):
    good = tmp_path / "good"
    run(zoo, zoo_dir, good, "noise", metrics="brightness,keyed-metric")
    scores = pd.read_csv(good / "scores.csv")
    by_metric = {m: g.sort_values("key")["value"].tolist() for m, g in scores.groupby("metric")}
    assert by_metric["keyed-metric"] == by_metric["brightness"]   # matched by key, whatever the order given
    capsys.readouterr()
    score_run(good, zoo, ["brightness", "short-metric", "sorted-metric", "nan-metric"], baseline=None,
              progress=False, merge=False)
    err = capsys.readouterr().err
    summary = json.loads((good / "summary.json").read_text())
    rows = pd.DataFrame(summary["rows"])
    for bad, why in (("short-metric", "has shape (1,) for 2 images"), ("sorted-metric", "does not follow the images"),
                     ("nan-metric", "non-finite")):
        lines = [x for x in err.splitlines() if f"metric {bad} failed" in x]
        assert len(lines) == 1 and why in lines[0], err
        assert (good / "logs" / f"metric-{bad}.log").is_file() and f"logs/metric-{bad}.log" in lines[0]
        assert set(rows[rows["metric"] == bad]["status"]) == {"failed"}
    ok = rows[(rows["metric"] == "brightness") & (rows["kind"] == "method")]
    assert set(ok["status"]) == {"ok"} and len(ok) == 3   # awe, fear and pooled: written in full
    again = pd.read_csv(good / "scores.csv")
    assert sorted(again[again["metric"] == "brightness"]["value"]) == sorted(by_metric["brightness"])
