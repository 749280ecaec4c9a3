"""No command loses a result it did not make; bad input is refused before the first write (one line, exit 2);
temp files never outlive their process; a run directory has one writer; failures keep their traceback; and a
process killed at random points in ``run``, ``score``, ``report`` and the dataset build resumes to the same
bytes with nothing left behind."""
from __future__ import annotations

import errno
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.core_plugins import PLUGINS

from emobench.io import files
from emobench.rundir import layout
from emobench.run import runner
from emobench.cli import main as cli
from emobench.spec.config import merge
from emobench.io.lock import LOCK_NAME
from emobench.io.sweep import owner_pid

RESULTS = ("manifest.jsonl", "scores.csv", "summary.csv", "config.json", "plan.json")
TESTS = Path(__file__).parent


@pytest.fixture(autouse=True)
def _env(monkeypatch, isolated_cache):
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)


def _run(zoo, zoo_dir, out, **kw):
    base = {"zoo": str(zoo_dir), "emotions": "awe,fear", "n_per_emotion": 2, "out": str(out),
            "metrics": "emo-a,sem-c", "methods": "sd,noise"}
    return runner.execute(merge({**base, **kw}), zoo=zoo, progress=False)


@pytest.fixture(scope="module")
def scored(zoo, zoo_dir, tmp_path_factory) -> Path:
    """sd + noise on two emotions, scored with emo-a and sem-c (baseline sd, from the run's own config)."""
    out = tmp_path_factory.mktemp("scored") / "run"
    os.environ["EMOBENCH_PLUGINS"] = PLUGINS
    os.environ["EMOBENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        _run(zoo, zoo_dir, out)
    finally:
        os.environ.pop("EMOBENCH_PLUGINS", None)
        os.environ.pop("EMOBENCH_CACHE", None)
    return out


@pytest.fixture
def run_copy(scored, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(scored, dst)
    return dst


def results(run_dir: Path) -> dict[str, bytes]:
    return {n: (run_dir / n).read_bytes() for n in RESULTS if (run_dir / n).is_file()}


def leftovers(root: Path) -> list[Path]:
    """Temp files and folders (emobench's pid-marked names) anywhere below ``root``."""
    return [p for p in root.rglob("*") if owner_pid(p.name) is not None]


def one_error_line(err: str) -> None:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("emobench: error:"), err
    assert "Traceback" not in err


# ------------------------------------------------------------------------ results are never lost

def test_score_metric_typo_refused_before_any_write(run_copy, capsys):
    before = results(run_copy) | {"summary.json": (run_copy / "summary.json").read_bytes()}
    assert cli(["score", str(run_copy), "--metrics", "emo-aa"]) == 2
    one_error_line(capsys.readouterr().err)
    assert results(run_copy) | {"summary.json": (run_copy / "summary.json").read_bytes()} == before


def test_score_subset_merges_and_keeps_the_runs_baseline(run_copy, capsys):
    before = results(run_copy)
    summary = json.loads((run_copy / "summary.json").read_text())
    assert summary["baseline"] == "sd" and set(summary["metrics"]) == {"emo-a", "sem-c"}
    # a subset re-score (no --baseline: the run's own) rewrites exactly the bytes a full scoring wrote
    assert cli(["score", str(run_copy), "--metrics", "sem-c"]) == 0
    assert results(run_copy) == before
    assert cli(["score", str(run_copy)]) == 0
    assert results(run_copy) == before
    rows = json.loads((run_copy / "summary.json").read_text())["rows"]
    assert any(r["metric"] == "emo-a" and r["diff"] is not None for r in rows)   # paired differences kept
    # other settings than the kept metrics': refused, nothing written
    assert cli(["score", str(run_copy), "--metrics", "sem-c", "--resamples", "10"]) == 2
    assert "different settings" in capsys.readouterr().err
    assert results(run_copy) == before


def test_score_empty_manifest_is_an_error(run_copy, capsys):
    (run_copy / "manifest.jsonl").write_text("")
    assert cli(["score", str(run_copy)]) == 2
    err = capsys.readouterr().err
    one_error_line(err)
    assert "no images to score" in err


def test_report_out_refuses_a_foreign_folder(run_copy, tmp_path, capsys):
    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "index.html").write_text("my page")
    assert cli(["report", str(run_copy), "--out", str(mine), "--no-figures"]) == 2
    one_error_line(capsys.readouterr().err)
    assert (mine / "index.html").read_text() == "my page" and len(list(mine.iterdir())) == 1
    fresh = tmp_path / "fresh"
    assert cli(["report", str(run_copy), "--out", str(fresh), "--no-figures"]) == 0
    assert cli(["report", str(run_copy), "--out", str(fresh), "--no-figures"]) == 0   # its own report: rewritten
    assert leftovers(fresh) == []
    from emobench.report.output import check_report_dest

    figs = tmp_path / "figs"
    (figs / "figures").mkdir(parents=True)   # what an earlier `emobench figures --out figs` wrote (no marker yet)
    for ext in ("png", "pdf"):
        (figs / "figures" / f"comparison_grid.{ext}").write_bytes(b"figure")
    check_report_dest(figs)


def test_resume_keeps_env_json_and_verify_names_changes(zoo, zoo_dir, run_copy, capsys):
    env = (run_copy / "env.json").read_bytes()
    _run(zoo, zoo_dir, run_copy)   # a resume that generates nothing
    assert (run_copy / "env.json").read_bytes() == env
    lines = files.read_jsonl(run_copy / layout.ENV_RESUMES)
    assert len(lines) == 1 and lines[0]["packages"] == json.loads(env)["packages"]
    assert cli(["verify", str(run_copy)]) == 0
    assert "every resume ran in the environment that made the images" in capsys.readouterr().out
    changed = dict(lines[0], torch_threads=lines[0]["torch_threads"] + 7)
    files.append_jsonl(run_copy / layout.ENV_RESUMES, changed)
    assert cli(["verify", str(run_copy)]) == 0
    assert "resume 2" in (out := capsys.readouterr().out) and "torch_threads" in out
    png = next((run_copy / "images").glob("*.png"))
    png.write_bytes(png.read_bytes() + b"x")
    assert cli(["verify", str(run_copy)]) == 1


# ------------------------------------------------------------------------ bad input: one line, exit 2

@pytest.mark.parametrize("extra", [
    ["--seed", "99999999999999999999999"],
    ["--seed", "-1"],
    ["--methods", "sd:num_inference_steps=0"],
    ["--methods", "sd:guidance_scale=nan"],
    ["--methods", "sd:guidance_scale=inf"],
    ["--n-per-emotion", "x"],
])
def test_bad_run_input_writes_nothing(zoo_dir, tmp_path, capsys, extra):
    out = tmp_path / "out"
    assert cli(["run", "--zoo", str(zoo_dir), "--out", str(out), "--no-progress", *extra]) == 2
    one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_bad_toml_types_and_out_paths(zoo_dir, run_copy, tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text("methods = 5\n")
    assert cli(["run", "--config", str(toml), "--zoo", str(zoo_dir), "--out", str(tmp_path / "o")]) == 2
    one_error_line(capsys.readouterr().err)
    regular = tmp_path / "file"
    regular.write_text("x")
    assert cli(["run", "--zoo", str(zoo_dir), "--methods", "noise", "--out", str(regular)]) == 2
    one_error_line(capsys.readouterr().err)
    assert cli(["run", "--resume", str(run_copy), "--out", str(tmp_path / "other")]) == 2
    one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "other").exists()


def test_half_made_folder_does_not_block_the_corrected_command(zoo, zoo_dir, tmp_path):
    from emobench.io.markers import RUN_MARKER, write_marker

    out = tmp_path / "r"
    out.mkdir()
    write_marker(out, RUN_MARKER)   # the marker comes first, then the setup files a crash left behind
    for name in ("config.json", "env.json", "zoo.json"):
        (out / name).write_text("{}")
    res = _run(zoo, zoo_dir, out, methods="noise", metrics="emo-a")
    assert [o.status for o in res.outcomes] == ["ok"] and (out / "manifest.jsonl").is_file()


def test_full_disk_is_one_line_and_leaves_no_temp_file(run_copy, monkeypatch, capsys):
    before = results(run_copy)

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(files.os, "replace", full)
    assert cli(["score", str(run_copy), "--metrics", "emo-a"]) == 2
    one_error_line(capsys.readouterr().err)
    assert results(run_copy) == before and leftovers(run_copy) == []


def test_read_only_folder_is_one_line(zoo_dir, tmp_path, capsys, monkeypatch):
    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "ro"))

    monkeypatch.setattr(runner.Path, "mkdir", read_only)
    assert cli(["run", "--zoo", str(zoo_dir), "--methods", "noise", "--out", str(tmp_path / "ro"),
                "--no-progress"]) == 2
    one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------------ temp files, locks, logs

def test_orphan_temp_folders_are_swept_live_ones_kept(run_copy, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    orphan = run_copy / f".emobench-tmp-{dead}-abc.report"
    orphan.mkdir()
    (orphan / "index.html").write_text("half")
    stale_file = run_copy / f".emobench-tmp-{dead}-1f2e.scores.csv"
    stale_file.write_text("half")
    live = run_copy / f".emobench-tmp-{os.getpid()}-xyz.report"
    live.mkdir()
    assert cli(["report", str(run_copy), "--no-figures", "--no-html"]) == 0
    assert not orphan.exists() and stale_file.exists() is False and live.exists()
    from emobench.world.write import ensure_emoset_mini

    cache = tmp_path / "cache"
    (cache / "emoset-mini").mkdir(parents=True)
    build_orphan = cache / "emoset-mini" / f".emobench-tmp-{dead}-q1.somekey"
    build_orphan.mkdir()
    ensure_emoset_mini(n_train=16, n_val=8, n_test=8, cache_dir=cache, workers=1)
    assert not build_orphan.exists()


def test_second_writer_refuses_with_one_line(run_copy, capsys):
    fd = os.open(run_copy / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)   # another process holding the run
        before = results(run_copy)
        assert cli(["score", str(run_copy), "--metrics", "emo-a"]) == 2
        err = capsys.readouterr().err
        one_error_line(err)
        assert "in use by another emobench process" in err and results(run_copy) == before
    finally:
        os.close(fd)
    assert cli(["score", str(run_copy), "--metrics", "emo-a"]) == 0


def test_failed_method_keeps_its_traceback(zoo, zoo_dir, tmp_path, capsys):
    out = tmp_path / "r"
    runner.execute(merge({"zoo": str(zoo_dir), "emotions": "awe", "n_per_emotion": 1, "out": str(out),
                          "methods": "noise,broken"}), zoo=zoo, score=False, progress=False)
    log = out / "logs" / "broken.log"
    assert "Traceback" in log.read_text() and "boom in generate" in log.read_text()
    assert str(log) in capsys.readouterr().err


# ------------------------------------------------------------------------ fault injection

def _cli_proc(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "emobench.cli", *args], env=env, cwd=TESTS,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None and not ready():
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_kill_at_random_points_resumes_identically(zoo, zoo_dir, scored, tmp_path, isolated_cache):
    rng = random.Random(19)
    env = {**os.environ, "EMOBENCH_PLUGINS": PLUGINS, "EMOBENCH_CACHE": str(isolated_cache), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "run"
    args = ["run", "--zoo", str(zoo_dir), "--emotions", "awe,fear", "--n-per-emotion", "2", "--methods", "sd,noise",
            "--metrics", "emo-a,sem-c", "--batch-size", "1", "--out", str(out), "--no-progress"]
    k = rng.randint(1, 7)   # run: killed after a random number of stored images (one call per image)
    _kill_when(_cli_proc(args, env), lambda: len(list((out / "images").glob("*.png"))) >= k)
    assert cli([a if a != "1" else "8" for a in args]) == 0   # the resume: batch size changes no byte
    assert results(out) == results(scored)
    # score: killed at a random moment of its work
    proc = _cli_proc(["score", str(out)], env)
    time.sleep(rng.uniform(0.5, 4.0))
    _kill_when(proc, lambda: True)
    assert cli(["score", str(out)]) == 0 and results(out) == results(scored)
    # report: killed once its temp folder exists
    proc = _cli_proc(["report", str(out), "--no-figures"], env)
    _kill_when(proc, lambda: any(p.name.startswith(".emobench-tmp-") and p.is_dir() for p in out.iterdir()))
    assert cli(["report", str(out), "--no-figures"]) == 0
    assert leftovers(out) == []
    # dataset build: killed once its temp folder exists, then built again
    cache = tmp_path / "wcache"
    code = ("from emobench.world.write import ensure_emoset_mini as e; "
            f"e(n_train=160, n_val=16, n_test=16, cache_dir={str(cache)!r}, workers=1)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    parent = cache / "emoset-mini"
    _kill_when(proc, lambda: parent.is_dir() and any(p.name.startswith(".") for p in parent.iterdir()))
    from emobench.world.write import ensure_emoset_mini

    built = ensure_emoset_mini(n_train=160, n_val=16, n_test=16, cache_dir=cache, workers=1)
    clean = ensure_emoset_mini(n_train=160, n_val=16, n_test=16, cache_dir=tmp_path / "clean", workers=1)
    assert leftovers(cache) == [] and [p.name for p in parent.iterdir()] == [built.name]
    assert {p.relative_to(built).as_posix(): p.read_bytes() for p in built.rglob("*") if p.is_file()} == \
        {p.relative_to(clean).as_posix(): p.read_bytes() for p in clean.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------ scoring and resume cost

def test_fid_reference_statistics_computed_once_and_bit_identical(monkeypatch, isolated_cache):
    import torch

    from emobench.metrics import fid

    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(200, 32, generator=gen), torch.randn(30, 32, generator=gen)
    mu, cov = fid.mean_cov(real)
    evals, evecs = torch.linalg.eigh((cov + cov.T) / 2)
    fresh = (mu, torch.trace(cov), evecs * evals.clamp_min(0).sqrt())   # the formula before the cache
    calls = []
    real_eigh = torch.linalg.eigh
    monkeypatch.setattr(torch.linalg, "eigh", lambda m: calls.append(1) or real_eigh(m))
    fid._REF_MEMO.clear()
    values = [fid.FidStat(fake, real, None).evaluate(torch.ones(2, 30)) for _ in range(3)]
    assert len(calls) == 1 and all(torch.equal(v, values[0]) for v in values)
    fid._REF_MEMO.clear()   # a new process: the statistics come from the disk cache, bit for bit
    assert all(torch.equal(a, b) for a, b in zip(fid.reference_stats(real), fresh)) and len(calls) == 1


def test_resume_of_a_finished_run_loads_no_pipeline(scored, tmp_path, monkeypatch):
    import emobench.zoo.load as load

    run_dir = tmp_path / "run"
    shutil.copytree(scored, run_dir)

    def refuse(*a, **k):
        raise AssertionError("the pipeline was loaded although nothing is generated")

    monkeypatch.setattr(load, "load_pipeline", refuse)
    res = runner.execute(merge({**rundir_config(run_dir)}), resume=run_dir, progress=False)
    assert [o.status for o in res.outcomes] == ["ok", "ok"] and sum(o.n_generated for o in res.outcomes) == 0
    assert results(run_dir) == results(scored)


def rundir_config(run_dir: Path) -> dict:
    cfg = json.loads((run_dir / "config.json").read_text())
    cfg.pop("config_hash")
    return cfg
