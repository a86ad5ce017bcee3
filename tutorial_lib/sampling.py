"""ODE samplers: from noise at t = 1 to data at t = 0, and back (chapters 5, "ODE sampling", and 6, "Control").

Along the path ``x_t = (1 - t) x_0 + t z`` the model predicts ``f(x_t, t) ~ x_0 - z``, so going from
``t`` down to ``t - h`` moves ``x`` by about ``h f(x, t)``. The original tutorial's sampler is Euler with
``h = 1 / num_steps``; Heun and the midpoint rule use two model calls per step for a second-order step.
Given the starting noise, every solver here is deterministic, and the same steps run backwards in time
turn a note into the noise it comes from (:func:`invert`).

Classifier-free guidance (chapter 6) moves along ``f_uncond + w (f_cond - f_uncond)``: ``w = 1`` is the
conditional model, ``w = 0`` the unconditional one, ``w > 1`` pushes further towards the labels.

Devices: :func:`sample` and :func:`invert` run the model where its weights are; their decorator
(:func:`~tutorial_lib.runtime.devices.on_model_device`) moves the noise, latents and labels there and hands the
results back on the device their input came from (noise drawn on the CPU gives samples on the CPU, whatever
the model's device); :func:`sample_seeded` draws on the model's device and leaves the samples there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .conditioning import Conditions
from .runtime.devices import evaluating, model_device, on_model_device
from .flow import RectifiedFlow

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # f(x [B, ...], t [B]) -> [B, ...]


def time_grid(num_steps: int, schedule: str = "uniform", rho: float = 2.0) -> torch.Tensor:
    """``[num_steps + 1]`` times from 1 down to 0.

    ``"uniform"``: equal steps (the original tutorial's). ``"data"``: ``t_i = (1 - i / K)^rho``, smaller steps near
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
    """One step of the original tutorial's sampler: ``x + h f(x, t)`` with ``h = t - t_next``."""
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


@dataclass(frozen=True)
class Solver:
    """A step rule and how many model calls one step costs."""

    step: Callable[[Velocity, torch.Tensor, float, float], torch.Tensor]
    calls_per_step: int


#: Every solver by name: the one table the samplers, the benchmarks and the widget read.
SOLVERS = {"euler": Solver(euler_step, 1), "heun": Solver(heun_step, 2), "midpoint": Solver(midpoint_step, 2)}


def _times(x: torch.Tensor, t: float) -> torch.Tensor:
    return torch.full((x.shape[0],), float(t), device=x.device, dtype=x.dtype)


def guided(model: torch.nn.Module, conditions: Conditions | None = None, guidance: float = 1.0) -> Velocity:
    """The velocity field to integrate: ``model(x, t)``, or its classifier-free guided form.

    Args:
        model: called as ``model(x, t)`` or, with labels, ``model(x, t, conditions)``.
        conditions: labels ``[B]`` each, or ``None`` for an unconditional model.
        guidance: ``w``; with labels and ``w != 1`` both forms run in one batch of ``2 B``.
    """
    if conditions is None:
        return lambda x, t: model(x, t)
    if guidance == 1.0:
        return lambda x, t: model(x, t, conditions)
    both = Conditions.cat(conditions, conditions.unconditional())

    def f(x, t):
        conditional, unconditional = model(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
        return unconditional + guidance * (conditional - unconditional)

    return f


@dataclass
class SampleResult:
    """``samples [B, ...]`` at the grid's last time (in data units: divided by ``sigma_data``);
    ``trajectory [K + 1, B, ...]`` if asked."""

    samples: torch.Tensor
    times: torch.Tensor
    model_calls: int
    trajectory: torch.Tensor | None = None


@torch.no_grad()
def integrate(f: Velocity, x: torch.Tensor, times: torch.Tensor, solver: str = "euler",
              return_trajectory: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Follows ``dx/dt = -f(x, t)`` along ``times`` (decreasing: towards the data; increasing: towards noise).

    Returns the end point and, if asked, every point ``[len(times), B, ...]``. ``x`` must be where ``f``
    computes (a model's device): :func:`sample` and :func:`invert` move it there.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    path = [x] if return_trajectory else None
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        x = SOLVERS[solver].step(f, x, t, t_next)
        if path is not None:
            path.append(x)
    return x, (torch.stack(path) if path is not None else None)


@torch.no_grad()
@on_model_device(results_back=True)
def sample(model: torch.nn.Module | Velocity, noise: torch.Tensor, *, num_steps: int = 100, solver: str = "euler",
           times: torch.Tensor | None = None, flow: RectifiedFlow | None = None, conditions: Conditions | None = None,
           guidance: float = 1.0, return_trajectory: bool = False) -> SampleResult:
    """Integrates from ``noise`` (t = 1) down to t = 0.

    Args:
        model: the velocity network (or any ``f(x, t)``).
        noise: ``[B, 64, frames]`` standard normal starting point.
        num_steps: steps of the solver (ignored when ``times`` is given).
        solver: ``"euler"`` (the original tutorial's), ``"heun"`` or ``"midpoint"``.
        times: a decreasing grid from 1 to 0 (see :func:`time_grid`); uniform by default.
        flow: the flow the model was trained with; its ``sigma_data`` is undone at the end.
        conditions, guidance: labels ``[B]`` each and the guidance scale (see :func:`guided`).

    ``@on_model_device``: the model runs where its weights are; ``samples`` (and ``trajectory``) come back on
    ``noise``'s device.
    """
    times = time_grid(num_steps) if times is None else torch.as_tensor(times, dtype=torch.float32)
    if times[0] != 1.0 or times[-1] != 0.0 or not bool((times[1:] < times[:-1]).all()):
        raise ValueError("times must decrease strictly from 1 to 0")
    flow = flow or RectifiedFlow()
    f = guided(model, conditions, guidance) if isinstance(model, torch.nn.Module) else model
    x, path = integrate(f, noise, times, solver, return_trajectory)
    calls = SOLVERS[solver].calls_per_step * (len(times) - 1)
    return SampleResult(samples=flow.unscale(x), times=times, model_calls=calls,
                        trajectory=flow.unscale(path) if path is not None else None)


@torch.no_grad()
@on_model_device(results_back=True)
def invert(model: torch.nn.Module, latents: torch.Tensor, *, num_steps: int = 50, solver: str = "heun",
           flow: RectifiedFlow | None = None, conditions: Conditions | None = None,
           guidance: float = 1.0) -> torch.Tensor:
    """The noise ``[B, 64, frames]`` that the sampler would turn into ``latents [B, 64, frames]``.

    The same ODE, run from t = 0 up to t = 1 (chapter 6). Sampling the result with the same settings gives
    the latents back, up to the solver's error. The model runs on its device; the noise comes back on ``latents``'.
    """
    flow = flow or RectifiedFlow()
    f = guided(model, conditions, guidance)
    x, _ = integrate(f, flow.scale(latents), time_grid(num_steps).flip(0), solver)
    return x


def seeded_noise(num_samples: int, num_frames: int, *, seed: int = 0, channels: int = 64,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """``[num_samples, channels, num_frames]`` standard normal noise, the same for the same seed."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(num_samples, channels, num_frames, generator=generator).to(device)


def sample_seeded(model: torch.nn.Module, num_samples: int, num_frames: int, *, seed: int = 0, num_steps: int = 100,
             solver: str = "euler", channels: int = 64, flow: RectifiedFlow | None = None,
             conditions: Conditions | None = None, guidance: float = 1.0, **kwargs) -> SampleResult:
    """Samples from seeded noise ``[num_samples, channels, num_frames]`` drawn on the model's device; the
    samples stay there (``.samples.cpu()`` to plot or decode them)."""
    device = model_device(model, torch.device("cpu"))
    noise = seeded_noise(num_samples, num_frames, seed=seed, channels=channels, device=device)
    with evaluating(model):
        return sample(model, noise, num_steps=num_steps, solver=solver, flow=flow, conditions=conditions,
                      guidance=guidance, **kwargs)


def slerp(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    """Spherical interpolation from noise ``a`` (``alpha = 0``) to ``b`` (``alpha = 1``), both ``[B, ...]`` (chapter 6).

    It follows the great circle between them, so the norm stays that of the ends: a straight line
    ``(1 - alpha) a + alpha b`` between two independent noises is shorter in the middle (by ``sqrt(1/2)``
    at ``alpha = 0.5``), too weak to be noise at t = 1, and the sampler turns it into a faint, blurred note.
    """
    flat_a, flat_b = a.flatten(1).double(), b.flatten(1).double()
    cos = (flat_a * flat_b).sum(1) / (flat_a.norm(dim=1) * flat_b.norm(dim=1)).clamp_min(1e-12)
    theta = torch.acos(cos.clamp(-1.0, 1.0))
    sin = torch.sin(theta)
    parallel = sin < 1e-6  # (nearly) the same direction: the straight line is the arc
    wa = torch.where(parallel, 1.0 - alpha, torch.sin((1.0 - alpha) * theta) / sin.clamp_min(1e-12))
    wb = torch.where(parallel, alpha, torch.sin(alpha * theta) / sin.clamp_min(1e-12))
    shape = (-1,) + (1,) * (a.ndim - 1)
    return (wa.reshape(shape) * a.double() + wb.reshape(shape) * b.double()).to(a.dtype)
