"""Speed bars of the shipped mini zoo: sampling throughput (batch 64, 25 DDIM steps, guidance on, the zoo's
own autocast setting) — bar ≥ 15 img/s on 2 CPU cores — and the UNet training step of the build.

Run: ``OMP_NUM_THREADS=1 .venv/bin/pytest benchmarks/test_zoo_sampling.py --benchmark-only``
(or ``OMP_NUM_THREADS=2`` on an idle machine: with other jobs on the 2 cores, one thread is faster).
"""
from __future__ import annotations

import time

import pytest
import torch

from emobench.zoo.check import generate
from emobench.zoo.load import load_zoo


@pytest.fixture(scope="module")
def mini():
    return load_zoo("mini", with_dataset=False)


def test_sampling_batch64_25_steps(benchmark, mini):
    prompts = ["a gift on the beach"] * 64
    seeds = list(range(64))

    start = time.perf_counter()
    images, _ = benchmark.pedantic(generate, args=(mini, prompts, seeds, 64), rounds=1, iterations=1)
    seconds = time.perf_counter() - start
    benchmark.extra_info["img_per_s"] = round(64 / seconds, 2)
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    assert images.shape == (64, 3, 32, 32)
    assert 64 / seconds >= 15, f"{64 / seconds:.2f} img/s (bar 15)"


def test_unet_train_step_batch32(benchmark, mini):
    unet = mini.pipeline.unet
    unet.train()
    opt = torch.optim.AdamW(unet.parameters(), lr=0.0)   # lr 0: measure the step, keep the shared weights
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, *mini.latent_shape(), generator=g)
    t = torch.randint(0, 1000, (32,), generator=g)
    cond = torch.randn(32, mini.pipeline.tokenizer.model_max_length,
                       mini.pipeline.unet.config.cross_attention_dim, generator=g)

    def step():
        loss = (unet(x, t, cond).sample - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    try:
        benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)
    finally:
        unet.eval()
