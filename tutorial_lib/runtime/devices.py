"""Where a model's weights live, so that the functions taking a model can move their inputs there.

A Colab reader trains on the GPU and then draws noise with ``torch.randn(...)``, on the CPU: every function
of the library that takes a model (the samplers, the flow's loss, the U-Nets' ``forward``, the evaluation
classifier) moves its tensors to :func:`model_device` itself. A leaf module: it imports nothing of the package.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn


def model_device(model, default: torch.device | None = None) -> torch.device | None:
    """The device of ``model``'s first parameter (or buffer); ``default`` for a plain function ``f(x, t)``
    or a module without weights, which run wherever their inputs are."""
    if isinstance(model, nn.Module):
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            return tensor.device
    return default


def to_device(value, device: torch.device | None):
    """``value.to(device)`` for a tensor or anything with a ``.to`` (e.g. ``Conditions``); other values as they are."""
    if device is None or value is None or not hasattr(value, "to"):
        return value
    return value.to(device)
