"""The whole pipeline in one call: data -> latents -> training -> sampling -> audio.

``python -m tutorial_lib run`` calls :func:`run_pipeline`; the chapters do the same steps one at a time.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .checkpoints import FORMAT as CHECKPOINT_FORMAT
from .codec import Codec, load_codec
from .data import LatentData, download_nsynth_guitar, prepare_latents, write_synthetic_nsynth
from .conditioning import Conditions
from .flow import RectifiedFlow
from .profiles import Profile, default_cache_dir, get_profile
from .sampling import generate
from .threads import use_cpu_threads
from .training import TrainResult, train
from .unet import build_model, count_parameters


def resolve_data(profile: Profile, data: str | Path | None, cache_dir: Path, progress: bool = True) -> tuple[Path, str]:
    """The data folder to use and a sentence saying where it came from."""
    if data is not None:
        return Path(data), f"the folder {data}"
    if profile.real_data:
        folder = download_nsynth_guitar(cache_dir / "nsynth", progress=progress)
        return folder, "NSynth guitar subset (MP3, downloaded)"
    folder = write_synthetic_nsynth(
        cache_dir / f"synthetic-{profile.name}", profile.instruments_per_source, profile.pitches,
        profile.velocities, progress=progress,
    )
    return folder, f"synthetic Karplus-Strong guitars (profile {profile.name}, seed 0), generated offline"


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> float:
    """Writes 16-bit audio, scaling down (never up) if it would clip; returns the scale used."""
    import soundfile as sf

    peak = float(np.abs(audio).max()) if audio.size else 0.0
    scale = 0.99 / peak if peak > 0.99 else 1.0
    sf.write(path, audio * scale, sample_rate, subtype="PCM_16")
    return scale


@dataclass
class Prepared:
    """Everything before training: the profile, where the data came from, the codec and the latents."""

    profile: Profile
    data_folder: Path
    data_source: str
    codec: Codec
    data: LatentData
    cache_dir: Path

    def to_audio(self, latents: torch.Tensor) -> list[np.ndarray]:
        """Standardised latents ``[N, 64, frames]`` (what the sampler returns) -> N waveforms ``[samples]``.

        The one place that undoes the standardisation and decodes; every chapter, the widget and the
        command line go through it.
        """
        latents = latents.detach().cpu()
        raw = self.data.train.destandardise(latents if latents.ndim == 3 else latents[None])
        return [self.codec.decode(z) for z in raw]

    def conditions(self, split: str = "train") -> Conditions:
        """The labels ``[N]`` of a split's notes (pitch, source, velocity; -1 where a label is missing)."""
        return Conditions.from_notes(getattr(self.data, split).notes)


def prepare(profile: str | Profile = "cpu", data: str | Path | None = None, codec: str | None = None,
            m2l_weights: str | None = None, cache_dir: str | Path | None = None, progress: bool = True,
            timings: dict | None = None) -> Prepared:
    """Data folder (given, generated or downloaded), codec, and cached standardised latents.

    The first cell of chapters 2-5 calls this; ``timings`` (if given) receives seconds per stage.
    """
    prof = get_profile(profile) if isinstance(profile, str) else profile
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    timings = {} if timings is None else timings
    use_cpu_threads()
    clock = time.perf_counter()  # the codec first: missing weights fail before minutes of data work
    the_codec = load_codec(codec or prof.codec, checkpoint=m2l_weights)
    timings["codec"] = round(time.perf_counter() - clock, 2)
    clock = time.perf_counter()
    folder, source = resolve_data(prof, data, cache_dir, progress)
    timings["data"] = round(time.perf_counter() - clock, 2)
    clock = time.perf_counter()
    latents = prepare_latents(folder, the_codec, cache_dir / "latents", prof.num_frames, progress=progress)
    timings["latents"] = round(time.perf_counter() - clock, 2)
    return Prepared(prof, folder, source, the_codec, latents, cache_dir)


def train_model(prepared: Prepared, model: str | None = None, model_kwargs: dict | None = None,
                checkpoint_path: str | Path | None = None, progress: bool = True, *, restart: bool = False,
                **train_overrides) -> TrainResult:
    """Trains (or, when its checkpoint is complete, reloads) a model on ``prepared``'s latents.

    ``restart=True`` ignores and overwrites an existing checkpoint instead of resuming it.

    By default the checkpoint lives in the cache, named after the profile, model, codec and steps, so the
    training chapter and the sampling chapter share one run, and running again costs nothing.
    """
    prof = prepared.profile
    name = model or prof.model
    kwargs = prof.model_kwargs if model_kwargs is None and name == prof.model else (model_kwargs or {})
    config = replace(prof.train, **train_overrides)
    if checkpoint_path is None:
        tag = hashlib.sha1(json.dumps([CHECKPOINT_FORMAT, name, kwargs, asdict(config), prepared.codec.cache_id,
                                       str(prepared.data_folder.resolve())], sort_keys=True, default=str).encode())
        checkpoint_path = prepared.cache_dir / "runs" / f"{prof.name}-{name}-{tag.hexdigest()[:10]}.pt"
    torch.manual_seed(config.seed)
    net = build_model(name, **kwargs)
    labels = {}
    if kwargs.get("conditioned"):
        labels = {"train_conditions": prepared.conditions("train"), "valid_conditions": prepared.conditions("valid")}
    return train(net, RectifiedFlow(), prepared.data.train.latents, prepared.data.valid.latents, config,
                 checkpoint_path=checkpoint_path, progress=progress, restart=restart, **labels)


def run_pipeline(out: str | Path, data: str | Path | None = None, profile: str = "ci", codec: str | None = None,
                 m2l_weights: str | None = None, cache_dir: str | Path | None = None, steps: int | None = None,
                 progress: bool = True, *, restart: bool = False) -> dict:
    """Runs every stage and writes ``out/samples/*.wav``, ``out/checkpoint.pt`` and ``out/report.json``.

    An existing ``out/checkpoint.pt`` is resumed if it belongs to the same run (else refused, naming the
    setting that differs), or overwritten with ``restart=True``.
    """
    out = Path(out)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    if steps is not None and steps < 1:  # 0 once meant "not given" and trained the whole profile
        raise ValueError(f"steps={steps}: training needs at least 1 step (leave it out for the profile's own).")
    prof = get_profile(profile, **({"steps": steps} if steps is not None else {}))
    timings = {}
    prepared = prepare(prof, data, codec, m2l_weights, cache_dir, progress, timings)
    clock = time.perf_counter()

    def lap(stage):
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 2)
        clock = now

    result = train_model(prepared, checkpoint_path=out / "checkpoint.pt", progress=progress, restart=restart)
    model, flow = result.model, RectifiedFlow()
    lap("training")
    samples = generate(result.ema_model, prof.num_samples, prof.num_frames, seed=0, num_steps=prof.sample_steps,
                       flow=flow).samples
    lap("sampling")
    latents = prepared.data.train.destandardise(samples.cpu())
    sample_stats = []
    for i, z in enumerate(latents):
        audio = prepared.codec.decode(z)
        scale = write_wav(out / "samples" / f"sample_{i:02d}.wav", audio, prepared.codec.sample_rate)
        sample_stats.append({"file": f"samples/sample_{i:02d}.wav", "seconds": round(len(audio) / prepared.codec.sample_rate, 2),
                             "rms": float(np.sqrt(np.mean(audio ** 2))), "finite": bool(np.isfinite(audio).all()),
                             "scaled_by": round(scale, 4)})
    lap("decoding")

    history = result.history
    report = {
        "profile": prof.name,
        "data": {"source": prepared.data_source, "folder": str(prepared.data_folder),
                 "notes": {s: len(getattr(prepared.data, s)) for s in ("train", "valid")},
                 "encoding": {s: r.summary() for s, r in prepared.data.reports.items()},
                 "skipped": {s: [{"file": f, "reason": why} for f, why in r.skipped] for s, r in prepared.data.reports.items()}},
        "codec": prepared.codec.describe(),
        "model": {"name": prof.model, "parameters": count_parameters(model), "config": {k: list(v) if isinstance(v, tuple) else v for k, v in model.config.items()}},
        "training": {"steps": prof.train.steps, "batch_size": prof.train.batch_size, "lr": prof.train.lr,
                     "final_train_loss": float(np.mean(history["train_loss"][-20:])),
                     "final_valid_loss": history["valid_loss"][-1] if history["valid_loss"] else None},
        "sampling": {"solver": "euler", "steps": prof.sample_steps, "samples": sample_stats},
        "seconds": timings,
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "device": str(next(model.parameters()).device)},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
