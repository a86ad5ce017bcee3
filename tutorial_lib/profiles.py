"""Sizes for each way of running the book (every chapter's parameters cell reads one of these).

* ``ci``: the smallest run that still tells the story; the command line finishes it in a few minutes
  on 2 CPU cores.
* ``cpu``: the offline default of the notebooks, a minute or two per chapter on a laptop. Where a chapter
  trains the seed's U-Net beside ours, it uses the seed's design at 1/16 of its parameters.
* ``gpu``: the seed's full scale on the real NSynth guitar subset with Music2Latent (Colab GPU).
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
    model: str  # "seed" or "unet"
    model_kwargs: dict
    train: TrainConfig
    num_frames: int = 32
    sample_steps: int = 100
    num_samples: int = 5
    codec: str = "auto"
    # Sizes of the seed's U-Net when a chapter trains it beside ours ({} = the seed's own 35 M parameters).
    seed_model_kwargs: dict = field(default_factory=dict)


PROFILES = {
    "ci": Profile(
        name="ci", instruments_per_source={"train": 2, "valid": 1}, pitches=range(40, 89, 3),
        velocities=(25, 75, 127), real_data=False, model="unet", model_kwargs={"channels": (64, 128, 128)},
        train=TrainConfig(steps=600, batch_size=32, lr=1e-3, ema_decay=0.99, eval_every=50, checkpoint_every=200),
        sample_steps=32, num_samples=4,
    ),
    "cpu": Profile(
        name="cpu", instruments_per_source={"train": 3, "valid": 1}, pitches=range(40, 89, 2),
        velocities=(25, 75, 127), real_data=False, model="unet", model_kwargs={"channels": (64, 128, 128)},
        train=TrainConfig(steps=800, batch_size=32, lr=1e-3, ema_decay=0.99, eval_every=50, checkpoint_every=200),
        sample_steps=50, num_samples=5, seed_model_kwargs={"channels": (32, 64, 128, 256, 512)},
    ),
    "gpu": Profile(
        name="gpu", instruments_per_source={}, pitches=range(21, 109), velocities=(25, 50, 75, 100, 127),
        real_data=True, model="seed", model_kwargs={},
        # The seed: 1000 epochs of 32,690 notes in batches of 500 = 66 steps per epoch.
        train=TrainConfig(steps=66_000, batch_size=500, lr=1e-4, ema_decay=0.9999, eval_every=660,
                          checkpoint_every=2000),
        sample_steps=100, num_samples=5, codec="m2l",
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


def default_cache_dir() -> Path:
    """Where synthetic data, latents, downloads and the chapters' training runs are kept.

    ``$TUTORIAL_LIB_CACHE`` if set, else ``$XDG_CACHE_HOME/tutorial_lib`` (``~/.cache/tutorial_lib``): one
    folder shared by the command line, the chapters and the book build, so nothing is made twice.
    """
    if os.environ.get("TUTORIAL_LIB_CACHE"):
        return Path(os.environ["TUTORIAL_LIB_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "tutorial_lib"
