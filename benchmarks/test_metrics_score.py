"""``emobench score`` speed on a finished run of 8 emotions × 25 images × 3 methods (goal: warm cache < 10 s).

The run directory is fabricated from the zoo's own held-out images (each method perturbs them with its own
seeded noise and writes PNGs + manifest exactly as the store does), so the benchmark measures scoring only:
sha256 checks, every registered metric, controls, 1000 bootstrap resamples, paired differences against
``sd`` and the output tables.

* ``test_score_cold``: empty score cache (every judge forward, reference features, LPIPS pairs).
* ``test_score_warm``: the same run again with the cache filled — the < 10 s bar.
* ``test_score_cli_warm_wall``: the whole ``emobench score RUN`` command in a fresh process (interpreter start,
  imports and zoo loading included), recorded as extra info.

Run: ``OMP_NUM_THREADS=1 .venv/bin/pytest benchmarks/test_metrics_score.py --benchmark-only``
(``EMOBENCH_BENCH_ZOO=mini`` measures on the shipped mini zoo; the default is the tiny test zoo).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from emobench.api import Cell, ImageRecord, stable_hash
from emobench.emotions import EMOTIONS
from emobench.scoring import score_run
from emobench.zoo.load import load_zoo

METHODS = ("sd", "textual-inversion", "emogen")
N_PER_EMOTION = 25


@pytest.fixture(scope="module")
def zoo_spec(tmp_path_factory) -> str:
    spec = os.environ.get("EMOBENCH_BENCH_ZOO")
    if not spec:
        from emobench.testing.tiny import tiny_zoo

        spec = str(tiny_zoo(tmp_path_factory))
    return spec


@pytest.fixture(scope="module")
def zoo(zoo_spec):
    return load_zoo(zoo_spec)


def fabricate_run(run_dir: Path, zoo, zoo_spec: str) -> int:
    size = int(zoo.sampling.height)
    records = []
    for m, method in enumerate(METHODS):
        for emotion in EMOTIONS:
            samples = zoo.dataset.by_emotion("test", emotion) or zoo.dataset.split("test")
            for seed in range(N_PER_EMOTION):
                cell = Cell(emotion, "an image of {emotion}", seed)
                base = zoo.dataset.load_images([samples[seed % len(samples)]], size=size)[0]
                g = torch.Generator().manual_seed(int(stable_hash([method, cell.cell_id])[:8], 16))
                img = (base + (0.05 + 0.05 * m) * torch.randn(base.shape, generator=g)).clamp(0, 1)
                key = stable_hash([method, cell.cell_id])
                rel = f"images/{key}.png"
                (run_dir / "images").mkdir(parents=True, exist_ok=True)
                arr = (img * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
                Image.fromarray(arr).save(run_dir / rel)
                sha = hashlib.sha256((run_dir / rel).read_bytes()).hexdigest()
                records.append(ImageRecord(method, emotion, cell.template, seed, cell.prompt(), key, sha, rel))
    (run_dir / "manifest.jsonl").write_text("".join(r.to_json() + "\n" for r in records))
    (run_dir / "methods.json").write_text(json.dumps({m: {"status": "ok"} for m in METHODS}))
    (run_dir / "zoo.json").write_text(json.dumps({"name": zoo_spec, "judges_hash": zoo.judges_hash}))
    return len(records)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, zoo, zoo_spec):
    d = tmp_path_factory.mktemp("score-run")
    assert fabricate_run(d, zoo, zoo_spec) == len(METHODS) * len(EMOTIONS) * N_PER_EMOTION
    return d


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("score-cache")


def test_score_cold(benchmark, zoo, run_dir, cache):
    counter = iter(range(100))

    def cold():
        score_run(run_dir, zoo, None, "sd", cache_dir=cache / f"cold{next(counter)}")

    benchmark.pedantic(cold, rounds=1, iterations=1)
    assert (run_dir / "summary.csv").is_file()


def test_score_warm(benchmark, zoo, run_dir, cache):
    score_run(run_dir, zoo, None, "sd", cache_dir=cache / "warm")          # fill the cache
    benchmark.pedantic(lambda: score_run(run_dir, zoo, None, "sd", cache_dir=cache / "warm"), rounds=3,
                       iterations=1)
    assert benchmark.stats.stats.min < 10.0


def test_score_cli_warm_wall(benchmark, run_dir, cache, zoo_spec):
    env = dict(os.environ, EMOBENCH_CACHE=str(cache / "cli"), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "emobench", "score", str(run_dir), "--baseline", "sd", "--zoo", zoo_spec]
    subprocess.run(cmd, env=env, check=True, capture_output=True)             # cold, fills the cache
    walls = []

    def warm():
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        walls.append(time.perf_counter() - t)

    benchmark.pedantic(warm, rounds=1, iterations=1)
    benchmark.extra_info["cli_warm_wall_s"] = walls[-1]
