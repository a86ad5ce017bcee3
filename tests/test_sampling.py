import math

import pytest
import torch

from tutorial_lib.sampling import SOLVERS, generate, sample, time_grid
from tutorial_lib.unet import UNet


def test_time_grids_run_from_1_to_0():
    for schedule in ("uniform", "data", "noise"):
        grid = time_grid(8, schedule)
        assert grid[0] == 1 and grid[-1] == 0 and (grid[1:] < grid[:-1]).all() and len(grid) == 9
    steps = -time_grid(8, "data").diff()
    assert steps[-1] < steps[0]  # smaller steps near the data
    steps = -time_grid(8, "noise").diff()
    assert steps[0] < steps[-1]  # smaller steps near the noise
    with pytest.raises(ValueError):
        time_grid(0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_constant_velocity_is_integrated_exactly(solver):
    c = torch.full((2, 3, 4), 0.7)
    noise = torch.randn(2, 3, 4)
    out = sample(lambda x, t: c, noise, num_steps=3, solver=solver)
    assert torch.allclose(out.samples, noise + 0.7, atol=1e-6)


def test_seed_sampler_one_euler_step_lands_on_a_single_data_point():
    """Rectified-flow paths are straight: for one data point a, f = (a - x) / t, and Euler is exact."""
    a = torch.randn(1, 64, 8)
    out = sample(lambda x, t: (a - x) / t[:, None, None], torch.randn(1, 64, 8), num_steps=1)
    assert torch.allclose(out.samples, a, atol=1e-5)


@pytest.mark.parametrize("solver,order", [("euler", 1), ("heun", 2), ("midpoint", 2)])
def test_error_shrinks_at_the_solvers_order(solver, order):
    """f(x, t) = x: going from t = 1 to 0, x(0) = e * x(1)."""
    x1 = torch.ones(1, 1, 1)
    errors = [abs(sample(lambda x, t: x, x1, num_steps=n, solver=solver).samples.item() - math.e)
              for n in (10, 20, 40)]
    ratios = [errors[i] / errors[i + 1] for i in range(2)]
    assert all(abs(r - 2 ** order) < 0.3 * 2 ** order for r in ratios), ratios


@pytest.mark.parametrize("solver", ["heun", "midpoint"])
def test_time_dependent_field_is_exact_for_second_order_solvers(solver):
    """f = 2 t -> x(0) = x(1) + 1, the integral of 2t over [0, 1]."""
    x1 = torch.zeros(1, 1, 1)
    out = sample(lambda x, t: 2 * t[:, None, None], x1, num_steps=4, solver=solver)
    assert abs(out.samples.item() - 1.0) < 1e-6  # exact for a linear-in-t field
    euler = sample(lambda x, t: 2 * t[:, None, None], x1, num_steps=4).samples.item()
    assert abs(euler - 1.25) < 1e-6  # left Riemann sum from t = 1 overshoots by h


def test_trajectory_calls_and_sigma_data():
    calls = []
    out = sample(lambda x, t: (calls.append(t), -x)[1], torch.ones(2, 1, 1), num_steps=5, solver="heun",
                 return_trajectory=True, sigma_data=2.0)
    assert out.model_calls == len(calls) == 10 and out.trajectory.shape == (6, 2, 1, 1)
    assert calls[0][0] == 1.0 and torch.allclose(out.trajectory[-1], out.samples)
    assert torch.allclose(out.trajectory[0], torch.full((2, 1, 1), 0.5))
    with pytest.raises(ValueError, match="solver must be one of"):
        sample(lambda x, t: x, torch.ones(1), solver="rk4")
    with pytest.raises(ValueError, match="decrease"):
        sample(lambda x, t: x, torch.ones(1), times=torch.tensor([0.0, 1.0]))


def test_generate_is_deterministic_in_the_seed():
    model = UNet(channels=(8, 8))
    a = generate(model, 2, 16, seed=3, num_steps=4).samples
    b = generate(model, 2, 16, seed=3, num_steps=4).samples
    c = generate(model, 2, 16, seed=4, num_steps=4).samples
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == (2, 64, 16)
