"""A finished run's ``--resume`` (nothing to generate) against ``emobench list methods``, side by side
(goal: resume ≤ 1.5× list). The run has a learning method and a judge panel: ``sd`` and
``textual-inversion`` on two emotions, scored with ``emo-a`` and ``emo-a-mean`` (every judge of the zoo's
panel). Both are fresh CLI processes, so both pay Python, torch and plugin imports; the resume also loads the
zoo's judges and dataset, finds TI's fitted artifact (and checks its file hashes), re-reads the store and
re-scores from the feature cache, but never loads the generator (``load_zoo(lazy=True)``) and never
re-renders the report (its inputs are the stored results, not per-invocation facts such as wall times: the
report's files keep their mtime, which the test checks). The two commands alternate for ``ROUNDS`` rounds
and the ratio uses each side's fastest round, so load from other processes hits both alike.

Run: ``.venv/bin/pytest benchmarks/test_core_resume_cost.py --benchmark-only -s`` (``EMOBENCH_BENCH_ZOO``
names the zoo; default the shipped mini zoo). The second benchmark does the same with a paper zoo in SD 1.5's
layout (``emobench zoo make-tiny-paper``; ``EMOBENCH_BENCH_PAPER`` names an existing ``paper.toml`` instead),
whose finished run scored every metric and wrote its report: the lazy paper zoo must load neither the generator
nor CLIP nor any judge network, and hash nothing it hashed before.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROUNDS = 3
CLI = [sys.executable, "-m", "emobench.cli"]


def _wall(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([*CLI, *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _side_by_side(benchmark, run_dir, env, what: str, report: list[Path] = ()) -> None:
    written = {p: p.stat().st_mtime_ns for p in report}
    resume, listing = [], []

    def both():
        resume.append(_wall(["run", "--resume", str(run_dir), "--no-progress"], env))
        listing.append(_wall(["list", "methods"], env))

    benchmark.pedantic(both, rounds=ROUNDS, iterations=1)
    ratio = min(resume) / min(listing)
    benchmark.extra_info.update(resume_s=min(resume), list_s=min(listing), ratio=ratio)
    print(f"\n{what}: finished resume {min(resume):.2f} s, list methods {min(listing):.2f} s, ratio {ratio:.2f}")
    assert {p: p.stat().st_mtime_ns for p in report} == written, "a resume that changed nothing re-rendered the report"
    assert ratio <= 1.5, f"a finished run's resume costs {ratio:.2f}× `emobench list methods` (goal ≤ 1.5×)"


@pytest.mark.timeout(3600)   # fresh processes: minutes on a loaded machine
def test_finished_resume_vs_list_methods(benchmark, tmp_path):
    env = {**os.environ, "EMOBENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    run_dir = tmp_path / "run"
    zoo = os.environ.get("EMOBENCH_BENCH_ZOO", "mini")
    _wall(["run", "--zoo", zoo, "--methods", "sd,textual-inversion", "--emotions", "awe,fear",
           "--n-per-emotion", "2", "--metrics", "emo-a,emo-a-mean", "--out", str(run_dir), "--no-progress"],
          env)   # the finished run (TI fitted, or found among the zoo's prefits)
    report = [run_dir / n for n in ("index.html", "leaderboard.md", "leaderboard.csv", "provenance.json")]
    report += sorted((run_dir / "figures").rglob("*.png"))
    assert all(p.is_file() for p in report)
    _side_by_side(benchmark, run_dir, env, zoo, report)


@pytest.mark.timeout(3600)
def test_finished_paper_resume_vs_list_methods(benchmark, tmp_path):
    """Every metric and the report (the issue measured 7.9× with the eager paper zoo, 3.5× without the report)."""
    env = {**os.environ, "EMOBENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    toml = os.environ.get("EMOBENCH_BENCH_PAPER")
    if not toml:
        _wall(["zoo", "make-tiny-paper", str(tmp_path / "tiny-paper")], env)
        toml = str(tmp_path / "tiny-paper" / "paper.toml")
    run_dir = tmp_path / "run"
    _wall(["run", "--zoo", toml, "--methods", "sd", "--emotions", "awe,fear", "--n-per-emotion", "2",
           "--out", str(run_dir), "--no-progress"], env)   # the finished run: every metric, the report
    _side_by_side(benchmark, run_dir, env, "paper zoo")
