"""Reflow: straighten a trained flow so that one or two model calls make a note (chapter 6a, "Straight and fast").

A first flow, trained on independent pairs (data, noise), follows curved paths: at ``x_t`` many pairs cross and
the model learns their average direction. Reflow (Liu, Gong & Liu, 2022) pairs each noise ``z`` with the end
``x_0`` of the first flow's own ODE from it, and trains a second flow on those pairs. Its pairs do not cross, so
its paths are nearly straight, and a large Euler step lands close to where many small ones do.

Conventions are the book's (:mod:`tutorial_lib.flow`): ``x_t = (1 - t) x_0 + t z``, ``t = 1`` noise, ``t = 0``
data, the model predicts ``v = x_0 - z``, the sampler walks ``x <- x + h f(x, t)`` from ``t = 1`` down to 0.

* :func:`make_pairs`: the reflow training set, ``(z, x_0 = ODE(z))`` with each pair's labels.
* :class:`UShapedFlow`: the training times Lee, Lin & Fanti (2024) found best for reflow, dense near both ends.
* :func:`train_reflow`: :func:`tutorial_lib.training.train` on those fixed pairs, starting from the first model.
* :func:`straightness`: ``S = E_t ||(x_0 - z) - v(x_t, t)||^2`` along a model's own path (0 when straight).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from .conditioning import Conditions
from .data.labels import UNKNOWN
from .flow import RectifiedFlow
from .sampling import Velocity, guided, sample, time_grid
from .runtime.devices import evaluating, on_model_device
from .runtime.files import save_atomically, write_text_atomically
from .training import TrainConfig, TrainResult, train


@dataclass
class UShapedFlow(RectifiedFlow):
    """The rectified flow with U-shaped training times: ``t`` has density ``a e^{a t} / (e^a - 1)``, mirrored to
    ``1 - t`` half of the time (Lee, Lin & Fanti 2024). A reflowed model is asked mostly near ``t = 1`` (its first,
    largest step) and near ``t = 0``, where the logit-normal times of the first flow rarely go."""

    u_shape: float = 4.0  # ``a``: 0 would be uniform; larger puts more times at the ends

    def sample_times(self, batch: int, generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> torch.Tensor:
        """``[batch]`` times in (0, 1), by inverting the exponential's distribution function."""
        u, mirror = torch.rand(batch, generator=generator), torch.rand(batch, generator=generator) < 0.5
        a = self.u_shape
        t = torch.log1p(u * math.expm1(a)) / a if a > 0 else u
        t = torch.where(mirror, 1.0 - t, t).clamp(1e-4, 1 - 1e-4)
        return t.to(device)


#: Reflow's training recipe (chapter 6a; `python -m tutorial_lib reflow` changes steps, batch, lr and seed):
#: 4,000 steps of 64 pairs, 200 of warm-up, then a cosine. Reflow has no validation pairs, so it never validates
#: (``eval_every`` lies past any run; changing it would make every earlier reflow checkpoint another run's).
RECIPE = TrainConfig(steps=4000, batch_size=64, lr=1e-3, warmup_steps=200, lr_schedule="cosine", ema_decay=0.999,
                     eval_every=10**9, checkpoint_every=500)


@dataclass
class ReflowPairs:
    """The reflow training set: ``noise [N, ...]`` (``z``, the flow's units) and ``latents [N, ...]`` (``x_0``, the
    end of the first model's ODE from that very noise, in data units as the sampler returns them), with the labels
    ``conditions [N]`` each pair was made with (``-1`` where hidden) and how they were made (``made_with``)."""

    noise: torch.Tensor
    latents: torch.Tensor
    conditions: Conditions | None = None
    made_with: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.noise)


def pair_labels(conditions: Conditions, num: int, *, unconditional_share: float = 0.2, seed: int = 0) -> Conditions:
    """``num`` labels for reflow pairs: ``conditions`` (e.g. the training notes') repeated in a shuffled order, with
    every label hidden on ``unconditional_share`` of them, so the reflowed model also samples without labels."""
    g = torch.Generator().manual_seed(seed)
    order = torch.cat([torch.randperm(len(conditions), generator=g) for _ in range(-(-num // len(conditions)))])[:num]
    chosen = conditions[order]
    hide = torch.rand(num, generator=g) < unconditional_share
    return Conditions(*(torch.where(hide, UNKNOWN, getattr(chosen, n)) for n in ("pitch", "source", "velocity")))


@torch.no_grad()
def make_pairs(model: nn.Module, flow: RectifiedFlow, noise: torch.Tensor, *, conditions: Conditions | None = None,
               num_steps: int = 50, solver: str = "euler", guidance: float = 1.0, batch_size: int = 256,
               progress: bool = False) -> ReflowPairs:
    """Runs the first model's ODE from each noise and keeps ``(noise, end, labels)`` together.

    Args:
        model: the first flow (its EMA copy), ``f(x, t[, conditions])``.
        flow: the flow it was trained with (its ``sigma_data`` is undone on ``latents``, as :func:`sample` does).
        noise: ``[N, ...]`` standard normal starting points (e.g. :func:`tutorial_lib.sampling.seeded_noise`).
        conditions: ``[N]`` labels (``-1`` = hidden), or ``None`` for an unconditional model.
        num_steps, solver, guidance: the sampler that makes the targets (the first model's best use).
    """
    from .runtime.progress import progress_bar

    clock, ends = time.perf_counter(), []
    starts = range(0, len(noise), batch_size)
    with evaluating(model):
        for start in progress_bar(starts, desc="Reflow pairs", unit="batch", disable=not progress):
            labels = None if conditions is None else conditions[start:start + batch_size]
            ends.append(sample(model, noise[start:start + batch_size], num_steps=num_steps, solver=solver, flow=flow,
                               conditions=labels, guidance=guidance).samples)
    made_with = {"solver": solver, "num_steps": num_steps, "guidance": guidance, "pairs": len(noise),
                 "seconds": round(time.perf_counter() - clock, 2)}
    return ReflowPairs(noise=noise.clone(), latents=torch.cat(ends), conditions=conditions, made_with=made_with)


def train_reflow(first: nn.Module, pairs: ReflowPairs, *, config: TrainConfig, flow: RectifiedFlow | None = None,
                 checkpoint_path=None, progress: bool = True, restart: bool = False,
                 checkpoint_extra: dict | None = None) -> TrainResult:
    """The second flow: :func:`tutorial_lib.training.train` on the fixed ``pairs``, initialised from ``first``.

    The labels travel with their pairs, so none are hidden at random (``label_dropout`` 0): a pair made without
    labels already teaches the unconditional model. ``flow`` defaults to :class:`UShapedFlow` with ``first``'s
    ``sigma_data``. The checkpoint's ``extra["reflow"]`` records ``pairs.made_with`` (the first model's id among it).
    """
    model = copy.deepcopy(first).train()
    for p in model.parameters():
        p.requires_grad_(True)
    flow = flow or UShapedFlow()
    config = replace(config, label_dropout=0.0, label_dropout_each=0.0)
    extra = {**(checkpoint_extra or {}), "reflow": dict(pairs.made_with)}
    return train(model, flow, pairs.latents, None, config, checkpoint_path, progress,
                 train_conditions=pairs.conditions, train_noise=pairs.noise, restart=restart, checkpoint_extra=extra)


@dataclass
class Straightness:
    """``per_example [B]``: ``S`` of each path; ``mean``; ``by_time [K]``: ``||(x_0 - z) - v(x_t, t)||^2`` at each
    grid time ``times [K]`` (averaged over the batch), the curve whose weighted mean is ``S``."""

    per_example: torch.Tensor
    by_time: torch.Tensor
    times: torch.Tensor

    @property
    def mean(self) -> float:
        return self.per_example.mean().item()


@torch.no_grad()
def straightness(velocity: Velocity, noise: torch.Tensor, *, num_steps: int = 50) -> Straightness:
    """``S = E_t ||(x_0 - z) - v(x_t, t)||^2`` along the model's own Euler path from ``z = noise`` (t = 1) to its end
    ``x_0`` (t = 0), the time average weighted by the step sizes (Liu et al. 2022's measure).

    The squared norm is averaged over the elements of each example (per number, so notes and 2-D points compare
    across sizes). A straight path has a constant velocity, equal to ``x_0 - z``: ``S = 0``.

    Args:
        velocity: ``f(x [B, ...], t [B])``, e.g. a toy model or :func:`tutorial_lib.sampling.guided` of a U-Net.
        noise: ``[B, ...]`` starting points, on ``velocity``'s device, in the flow's units.
        num_steps: Euler steps of the path (uniform in time).
    """
    times = time_grid(num_steps)
    x, velocities = noise, []
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
        v = velocity(x, torch.full((len(x),), t, device=x.device, dtype=x.dtype))
        velocities.append(v)
        x = x + (t - t_next) * v
    chord = x - noise  # x_0 - z
    by_example = torch.stack([((chord - v) ** 2).flatten(1).mean(1) for v in velocities])  # [K, B]
    weights = (times[:-1] - times[1:]).to(by_example)[:, None]
    return Straightness(per_example=(weights * by_example).sum(0).cpu(), by_time=by_example.mean(1).cpu(),
                        times=times[:-1])


@on_model_device
def model_straightness(model: nn.Module, noise: torch.Tensor, *, conditions: Conditions | None = None,
                       guidance: float = 1.0, num_steps: int = 50) -> Straightness:
    """:func:`straightness` of a U-Net (with its labels and guidance) from ``noise [B, 64, frames]``."""
    with evaluating(model):
        return straightness(guided(model, conditions, guidance), noise, num_steps=num_steps)


def held_label_grid(labels_held: dict) -> Conditions:
    """Every combination of the pitches, sources and velocities a checkpoint records (``extra["labels_held"]``,
    see :func:`tutorial_lib.generation.labels_held`): labels for pairs when the training notes are not at hand."""
    from .data.labels import SOURCE_IDS

    combos = [(p, SOURCE_IDS[s], v) for p in labels_held["pitch"] for s in labels_held["source"]
              for v in labels_held["velocity"]]
    return Conditions(*(torch.tensor(column, dtype=torch.long) for column in zip(*combos)))


def reflow_run(checkpoint, out, *, num_pairs: int = 8192, pair_steps: int = 50, guidance: float = 1.0,
               unconditional_share: float = 0.2, seed: int = 0, config: TrainConfig | None = None,
               restart: bool = False, progress: bool = True) -> dict:
    """``python -m tutorial_lib reflow``: pairs from ``checkpoint``'s own ODE, then a reflowed model in ``out``.

    Writes ``out/pairs.pt`` (reused when run again with the same settings), ``out/checkpoint.pt`` (resumable like
    ``run``'s; its ``extra["reflow"]`` names the first model by file and content hash) and ``out/report.json``.
    Conditioned models get pairs for every held combination of labels (:func:`held_label_grid`) in turn.
    """
    import json

    from .checkpoints import load_checkpoint
    from .generation import NoteGenerator, check_writable, checkpoint_id
    from .sampling import seeded_noise

    config = config or RECIPE
    out = check_writable(out)
    report_path, pairs_path = out / "report.json", out / "pairs.pt"
    check_reflow_folder(checkpoint, out)
    first = NoteGenerator.from_checkpoint(checkpoint)  # refuses a damaged file or one it cannot decode, saying why
    _, _, state = load_checkpoint(checkpoint)
    extra = state.get("extra") or {}
    frames, channels = first.space.num_frames, state["model_config"].get("in_channels", 64)
    provenance = {"from_checkpoint": checkpoint_id(checkpoint), "from_path": str(checkpoint),
                  "from_trained_on": str(first.trained_on)}
    settings = {**provenance, "num_steps": pair_steps, "solver": "euler", "guidance": guidance, "pairs": num_pairs,
                "seed": seed, "unconditional_share": unconditional_share if first.conditioned else None}
    if not restart:
        check_reflowed_checkpoint(out / "checkpoint.pt", provenance["from_checkpoint"])
    pairs = None
    if pairs_path.is_file() and not restart:
        saved = torch.load(pairs_path, weights_only=True)
        if {k: saved["made_with"].get(k) for k in settings} != settings:
            raise ValueError(f"{pairs_path} holds pairs made with other settings ({saved['made_with']}); choose another "
                             "`out`, or pass `restart=True` to make them again (it overwrites them and the checkpoint).")
        conditions = Conditions(*saved["conditions"]) if saved["conditions"] is not None else None
        pairs = ReflowPairs(saved["noise"], saved["latents"], conditions, saved["made_with"])
    if pairs is None:
        noise = seeded_noise(num_pairs, frames, seed=seed, channels=channels)
        labels = None
        if first.conditioned:
            labels = pair_labels(held_label_grid(first.labels_held), num_pairs,
                                 unconditional_share=unconditional_share, seed=seed)
        pairs = make_pairs(first.model, first.flow, noise, conditions=labels, num_steps=pair_steps,
                           guidance=guidance, progress=progress)
        pairs.made_with = {**settings, "seconds": pairs.made_with["seconds"]}
        save_atomically({"noise": pairs.noise, "latents": pairs.latents, "made_with": pairs.made_with,
                         "conditions": None if labels is None else [labels.pitch, labels.source, labels.velocity]},
                        pairs_path)
    result = train_reflow(first.model, pairs, config=config, flow=UShapedFlow(sigma_data=first.flow.sigma_data),
                          checkpoint_path=out / "checkpoint.pt", progress=progress, restart=restart,
                          checkpoint_extra={k: v for k, v in extra.items() if k in ("latent_space", "labels_held")})
    probe = seeded_noise(64, frames, seed=seed + 1, channels=channels)  # not among the pairs' noise
    probe_labels = None
    if first.conditioned:
        probe_labels = pair_labels(held_label_grid(first.labels_held), 64, unconditional_share=0.0, seed=seed + 1)
    report = {"reflowed_from": provenance, "pairs": pairs.made_with,
              "training": {"steps": config.steps, "batch_size": config.batch_size, "lr": config.lr,
                           "times": "U-shaped (tutorial_lib.reflow.UShapedFlow)", "initialised_from": "the first model",
                           "seconds": round(result.history.train_seconds, 1),
                           "final_train_loss": result.history.train_loss[-1] if result.history.train_loss else None},
              "straightness": {name: model_straightness(model, probe, conditions=probe_labels, guidance=guidance).mean
                               for name, model in (("first", first.model), ("reflowed", result.ema_model))},
              "checkpoint": str(out / "checkpoint.pt")}
    write_text_atomically(report_path, json.dumps(report, indent=2))
    return report


def check_reflow_folder(checkpoint, out) -> None:
    """Refuses an ``out`` that holds the first model (reflow writes ``checkpoint.pt`` there: even ``restart=True``
    must never replace the model it reads), or a ``report.json`` that ``reflow`` did not write."""
    import json
    from pathlib import Path

    checkpoint, out = Path(checkpoint), Path(out)
    if checkpoint.resolve().parent == out.resolve():
        raise ValueError(f"`out` {out} holds the first model {checkpoint.name} itself: reflow writes its own "
                         f"checkpoint.pt, pairs.pt and report.json there, and could replace the model it reads (with "
                         "`restart=True` too). Choose another `out`, e.g. a folder beside it (nothing was changed).")
    report_path = out / "report.json"
    if not report_path.is_file():
        return
    try:
        report = json.loads(report_path.read_text() or "{}")
    except ValueError:
        report = None
    if not isinstance(report, dict) or "reflowed_from" not in report:
        raise ValueError(f"{report_path} was not written by `reflow`; choose another `out` (nothing was changed).")


def check_reflowed_checkpoint(path, first_id: str) -> None:
    """Refuses, before any pairs are made, an ``out/checkpoint.pt`` that is not a reflow of the model ``first_id``
    (:func:`tutorial_lib.generation.checkpoint_id`): resuming could not use it and ``restart=True`` alone replaces it."""
    from pathlib import Path

    from .checkpoints import CheckpointMismatch, _read

    if not Path(path).is_file():
        return
    made_from = ((_read(Path(path), "cpu").get("extra") or {}).get("reflow") or {}).get("from_checkpoint")
    if made_from != first_id:
        what = f"a reflow of {made_from}" if made_from else "not a reflowed model"
        raise CheckpointMismatch(f"{path} is {what}, not of the first model asked for ({first_id}). Choose another "
                                 "`out`, or pass `restart=True` to replace it (nothing was changed).")
