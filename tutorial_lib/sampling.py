"""ODE samplers: from noise at t = 1 to data at t = 0 (chapter 5, "ODE sampling").

Along the path ``x_t = (1 - t) x_0 + t z`` the model predicts ``f(x_t, t) ~ x_0 - z``, so going from
``t`` down to ``t - h`` moves ``x`` by about ``h f(x, t)``. The seed's sampler is Euler with
``h = 1 / num_steps``; Heun and the midpoint rule use two model calls per step for a second-order step.
Given the starting noise, every solver here is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # f(x [B, ...], t [B]) -> [B, ...]
SOLVERS = ("euler", "heun", "midpoint")
CALLS_PER_STEP = {"euler": 1, "heun": 2, "midpoint": 2}


def time_grid(num_steps: int, schedule: str = "uniform", rho: float = 2.0) -> torch.Tensor:
    """``[num_steps + 1]`` times from 1 down to 0.

    ``"uniform"``: equal steps (the seed). ``"data"``: ``t_i = (1 - i / K)^rho``, smaller steps near
    the data (t = 0), where the fine detail is decided. ``"noise"``: ``t_i = 1 - (i / K)^rho``, smaller
    steps near the noise (t = 1), where the coarse shape of the sample is decided.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")
    s = torch.linspace(0.0, 1.0, num_steps + 1, dtype=torch.float64)
    if schedule == "uniform":
        return (1.0 - s).float()
    if schedule == "data":
        return ((1.0 - s) ** rho).float()
    if schedule == "noise":
        return (1.0 - s ** rho).float()
    raise ValueError(f"schedule must be 'uniform', 'data' or 'noise', got {schedule!r}")


def euler_step(f: Velocity, x: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """One step of the seed's sampler: ``x + h f(x, t)`` with ``h = t - t_next``."""
    return x + (t - t_next) * f(x, _times(x, t))


def heun_step(f: Velocity, x: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """Euler's guess, then the average of the velocities at both ends (trapezoidal rule)."""
    h = t - t_next
    v = f(x, _times(x, t))
    guess = x + h * v
    return x + h * 0.5 * (v + f(guess, _times(x, t_next)))


def midpoint_step(f: Velocity, x: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """Half an Euler step, then the whole step with the velocity found there."""
    h = t - t_next
    half = x + 0.5 * h * f(x, _times(x, t))
    return x + h * f(half, _times(x, t - 0.5 * h))


STEPS = {"euler": euler_step, "heun": heun_step, "midpoint": midpoint_step}


def _times(x: torch.Tensor, t: float) -> torch.Tensor:
    return torch.full((x.shape[0],), float(t), device=x.device, dtype=x.dtype)


@dataclass
class SampleResult:
    """``samples [B, ...]`` at t = 0 (divided by ``sigma_data``); ``trajectory [K + 1, B, ...]`` if asked."""

    samples: torch.Tensor
    times: torch.Tensor
    model_calls: int
    trajectory: torch.Tensor | None = None


@torch.no_grad()
def sample(model: Velocity, noise: torch.Tensor, num_steps: int = 100, solver: str = "euler",
           times: torch.Tensor | None = None, sigma_data: float = 1.0, return_trajectory: bool = False,
           **model_kwargs) -> SampleResult:
    """Integrates ``dx = f(x, t)`` against the flow of time from ``noise`` (t = 1) down to t = 0.

    Args:
        model: the velocity network, called as ``model(x, t, **model_kwargs)``.
        noise: ``[B, 64, frames]`` standard normal starting point.
        num_steps: steps of the solver (ignored when ``times`` is given).
        solver: ``"euler"`` (the seed), ``"heun"`` or ``"midpoint"``.
        times: a decreasing grid from 1 to 0 (see :func:`time_grid`); uniform by default.
    """
    if solver not in STEPS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    times = time_grid(num_steps) if times is None else torch.as_tensor(times, dtype=torch.float32)
    if times[0] != 1.0 or times[-1] != 0.0 or not bool((times[1:] < times[:-1]).all()):
        raise ValueError("times must decrease strictly from 1 to 0")

    def f(x, t):
        return model(x, t, **model_kwargs)

    x = noise
    path = [x] if return_trajectory else None
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        x = STEPS[solver](f, x, t, t_next)
        if path is not None:
            path.append(x)
    return SampleResult(
        samples=x / sigma_data,
        times=times,
        model_calls=CALLS_PER_STEP[solver] * (len(times) - 1),
        trajectory=torch.stack(path) / sigma_data if path is not None else None,
    )


def generate(model: torch.nn.Module, num_samples: int, num_frames: int, seed: int = 0, num_steps: int = 100,
             solver: str = "euler", channels: int = 64, sigma_data: float = 1.0, **kwargs) -> SampleResult:
    """Samples from seeded noise ``[num_samples, channels, num_frames]`` on the model's device."""
    device = next(model.parameters()).device
    noise = torch.randn(num_samples, channels, num_frames, generator=torch.Generator().manual_seed(seed)).to(device)
    was_training = model.training
    model.eval()
    try:
        return sample(model, noise, num_steps=num_steps, solver=solver, sigma_data=sigma_data, **kwargs)
    finally:
        model.train(was_training)
