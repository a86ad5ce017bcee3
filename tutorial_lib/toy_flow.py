"""The book's rectified flow on points in the plane (the interlude "A flow you can see", after chapter 4).

The same :class:`~tutorial_lib.flow.RectifiedFlow` and the same samplers as the music model, on 2-D data:
a mixture of Gaussians whose optimal velocity field is known exactly (:meth:`GaussianMixture.velocity`),
a small MLP ``f(x [B, 2], t [B]) -> [B, 2]`` trained in seconds on a CPU, and two measures of samples.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from .runtime.devices import model_device
from .flow import RectifiedFlow


@dataclass
class GaussianMixture:
    """``num_modes`` equal Gaussians of standard deviation ``std`` on a circle of ``radius`` (data at t = 0)."""

    num_modes: int = 6
    radius: float = 2.5
    std: float = 0.2
    means: torch.Tensor = field(init=False)

    def __post_init__(self):
        angles = 2 * math.pi * torch.arange(self.num_modes) / self.num_modes
        self.means = self.radius * torch.stack([angles.cos(), angles.sin()], dim=1)  # [K, 2]

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[n, 2]`` points."""
        k = torch.randint(self.num_modes, (n,), generator=generator)
        return self.means[k] + self.std * torch.randn(n, 2, generator=generator)

    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The exact best velocity ``E[x_0 - z | x_t = x]`` for ``x [B, 2]``, ``t [B]`` (or a float).

        Given mode ``k``, ``x_t ~ N((1 - t) mu_k, s^2 I)`` with ``s^2 = (1 - t)^2 std^2 + t^2``, and
        ``E[x_0 - z | x_t, k] = mu_k + ((1 - t) std^2 - t) / s^2 (x_t - (1 - t) mu_k)``; the modes are
        weighted by how likely each makes ``x_t``.
        """
        t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1, 1).expand(x.shape[0], 1, 1)
        centres = (1 - t) * self.means[None]  # [B, K, 2]
        var = (1 - t) ** 2 * self.std ** 2 + t ** 2  # [B, 1, 1]
        offset = x[:, None, :] - centres
        weights = torch.softmax(-(offset ** 2).sum(-1, keepdim=True) / (2 * var), dim=1)  # [B, K, 1]
        per_mode = self.means[None] + ((1 - t) * self.std ** 2 - t) / var * offset
        return (weights * per_mode).sum(dim=1)


class VelocityMLP(nn.Module):
    """``f(x [B, 2], t [B]) -> [B, 2]``: ``t`` and ``cos(pi k t)`` for ``k = 1..time_dim``, then a small MLP."""

    def __init__(self, *, hidden: int = 128, time_dim: int = 8):
        super().__init__()
        self.register_buffer("frequencies", math.pi * torch.arange(1, time_dim + 1, dtype=torch.float32))
        self.net = nn.Sequential(nn.Linear(3 + time_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = x.to(self.frequencies.device)  # the model's device: points drawn on the CPU work with a GPU model
        t = torch.as_tensor(t, device=x.device).reshape(-1).expand(x.shape[0])
        t = t.reshape(-1, 1).to(x)
        return self.net(torch.cat([x, t, torch.cos(t * self.frequencies)], dim=1))


@dataclass
class ToyRun:
    model: VelocityMLP
    losses: list[float]
    seconds: float


def train_toy(*, data: GaussianMixture | None = None, flow: RectifiedFlow | None = None, steps: int = 1500,
              batch_size: int = 256, lr: float = 3e-3, hidden: int = 128, seed: int = 0,
              pairs: tuple[torch.Tensor, torch.Tensor] | None = None, init: VelocityMLP | None = None) -> ToyRun:
    """Trains a :class:`VelocityMLP` with ``flow.loss`` on fresh data every step (Adam, cosine-decayed lr).

    Reflow (chapter 6a): with ``pairs = (x_0 [N, 2], z [N, 2])`` each step draws a batch of those fixed pairs
    instead of fresh data and fresh noise; ``init`` starts from a copy of that model instead of random weights.
    """
    if (data is None) == (pairs is None):
        raise ValueError("train_toy: give either data (a GaussianMixture) or pairs (x_0, z), not both or neither.")
    flow = flow or RectifiedFlow()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = VelocityMLP(hidden=hidden) if init is None else copy.deepcopy(init).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    losses, start = [], time.perf_counter()
    for _ in range(steps):
        if pairs is None:
            loss = flow.loss(model, data.sample(batch_size, generator=generator), generator=generator)
        else:
            pick = torch.randint(len(pairs[0]), (batch_size,), generator=generator)
            loss = flow.loss(model, pairs[0][pick], noise=pairs[1][pick], generator=generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return ToyRun(model=model, losses=losses, seconds=time.perf_counter() - start)


def field_error(model, data: GaussianMixture, *, t: float, n: int = 2000, seed: int = 0) -> float:
    """Mean squared distance between ``model`` and the exact velocity, at points ``x_t`` the flow visits
    (drawn on the CPU; the model runs on its own device)."""
    g = torch.Generator().manual_seed(seed)
    x_t = RectifiedFlow.add_noise(data.sample(n, generator=g), torch.randn(n, 2, generator=g), t)
    times = torch.full((n,), float(t))
    device = model_device(model, x_t.device)
    with torch.no_grad():
        learned = model(x_t.to(device), times.to(device)).to(x_t.device)
        return ((learned - data.velocity(x_t, times)) ** 2).sum(1).mean().item()


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, *, projections: int = 256, seed: int = 0) -> float:
    """Distance between two clouds ``[n, 2]`` (same ``n``): the 1-D Wasserstein-1 distance along random
    directions, averaged. 0 for the same cloud; it grows as one cloud moves or changes shape."""
    if a.shape != b.shape:
        raise ValueError(f"sliced_wasserstein needs clouds of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    angles = torch.rand(projections, generator=torch.Generator().manual_seed(seed)) * math.pi
    directions = torch.stack([angles.cos(), angles.sin()], dim=1)  # [P, 2]
    pa, pb = (a @ directions.T).sort(dim=0).values, (b @ directions.T).sort(dim=0).values
    return (pa - pb).abs().mean().item()


def near_a_mode(samples: torch.Tensor, data: GaussianMixture, *, within: float = 3.0) -> float:
    """Fraction of ``samples [n, 2]`` within ``within`` standard deviations of the nearest mode's centre."""
    distance = torch.cdist(samples, data.means).min(dim=1).values
    return (distance <= within * data.std).float().mean().item()


def plot_field(ax, velocity, *, t: float, lim: float = 3.5, n: int = 15, data: torch.Tensor | None = None,
               title: str | None = None):
    """Arrows of ``velocity(x [B, 2], t [B])`` on an ``n x n`` grid, over ``data`` points if given.

    Arrows have equal length and show the direction; their colour shows the speed ``|v|`` on a log scale
    from 0.1 to 10, the same in every panel (``ax.collections[-1]`` is the quiver, for a colorbar).
    """
    from matplotlib.colors import LogNorm

    axis = torch.linspace(-lim, lim, n)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1).reshape(-1, 2)
    device = model_device(velocity, grid.device)  # a model on the GPU: its arrows come back to the CPU
    with torch.no_grad():
        v = velocity(grid.to(device), torch.full((grid.shape[0],), float(t), device=device)).to(grid.device)
    if data is not None:
        ax.scatter(data[:, 0], data[:, 1], s=2, color="0.7", zorder=0)
    speed = v.norm(dim=1).clamp_min(1e-8)
    direction = v / speed[:, None]
    ax.quiver(grid[:, 0], grid[:, 1], direction[:, 0], direction[:, 1], speed, cmap="viridis",
              norm=LogNorm(0.1, 10.0), angles="xy", scale_units="xy", scale=1.8 * n / (2 * lim), width=0.007)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=title or f"t = {t:g}")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
