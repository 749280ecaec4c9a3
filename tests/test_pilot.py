"""``emobench run --pilot``: the projection's arithmetic (pure), and a pilot on the tiny zoo that fits with capped
loops, generates and scores a few cells, prints the projection and writes no run and no cached artifact."""
from __future__ import annotations

import json
import math

import pytest

from emobench.cli import main as cli_main
from emobench.run.pilot_model import FitPilot, MethodPilot, PilotResult, ScoringPilot, StageTiming, project, render
from emobench.spec.config import merge


def _result(fit_seeds: int = 1, cached: list[int] | None = None) -> PilotResult:
    cfg = merge({"methods": "sd,textual-inversion", "n_per_emotion": 10, "emotions": "awe,fear",
                 "fit_seeds": fit_seeds})
    fit = FitPilot((12.0, 10.0), [StageTiming("awe", 8, 108, (0.5, 0.4)), StageTiming("fear", 8, 108, (0.5, 0.4))],
                   1000, cached or [])
    return PilotResult(
        config=cfg, device="cpu", setup_s=(5.0, 4.0), pipeline_load_s=(1.0, 1.0),
        methods=[MethodPilot("sd", False, None, (0.0, 0.0), 8, (2.0, 1.5), 4, 100.0),
                 MethodPilot("textual-inversion", True, fit, (1.0, 1.0), 8, (4.0, 3.0), 4, 200.0)],
        scoring=ScoringPilot([20, 40], [(30.0, 25.0), (50.0, 40.0)], (3.0, 2.0), (7.0, 6.0), 10.0, 5.0),
        n_cells=20, control_images=8, pilot_cells=8, peak_rss_bytes=2 ** 30, peak_gpu_bytes=None)


def test_the_projection_adds_up():
    p = project(_result())
    ti, sd = p["methods"]["textual-inversion"], p["methods"]["sd"]
    assert ti["fit_s_per_seed"] == pytest.approx(12.0 + 2 * 100 * 0.5)          # 8 of 108 steps run per emotion
    assert sd["img_per_s"] == pytest.approx(2.0) and sd["generate_s_per_seed"] == pytest.approx(10.0)
    assert ti["generate_s_per_seed"] == pytest.approx(20.0) and ti["total_s"] == pytest.approx(112 + 1 + 20)
    line = p["scoring_line"]
    assert line["s_per_image"] == pytest.approx(1.0) and line["intercept_s"] == pytest.approx(10.0)
    assert line["images"] == 20 + 20 + 8 and p["scoring_s"] == pytest.approx(3 + 10 + 48)
    one = 5 + 1 + 112 + 61 + 7 + (0 + 10) + (1 + 20)
    assert p["processes"]["1"]["wall_s"] == pytest.approx(one)
    two = 5 + 1 + 112 + 61 + 7 + (0 + 5) + (1 + 10)                              # cells split, fits not
    assert p["processes"]["2"]["wall_s"] == pytest.approx(two) and p["processes"]["2"]["device_hours"] == \
        pytest.approx(2 * two / 3600)
    assert p["disk_bytes"]["images"] == pytest.approx(20 * 100 + 20 * 200) and p["disk_bytes"]["artifacts"] == 1000
    cpu = project(_result(), clock="cpu")
    assert cpu["methods"]["textual-inversion"]["fit_s_per_seed"] == pytest.approx(10.0 + 2 * 100 * 0.4)
    assert "processes" in render(_result(), p, cpu)


def test_fit_seeds_multiply_fits_and_generation_and_cached_seeds_cost_nothing():
    p = project(_result(fit_seeds=3))
    ti = p["methods"]["textual-inversion"]
    assert ti["fit_seeds"] == 3 and ti["fits_to_run"] == 3 and ti["images"] == 60
    assert ti["total_s"] == pytest.approx(3 * 112 + 3 * (1 + 20)) and "cannot be sharded" in p["sharding_note"]
    assert p["methods"]["sd"]["fit_seeds"] == 1
    cached = project(_result(fit_seeds=3, cached=[0, 2]))["methods"]["textual-inversion"]
    assert cached["fits_to_run"] == 1 and cached["total_s"] == pytest.approx(112 + 3 * 21)
    assert math.isclose(project(_result(cached=[0]))["fits_s"], 0.0)


def test_a_pilot_on_the_tiny_zoo_projects_and_writes_nothing(zoo_dir, tmp_path, isolated_cache, capsys):
    out, js = tmp_path / "run", tmp_path / "pilot.json"
    argv = ["run", "--zoo", str(zoo_dir), "--methods", "sd,textual-inversion:steps=5", "--emotions", "awe,fear",
            "--n-per-emotion", "6", "--metrics", "emo-a,fid", "--out", str(out), "--pilot", "--pilot-cells", "4",
            "--pilot-steps", "3", "--pilot-json", str(js)]
    assert cli_main(argv) == 0
    text = capsys.readouterr().out
    assert "processes" in text and "textual-inversion:steps=5" in text and "nothing was written" in text
    assert not out.exists()
    assert not (isolated_cache / "artifacts").exists() or not any((isolated_cache / "artifacts").rglob("fit.json"))
    data = json.loads(js.read_text())
    ti = [m for m in data["measured"]["methods"] if m["label"] == "textual-inversion:steps=5"][0]
    assert {(s["steps_run"], s["total"]) for s in ti["fit"]["stages"]} == {(3, 5)}   # capped, full length known
    assert ti["n_images"] == 8 and data["measured"]["n_cells"] == 12
    assert data["projection"]["wall"]["methods"]["sd"]["images"] == 12
    assert data["measured"]["scoring"]["images"][0] < data["measured"]["scoring"]["images"][1]
    assert cli_main(["run", "--zoo", str(zoo_dir), "--pilot", "--resume", str(tmp_path)]) == 2
