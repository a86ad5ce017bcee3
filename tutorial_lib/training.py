"""The training loop, its checkpoints and their reloading (chapter 4, "Training").

Every random choice of step ``s`` (which examples form the batch, their noise and times) comes from
generators seeded with ``(seed, s)``, so a run resumed from a checkpoint continues exactly as if it had
never stopped.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .checkpoints import CheckpointMismatch, describe_run, load_checkpoint, save_checkpoint
from .conditioning import Conditions, drop_labels
from .runtime.distributed import World, all_sum, barrier, from_main, my_share, world
from .flow import RectifiedFlow


@dataclass
class TrainConfig:
    """Hyperparameters (the seed: Adam, lr 1e-4, batch 500)."""

    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-4
    ema_decay: float = 0.999
    eval_every: int = 100
    checkpoint_every: int = 500
    seed: int = 0
    device: str = "auto"
    warmup_steps: int = 0  # the learning rate rises linearly from 0 over these steps...
    lr_schedule: str = "constant"  # ...then stays ("constant") or falls to 0 along a half cosine ("cosine")
    label_dropout: float = 0.2  # conditioned models: chance that all labels of an example are hidden
    label_dropout_each: float = 0.1  # ... and that each remaining label is hidden on its own
    precision: str = "fp32"  # "bf16": the forward pass under bfloat16 autocast (GPUs; about 3x on an H100)


@dataclass
class LossHistory:
    """What training recorded (chapter 4 plots it): the training loss at every step, the validation loss every
    ``eval_every`` steps, the seconds spent training, and one session per call that trained
    (``{"from_step", "to_step", "processes", "device", "precision", "seconds"}``). Kept across resumes."""

    train_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    valid_steps: list[int] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    sessions: list[dict] = field(default_factory=list)

    @classmethod
    def from_saved(cls, saved: dict) -> "LossHistory":
        """The history a checkpoint holds (as a dict: checkpoints store plain types)."""
        return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})


@dataclass
class TrainResult:
    """The trained model, its EMA copy (use it to sample), the flow it learned and the loss history."""

    model: nn.Module
    ema_model: nn.Module
    history: LossHistory = field(default_factory=LossHistory)
    checkpoint_path: Path | None = None
    flow: RectifiedFlow = field(default_factory=RectifiedFlow)
    resumed_from: int = 0  # the step this call started from (== the last step when it only reloaded)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite."""


class DeferredInterrupt:
    """Ctrl-C (SIGINT) held back until the loop reaches a step boundary: a signal landing between
    ``optimizer.step()`` and the EMA update or the history would otherwise leave a half-applied step in the
    checkpoint. Inside ``with DeferredInterrupt() as stop:``, a SIGINT only sets ``stop.requested``; the loop
    checks it after each whole step. Elsewhere than the main thread (where Python delivers no signals) it does
    nothing."""

    requested: bool = False

    def __enter__(self) -> "DeferredInterrupt":
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum, frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def pick_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA, else Apple's MPS, else the CPU."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


PRECISIONS = ("fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``precision`` if ``device`` can run it, else ``"fp32"`` with a message saying why."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r} (--precision).")
    # A T4 (free Colab) only emulates bfloat16, slower than fp32: ask for the GPU's own support.
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
        print(f"This GPU ({torch.cuda.get_device_name(device)}) has no bfloat16: training in fp32 instead "
              "(--precision fp32 says so and silences this).")
        return "fp32"
    if precision == "bf16" and device.type not in ("cuda", "cpu"):
        print(f"bfloat16 autocast is not supported on {device.type} here: training in fp32 instead "
              "(--precision fp32 says so and silences this).")
        return "fp32"
    return precision


def autocast(device: torch.device, precision: str):
    """The context the forward pass runs in: bfloat16 autocast for ``"bf16"``, nothing for ``"fp32"``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def learning_rate(config: TrainConfig, step: int) -> float:
    """The learning rate at ``step``: linear warm-up, then constant or a half cosine down to 0."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant":
        return config.lr
    if config.lr_schedule == "cosine":
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {config.lr_schedule!r}")


def _step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def batch_indices(num_examples: int, batch_size: int, step: int, seed: int) -> torch.Tensor:
    """The examples of step ``step``: epochs are fixed shuffles of the data, batches consecutive slices."""
    batch_size = min(batch_size, num_examples)
    per_epoch = num_examples // batch_size
    epoch, position = divmod(step, per_epoch)
    order = torch.randperm(num_examples, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
    return order[position * batch_size: (position + 1) * batch_size]


@torch.no_grad()
def update_ema(ema_model: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * weights``."""
    for ema_p, p in zip(ema_model.parameters(), model.parameters()):
        ema_p.lerp_(p, 1.0 - decay)


def training_step(model: nn.Module, flow: RectifiedFlow, batch: torch.Tensor, optimizer: torch.optim.Optimizer, *,
                  ema_model: nn.Module, ema_decay: float, generator: torch.Generator | None = None,
                  conditions: Conditions | None = None, precision: str = "fp32",
                  noise: torch.Tensor | None = None) -> float:
    """One step on ``batch [B, 64, frames]``: the flow loss, its gradient, an optimizer update, then the EMA.

    ``noise [B, 64, frames]``: the noise each example is paired with (reflow, chapter 6a); fresh noise if ``None``.
    Returns the loss (before the update). A NaN or infinite loss changes nothing; :func:`train` then stops.
    """
    labels = {} if conditions is None else {"conditions": conditions}
    with autocast(batch.device, precision):
        loss = flow.loss(model, batch, generator=generator, noise=noise, **labels)
    if torch.isfinite(loss):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        update_ema(ema_model, model, ema_decay)
    return loss.item()


def shared_training_step(net: DistributedDataParallel, flow: RectifiedFlow, batch: torch.Tensor,
                         optimizer: torch.optim.Optimizer, *, place: World, ema_model: nn.Module, ema_decay: float,
                         generator: torch.Generator, conditions: Conditions | None = None,
                         precision: str = "fp32", noise: torch.Tensor | None = None) -> float:
    """:func:`training_step` for one of ``place.size`` processes (appendix "Past one machine").

    ``batch [B, 64, frames]`` is the whole global batch. Every rank draws the times and noise of all B
    examples from ``generator``, as one process would, then keeps its own slice: the ranks together compute
    the same loss as one process, and DDP averages their gradients. Returns the global batch's loss.
    ``noise``: the global batch's paired noise (reflow), else drawn here.
    """
    device = next(net.parameters()).device
    times = flow.sample_times(len(batch), generator)  # the same draws, in the same order, as flow.loss
    noise = torch.randn(batch.shape, generator=generator) if noise is None else noise
    mine = my_share(torch.arange(len(batch)), place.rank, place.size)
    labels = {} if conditions is None else {"conditions": conditions[mine].to(device)}
    with autocast(device, precision):
        loss = flow.loss(net, batch[mine].to(device), t=times[mine].to(device), noise=noise[mine].to(device),
                         **labels)
    total = all_sum(loss.float() * len(mine)) / len(batch)
    if torch.isfinite(total):
        optimizer.zero_grad(set_to_none=True)
        # DDP averages the ranks' gradients; weighting by the share keeps that the global batch's mean.
        (loss * (len(mine) * place.size / len(batch))).backward()
        optimizer.step()
        update_ema(ema_model, net.module, ema_decay)
    return total.item()


@torch.no_grad()
def validation_loss(model: nn.Module, flow: RectifiedFlow, latents: torch.Tensor, batch_size: int = 256,
                    seed: int = 12345, conditions: Conditions | None = None) -> float:
    """Mean flow loss over ``latents [N, 64, frames]`` (and their labels, for a conditioned model) with fixed
    noise and times (comparable across calls)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for start in range(0, len(latents), batch_size):
        x = latents[start: start + batch_size].to(device)
        labels = {} if conditions is None else {"conditions": conditions[start: start + batch_size].to(device)}
        total += flow.loss(model, x, generator=generator, reduction="none", **labels).sum().item()
    model.train(was_training)
    return total / len(latents)


@torch.no_grad()
def loss_by_time(model: nn.Module, flow: RectifiedFlow, latents: torch.Tensor, times: torch.Tensor,
                 seed: int = 0) -> torch.Tensor:
    """``[len(times)]`` mean loss over ``latents`` with every example noised to each fixed time."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = latents.to(device)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x)
    losses = [flow.loss(model, x, t=torch.full((len(x),), float(t), device=device), noise=noise).item()
              for t in times]
    model.train(was_training)
    return torch.tensor(losses)


def fit(model: nn.Module, flow: RectifiedFlow, latents: torch.Tensor, optimizer: torch.optim.Optimizer,
        ema_model: nn.Module, config: TrainConfig, *, conditions: Conditions | None = None,
        noise: torch.Tensor | None = None, start: int = 0, take_step=training_step):
    """The training loop (chapter 4): steps ``start`` to ``config.steps``, yielding ``(steps done, loss)`` after each.

    ``latents [N, 64, frames]`` (any device; each batch goes to the model's), ``conditions`` their ``[N]`` labels,
    ``noise [N, 64, frames]`` a fixed noise per latent (reflow, chapter 6a). :func:`train` runs this loop and adds
    what a long run needs: checkpoints, resuming, validation, progress, several processes (``take_step``).
    """
    device = next(model.parameters()).device
    for i in range(start, config.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, i)  # warm-up, then the schedule
        batch = batch_indices(len(latents), config.batch_size, i, config.seed)
        labels = None
        if conditions is not None:  # hide them at random, so that the model also plays without (chapter 6)
            labels = drop_labels(conditions[batch], p_all=config.label_dropout, p_each=config.label_dropout_each,
                                 generator=_step_generator(config.seed + 1, i)).to(device)
        ema_decay = min(config.ema_decay, (1 + i) / (10 + i))  # early on, the average follows the weights closely
        loss = take_step(model, flow, latents[batch].to(device), optimizer, ema_model=ema_model, ema_decay=ema_decay,
                    generator=_step_generator(config.seed, i), conditions=labels,
                    noise=None if noise is None else noise[batch].to(device))
        yield i + 1, loss


def train(model: nn.Module, flow: RectifiedFlow, train_latents: torch.Tensor,
          valid_latents: torch.Tensor | None = None, config: TrainConfig | None = None,
          checkpoint_path: str | Path | None = None, progress: bool = True, *,
          train_conditions: Conditions | None = None, valid_conditions: Conditions | None = None,
          restart: bool = False, checkpoint_extra: dict | None = None,
          train_noise: torch.Tensor | None = None) -> TrainResult:
    """Trains ``model`` on ``train_latents [N, 64, frames]`` with the flow loss.

    With ``train_conditions`` (the labels of the N notes) a conditioned model learns to follow them; labels
    are hidden at random (``config.label_dropout``) so the same model also works without them (chapter 6).
    With ``train_noise [N, 64, frames]`` each latent is always noised with its own noise, a fixed pair
    ``(x_0, z)`` (reflow, chapter 6a, :mod:`tutorial_lib.reflow`); without it every step draws fresh noise.

    If ``checkpoint_path`` exists, training resumes from it (weights, EMA, optimizer, history, step), unless
    ``restart`` (then it is overwritten); a checkpoint of another run raises
    :class:`~tutorial_lib.checkpoints.CheckpointMismatch`
    (``steps`` may grow; model, flow, data and the other settings must match).
    The validation loss is measured every ``eval_every`` steps and at the end.
    Raises :class:`TrainingDiverged` if the loss becomes NaN; the last checkpoint is left intact.

    Under torchrun (several processes) each rank trains on its share of every global batch through
    DistributedDataParallel; rank 0 alone validates, shows progress and writes the checkpoint (of the
    unwrapped model, so N processes' checkpoint resumes on M). ``config.precision="bf16"`` runs the forward
    pass under bfloat16 autocast.
    """
    from .runtime.progress import progress_bar as tqdm

    config = config or TrainConfig()
    place = world()
    device = pick_device(config.device)
    if place.size > 1 and device.type == "cuda":
        device = torch.device("cuda", place.local_rank)
    precision = resolve_precision(config.precision, device)
    model.to(device).train()
    ema_model = copy.deepcopy(model).eval()
    for p in ema_model.parameters():
        p.requires_grad_(False)
    # fused: one kernel updates every parameter (1.8 ms instead of 9.3 ms on one CPU thread for the cpu U-Net)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda"))
    history = LossHistory()
    start = 0
    if train_noise is not None and train_noise.shape != train_latents.shape:
        raise ValueError(f"train_noise has shape {tuple(train_noise.shape)}, the latents {tuple(train_latents.shape)}: "
                         "give one noise per training latent (tutorial_lib.reflow.make_pairs makes both).")
    # With paired noise the pairs are the data: the fingerprint covers both, so other pairs are another run.
    fingerprinted = train_latents if train_noise is None else torch.cat([train_latents, train_noise])
    run = describe_run(model, flow, config, fingerprinted) if checkpoint_path is not None else None
    if checkpoint_path is not None and Path(checkpoint_path).is_file() and not restart:
        # The one loader: refuses a checkpoint of another run (model, flow, settings or data), naming what differs.
        saved, saved_ema, state = load_checkpoint(checkpoint_path, device, expect=run)
        model.load_state_dict(saved.state_dict())
        ema_model.load_state_dict(saved_ema.state_dict())
        optimizer.load_state_dict(state["optimizer"])
        history, start = LossHistory.from_saved(state["history"]), state["step"]
        if start > config.steps:
            raise CheckpointMismatch(
                f"{checkpoint_path} was trained for {start} steps, more than the {config.steps} asked: reloading it "
                f"would report a {config.steps}-step model. Ask for {start} steps (or more, to train on) to reload "
                "it, choose another --out, or pass --restart to train from scratch (it overwrites the checkpoint).")

    net = None
    if place.size > 1:  # copies rank 0's weights to the others, then averages gradients in backward
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    clock = time.perf_counter()
    seconds_before = history.train_seconds

    session = {"from_step": start, "to_step": start, "processes": place.size, "device": device.type,
               "precision": precision, "seconds": 0.0}

    saved_at = [start] if start else []  # the steps whose state the checkpoint file holds (for the NaN message)

    def save(step):
        history.train_seconds = seconds_before + time.perf_counter() - clock
        if step > start:  # this call trained: its record joins the run's own (kept across resumes and reloads)
            session.update(to_step=step, seconds=round(time.perf_counter() - clock, 2))
            if not any(s is session for s in history.sessions):
                history.sessions.append(session)
        if checkpoint_path is not None and place.is_main:
            save_checkpoint(checkpoint_path, model, ema_model, optimizer, step, asdict(history), config, flow,
                            data=run["data"],
                            extra=checkpoint_extra)
            saved_at.append(step)

    if net is None:
        take_step = functools.partial(training_step, precision=precision)
    else:  # each rank computes its share of every batch; DDP averages the gradients
        take_step = functools.partial(shared_training_step, place=place, precision=precision)
    bar = tqdm(desc=f"Training {type(model).__name__}", disable=not progress or not place.is_main, initial=start,
               total=config.steps)
    # One process: Ctrl-C waits for the step to end, so the checkpoint is exactly that of a step. Several
    # processes stop where the signal finds them (each rank would see it at another step).
    interrupt = DeferredInterrupt()
    try:
        with interrupt if place.size == 1 else contextlib.nullcontext():
            for done, loss in fit(net or model, flow, train_latents, optimizer, ema_model, config,
                                  conditions=train_conditions, noise=train_noise, start=start, take_step=take_step):
                bar.update(1)
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"The loss became {loss} at step {done - 1}. Lower the learning rate (now {config.lr}) "
                        "and check that the latents are standardised; "
                        + (f"the checkpoint {checkpoint_path} still holds the last good state (step {saved_at[-1]})."
                           if checkpoint_path and saved_at else
                           f"no good state was saved before it (checkpoints every {config.checkpoint_every} steps)."
                           if checkpoint_path else "pass checkpoint_path to keep the last good state.")
                    )
                history.train_steps.append(done)
                history.train_loss.append(loss)
                if valid_latents is not None and (done % config.eval_every == 0 or done == config.steps):
                    history.valid_steps.append(done)
                    value = (validation_loss(model, flow, valid_latents, conditions=valid_conditions)
                             if place.is_main else 0.0)
                    history.valid_loss.append(from_main(value, device))  # the other ranks wait for rank 0's
                    bar.set_postfix(loss=f"{loss:.3f}", valid=f"{history.valid_loss[-1]:.3f}")
                elif done % 10 == 0:
                    bar.set_postfix(loss=f"{loss:.3f}")
                if done % config.checkpoint_every == 0 or done == config.steps or interrupt.requested:
                    save(done)
                if interrupt.requested:  # saved just above, after a whole step
                    raise KeyboardInterrupt
        if interrupt.requested:  # arrived after the last step's check: the finished run is saved
            raise KeyboardInterrupt
    except KeyboardInterrupt:  # Ctrl-C: keep what was learnt (resuming redoes at most the step cut short)
        if checkpoint_path is not None and not interrupt.requested:
            done = min(len(history.train_steps), len(history.train_loss))
            del history.train_steps[done:], history.train_loss[done:]
            del history.valid_steps[len(history.valid_loss):]
            save(history.train_steps[-1] if done else start)
        raise
    bar.close()
    barrier()  # every rank returns once rank 0 has written the last checkpoint
    return TrainResult(model=model, ema_model=ema_model, history=history,
                       checkpoint_path=Path(checkpoint_path) if checkpoint_path else None, flow=flow,
                       resumed_from=start)
