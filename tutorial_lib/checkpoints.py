"""Checkpoints that describe themselves (chapter 4, "Training").

Beside the weights, a checkpoint stores what is needed to rebuild the model and to recognise its run:
the model's registry key and config, the flow's settings, the training config and a fingerprint of the
training latents. :func:`load_checkpoint` rebuilds the model from them; :func:`~tutorial_lib.training.train`
resumes through the same loader and refuses a checkpoint that another run wrote, saying which setting differs.
"""

from __future__ import annotations

import copy
import pickle
import zipfile
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from .runtime.files import display_path, fingerprint, save_atomically
from .unet import MODELS, build_model

FORMAT = 2  # 1: model named by class, nothing checked on resume; 2: self-describing

# Training settings a run may change when it resumes: they do not alter the steps already taken.
# ``steps`` may change only while the learning rate does not depend on it (a constant schedule). The number
# of processes is not recorded at all: a checkpoint written by N ranks resumes on M.
MAY_CHANGE_ON_RESUME = ("steps", "eval_every", "checkpoint_every", "device", "precision")

WHAT_TO_DO = "Choose another `checkpoint_path` to keep that run, or start over with `restart=True`, which overwrites it."


#: What to do about a checkpoint that cannot be used, for training (which can start over) ...
RESUME_ADVICE = "Move it aside and run again, or start over with `restart=True`."
#: ... and for sampling (which cannot).
SAMPLE_ADVICE = "Copy it again from where it was made, or train a new one with `python -m tutorial_lib run`."


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or rebuilt: ``problem`` says what is wrong, ``advice`` what to do."""

    def __init__(self, problem: str, advice: str = RESUME_ADVICE):
        super().__init__(f"{problem} {advice}")
        self.problem, self.advice = problem, advice

    def with_advice(self, advice: str) -> "CheckpointError":
        return CheckpointError(self.problem, advice)


class CheckpointMismatch(ValueError):
    """A checkpoint written by a run with other settings than the one asked to resume it."""


def data_fingerprint(latents: torch.Tensor) -> dict:
    """``{"shape", "sha1"}`` of ``latents [N, 64, frames]``: the hash covers at most 2^22 evenly spaced
    values, so it costs milliseconds even for the full data set and still tells data sets apart."""
    flat = latents.detach().to("cpu", torch.float32).reshape(-1)
    stride = max(1, flat.numel() // 2**22)
    return {"shape": list(latents.shape), "sha1": fingerprint(flat[::stride].contiguous().numpy().tobytes())}


def registry_key(model: nn.Module) -> str:
    """The name under which :data:`tutorial_lib.unet.MODELS` rebuilds ``model``'s class."""
    key = getattr(type(model), "registry_key", None)
    if MODELS.get(key) is not type(model) or not hasattr(model, "config"):
        raise TypeError(f"{type(model).__name__} cannot be checkpointed: a model needs a registry_key listed in "
                        "tutorial_lib.unet.MODELS and a .config dict of its constructor arguments.")
    return key


def describe_run(model: nn.Module, flow, config, train_latents: torch.Tensor) -> dict:
    """What a checkpoint records about its run (and what a resumed run must share)."""
    return {"model_key": registry_key(model), "model_config": dict(model.config), "flow": asdict(flow),
            "train_config": asdict(config), "data": data_fingerprint(train_latents)}


def save_checkpoint(path: str | Path, model: nn.Module, ema_model: nn.Module, optimizer: torch.optim.Optimizer,
                    step: int, history: dict, config, flow, *, data: dict | None = None,
                    extra: dict | None = None) -> None:
    """Writes the weights, the optimizer, the step, the history and the run's description, atomically
    (a crash never leaves half a file). ``data`` is :func:`data_fingerprint` of the training latents;
    ``extra`` (tensors and plain values) is kept as is, e.g. the latent space a sampler needs to decode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": FORMAT,
        "model_key": registry_key(model),
        "model_config": dict(model.config),
        "flow": asdict(flow),
        "train_config": asdict(config),
        "data": data,
        "model": model.state_dict(),
        "ema": ema_model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "history": history,
        "extra": extra or {},
    }
    save_atomically(state, path)


def _read(path: Path, device) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}; train first (tutorial_lib.training.train).")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, KeyError, IndexError,
            ValueError, UnicodeDecodeError) as error:  # a text file read by the unpickler: KeyError, IndexError
        reason = (str(error).strip().split(". ") or [""])[0][:100] or type(error).__name__
        if "Weights only load failed" in reason or isinstance(error, (KeyError, IndexError, UnicodeDecodeError)):
            reason = "not a file of tensors and plain values that torch.load can read safely"
        raise CheckpointError(f"The checkpoint {path} is damaged or not a checkpoint ({reason}).") from error
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a tutorial_lib checkpoint (no model weights in it).")
    if not isinstance(state.get("model_config"), dict):
        raise CheckpointError(f"{path} is not a tutorial_lib checkpoint (it does not describe its model: "
                              "another project's file?).")
    state["model_key"] = {"seed": "plain"}.get(state.get("model_key"), state.get("model_key"))  # PlainUNet's old key
    return state


def _shown(value) -> str:
    """A setting as a person writes it: ``0.009``, not the float's repr ``0.009000000000000001``."""
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


def _differences(saved: dict, expected: dict, path: Path) -> list[str]:
    problems, parts = [], [("model_config", "model setting"), ("flow", "flow setting"), ("train_config", "training setting")]
    if saved.get("model_key") != expected["model_key"]:
        problems.append(f"the model (checkpoint: {saved.get('model_key')!r}, "
                        f"this run: {expected['model_key']!r})")
        parts = parts[1:]  # another class: its settings cannot be compared
    for part, label in parts:
        old, new = saved.get(part) or {}, expected[part]
        for name in sorted(set(old) | set(new)):
            schedule_needs_steps = name == "steps" and new.get("lr_schedule", "constant") != "constant"
            if part == "train_config" and name in MAY_CHANGE_ON_RESUME and not schedule_needs_steps:
                continue
            if old.get(name, "<not recorded>") != new.get(name, "<not recorded>"):
                problems.append(f"the {label} {name} (checkpoint: {_shown(old.get(name, '<not recorded>'))}, "
                                f"this run: {_shown(new.get(name, '<not recorded>'))})")
    if saved.get("data") != expected["data"]:
        old = saved.get("data") or {"shape": "<not recorded>", "sha1": "<not recorded>"}
        problems.append(f"the training latents (checkpoint: shape {old['shape']}, hash {old['sha1']}; "
                        f"this run: shape {expected['data']['shape']}, hash {expected['data']['sha1']})")
    return problems


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu", *,
                    expect: dict | None = None) -> tuple[nn.Module, nn.Module, dict]:
    """``(model, ema_model, checkpoint dict)``, the model rebuilt from the checkpoint's own description.

    ``expect`` (from :func:`describe_run`) is the run that wants to resume: if the checkpoint was written by a
    run with another model, flow, training setting or data, raises :class:`CheckpointMismatch` naming them.
    """
    path = Path(path)
    state = _read(path, device)
    if expect is not None:
        problems = _differences(state, expect, path)
        if problems:
            raise CheckpointMismatch(f"Cannot resume from {display_path(path)}: another run wrote it. Not the same: "
                                     f"{'; '.join(problems)}. {WHAT_TO_DO}")
    key = state.get("model_key")
    try:
        model = build_model(key, **state["model_config"])
        model.load_state_dict(state["model"])
    except (TypeError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"The checkpoint {path} (format {state.get('format')}) no longer fits the "
                              f"model {key!r} of this version of tutorial_lib ({str(error).splitlines()[0]}).",
                              "Retrain: start over with `restart=True`.") from error
    ema_model = copy.deepcopy(model)
    ema_model.load_state_dict(state["ema"])
    return model.to(device), ema_model.to(device), state
