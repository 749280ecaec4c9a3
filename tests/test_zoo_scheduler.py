"""The mini zoo's ancestral sampler: stochastic per step, yet a function of each image's start latent alone."""
from __future__ import annotations

import pytest
import torch

from emobench.testing.tiny import tiny_zoo
from emobench.zoo.load import load_zoo
from emobench.zoo.schedulers import LatentSeededDDPMScheduler, row_seed, swap_scheduler


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return load_zoo(tiny_zoo(tmp_path_factory), with_dataset=False)


def _gen(zoo, prompts, latents):
    return zoo.pipeline(prompts, latents=latents, num_inference_steps=4, guidance_scale=zoo.sampling.guidance_scale,
                        output_type="pt").images


def test_zoo_samples_with_the_seeded_ddpm_scheduler(zoo):
    assert isinstance(zoo.pipeline.scheduler, LatentSeededDDPMScheduler)
    assert zoo.pipeline.scheduler.config.clip_sample is True


def test_image_depends_on_its_latent_only(zoo):
    g = torch.Generator().manual_seed(0)
    lat = torch.randn(3, *zoo.latent_shape(), generator=g)
    prompts = ["a gift on the beach", "a skull in a graveyard", "a cake in a room"]
    batch = _gen(zoo, prompts, lat)
    torch.manual_seed(123)                 # global RNG state must not matter
    alone = _gen(zoo, prompts[1:2], lat[1:2])
    torch.manual_seed(999)
    again = _gen(zoo, prompts[1:2], lat[1:2])
    assert torch.equal(alone, again)
    # same row, different neighbours: equal up to the kernels' batch-size rounding (the run's micro-batches fix
    # the batch size, so within a run they are bit-identical)
    assert torch.allclose(batch[1:2], alone, atol=1e-4)


def test_step_noise_is_not_shared_between_rows(zoo):
    """Two rows with the same prompt and different latents get different noise; the same latent, the same."""
    sched = LatentSeededDDPMScheduler.from_config(zoo.pipeline.scheduler.config)
    sched.set_timesteps(4)
    t = sched.timesteps[0]
    x = torch.randn(2, 4, 2, 2, generator=torch.Generator().manual_seed(1))
    eps = torch.zeros_like(x)
    a = sched.step(eps, t, x).prev_sample
    sched.set_timesteps(4)
    b = sched.step(eps[:1], t, x[:1]).prev_sample
    assert torch.equal(a[:1], b)
    assert row_seed(x[0]) != row_seed(x[1])


def test_swap_scheduler_keeps_the_schedule_and_drops_clipping_outside_ddpm(zoo):
    from diffusers import DDIMScheduler, DDPMScheduler, UniPCMultistepScheduler

    cur = zoo.pipeline.scheduler
    ddim = swap_scheduler(cur, "DDIMScheduler")
    assert isinstance(ddim, DDIMScheduler) and ddim.config.clip_sample is False
    assert ddim.config.prediction_type == cur.config.prediction_type
    assert ddim.config.beta_end == cur.config.beta_end and ddim.config.steps_offset == cur.config.steps_offset
    assert swap_scheduler(cur, DDPMScheduler).config.clip_sample is True     # ancestral DDPM clips consistently
    assert isinstance(swap_scheduler(cur, "UniPCMultistepScheduler"), UniPCMultistepScheduler)
    assert cur.config.clip_sample is True                                       # the zoo's own is untouched
    for bad in ("NoSuchScheduler", "StableDiffusionPipeline"):
        with pytest.raises(ValueError, match="not a diffusers scheduler"):
            swap_scheduler(cur, bad)
