"""The ``judge-guided`` control and the judge audit, on the tiny zoo: with scale 0 the method draws ``sd``'s
images bit for bit (same prompts, plan latents, per-cell step noise); with guidance it raises the guided judge's
probability of the target emotion; it declares what it was trained against; ``emobench audit RUN`` reports
every panel judge on a run, and neutral-prompt histograms."""
from __future__ import annotations

import json

import pytest
import torch

from emobench.api import Cell
from emobench.emotions import EMOTION_INDEX, EMOTIONS
from emobench.judges import is_trained_against, load_panel
from emobench.spec.plan import Plan
from emobench.registry import methods


def _requests(zoo, n=2):
    cells = [Cell(e, "an image of {emotion}", s) for e in EMOTIONS[:4] for s in range(n)]
    return Plan(tuple(cells), zoo.latent_shape()).requests(cells)


def _generate(zoo, spec, reqs):
    _, method = methods().create(spec)
    method.load(zoo, None)
    return method, method.generate(reqs).images


def test_scale_zero_is_sd_bit_for_bit(zoo):
    reqs = _requests(zoo)
    _, sd = _generate(zoo, "sd", reqs)
    _, guided = _generate(zoo, "judge-guided:scale=0", reqs)
    assert torch.equal((sd * 255).round(), (guided * 255).round()) and torch.equal(sd, guided)


def test_guidance_raises_the_guided_judges_target_probability(zoo):
    reqs = _requests(zoo)
    target = torch.tensor([EMOTION_INDEX[r.cell.emotion] for r in reqs])
    _, sd = _generate(zoo, "sd", reqs)
    method, guided = _generate(zoo, "judge-guided:scale=2", reqs)
    primary = load_panel(zoo).primary
    p_sd = primary.predict_proba(sd).gather(1, target[:, None]).mean()
    p_guided = primary.predict_proba(guided).gather(1, target[:, None]).mean()
    assert p_guided > p_sd, (float(p_sd), float(p_guided))
    assert method.trained_against == ("primary",) and is_trained_against(method.trained_against, primary)
    _, other = methods().create("judge-guided:judge=clip-probe")
    assert other.trained_against == ("clip-probe",)


def test_methods_declare_nothing_by_default():
    assert methods().get("sd").trained_against == ()


def test_audit_reports_every_judge_and_neutral_prompts(zoo_dir, tmp_path, capsys):
    from emobench.cli import main

    run = tmp_path / "run"
    assert main(["run", "--zoo", str(zoo_dir), "--methods", "sd,judge-guided:scale=2", "--emotions",
                 "amusement,fear", "--n-per-emotion", "2", "--out", str(run), "--no-score", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["audit", str(run), "--zoo", str(zoo_dir), "--neutral-seeds", "3"]) == 0
    out = capsys.readouterr().out
    audit = json.loads((run / "audit.json").read_text())
    assert set(audit["per_judge"]) == {"cnn"}                # the tiny zoo ships no panel/ folder
    figures = audit["per_judge"]["cnn"]["methods"]
    assert set(figures) == {"sd", "judge-guided:scale=2.0"}
    f = figures["sd"]
    assert f["n"] == 4 and sum(f["histogram"].values()) == 4 and 0 <= f["emo_s"] <= 1
    assert f["pos_neg_gap"] == pytest.approx(f["positive_accuracy"] - f["negative_accuracy"], abs=1e-3)
    assert set(audit["neutral"]) == {"an image", "a photo"}
    shares = audit["neutral"]["a photo"]["cnn"]["judged_share"]
    assert sum(shares.values()) == pytest.approx(1.0) and audit["neutral"]["a photo"]["cnn"]["n"] == 3
    assert "neutral prompt 'an image'" in out and "judge cnn (pixel-cnn, primary)" in out


def test_audit_of_a_non_run_is_a_one_line_error(tmp_path, capsys):
    from emobench.cli import main

    assert main(["audit", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
