import math

import pytest
import torch

from tutorial_lib.flow import RectifiedFlow


def test_add_noise_runs_from_data_at_0_to_noise_at_1():
    flow = RectifiedFlow()
    x, z = torch.randn(2, 64, 8), torch.randn(2, 64, 8)
    assert torch.equal(flow.add_noise(x, z, torch.zeros(2)), x)
    assert torch.equal(flow.add_noise(x, z, torch.ones(2)), z)
    mixed = flow.add_noise(x, z, torch.tensor([0.25, 0.5]))
    assert torch.allclose(mixed[0], 0.75 * x[0] + 0.25 * z[0]) and torch.allclose(mixed[1], 0.5 * (x[1] + z[1]))


def test_times_are_logit_normal():
    flow = RectifiedFlow(p_mean=-0.5, p_std=1.5)
    t = flow.sample_times(200_000, generator=torch.Generator().manual_seed(0))
    assert ((t > 0) & (t < 1)).all()
    logits = torch.log(t / (1 - t))
    assert abs(logits.mean().item() + 0.5) < 0.02 and abs(logits.std().item() - 1.5) < 0.02


def test_loss_is_mse_between_velocity_and_prediction():
    flow = RectifiedFlow(sigma_data=0.5)
    x, z, t = torch.randn(4, 64, 8), torch.randn(4, 64, 8), torch.rand(4)
    seen = {}

    def model(x_t, t_in):
        seen["x_t"], seen["t"] = x_t, t_in
        return torch.zeros_like(x_t)

    loss = flow.loss(model, x, t=t, noise=z)
    v = 0.5 * x - z
    assert torch.allclose(seen["x_t"], flow.add_noise(0.5 * x, z, t)) and torch.equal(seen["t"], t)
    assert math.isclose(loss.item(), (v ** 2).mean().item(), rel_tol=1e-6)
    assert flow.loss(model, x, t=t, noise=z, reduction="none").shape == (4,)


def test_the_true_velocity_of_a_single_point_has_zero_loss():
    """For data that is one point a, the exact field is (a - x_t) / t, and it predicts v perfectly."""
    a = torch.randn(1, 64, 8)
    flow = RectifiedFlow()
    oracle = lambda x_t, t: (a - x_t) / t[:, None, None]
    loss = flow.loss(oracle, a.expand(16, -1, -1), generator=torch.Generator().manual_seed(0))
    assert loss.item() < 1e-8
    with pytest.raises(ValueError, match="reduction"):
        flow.loss(oracle, a, reduction="sum")
