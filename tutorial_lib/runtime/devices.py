"""Where a model runs: the device to train on, and moving a function's inputs to its model's weights.

A Colab reader trains on the GPU and then draws noise with ``torch.randn(...)``, on the CPU. The functions the
chapters show stay free of that plumbing: the samplers and the flow's loss are decorated with
:func:`on_model_device`, which moves their tensors to the model's device around them (as flow_matching's
``ModelWrapper`` does), and the U-Nets move what they are called with by a forward pre-hook
(:func:`move_inputs_to_weights`). A leaf module: it imports nothing of the package.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import itertools

import torch
from torch import nn


def pick_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA, else Apple's MPS, else the CPU; any other name as it is (``"cpu"``, ``"cuda:1"``)."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def model_device(model, default: torch.device | None = None) -> torch.device | None:
    """The device of ``model``'s first parameter (or buffer); ``default`` for a plain function ``f(x, t)``
    or a module without weights, which run wherever their inputs are."""
    if isinstance(model, nn.Module):
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            return tensor.device
    return default


def to_device(value, device: torch.device | None):
    """``value.to(device)`` for a tensor or anything with a ``.to`` (e.g. ``Conditions``) but a module; other
    values as they are."""
    if device is None or value is None or isinstance(value, (nn.Module, type)) or not hasattr(value, "to"):
        return value
    return value.to(device)


def _back(result, device: torch.device, home: torch.device):
    """``result``'s tensors that are on ``device`` moved to ``home`` (also inside a tuple or a dataclass)."""
    if isinstance(result, torch.Tensor):
        return result.to(home) if result.device == device else result
    if isinstance(result, tuple):
        return type(result)(_back(value, device, home) for value in result)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.replace(result, **{f.name: _back(getattr(result, f.name), device, home)
                                              for f in dataclasses.fields(result) if f.init})
    return result


def on_model_device(function=None, *, results_back: bool = False):
    """Decorator for a function of an argument named ``model``: its tensor arguments (and labels: anything with
    a ``.to``, keyword arguments included) are moved to :func:`model_device` before it runs.

    ``results_back=True``: the tensors it returns (also in a tuple or a dataclass) that are on the model's device
    go back to the device of its first tensor argument (noise drawn on the CPU gives samples on the CPU). A plain
    function ``f(x, t)`` as ``model`` moves nothing.
    """
    if function is None:
        return functools.partial(on_model_device, results_back=results_back)
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        device = model_device(bound.arguments.get("model"))
        if device is None:
            return function(*args, **kwargs)
        home = next((v.device for v in bound.arguments.values() if isinstance(v, torch.Tensor)), device)
        for name, value in bound.arguments.items():
            if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                bound.arguments[name] = {key: to_device(v, device) for key, v in value.items()}
            elif name != "model":
                bound.arguments[name] = to_device(value, device)
        result = function(*bound.args, **bound.kwargs)
        return _back(result, device, home) if results_back and home != device else result

    return wrapper


def move_inputs_to_weights(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """A forward pre-hook (``module.register_forward_pre_hook(move_inputs_to_weights, with_kwargs=True)``):
    the module is called with its tensor arguments (and labels) on its weights' device, a number as a tensor
    there."""
    device = model_device(module)

    def move(value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return torch.tensor(float(value), device=device)
        return to_device(value, device)

    return tuple(move(value) for value in args), {key: move(value) for key, value in kwargs.items()}


@contextlib.contextmanager
def evaluating(model):
    """``with evaluating(model):`` runs ``model`` in eval mode (dropout off, as when sampling), then puts back
    the mode it had; a plain function passes through."""
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        yield model
    finally:
        if was_training is not None:
            model.train(was_training)
