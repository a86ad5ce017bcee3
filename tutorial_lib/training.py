"""The training step and loop (chapter 4, "Training"), and :func:`train`, which adds resuming, validation and
several processes around them (checkpoint files themselves: :mod:`tutorial_lib.checkpoints`).

Every random choice of step ``s`` (which examples form the batch, their noise and times) comes from
generators seeded with ``(seed, s)``, so a run resumed from a checkpoint continues exactly as if it had
never stopped.
"""

from __future__ import annotations

import contextlib
import copy
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .checkpoints import CheckpointMismatch, describe_run, load_checkpoint, save_checkpoint
from .conditioning import Conditions, drop_labels
from .runtime.devices import evaluating, model_device, pick_device
from .runtime.distributed import World, all_sum, barrier, from_main, my_share, world
from .flow import RectifiedFlow


@dataclass
class TrainConfig:
    """Hyperparameters (the original tutorial: Adam, lr 1e-4, batch 500)."""

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
    checks that flag after each whole step, saves and leaves; on leaving, the held signal is delivered to the
    handler it was meant for (Python's raises KeyboardInterrupt there). ``active=False``, or elsewhere than the
    main thread (where Python delivers no signals), it does nothing."""

    requested: bool = False

    def __init__(self, active: bool = True):
        self.active = active and threading.current_thread() is threading.main_thread()

    def __enter__(self) -> "DeferredInterrupt":
        if self.active:
            self._previous = signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum, frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self.active:
            signal.signal(signal.SIGINT, self._previous)
            if self.requested and callable(self._previous):
                signal.raise_signal(signal.SIGINT)
            elif self.requested:  # no Python handler to deliver it to: the interrupt as Python's would raise it
                raise KeyboardInterrupt


PRECISIONS = ("fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``precision`` if ``device`` can run it, else ``"fp32"`` with a message saying why."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
    # A T4 (free Colab) only emulates bfloat16, slower than fp32: ask for the GPU's own support.
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
        print(f"This GPU ({torch.cuda.get_device_name(device)}) has no bfloat16: training in fp32 instead "
              "(ask for precision fp32 to say so and silence this).")
        return "fp32"
    if precision == "bf16" and device.type not in ("cuda", "cpu"):
        print(f"bfloat16 autocast is not supported on {device.type} here: training in fp32 instead "
              "(ask for precision fp32 to say so and silence this).")
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
                  conditions: Conditions | None = None, noise: torch.Tensor | None = None, precision: str = "fp32",
                  place: World = World()) -> float:
    """One step on ``batch [B, 64, frames]``: the flow loss, its gradient, an optimizer update, then the EMA.

    ``noise [B, 64, frames]``: the noise each example is paired with (reflow, chapter 6a); fresh noise if ``None``.
    Returns the batch's loss (before the update). A NaN or infinite loss changes nothing; :func:`train` then stops.
    ``place``: one of several processes (appendix "Past one machine", ``model`` wrapped in DDP) computes its share
    of the batch and DDP averages the gradients; one process is the whole share of a world of size 1.
    """
    times = flow.sample_times(len(batch), generator)  # every process draws the whole batch's, as one would
    noise = flow.draw_noise(batch, generator) if noise is None else noise
    mine = my_share(torch.arange(len(batch)), place.rank, place.size)  # one process: all of them
    labels = {} if conditions is None else {"conditions": conditions[mine]}
    with autocast(model_device(model), precision):
        loss = flow.loss(model, batch[mine], t=times[mine], noise=noise[mine], **labels)
    share = len(mine) / len(batch)
    total = all_sum(loss.detach().float() * share)  # the whole batch's loss, summed over the processes
    if torch.isfinite(total):
        optimizer.zero_grad(set_to_none=True)
        (loss * (share * place.size)).backward()  # DDP averages the processes' gradients: this keeps the mean
        optimizer.step()
        update_ema(ema_model, model, ema_decay)
    return total.item()


@torch.no_grad()
def validation_loss(model: nn.Module, flow: RectifiedFlow, latents: torch.Tensor, batch_size: int = 256,
                    seed: int = 12345, conditions: Conditions | None = None) -> float:
    """Mean flow loss over ``latents [N, 64, frames]`` (and their labels, for a conditioned model) with fixed
    noise and times (comparable across calls)."""
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    with evaluating(model):
        for start in range(0, len(latents), batch_size):
            labels = {} if conditions is None else {"conditions": conditions[start: start + batch_size]}
            total += flow.loss(model, latents[start: start + batch_size], generator=generator, reduction="none",
                               **labels).sum().item()
    return total / len(latents)


@torch.no_grad()
def loss_by_time(model: nn.Module, flow: RectifiedFlow, latents: torch.Tensor, times: torch.Tensor,
                 seed: int = 0) -> torch.Tensor:
    """``[len(times)]`` mean loss over ``latents`` with every example noised to each fixed time."""
    noise = flow.draw_noise(latents, torch.Generator().manual_seed(seed))
    with evaluating(model):
        return torch.tensor([flow.loss(model, latents, t=torch.full((len(latents),), float(t)), noise=noise).item()
                             for t in times])


def fit(model: nn.Module, flow: RectifiedFlow, latents: torch.Tensor, optimizer: torch.optim.Optimizer,
        ema_model: nn.Module, config: TrainConfig, *, conditions: Conditions | None = None,
        noise: torch.Tensor | None = None, start: int = 0, place: World = World()):
    """The training loop (chapter 4): steps ``start`` to ``config.steps``, yielding ``(steps done, loss)`` after each.

    ``latents [N, 64, frames]`` (any device: the loss moves each batch to the model's), ``conditions`` their ``[N]``
    labels, ``noise [N, 64, frames]`` a fixed noise per latent (reflow, chapter 6a). :func:`train` runs this loop and
    adds what a long run needs: checkpoints, resuming, validation, progress, several processes (``place``).
    """
    for i in range(start, config.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, i)  # warm-up, then the schedule
        batch = batch_indices(len(latents), config.batch_size, i, config.seed)
        labels = None
        if conditions is not None:  # hide them at random, so that the model also plays without (chapter 6)
            labels = drop_labels(conditions[batch], p_all=config.label_dropout, p_each=config.label_dropout_each,
                                 generator=_step_generator(config.seed + 1, i))
        ema_decay = min(config.ema_decay, (1 + i) / (10 + i))  # early on, the average follows the weights closely
        loss = training_step(model, flow, latents[batch], optimizer, ema_model=ema_model, ema_decay=ema_decay,
                             generator=_step_generator(config.seed, i), conditions=labels,
                             noise=None if noise is None else noise[batch], precision=config.precision, place=place)
        yield i + 1, loss


class RunRecord:
    """What :func:`train` keeps of a run besides the weights: the history (this call's session in it, its
    seconds) and the checkpoint file, written by rank 0 alone. As a context manager it saves what was learnt
    when a Ctrl-C cuts a step of several processes short (one process defers it: :class:`DeferredInterrupt`)."""

    def __init__(self, path, history: LossHistory, start: int, *, place: World, session: dict, save_args: tuple,
                 config: TrainConfig, data: dict | None, extra: dict | None):
        self.path, self.history, self.start, self.place, self.config = path, history, start, place, config
        self.save_args, self.data, self.extra = save_args, data, extra
        self.session = {"from_step": start, "to_step": start, "processes": place.size, **session, "seconds": 0.0}
        self.clock, self.seconds_before = time.perf_counter(), history.train_seconds
        self.saved_at = [start] if start else []  # the steps whose state the checkpoint file holds

    def save(self, step: int) -> None:
        seconds = time.perf_counter() - self.clock
        self.history.train_seconds = self.seconds_before + seconds
        if step > self.start:  # this call trained: its session joins the run's own (kept across resumes)
            if self.session["to_step"] == self.start:
                self.history.sessions.append(self.session)
            self.session.update(to_step=step, seconds=round(seconds, 2))
        if self.path is not None and self.place.is_main:
            model, ema_model, optimizer, flow = self.save_args
            save_checkpoint(self.path, model, ema_model, optimizer, step, asdict(self.history), self.config, flow,
                            data=self.data, extra=self.extra)
            self.saved_at.append(step)

    def diverged(self, loss: float, step: int) -> TrainingDiverged:
        kept = (f"the checkpoint {self.path} still holds the last good state (step {self.saved_at[-1]})."
                if self.path and self.saved_at else
                f"no good state was saved before it (checkpoints every {self.config.checkpoint_every} steps)."
                if self.path else "pass checkpoint_path to keep the last good state.")
        return TrainingDiverged(f"The loss became {loss} at step {step - 1}. Lower the learning rate (now "
                                f"{self.config.lr}) and check that the latents are standardised; {kept}")

    def __enter__(self) -> "RunRecord":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is KeyboardInterrupt and self.path is not None:  # keep the steps whole in the history, then save
            history = self.history
            done = min(len(history.train_steps), len(history.train_loss))
            del history.train_steps[done:], history.train_loss[done:]
            del history.valid_steps[len(history.valid_loss):]
            self.save(history.train_steps[-1] if done else self.start)


def _rank_device(device: torch.device, place: World) -> torch.device:
    """Under torchrun, each rank's own GPU of its machine (``LOCAL_RANK``)."""
    return torch.device("cuda", place.local_rank) if device.type == "cuda" else device


def _describe(model: nn.Module, flow: RectifiedFlow, config: TrainConfig, latents: torch.Tensor,
              noise: torch.Tensor | None, *, checkpointed: bool) -> dict | None:
    """The run a checkpoint records (:func:`~tutorial_lib.checkpoints.describe_run`; None without a checkpoint).
    With paired noise the pairs are the data: the fingerprint covers both, so other pairs are another run."""
    if noise is not None and noise.shape != latents.shape:
        raise ValueError(f"train_noise has shape {tuple(noise.shape)}, the latents {tuple(latents.shape)}: "
                         "give one noise per training latent (tutorial_lib.reflow.make_pairs makes both).")
    return describe_run(model, flow, config, latents if noise is None else torch.cat([latents, noise])) \
        if checkpointed else None


def resume(checkpoint_path, run: dict, model: nn.Module, ema_model: nn.Module, optimizer: torch.optim.Optimizer,
           device: torch.device, steps: int) -> tuple[LossHistory, int]:
    """Loads the checkpoint of ``run`` (weights, EMA, optimizer) and returns its history and step; a checkpoint
    of another run (model, flow, settings or data) raises CheckpointMismatch, naming what differs."""
    saved, saved_ema, state = load_checkpoint(checkpoint_path, device, expect=run)
    model.load_state_dict(saved.state_dict())
    ema_model.load_state_dict(saved_ema.state_dict())
    optimizer.load_state_dict(state["optimizer"])
    if state["step"] > steps:
        raise CheckpointMismatch(
            f"{checkpoint_path} was trained for {state['step']} steps, more than the {steps} asked: reloading it "
            f"would report a {steps}-step model. Ask for {state['step']} steps (or more, to train on) to reload it, "
            "choose another `checkpoint_path`, or pass `restart=True` to train from scratch (it overwrites the checkpoint).")
    return LossHistory.from_saved(state["history"]), state["step"]


def train(model: nn.Module, flow: RectifiedFlow, train_latents: torch.Tensor,
          valid_latents: torch.Tensor | None = None, config: TrainConfig | None = None,
          checkpoint_path: str | Path | None = None, progress: bool = True, *,
          train_conditions: Conditions | None = None, valid_conditions: Conditions | None = None,
          restart: bool = False, checkpoint_extra: dict | None = None,
          train_noise: torch.Tensor | None = None) -> TrainResult:
    """Trains ``model`` on ``train_latents [N, 64, frames]``: :func:`fit`, and what a long run needs around it.

    ``train_conditions``: the notes' labels, hidden at random (``config.label_dropout``) so that the model also
    plays without them (chapter 6). ``train_noise [N, 64, frames]``: a fixed noise per latent (reflow, chapter 6a).
    A ``checkpoint_path`` that exists is resumed (weights, EMA, optimizer, history, step; bit for bit as if never
    stopped) unless ``restart``; another run's raises :class:`~tutorial_lib.checkpoints.CheckpointMismatch`
    (``steps`` may grow). The validation loss is measured every ``eval_every`` steps and at the end. A NaN loss
    raises :class:`TrainingDiverged`, the last checkpoint intact; Ctrl-C finishes the step, saves, then interrupts.
    Under torchrun each rank trains on its share of every batch (DDP); rank 0 alone validates, shows progress and
    writes the checkpoint, which resumes on any number of processes.
    """
    from .runtime.progress import progress_bar

    config, place = config or TrainConfig(), world()
    device = pick_device(config.device) if place.size == 1 else _rank_device(pick_device(config.device), place)
    precision = resolve_precision(config.precision, device)
    ema_model = copy.deepcopy(model.to(device).train()).eval().requires_grad_(False)
    # fused: one kernel updates every parameter (1.8 ms instead of 9.3 ms on one CPU thread for the cpu U-Net)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda"))
    run = _describe(model, flow, config, train_latents, train_noise, checkpointed=checkpoint_path is not None)
    history, start = LossHistory(), 0
    if checkpoint_path is not None and Path(checkpoint_path).is_file() and not restart:
        history, start = resume(checkpoint_path, run, model, ema_model, optimizer, device, config.steps)
    # several processes: DDP copies rank 0's weights to the others, then averages gradients in backward
    net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if place.size > 1 else model
    record = RunRecord(checkpoint_path, history, start, place=place, config=config, data=run and run["data"],
                       extra=checkpoint_extra, save_args=(model, ema_model, optimizer, flow),
                       session={"device": device.type, "precision": precision})
    bar = progress_bar(desc=f"Training {type(model).__name__}", disable=not progress or not place.is_main,
                       initial=start, total=config.steps)
    # One process: Ctrl-C waits for the step to end, so the checkpoint is exactly that of a step. Several
    # processes stop where the signal finds them (each rank would see it at another step): the record saves.
    with DeferredInterrupt(active=place.size == 1) as stop, record:
        for done, loss in fit(net, flow, train_latents, optimizer, ema_model, replace(config, precision=precision),
                              conditions=train_conditions, noise=train_noise, start=start, place=place):
            bar.update(1)
            if not math.isfinite(loss):
                raise record.diverged(loss, done)
            history.train_steps.append(done)
            history.train_loss.append(loss)
            if valid_latents is not None and (done % config.eval_every == 0 or done == config.steps):
                value = validation_loss(model, flow, valid_latents, conditions=valid_conditions) if place.is_main else 0.0
                history.valid_steps.append(done)
                history.valid_loss.append(from_main(value, device))  # the other ranks wait for rank 0's
                bar.set_postfix(loss=f"{loss:.3f}", valid=f"{history.valid_loss[-1]:.3f}")
            elif done % 10 == 0:
                bar.set_postfix(loss=f"{loss:.3f}")
            if done % config.checkpoint_every == 0 or done == config.steps or stop.requested:
                record.save(done)
            if stop.requested:  # saved just above, after a whole step; leaving delivers the Ctrl-C
                break
    bar.close()
    barrier()  # every rank returns once rank 0 has written the last checkpoint
    return TrainResult(model=model, ema_model=ema_model, history=history, flow=flow, resumed_from=start,
                       checkpoint_path=Path(checkpoint_path) if checkpoint_path else None)
