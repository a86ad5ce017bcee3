"""Rectified flow: the noising path, the training times and the loss (chapter 4, "Training").

Time runs from data to noise, as in the original tutorial:

    x_t = (1 - t) x_0 + t z,   t in [0, 1],   t = 0 clean, t = 1 pure noise,   z ~ N(0, I).

The network ``f(x_t, t)`` learns the velocity ``v = x_0 - z`` (it points from the noise to the data) with
``MSE(v, f(x_t, t))``. Training times are logit-normal: ``t = sigmoid(n)``, ``n ~ N(p_mean, p_std^2)``.
Data are multiplied by ``sigma_data`` before noising (:meth:`RectifiedFlow.scale`); samples are divided by
it after sampling (:meth:`RectifiedFlow.unscale`): the flow owns that factor, and the samplers take the flow.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .runtime.devices import on_model_device


@dataclass
class RectifiedFlow:
    """The original tutorial's rectified flow. ``p_mean``/``p_std`` set the logit-normal times (the original tutorial: 0 and 1)."""

    sigma_data: float = 1.0
    p_mean: float = 0.0
    p_std: float = 1.0

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """Data latents -> the flow's units (times ``sigma_data``)."""
        return x * self.sigma_data

    def unscale(self, x: torch.Tensor) -> torch.Tensor:
        """The flow's units -> data latents (divided by ``sigma_data``); undoes :meth:`scale`."""
        return x / self.sigma_data

    @staticmethod
    def add_noise(x: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``(1 - t) x + t noise``; ``x, noise [B, ...]``, ``t [B]`` (or a scalar)."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.reshape(-1, *([1] * (x.ndim - 1))) if t.ndim else t
        return (1.0 - t) * x + t * noise

    def sample_times(self, batch: int, generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> torch.Tensor:
        """``[batch]`` logit-normal times in (0, 1)."""
        n = torch.randn(batch, generator=generator) * self.p_std + self.p_mean
        return torch.sigmoid(n).to(device)

    @staticmethod
    def velocity_target(x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``v = x_0 - z``: the direction from the noise to the data (constant along each straight path)."""
        return x - noise

    def draw_noise(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal noise shaped like ``x``, drawn on the CPU (the same numbers whatever the device), put
        where ``x`` is."""
        return torch.randn(x.shape, generator=generator).to(x)

    @on_model_device
    def loss(self, model: nn.Module, x: torch.Tensor, t: torch.Tensor | None = None,
             noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
             reduction: str = "mean", **model_kwargs) -> torch.Tensor:
        """MSE between ``v`` and ``model(x_t, t)`` for clean ``x [B, 64, frames]``.

        ``t [B]`` and ``noise [B, 64, frames]`` are drawn (from ``generator``) when not given; ``model_kwargs``
        (e.g. ``conditions``) go to the model. ``reduction="none"`` returns the loss of each example, ``[B]``
        (chapter 4 plots it by time). ``@on_model_device``: the inputs are moved to the model's weights first.
        """
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        x = self.scale(x)
        t = self.sample_times(len(x), generator, x.device) if t is None else t
        noise = self.draw_noise(x, generator) if noise is None else noise
        prediction = model(self.add_noise(x, noise, t), t, **model_kwargs)
        per_example = ((prediction - self.velocity_target(x, noise)) ** 2).flatten(1).mean(dim=1)
        return per_example if reduction == "none" else per_example.mean()
