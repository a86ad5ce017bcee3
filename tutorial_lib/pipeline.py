"""The whole pipeline in one call: data -> latents -> training -> sampling -> audio.

``python -m tutorial_lib run`` calls :func:`run_pipeline`; the chapters do the same steps one at a time.
"""

from __future__ import annotations

import json
import platform
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .checkpoints import FORMAT as CHECKPOINT_FORMAT
from .codec import Codec, load_codec
from .data import LatentData, download_nsynth_guitar, prepare_latents, write_synthetic_nsynth
from .conditioning import Conditions
from .runtime.distributed import barrier, world
from .runtime.estimates import describe_training
from .runtime.devices import pick_device
from .runtime.files import default_cache_dir, fingerprint, write_text_atomically
from .flow import RectifiedFlow
from .generation import LatentSpace, NoteGenerator, check_writable, labels_held, nearest, write_wav
from .profiles import Profile, default_data_dir, get_profile

from .runtime.threads import use_cpu_threads
from .training import TrainResult, train
from .unet import build_model, count_parameters


def resolve_data(profile: Profile, data: str | Path | None, cache_dir: Path, progress: bool = True) -> tuple[Path, str]:
    """The data folder to use and a sentence saying where it came from."""
    if data is not None:
        return Path(data), f"the folder {data}"
    if profile.real_data:
        folder = download_nsynth_guitar(default_data_dir(cache_dir) / "nsynth", progress=progress)
        return folder, "NSynth guitar subset (MP3, downloaded)"
    # Named after what it holds, so profiles with the same notes (cpu and long) share one folder and one cache.
    sizes = f"{profile.instruments_per_source['train']}x{profile.instruments_per_source['valid']}-" \
            f"p{profile.pitches.start}-{profile.pitches.stop - 1}s{profile.pitches.step}-v{len(profile.velocities)}"
    folder = write_synthetic_nsynth(cache_dir / f"synthetic-{sizes}", profile.instruments_per_source,
                                    profile.pitches, profile.velocities, progress=progress)
    return folder, (f"synthetic Karplus-Strong guitars ({len(profile.pitches)} pitches, {len(profile.velocities)} "
                    f"velocities, {sum(profile.instruments_per_source.values()) * 3} instruments, seed 0), "
                    "generated offline")


def subset_sentence(profile: Profile, data: LatentData) -> str:
    """``""``, or what part of the data a profile's ``max_notes`` kept and why (said wherever data are named)."""
    used = {split: min(profile.max_notes.get(split, n), n) for split, n in data.listed.items()}
    if used == data.listed:
        return ""
    counts = " and ".join(f"{used[s]:,} of its {data.listed[s]:,} {s} notes" for s in ("train", "valid"))
    return (f"; ONLY A SUBSET: profile {profile.name} uses a fixed random {counts}, so that encoding fits a "
            'free Colab session (PROFILE = "gpu" encodes them all)')


@dataclass
class Prepared:
    """Everything before training: the profile, where the data came from, the codec and the latents."""

    profile: Profile
    data_folder: Path
    data_source: str
    codec: Codec
    data: LatentData
    cache_dir: Path

    @property
    def latent_space(self) -> LatentSpace:
        """The codec and the training set's statistics: what turns the model's latents into audio."""
        train = self.data.train
        return LatentSpace(self.codec, train.mean, train.std, self.profile.num_frames, self.data_source)

    def to_audio(self, latents: torch.Tensor) -> list[np.ndarray]:
        """Standardised latents ``[N, 64, frames]`` (what the sampler returns) -> N waveforms ``[samples]``
        (see :meth:`LatentSpace.to_audio`, the one place that undoes the standardisation and decodes)."""
        return self.latent_space.to_audio(latents)

    def conditions(self, split: str = "train") -> Conditions:
        """The labels ``[N]`` of a split's notes (pitch, source, velocity; -1 where a label is missing)."""
        return Conditions.from_notes(getattr(self.data, split).notes)


def prepare(profile: str | Profile = "cpu", *, data: str | Path | None = None, codec: str | None = None,
            m2l_weights: str | None = None, cache_dir: str | Path | None = None, progress: bool = True,
            timings: dict | None = None) -> Prepared:
    """Data folder (given, generated or downloaded), codec, and cached standardised latents.

    The first cell of chapters 2-5 calls this; ``timings`` (if given) receives seconds per stage.
    """
    prof = get_profile(profile) if isinstance(profile, str) else profile
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    timings = {} if timings is None else timings
    use_cpu_threads(verbose=progress)  # the command line says how many threads; a chapter's page does not
    place = world()  # under torchrun: joins the other ranks (and picks this rank's GPU) before the codec loads
    clock = time.perf_counter()  # the codec first: missing weights fail before minutes of data work
    the_codec = load_codec(codec or prof.codec, checkpoint=m2l_weights)
    timings["codec"] = round(time.perf_counter() - clock, 2)
    clock = time.perf_counter()
    if not place.is_main:  # rank 0 writes (or downloads) the data while the others wait
        barrier()
    folder, source = resolve_data(prof, data, cache_dir, progress and place.is_main)
    if place.is_main and place.size > 1:
        barrier()
    progress = progress and place.is_main
    timings["data"] = round(time.perf_counter() - clock, 2)
    clock = time.perf_counter()
    latents = prepare_latents(folder, the_codec, cache_dir / "latents", prof.num_frames, progress=progress,
                              max_notes=prof.max_notes)
    timings["latents"] = round(time.perf_counter() - clock, 2)
    source += subset_sentence(prof, latents)
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
        tag = fingerprint([CHECKPOINT_FORMAT, name, kwargs, asdict(config), prepared.codec.cache_id,
                           str(prepared.data_folder.resolve()), *([prof.max_notes] if prof.max_notes else [])], length=10)
        checkpoint_path = prepared.cache_dir / "runs" / f"{prof.name}-{name}-{tag}.pt"
    if progress and pick_device(config.device).type == "cuda" and world().is_main:  # how long it will take
        print(training_plan(replace(prof, train=config), name, kwargs, Path(checkpoint_path)))
    torch.manual_seed(config.seed)
    net = build_model(name, **kwargs)
    labels = {}
    if kwargs.get("conditioned"):
        labels = {"train_conditions": prepared.conditions("train"), "valid_conditions": prepared.conditions("valid")}
    return train(net, RectifiedFlow(), prepared.data.train.latents, prepared.data.valid.latents, config,
                 checkpoint_path=checkpoint_path, progress=progress, restart=restart, **labels,
                 checkpoint_extra={"latent_space": prepared.latent_space.describe(),
                                   "labels_held": labels_held(prepared.conditions("train"))})


def training_plan(profile: Profile, name: str, kwargs: dict, checkpoint_path: Path) -> str:
    """The estimate printed before training on a GPU (tutorial_lib.runtime.estimates), and whether it resumes."""
    try:
        text = describe_training(profile, name, kwargs, gpu_name=torch.cuda.get_device_name())
    except ValueError as error:  # a model whose speed was never measured
        text = f"No time estimate: {error}"
    if checkpoint_path.is_file():
        text += f" Its checkpoint {checkpoint_path.name} exists: it resumes (or reloads, if complete)."
    return text


SOLVER = "euler"  # the original tutorial's sampler, used by run and reported as such


def write_samples(generator: NoteGenerator, folder: Path, *, num: int, num_steps: int, solver: str = SOLVER,
                  pitches: tuple[int, ...] = (), velocity: int = 100, guidance: float = 1.0) -> list[dict]:
    """Writes ``num`` unconditional notes and, for a conditioned model, one acoustic note at each of ``pitches``
    (at ``velocity``); returns what is in each file (see :func:`~tutorial_lib.generation.write_wav`)."""
    folder.mkdir(parents=True, exist_ok=True)
    rate = generator.space.codec.sample_rate
    stats = []
    _, audio = generator.generate(num, seed=0, num_steps=num_steps, solver=solver)
    for i, waveform in enumerate(audio):
        stats.append({**write_wav(folder / f"sample_{i:02d}.wav", waveform, rate), "labels": "none"})
    for pitch in pitches if generator.conditioned else ():
        _, audio = generator.generate(1, seed=0, pitch=pitch, source="acoustic", velocity=velocity, guidance=guidance,
                                      num_steps=num_steps, solver=solver)
        info = write_wav(folder / f"pitch{pitch}_acoustic_velocity{velocity}_g{guidance:g}.wav", audio[0], rate)
        labels = {"pitch": pitch, "source": "acoustic", "velocity": velocity, "guidance": guidance}
        stats.append({**info, "labels": labels})
    for info in stats:
        info["file"] = f"{folder.name}/{info['file']}"
    return stats


def evaluate_generator(generator: NoteGenerator, prepared: Prepared, *, num: int, num_steps: int,
                       guidance: float = 1.0, seed: int = 1, progress: bool = True,
                       unconditional: torch.Tensor | None = None) -> dict:
    """``num`` unconditional notes (``unconditional [num, 64, frames]`` if already sampled) and, for a
    conditioned model, ``num`` notes asked for the validation notes' labels, each scored by
    :func:`tutorial_lib.evaluation.evaluate` beside the real notes' own figures (which decodes them)."""
    from .evaluation.report import evaluate, labels_to_ask, reference_from_prepared

    reference = reference_from_prepared(prepared, num_audio=min(100, max(48, num)), verbose=progress)
    if unconditional is None:
        unconditional = generator.sample_latents(num, seed=seed, num_steps=num_steps)
    out = {"unconditional": evaluate(latents=unconditional, reference=reference,
                                     to_audio=prepared.to_audio).as_dict()}
    if generator.conditioned:
        asked = labels_to_ask(prepared.conditions("valid"), num)
        latents = generator.sample_latents(num, seed=seed, conditions=asked, guidance=guidance,
                                           num_steps=num_steps)
        report = evaluate(latents=latents, reference=reference, to_audio=prepared.to_audio,
                          conditions={"pitch": asked.pitch, "source": asked.source})
        out[f"conditional (guidance {guidance:g})"] = report.as_dict()
    return out


def data_warnings(prepared: Prepared) -> list[str]:
    """What is too small about the data to trust the run: fewer training notes than a batch, a tiny validation
    split."""
    train, valid, batch = len(prepared.data.train), len(prepared.data.valid), prepared.profile.train.batch_size
    warnings = []
    if train < batch:
        warnings.append(f"only {train} training notes, fewer than the batch of {batch}: every step trains on all "
                        f"{train}, and a model this size will learn them by heart rather than learn guitar notes.")
    if valid < 10:
        warnings.append(f"only {valid} validation notes: the validation loss and the evaluation's real-note "
                        "figures rest on them and say little. Add notes or instruments.")
    both = sorted({n.name for n in prepared.data.train.notes} & {n.name for n in prepared.data.valid.notes})
    if both:
        warnings.append(f"{len(both)} note(s) are in both train and valid (e.g. {both[0]}): the validation figures "
                        "measure notes the model trained on. Remove them from one of the two folders.")
    return warnings


#: The copy share above which a run warns: real held-out notes give about 0.05 (see metrics.copy_share).
COPY_WARNING = 0.25


def copy_report(latents: torch.Tensor, prepared: Prepared) -> dict:
    """Memorisation check of generated notes ``latents [N, 64, frames]`` (standardised, as sampled) with
    :func:`tutorial_lib.evaluation.metrics.copy_share`: the share closer to a training note than 95 % of validation notes
    are, with a warning above :data:`COPY_WARNING`."""
    from .evaluation.metrics import copy_share

    num = len(latents)
    share, threshold = copy_share(latents.numpy(), prepared.data.train.latents.numpy(),
                                  prepared.data.valid.latents.numpy())
    warning = None
    if share > COPY_WARNING:
        warning = (f"{share:.0%} of {num} generated notes are closer to a training note than 95 % of the validation "
                   "notes are (real held-out notes: about 5 %): the model copies its training notes. Train on more "
                   "notes, or for fewer steps.")
    return {"share": round(share, 3), "num_notes": num, "threshold_distance": round(threshold, 3),
            "held_out_share": 0.05, "warning": warning}


def nearest_held(wanted: tuple[int, ...], held: torch.Tensor) -> tuple[int, ...]:
    """Each of ``wanted`` (pitches or velocities), or the nearest value among ``held`` (the training notes' labels
    ``[N]``, -1 = unknown; a tie goes to the lower): a conditioned model knows only what it was trained on, and the
    synthetic data hold every second or third MIDI number (pitch 45 becomes 44 on the cpu data, 46 on the ci
    data) and velocities 25, 75 and 127 (100 becomes 75)."""
    known = sorted({int(p) for p in held.tolist() if p >= 0})
    return tuple(nearest(p, known) for p in wanted) if known else tuple(wanted)


def check_run_folder(out: Path) -> None:
    """Refuses an ``out`` holding files a run would write (``report.json``, ``samples/*.wav``) but no
    ``checkpoint.pt``: they were not made by a run this command can continue, so they are not replaced. Then
    makes sure the run's files can be written there, under their full names, before any work."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"`out` {out} is a file, not a folder; choose a folder for the run.")
    # no checkpoint.pt: not a run's folder (else resumed, reloaded or, with restart=True, redone, checked by train())
    theirs = [p for p in (out / "report.json", *sorted((out / "samples").glob("*.wav"))) if p.exists()]
    if theirs and not (out / "checkpoint.pt").exists():
        raise FileExistsError(f"{out} holds {', '.join(str(p) for p in theirs[:3])}"
                              f"{f' and {len(theirs) - 3} more' if len(theirs) > 3 else ''} but no checkpoint.pt: "
                              "not a run this command can continue, so it will not write over them. Choose another "
                              "`out`, or move them aside.")
    check_writable(out, names=["checkpoint.pt", "report.json"])  # a path too long fails now, not after training
    check_writable(out / "samples", names=["pitch127_acoustic_velocity127_g10.25.wav"])


SAMPLE_NAME = re.compile(r"(sample_\d+|pitch\d+_acoustic_velocity\d+_g[-\d.e+]+)\.wav")


def samples_of_earlier_run(out: Path) -> set[Path]:
    """The notes in ``out/samples/`` that an earlier run's ``report.json`` lists as its own (run's names only, no
    links): a run with other settings removes those it does not write again, and never any other file."""
    try:
        earlier = json.loads((out / "report.json").read_text())["sampling"]["samples"]
        files = {out / info["file"] for info in earlier}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {f for f in files if f.parent == out / "samples" and SAMPLE_NAME.fullmatch(f.name) and not f.is_symlink()}


def run_pipeline(out: str | Path, *, data: str | Path | None = None, profile: str = "ci", codec: str | None = None,
                 m2l_weights: str | None = None, cache_dir: str | Path | None = None, steps: int | None = None,
                 progress: bool = True, restart: bool = False, precision: str | None = None,
                 eval_samples: int | None = None) -> dict:
    """Runs every stage and writes ``out/samples/*.wav``, ``out/checkpoint.pt`` and ``out/report.json``.

    An existing ``out/checkpoint.pt`` is resumed if it belongs to the same run (else refused, naming the
    setting that differs), or overwritten with ``restart=True``. ``precision`` ("fp32" or "bf16") replaces
    the profile's. Under torchrun every rank encodes and trains its share; rank 0 alone samples, decodes and
    writes the report (the other ranks return ``{}``).
    """
    out = Path(out)
    if steps is not None and steps < 1:
        raise ValueError(f"steps={steps}: training needs at least 1 step (leave it out for the profile's own).")
    if eval_samples is not None and (eval_samples < 0 or eval_samples == 1):
        raise ValueError(f"eval_samples={eval_samples}: give 0 (no evaluation) or 2 notes or more: "
                         "the evaluation compares spreads, which one note does not have.")
    check_run_folder(out)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    overrides = {"steps": steps, "precision": precision, "eval_samples": eval_samples}
    prof = get_profile(profile, **{k: v for k, v in overrides.items() if v is not None})
    timings = {}
    prepared = prepare(prof, data=data, codec=codec, m2l_weights=m2l_weights, cache_dir=cache_dir, progress=progress,
                       timings=timings)
    clock = time.perf_counter()

    def lap(stage):
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 2)
        clock = now

    place = world()
    warnings = data_warnings(prepared)
    for warning in warnings if place.is_main else ():
        print(f"warning: {warning}")
    result = train_model(prepared, checkpoint_path=out / "checkpoint.pt", progress=progress, restart=restart)
    model = result.model
    lap("training")
    if not place.is_main:
        return {}
    generator = NoteGenerator(result.ema_model.eval(), result.flow, prepared.latent_space)
    labels = prepared.conditions("train")
    earlier = samples_of_earlier_run(out)
    sample_stats = write_samples(generator, out / "samples", num=prof.num_samples, num_steps=prof.num_steps,
                                 solver=SOLVER, pitches=nearest_held(prof.named_pitches, labels.pitch),
                                 velocity=nearest_held((100,), labels.velocity)[0], guidance=prof.guidance)
    for stale in earlier - {out / info["file"] for info in sample_stats}:
        stale.unlink(missing_ok=True)  # the earlier model's notes that this run did not write again
    lap("sampling and decoding")
    # One set of unconditional notes serves the copy check and the evaluation.
    unconditional = generator.sample_latents(prof.eval_samples or max(prof.num_samples, 16), seed=1,
                                             num_steps=prof.num_steps)
    copies = copy_report(unconditional, prepared)
    if copies["warning"]:
        print(f"warning: {copies['warning']}")
        warnings.append(copies["warning"])
    lap("copy check")
    evaluation = None
    if prof.eval_samples:
        evaluation = evaluate_generator(generator, prepared, num=prof.eval_samples, num_steps=prof.num_steps,
                                        guidance=prof.guidance, progress=progress, unconditional=unconditional)
        lap("evaluation")

    history = result.history
    report = {
        "profile": prof.name,
        "data": {"source": prepared.data_source, "folder": str(prepared.data_folder),
                 "notes": {s: len(getattr(prepared.data, s)) for s in ("train", "valid")},
                 "encoding": {s: r.summary() for s, r in prepared.data.reports.items()},
                 "skipped": {s: [{"file": f, "reason": why} for f, why in r.skipped] for s, r in prepared.data.reports.items()}},
        "codec": prepared.codec.describe(),
        "model": {"name": prof.model, "parameters": count_parameters(model), "config": {k: list(v) if isinstance(v, tuple) else v for k, v in model.config.items()}},
        "training": {"steps": prof.train.steps,
                     "batch_size": min(prof.train.batch_size, len(prepared.data.train)), "lr": prof.train.lr,
                     "precision": prof.train.precision,
                     "final_train_loss": float(np.mean(history.train_loss[-20:])),
                     "final_valid_loss": history.valid_loss[-1] if history.valid_loss else None,
                     "train_seconds": round(history.train_seconds, 2),
                     # how the run was trained, over every command that trained it (checkpoints before this
                     # record existed say so)
                     "sessions": history.sessions or "not recorded by the checkpoint",
                     "this_command": (f"trained steps {result.resumed_from + 1}-{history.train_steps[-1]} with "
                                      f"{place.size} process(es)" if history.train_steps[-1] > result.resumed_from
                                      else "reloaded the finished checkpoint (no training)")},
        "copies": copies,
        "warnings": warnings,
        "sampling": {"solver": SOLVER, "steps": prof.num_steps, "guidance": prof.guidance, "samples": sample_stats},
        "evaluation": evaluation,
        "seconds": timings,  # this command's stages (a reload's training is seconds; see training.train_seconds)
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "device": str(next(model.parameters()).device)},
    }
    write_text_atomically(out / "report.json", json.dumps(report, indent=2))
    return report
