"""End-to-end properties of ``emobench run`` on the tiny zoo: batch size, method order and repetition change
nothing; a failed method is isolated; a SIGKILLed run resumes to the same bytes; bad input exits 2 untouched."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from support.core_plugins import PLUGINS

from emobench.run import runner
from emobench.cli import main as cli
from emobench.spec.config import merge
from emobench.zoo.load import load_zoo

TESTS = Path(__file__).parent
OUTPUTS = ("manifest.jsonl", "scores.csv", "summary.csv", "summary.json", "plan.json", "config.json")


@pytest.fixture(autouse=True)
def _env(monkeypatch, isolated_cache):
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)


def run(zoo, zoo_dir, out, score=True, **kw):
    base = {"zoo": str(zoo_dir), "emotions": "awe,fear", "n_per_emotion": 4, "out": str(out), "metrics": "emo-a"}
    return runner.execute(merge({**base, **kw}), zoo=zoo, score=score, progress=False)


def files(run_dir: Path) -> dict[str, bytes]:
    """Every result file that must be reproducible (env.json and methods.json hold wall times / git state)."""
    out = {name: (run_dir / name).read_bytes() for name in OUTPUTS if (run_dir / name).exists()}
    out.update({p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted((run_dir / "images").iterdir())})
    return out


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(zoo, zoo_dir, tmp_path_factory):
    """sd + noise, batch 8, scored: the run every invariance is compared with."""
    out = tmp_path_factory.mktemp("ref") / "run"
    os.environ["EMOBENCH_PLUGINS"] = PLUGINS
    try:
        res = run(zoo, zoo_dir, out, methods="sd,noise", batch_size=8)
    finally:
        os.environ.pop("EMOBENCH_PLUGINS", None)
    assert [o.status for o in res.outcomes] == ["ok", "ok"]
    return out


def test_reference_run_is_complete(reference):
    lines = (reference / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 16  # 2 methods × 2 emotions × 4
    recs = [json.loads(x) for x in lines]
    assert [(r["method"], r["emotion"], r["seed"]) for r in recs] == sorted((r["method"], r["emotion"], r["seed"]) for r in recs)
    for name in ("config.json", "env.json", "zoo.json", "plan.json", "methods.json", "scores.csv", "summary.csv"):
        assert (reference / name).is_file(), name
    env = json.loads((reference / "env.json").read_text())
    assert env["packages"]["torch"] and "sha" in env["git"]
    assert json.loads((reference / "config.json").read_text())["config_hash"]
    assert json.loads((reference / "zoo.json").read_text())["weights_hash"]
    plan = json.loads((reference / "plan.json").read_text())
    # the latent depends on the seed only: same seed → same latent hash across emotions
    by_seed = {}
    for c in plan["cells"]:
        by_seed.setdefault(c["seed"], set()).add(c["latent_sha256"])
    assert all(len(v) == 1 for v in by_seed.values()) and len(by_seed) == 4
    assert "emo-a" in (reference / "summary.csv").read_text()


def test_batch_size_and_method_order_change_nothing(reference, zoo, zoo_dir, tmp_path):
    res = run(zoo, zoo_dir, tmp_path / "b1", methods="noise,sd", batch_size=1)
    assert files(tmp_path / "b1") == files(reference)
    assert res.config.methods == ("noise", "sd")


def test_identical_runs_are_byte_identical(reference, zoo, zoo_dir, tmp_path):
    run(zoo, zoo_dir, tmp_path / "again", methods="sd,noise", batch_size=8)
    assert files(tmp_path / "again") == files(reference)


def test_same_latents_reach_every_method(reference):
    """sd and noise differ, but both got the plan's latent: noise's image is a function of it."""
    recs = [json.loads(x) for x in (reference / "manifest.jsonl").read_text().splitlines()]
    assert len({r["key"] for r in recs}) == len(recs)


def test_failed_method_isolated(zoo, zoo_dir, tmp_path):
    res = run(zoo, zoo_dir, tmp_path / "r", score=False, methods="noise,broken,nan,short,missing", batch_size=4)
    info = json.loads((tmp_path / "r" / "methods.json").read_text())
    assert info["noise"]["status"] == "ok" and info["noise"]["n_images"] == 8
    assert info["broken"]["status"] == "failed" and "boom in generate" in info["broken"]["reason"]
    assert "NaN" in info["nan"]["reason"]
    assert "shape (3, 3, 32, 32)" in info["short"]["reason"]
    assert "failed to load" in info["missing"]["reason"]
    methods = {json.loads(x)["method"] for x in (tmp_path / "r" / "manifest.jsonl").read_text().splitlines()}
    assert methods == {"noise"}
    assert len(res.failed) == 4


def test_pipeline_mutation_cannot_leak_into_other_methods(reference, zoo_dir, tmp_path):
    fresh = load_zoo(zoo_dir)  # this test's zoo gets modified; keep the shared one clean
    run(fresh, zoo_dir, tmp_path / "m", score=False, methods="sd,mutator", n_per_emotion=1)
    info = json.loads((tmp_path / "m" / "methods.json").read_text())
    assert "modified the shared zoo (pipeline" in info["mutator"]["warning"] and info["sd"]["warning"] is None
    ref = {r["key"]: r["sha256"] for r in map(json.loads, (reference / "manifest.jsonl").read_text().splitlines())}
    sd = [json.loads(x) for x in (tmp_path / "m" / "manifest.jsonl").read_text().splitlines() if '"sd"' in x]
    assert len(sd) == 2 and all(ref[r["key"]] == r["sha256"] for r in sd)


def test_resume_after_sigkill_matches_uninterrupted(zoo, zoo_dir, tmp_path):
    args = ["--zoo", str(zoo_dir), "--methods", "noise", "--emotions", "awe,fear", "--n-per-emotion", "4",
            "--batch-size", "1", "--no-score", "--no-progress"]
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(TESTS), "EMOBENCH_TEST_SLEEP": "0.3", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "emobench", "run", *args, "--out", str(killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list((killed / "images").glob("*.json"))) < 2:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    stored = sorted((killed / "images").glob("*.png"))
    assert 2 <= len(stored) < 8, "the run was not killed mid-generation"
    assert not (killed / "manifest.jsonl").exists()
    before = {p.name: p.stat().st_mtime_ns for p in stored if (p.with_suffix(".json")).exists()}

    assert cli(["run", "--resume", str(killed), "--no-score", "--no-progress"]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (killed / "images").glob("*.png")}
    assert all(after[k] == v for k, v in before.items()), "resume rewrote stored images"
    assert len(after) == 8
    whole = tmp_path / "whole"
    res = run(zoo, zoo_dir, whole, score=False, methods="noise", batch_size=1, metrics=None)
    assert res.config.config_hash == json.loads((killed / "config.json").read_text())["config_hash"]
    assert files(killed) == files(whole)


def test_bare_diffusers_folder_through_cli(tmp_path, capsys):
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from emobench.zoo.tokenizer import clip_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16),
                                layers_per_block=1, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=4, norm_num_groups=4)
    vae = AutoencoderKL(block_out_channels=(8, 8), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=4,
                        layers_per_block=1, sample_size=16)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, max_position_embeddings=16, bos_token_id=49406,
                                        eos_token_id=49407, pad_token_id=49407))
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text, tokenizer=clip_tokenizer(16),
                                   scheduler=DDIMScheduler(beta_schedule="linear", clip_sample=False, steps_offset=1),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    sd_dir = tmp_path / "sd15"
    pipe.save_pretrained(sd_dir)
    out = tmp_path / "run"
    argv = ["run", "--zoo", str(sd_dir), "--methods", "sd:num_inference_steps=3", "--emotions", "fear", "--n-per-emotion", "2",
            "--out", str(out), "--no-progress"]
    assert cli(argv) == 0
    recs = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert [(r["prompt"], r["seed"]) for r in recs] == [("an image of fear", 0), ("an image of fear", 1)]
    assert json.loads((out / "zoo.json").read_text())["scale"] == "custom"
    assert "skipping metric 'emo-a'" in capsys.readouterr().err  # a bare pipeline has no judges


@pytest.mark.parametrize("argv, message", [
    (["--methods", "sdd"], "unknown method 'sdd' — did you mean 'sd'"),
    (["--methods", "sd:bogus=1"], "method 'sd' has no option 'bogus'"),
    (["--metrics", "emo-b"], "unknown metric 'emo-b'"),
    (["--emotions", "joy"], "unknown emotion 'joy'"),
    (["--n-per-emotion", "0"], "--n-per-emotion must be within 1..1,000,000, got 0"),
    (["--n-per-emotion", "x"], "n_per_emotion must be an integer"),
    (["--prompts", "a photo"], "must contain {emotion}"),
    (["--config", "/nonexistent/run.toml"], "cannot read config file"),
    (["--zoo", "NOTAZOO"], "does not exist"),
    (["--zoo", "."], "neither a zoo folder"),
])
def test_bad_input_exits_2_and_writes_nothing(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli(["run", "--methods", "noise", "--zoo", "NOTAZOO", "--out", str(out), *argv] if "--zoo" not in argv
               else ["run", "--methods", "noise", "--out", str(out), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1 and " — " in err
    assert not out.exists()


def test_invalid_toml_config(tmp_path, capsys):
    bad = tmp_path / "run.toml"
    bad.write_text("methods = [sd\n")
    assert cli(["run", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "is not valid TOML" in capsys.readouterr().err
    good = tmp_path / "good.toml"
    good.write_text('methods = ["noise"]\nn_per_emotion = 2\nemotions = ["fear"]\nseed = 3\nunknown_key = 1\n')
    assert cli(["run", "--config", str(good), "--out", str(tmp_path / "o")]) == 2
    assert "unknown config key 'unknown_key'" in capsys.readouterr().err


def test_resume_with_other_config_touches_nothing(zoo, zoo_dir, tmp_path, capsys):
    out = tmp_path / "r"
    run(zoo, zoo_dir, out, score=False, methods="noise", n_per_emotion=2)
    before = snapshot(out)
    assert cli(["run", "--resume", str(out), "--seed", "5"]) == 2
    err = capsys.readouterr().err
    assert "config differs" in err and len(err.strip().splitlines()) == 1
    assert snapshot(out) == before
    # an --out that holds a different run is refused the same way
    assert cli(["run", "--methods", "noise", "--zoo", str(zoo_dir), "--out", str(out), "--seed", "5"]) == 2
    assert snapshot(out) == before


def test_run_prints_leaderboard_writes_report_and_ends_with_index(zoo_dir, tmp_path, capsys):
    """The main job ends with the leaderboard: every metric with its interval, the report in the run directory,
    index.html's path as the last line; methods keep the configured order and their declared display names."""
    out = tmp_path / "run"
    argv = ["run", "--zoo", str(zoo_dir), "--methods", "noise,sd", "--emotions", "awe,fear", "--n-per-emotion", "2",
            "--metrics", "emo-a", "--out", str(out), "--no-progress"]
    assert cli(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert Path(lines[-1]) == (out / "index.html").resolve() and Path(lines[-1]).is_file()
    table = lines[lines.index(next(x for x in lines if x.startswith("Leaderboard"))) + 1:]
    # configured order, not alphabetical; methods by their declared names, as the tables print them
    assert table[0].split()[:4] == ["metric", "noise", "Stable", "Diffusion"]
    assert any(x.startswith("Emo-A") and x.count("[") == 4 for x in table), table   # value [lo, hi] per method and control
    for name in ("leaderboard.md", "leaderboard.csv", "figures/comparison_grid.png"):
        assert (out / name).is_file(), name
    methods = json.loads((out / "methods.json").read_text())
    assert (methods["noise"]["position"], methods["sd"]["position"]) == (0, 1)
    assert methods["sd"]["display_name"] == "Stable Diffusion" and methods["noise"]["display_name"] == "noise"
    md = (out / "leaderboard.md").read_text()
    assert md.index("`noise`") < md.index("`sd`")

    again = tmp_path / "quiet"
    assert cli([*argv[:-3], "--out", str(again), "--no-progress", "--no-report"]) == 0
    assert (again / "summary.csv").is_file() and not (again / "index.html").exists()
    assert not capsys.readouterr().out.strip().endswith("index.html")


def test_display_label_appends_options():
    assert runner.display_label("emogen:mapper=fc", "EmoGen") == "EmoGen (mapper=fc)"
    assert runner.display_label("emogen:a=1:b=2", "EmoGen") == "EmoGen (a=1, b=2)"
    assert runner.display_label("mine:x=1", None) == "mine:x=1"


def test_cut_prompts_warn_once_per_method_with_the_cut_text(zoo, zoo_dir, tmp_path, capsys):
    """The zoo's text encoder takes few tokens: a cut prompt is named once per method, with what was lost."""
    long = "an image of {emotion} beside a lighthouse under violet storm clouds at dusk with seagulls and rain"
    res = run(zoo, zoo_dir, tmp_path / "long", score=False, methods="sd,noise", templates=long, batch_size=1)
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if line.startswith("emobench: warning:") and "cut at" in line]
    assert len(warned) == 1 and "'sd'" in warned[0], err   # one line for sd (4 batches); noise uses no prompt
    assert "seagulls" in warned[0]                          # the cut text itself
    sd = next(o for o in res.outcomes if o.label == "sd")
    assert "seagulls" in (sd.warning or "")
    assert json.loads((tmp_path / "long" / "methods.json").read_text())["sd"]["warning"] == sd.warning


def test_short_prompts_are_not_reported(zoo):
    from emobench.sampling import truncated_text

    tok = zoo.pipeline.tokenizer
    assert truncated_text(tok, ["an image of awe"]) == {}
    cut = truncated_text(tok, ["an image of awe " + "and more words " * 10 + "THE END"])
    assert list(cut.values())[0].endswith("the end")


def test_resume_keeps_the_configured_method_order(zoo, zoo_dir, tmp_path):
    """config.json lists methods sorted (their order changes no result); the report's row order is the
    configured one, kept in methods.json, and a resume must not reset it to the sorted order."""
    out = tmp_path / "order"
    run(zoo, zoo_dir, out, score=False, methods="sd,noise")
    first = json.loads((out / "methods.json").read_text())
    assert (first["sd"]["position"], first["noise"]["position"]) == (0, 1)
    assert cli(["run", "--resume", str(out), "--no-score", "--no-progress", "--no-report"]) == 0
    again = json.loads((out / "methods.json").read_text())
    assert (again["sd"]["position"], again["noise"]["position"]) == (0, 1)
