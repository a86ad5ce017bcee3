import math

import pytest
import torch

from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.sampling import SOLVERS, sample_seeded, sample, time_grid
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


def test_euler_sampler_one_step_lands_on_a_single_data_point():
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
                 return_trajectory=True, flow=RectifiedFlow(sigma_data=2.0))
    assert out.model_calls == len(calls) == 10 and out.trajectory.shape == (6, 2, 1, 1)
    assert calls[0][0] == 1.0 and torch.allclose(out.trajectory[-1], out.samples)
    assert torch.allclose(out.trajectory[0], torch.full((2, 1, 1), 0.5))
    with pytest.raises(ValueError, match="solver must be one of"):
        sample(lambda x, t: x, torch.ones(1), solver="rk4")
    with pytest.raises(ValueError, match="decrease"):
        sample(lambda x, t: x, torch.ones(1), times=torch.tensor([0.0, 1.0]))


def test_generate_is_deterministic_in_the_seed():
    model = UNet(channels=(8, 8))
    a = sample_seeded(model, 2, 16, seed=3, num_steps=4).samples
    b = sample_seeded(model, 2, 16, seed=3, num_steps=4).samples
    c = sample_seeded(model, 2, 16, seed=4, num_steps=4).samples
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == (2, 64, 16)


class LabelledField(torch.nn.Module):
    """f = pitch (as a number) where a pitch is given, else 10: guidance has a known answer."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.batches = []

    def forward(self, x, t, conditions=None):
        self.batches.append(len(x))
        if conditions is None:
            return torch.full_like(x, 10.0)
        value = torch.where(conditions.pitch >= 0, conditions.pitch.float(), torch.tensor(10.0))
        return value[:, None, None].expand_as(x)


def test_classifier_free_guidance_extrapolates_from_unconditional_to_conditional():
    from tutorial_lib.conditioning import Conditions

    model, noise = LabelledField(), torch.zeros(2, 1, 1)
    cond = Conditions.make(2, pitch=[40, 60])
    for w, expected in [(0.0, [10, 10]), (1.0, [40, 60]), (2.0, [70, 110])]:
        model.batches.clear()
        out = sample(model, noise, num_steps=2, conditions=cond, guidance=w).samples.flatten()
        assert torch.allclose(out, torch.tensor(expected, dtype=torch.float32)), (w, out)
        assert model.batches == ([2, 2] if w == 1.0 else [4, 4])  # both forms in one batch of 2 B


def test_inversion_runs_the_sampler_backwards():
    """f = -x: sampling scales by e, inversion by 1/e; a round trip returns the start (up to the solver)."""
    from tutorial_lib.sampling import invert

    class Field(torch.nn.Module):
        def forward(self, x, t, conditions=None):
            return -x

    x0 = torch.randn(3, 2, 4)
    noise = invert(Field(), x0, num_steps=40, solver="heun")
    assert torch.allclose(noise, x0 * math.e, rtol=1e-3)
    back = sample(Field(), noise, num_steps=40, solver="heun").samples
    assert torch.allclose(back, x0, atol=1e-3)
    flow = RectifiedFlow(sigma_data=0.5)  # inversion scales in, sampling scales out: still a round trip
    assert torch.allclose(sample(Field(), invert(Field(), x0, flow=flow), flow=flow, num_steps=50,
                                 solver="heun").samples, x0, atol=1e-3)


def test_slerp_keeps_the_norm_of_noise_where_a_straight_line_does_not():
    from tutorial_lib.sampling import slerp

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 64, 32, generator=g), torch.randn(3, 64, 32, generator=g)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    middle, line = slerp(a, b, 0.5), 0.5 * (a + b)
    norms = a.flatten(1).norm(dim=1)
    assert torch.allclose(middle.flatten(1).norm(dim=1), norms, rtol=0.02)  # still noise-sized
    assert (line.flatten(1).norm(dim=1) < 0.75 * norms).all()  # the straight line is about sqrt(1/2) of it
    e1, e2 = torch.zeros(1, 2), torch.zeros(1, 2)  # two orthogonal unit vectors: 45 degrees half way
    e1[0, 0], e2[0, 1] = 1.0, 1.0
    assert torch.allclose(slerp(e1, e2, 0.5), torch.tensor([[2 ** -0.5, 2 ** -0.5]]), atol=1e-6)
    assert torch.allclose(slerp(a, a, 0.3), a, atol=1e-5)  # the same direction: no division by zero
