"""Sizes for each way of running the book (every chapter's parameters cell reads one of these).

* ``ci``: the smallest run that still tells the story; the command line finishes it in a few minutes
  on 2 CPU cores.
* ``cpu``: the offline default of the notebooks, a minute or two per chapter on a laptop. Where a chapter
  trains the original tutorial's U-Net beside ours, it uses the original tutorial's design at 1/16 of its parameters.
* ``colab``: the real NSynth guitar notes and Music2Latent on a free Colab GPU (a T4): a random 5,000 of the
  32,690 training notes and 1,000 of the 2,081 validation notes, and the training recipe measured best on the
  offline data (the cpu-10min recipe); ``tutorial_lib.runtime.estimates`` works each chapter's time out (5-20 minutes).
* ``cpu-10min`` and ``long``: the cpu data and model trained for 10 minutes of 2 CPU cores (the best recipe
  measured for that budget: 19,000 steps), and 36,000 steps (the model the book ships).
* ``gpu``: the original tutorial's full scale on the real NSynth guitar subset with Music2Latent (a large GPU; hours on a T4).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .training import TrainConfig


@dataclass(frozen=True)
class Profile:
    name: str
    instruments_per_source: dict  # synthetic data: instruments of each source, per split
    pitches: range
    velocities: tuple[int, ...]
    real_data: bool  # download NSynth when no data folder is given
    model: str  # "plain" or "unet"
    model_kwargs: dict
    train: TrainConfig
    num_frames: int = 32
    num_steps: int = 100  # of the sampler (its solver steps), as sampling.sample names them
    num_samples: int = 5
    codec: str = "auto"
    # Sizes of the original tutorial's U-Net when a chapter trains it beside ours ({} = the original tutorial's own 35 M parameters).
    plain_model_kwargs: dict = field(default_factory=dict)
    # Real data only: at most this many notes per split ({"train": 5000}), a fixed random choice (seed 0).
    max_notes: dict = field(default_factory=dict)
    named_pitches: tuple[int, ...] = (45, 57, 69)  # `run` plays each, or the nearest held pitch
    guidance: float = 1.0  # classifier-free guidance scale of those notes and of the conditional evaluation
    eval_samples: int = 0  # notes generated and scored by tutorial_lib.evaluation in `run` (0: no evaluation)
    # The chapters' own measures (chapters 5, 6 and 6a): notes generated per setting, notes decoded and listened
    # to (the real notes' reference too), and chapter 6a's reflow: pairs made and training steps on them.
    eval_notes: int = 64
    eval_audio: int = 48
    reflow_pairs: int = 1024
    reflow_steps: int = 400


# The colab profile trains what 10 minutes of 2 CPU cores buy on the offline data (the cpu-10min recipe below):
# chosen by measuring quality against compute (benchmarks/results/recipe_colab.md), not by a time budget alone.
# On a T4 it is estimated at a few minutes (tutorial_lib.runtime.estimates).
COLAB_OURS, COLAB_PLAIN = {"channels": (64, 128, 128), "conditioned": True}, {"channels": (32, 64, 128, 256, 512)}


CPU = Profile(
    name="cpu", instruments_per_source={"train": 3, "valid": 1}, pitches=range(40, 89, 2),
    velocities=(25, 75, 127), real_data=False, model="unet",
    model_kwargs={"channels": (64, 128, 128), "conditioned": True},
    train=TrainConfig(steps=800, batch_size=32, lr=3e-3, ema_decay=0.99, eval_every=50, checkpoint_every=200,
                      warmup_steps=50, lr_schedule="cosine"),
    num_steps=50, num_samples=5, plain_model_kwargs={"channels": (32, 64, 128, 256, 512)}, eval_samples=100,
)
# The most quality that 10 minutes of training on 2 CPU cores buy for the cpu data and model
# (benchmarks/results/recipe_cpu.md): 19,000 steps, about 35 per second on 2 quiet threads (9 minutes).
CPU_10MIN = replace(CPU, name="cpu-10min", plain_model_kwargs={}, eval_samples=200,
                    train=replace(CPU.train, steps=19_000, ema_decay=0.999, eval_every=500, checkpoint_every=500,
                                  warmup_steps=200))


PROFILES = {
    "ci": Profile(
        name="ci", instruments_per_source={"train": 2, "valid": 1}, pitches=range(40, 89, 3),
        velocities=(25, 75, 127), real_data=False, model="unet",
        model_kwargs={"channels": (64, 128, 128), "conditioned": True},
        train=TrainConfig(steps=600, batch_size=32, lr=1e-3, ema_decay=0.99, eval_every=50, checkpoint_every=200),
        num_steps=32, num_samples=4, eval_samples=32,
    ),
    "cpu": CPU,
    "cpu-10min": CPU_10MIN,
    # The same, trained longer: the checkpoint the book ships (tutorial_lib/pretrained/README.md).
    "long": replace(CPU_10MIN, name="long", train=replace(CPU_10MIN.train, steps=36_000, ema_decay=0.9995,
                                                           eval_every=1000, checkpoint_every=1000)),
    "colab": Profile(
        name="colab", instruments_per_source={}, pitches=range(21, 109), velocities=(25, 50, 75, 100, 127),
        real_data=True, model="unet", model_kwargs=COLAB_OURS, plain_model_kwargs=COLAB_PLAIN,
        max_notes={"train": 5000, "valid": 1000},
        # The cpu-10min recipe (19,000 steps of 32, cosine), bf16 where the card has it (a T4 has not: fp32).
        train=replace(CPU_10MIN.train, precision="bf16", eval_every=1000, checkpoint_every=1000),
        num_steps=100, num_samples=5, codec="m2l",
    ),
    "gpu": Profile(
        name="gpu", instruments_per_source={}, pitches=range(21, 109), velocities=(25, 50, 75, 100, 127),
        real_data=True, model="plain", model_kwargs={},
        # The original tutorial: 1000 epochs of 32,690 notes in batches of 500 = 66 steps per epoch.
        # bf16 autocast: about 3x faster than fp32 for the original tutorial's U-Net on an H100 (benchmarks/results).
        train=TrainConfig(steps=66_000, batch_size=500, lr=1e-4, ema_decay=0.9999, eval_every=660,
                          checkpoint_every=2000, precision="bf16"),
        num_steps=100, num_samples=5, codec="m2l", eval_samples=200,
    ),
}


def get_profile(name: str, **overrides) -> Profile:
    """The named profile, with fields replaced by ``overrides`` (e.g. ``steps=50`` for training)."""
    if name not in PROFILES:
        raise ValueError(f"Unknown profile {name!r}: choose one of {', '.join(PROFILES)}.")
    profile = PROFILES[name]
    train_fields = {k: overrides.pop(k) for k in list(overrides) if k in TrainConfig.__dataclass_fields__}
    if train_fields:
        profile = replace(profile, train=replace(profile.train, **train_fields))
    return replace(profile, **overrides)


def default_data_dir(cache_dir: Path) -> Path:
    """Where downloaded data are unpacked: ``$TUTORIAL_LIB_DATA`` if set, else ``cache_dir``.

    In Colab with the cache on Google Drive, the notes stay on the machine's own disk (35,000 small files
    unpack slowly onto Drive); their unpacked files keep the archive's times, so the latents cached on
    Drive still match them in the next session.
    """
    return Path(os.environ["TUTORIAL_LIB_DATA"]).expanduser() if os.environ.get("TUTORIAL_LIB_DATA") else cache_dir
