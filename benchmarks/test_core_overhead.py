"""Generation throughput of ``emobench run`` and its overhead over a bare diffusers loop (goal: ratio ≤ 1.03).

Both sides sample the very same cells from the very same latents on the same pipeline, one cell per pipeline
call (what the ``sd`` baseline does for batch invariance); the emobench side adds the plan, the store (PNG +
record, atomic writes), output validation and the manifest. They run interleaved, and the ratio uses each
side's fastest round, so load from other processes on the machine hits both alike.

Run: ``OMP_NUM_THREADS=1 .venv/bin/pytest benchmarks/test_core_overhead.py --benchmark-only``
(``EMOBENCH_BENCH_ZOO=mini`` measures on the shipped mini zoo; the default is the tiny test zoo).
"""
from __future__ import annotations

import itertools
import os
import time

import pytest
import torch

from emobench.run import runner
from emobench.spec.config import merge
from emobench.spec.plan import Plan
from emobench.zoo.load import load_zoo

ROUNDS = 3
_counter = itertools.count()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    spec = os.environ.get("EMOBENCH_BENCH_ZOO")
    if not spec:
        from emobench.testing.tiny import tiny_zoo

        spec = str(tiny_zoo(tmp_path_factory))
    return load_zoo(spec)


def bare_loop(zoo, plan: Plan) -> torch.Tensor:
    """What a user would write with diffusers alone: same prompts, latents and sampling settings."""
    pipe, s = zoo.pipeline, zoo.sampling
    pipe.set_progress_bar_config(disable=True)
    images = []
    with torch.inference_mode():
        for cell in plan.cells:
            out = pipe(prompt=[cell.prompt()], latents=plan.latent(cell)[None],
                       generator=[torch.Generator("cpu").manual_seed(cell.seed)],
                       num_inference_steps=s.num_inference_steps, guidance_scale=s.guidance_scale,
                       height=s.height, width=s.width, output_type="pt")
            images.append(out.images)
    return torch.cat(images)


def test_runner_overhead_vs_bare_diffusers(benchmark, zoo, tmp_path):
    cfg = merge({"zoo": zoo.name, "methods": "sd", "metrics": "emo-a", "emotions": "awe,fear,anger,sadness",
                 "n_per_emotion": 2, "batch_size": 8})
    plan = Plan.from_config(cfg, zoo.latent_shape())
    n = len(plan.cells)

    def emobench_run():
        out = tmp_path / f"run{next(_counter)}"
        return runner.execute(merge({**cfg.hashed(), "batch_size": 8, "out": str(out)}), zoo=zoo, score=False,
                              progress=False)

    bare_loop(zoo, plan)  # warm-up (first-call allocations, lazy imports)
    emobench_run()  # warm-up of the runner side (env capture is cached per process)
    bare_times, ours_times, bare_wall, ours_wall = [], [], [], []
    for _ in range(ROUNDS):
        t, w = time.process_time(), time.perf_counter()
        bare_loop(zoo, plan)
        bare_times.append(time.process_time() - t)
        bare_wall.append(time.perf_counter() - w)
        t, w = time.process_time(), time.perf_counter()
        res = emobench_run()
        ours_times.append(time.process_time() - t)
        ours_wall.append(time.perf_counter() - w)
        assert res.outcomes[0].n_images == n
    result = benchmark.pedantic(emobench_run, rounds=1, iterations=1)
    assert result.outcomes[0].status == "ok"
    ratio = min(ours_times) / min(bare_times)
    benchmark.extra_info.update({
        "images": n, "bare_cpu_s": round(min(bare_times), 4), "emobench_cpu_s": round(min(ours_times), 4),
        "ratio_emobench_over_bare": round(ratio, 4), "wall_ratio": round(min(ours_wall) / min(bare_wall), 4),
        "emobench_images_per_wall_s": round(n / min(ours_wall), 2), "bare_images_per_wall_s": round(n / min(bare_wall), 2),
        "zoo": zoo.name,
    })
    print(f"\nemobench/bare = {ratio:.3f} CPU ({min(ours_times):.3f}s vs {min(bare_times):.3f}s for {n} images), "
          f"wall {min(ours_wall) / min(bare_wall):.3f}; {n / min(ours_wall):.1f} img/s")
    assert ratio < 1.25, f"runner overhead {ratio:.3f}× a bare diffusers loop (goal ≤ 1.03)"
