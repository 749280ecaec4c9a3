"""``denoising_loss`` trains against the target the zoo's scheduler names (ε, v or x0); ``min_snr_weight``
weighs each target so that all three optimise the same x0-space objective."""
from __future__ import annotations

import pytest
import torch
from diffusers import DDPMScheduler

from emobench.zoo.diffusion import denoising_loss, min_snr_weight
from emobench.errors import EmobenchError


class _Oracle(torch.nn.Module):
    """Returns a fixed answer, as a UNet output; has one parameter so the loss can read its dtype."""

    def __init__(self, answer: torch.Tensor):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.answer = answer

    def forward(self, noisy, t, encoder_hidden_states):
        return type("Out", (), {"sample": self.answer})()


def _draws(latents: torch.Tensor, seed: int):
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(latents.shape, generator=g)
    t = torch.randint(0, 1000, (latents.shape[0],), generator=g)
    return noise, t


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction", "sample"])
def test_loss_is_zero_only_for_the_scheduler_target(kind):
    sched = DDPMScheduler(num_train_timesteps=1000, prediction_type=kind)
    latents = torch.randn(4, 12, 4, 4, generator=torch.Generator().manual_seed(1))
    noise, t = _draws(latents, 7)
    targets = {"epsilon": noise, "v_prediction": sched.get_velocity(latents, noise, t), "sample": latents}
    cond = torch.zeros(4, 3, 8)
    for name, answer in targets.items():
        loss = denoising_loss(_Oracle(answer), sched, latents, cond, torch.Generator().manual_seed(7))
        assert loss.shape == (4,)
        if name == kind:
            assert float(loss.max()) < 1e-10
        else:
            assert float(loss.min()) > 1e-4


def test_unknown_prediction_type_is_a_clear_error():
    sched = DDPMScheduler(num_train_timesteps=1000)
    sched.register_to_config(prediction_type="flow")
    with pytest.raises(EmobenchError, match="prediction_type"):
        denoising_loss(_Oracle(torch.zeros(1)), sched, torch.zeros(1, 4, 2, 2), torch.zeros(1, 3, 8),
                       torch.Generator().manual_seed(0))


def test_min_snr_weight_is_one_objective_in_x0_space():
    """A squared error in ε is one in x0 times SNR, in v one in x0 times (SNR + 1): weighted, all three kinds
    give min(SNR, γ) × the x0 error."""
    w = {k: min_snr_weight(DDPMScheduler(num_train_timesteps=1000, prediction_type=k), 5.0)
         for k in ("epsilon", "v_prediction", "sample")}
    ac = DDPMScheduler(num_train_timesteps=1000).alphas_cumprod
    snr = ac / (1 - ac)
    want = torch.clamp(snr, max=5.0)
    torch.testing.assert_close(w["epsilon"] * snr, want)
    torch.testing.assert_close(w["v_prediction"] * (snr + 1), want)
    torch.testing.assert_close(w["sample"], want)
    sched = DDPMScheduler(num_train_timesteps=1000)
    sched.register_to_config(prediction_type="flow")
    with pytest.raises(EmobenchError, match="prediction_type"):
        min_snr_weight(sched, 5.0)
