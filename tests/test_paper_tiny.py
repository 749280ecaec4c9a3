"""``emobench zoo make-tiny-paper``: SD 1.5's real layout (AutoencoderKL with 4 latent channels, a 77-token
CLIPTextModel, SD 1.5's PNDM scheduler config), every emotion in every split, the documented dry run scoring
every metric with no skipped group; the paper zoo loads lazily, fit-judges needs only CLIP and EmoSet, and a
missing EmoSet image stops a run before anything is generated."""
from __future__ import annotations

import json
import shlex
import shutil
from collections import Counter
from pathlib import Path

import pytest

from emobench.cli import main as cli_main
from emobench.emotions import EMOTIONS
from emobench.zoo.load import load_zoo
from emobench.zoo.paper import PROBE_WEIGHTS
from emobench.zoo.tiny_paper import DRY_RUN, PER_EMOTION


@pytest.fixture(scope="module")
def tiny_paper(tmp_path_factory):
    out = tmp_path_factory.mktemp("tp") / "tiny-paper"
    assert cli_main(["zoo", "make-tiny-paper", str(out)]) == 0
    return out


def test_the_tiny_paper_zoo_has_sd15s_layout(tiny_paper, capsys):
    index = json.loads((tiny_paper / "stable-diffusion" / "model_index.json").read_text())
    assert index["vae"] == ["diffusers", "AutoencoderKL"] and index["scheduler"] == ["diffusers", "PNDMScheduler"]
    assert index["text_encoder"] == ["transformers", "CLIPTextModel"]
    vae = json.loads((tiny_paper / "stable-diffusion" / "vae" / "config.json").read_text())
    assert vae["latent_channels"] == 4 and len(vae["block_out_channels"]) == 4 and vae["scaling_factor"] == 0.18215
    te = json.loads((tiny_paper / "stable-diffusion" / "text_encoder" / "config.json").read_text())
    assert te["max_position_embeddings"] == 77 and te["eos_token_id"] == 2   # SD 1.5's legacy ids
    tok = json.loads((tiny_paper / "stable-diffusion" / "tokenizer" / "tokenizer_config.json").read_text())
    assert tok["model_max_length"] == 77
    sched = json.loads((tiny_paper / "stable-diffusion" / "scheduler" / "scheduler_config.json").read_text())
    assert sched["beta_schedule"] == "scaled_linear" and sched["skip_prk_steps"] is True
    for split, k in PER_EMOTION.items():   # every emotion in every split: FID/KID and controls are never empty
        rows = json.loads((tiny_paper / "EmoSet" / f"{split}.json").read_text())
        assert Counter(r[0] for r in rows) == {e: k for e in EMOTIONS}
    assert (tiny_paper / "emo-a-probe" / PROBE_WEIGHTS).is_file()
    zoo = load_zoo(str(tiny_paper / "paper.toml"))
    assert zoo.scale == "paper" and zoo.latent_shape() == (4, 8, 8)
    assert type(zoo.pipeline.vae).__name__ == "AutoencoderKL" and zoo.pipeline.tokenizer.model_max_length == 77


def test_the_paper_zoo_loads_lazily(tiny_paper):
    zoo = load_zoo(str(tiny_paper / "paper.toml"), lazy=True)
    assert not zoo.pipeline_loaded and zoo.latent_shape() == (4, 8, 8) and zoo.scheduler_name() == "PNDMScheduler"
    assert all(zoo.has(p) for p in ("judges.emotion", "judges.object", "judges.fid_features", "judges.lpips"))
    assert not any(zoo.judges.loaded(n) for n in ("emotion", "object", "scene", "fid_features", "lpips"))
    assert zoo.clip._clip is None
    assert getattr(zoo.judges.lpips, "scale_note", None) is None and not zoo.judges.loaded("lpips")
    eager = load_zoo(str(tiny_paper / "paper.toml"))
    assert zoo.weights_hash == eager.weights_hash and zoo.judges_hash == eager.judges_hash
    assert zoo.judges.object.labels[0] == "tench" and zoo.judges.loaded("object")   # first use loads it


def test_fit_judges_needs_only_clip_and_emoset(tiny_paper, tmp_path):
    moved = tmp_path / "tp"
    shutil.copytree(tiny_paper, moved)
    shutil.rmtree(moved / "judges")            # no Places365, Inception, AlexNet yet
    shutil.rmtree(moved / "stable-diffusion")  # nor SD 1.5
    assert cli_main(["zoo", "fit-judges", "--zoo", str(moved / "paper.toml"), "--out", str(tmp_path / "probe")]) == 0
    assert (tmp_path / "probe" / PROBE_WEIGHTS).is_file()


def test_a_missing_emoset_image_stops_the_run_before_anything_is_generated(tiny_paper, tmp_path, capsys):
    moved = tmp_path / "tp"
    shutil.copytree(tiny_paper, moved)
    rows = json.loads((moved / "EmoSet" / "test.json").read_text())
    for row in rows[3:5]:
        (moved / "EmoSet" / row[2]).unlink()
    out = tmp_path / "run"
    assert cli_main(["run", "--zoo", str(moved / "paper.toml"), "--methods", "sd", "--emotions", "fear",
                     "--n-per-emotion", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 of" in err[0] and rows[3][2] in err[0], err
    assert not (out / "images").exists()


def test_the_documented_dry_run_scores_every_metric(tiny_paper, tmp_path, monkeypatch, capsys):
    """docs/paper-scale.md section 0, as `make-tiny-paper` prints it: every metric gets a value for every
    method and emotion, and no group is skipped for having too few images."""
    from emobench import registry

    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    doc = (Path(__file__).resolve().parents[1] / "docs" / "paper-scale.md").read_text()
    assert DRY_RUN in doc.replace("\\\n    ", "")
    out = tmp_path / "run"
    argv = ["run", "--zoo", str(tiny_paper / "paper.toml"), *shlex.split(DRY_RUN), "--out", str(out),
            "--no-progress"]
    assert cli_main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    # by design, two metric families cannot score the dry run, each saying why (docs/paper-scale.md, section 0):
    # the k-NN manifold metrics need k + 1 = 6 images per group and reference, and the world's content truth
    # exists at mini scale only
    knn = ("coverage", "coverage-clip")
    by_design = [p for p in summary["problems"]
                 if (p.startswith(tuple(f"{m}: " for m in knn)) and "needs at least 6" in p)
                 or p.startswith("metric content-tv: no world truth at paper scale")]
    assert not [p for p in summary["problems"] if "skipped" in p and p not in by_design], summary["problems"]
    metrics = [n for n in registry.metrics().names() if not getattr(registry.metrics().get(n), "needs_content", False)]
    assert set(summary["metrics"]) == set(metrics)
    rows = [r for r in summary["rows"] if r["metric"] not in ("content-tv", "precision", "recall", "density",
                                                               "coverage", "precision-clip", "recall-clip",
                                                               "density-clip", "coverage-clip")]
    assert rows and all(r["status"] == "ok" and r["value"] is not None for r in rows)
    fid = {r["method"]: r["value"] for r in rows if r["metric"] == "fid" and r["emotion"] == "all"}
    assert len(set(fid.values())) > 1            # the calibrated random Inception tells images apart
    err = capsys.readouterr().err
    assert not [line for line in err.splitlines() if "skipped" in line and not any(p in line for p in by_design)]


def test_a_finished_paper_runs_resume_loads_nothing_it_does_not_use(tiny_paper, tmp_path, monkeypatch):
    """The lazy paper zoo: resuming a finished, scored run (every feature cached) loads neither the generator
    nor CLIP nor any judge network (the Emo-A probe's 8×D layer is read: the panel describes it)."""
    from emobench.run import runner
    from emobench.spec.config import merge

    monkeypatch.setenv("EMOBENCH_CACHE", str(tmp_path / "cache"))
    cfg = {"zoo": str(tiny_paper / "paper.toml"), "methods": "sd", "emotions": "awe,fear", "n_per_emotion": 2,
           "out": str(tmp_path / "run")}
    runner.execute(merge(cfg), progress=False)
    zoo = load_zoo(cfg["zoo"], lazy=True)
    again = runner.execute(merge(cfg), resume=tmp_path / "run", zoo=zoo, progress=False)
    assert again.scored and again.outcomes[0].n_generated == 0
    assert not zoo.pipeline_loaded and zoo.clip._clip is None
    assert not [n for n in ("object", "scene", "fid_features", "lpips") if zoo.judges.loaded(n)]
