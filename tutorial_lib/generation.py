"""From a trained model to notes you can hear (chapters 5, "ODE sampling", and 6, "Control").

* :class:`LatentSpace`: the codec and the training set's per-channel statistics; its :meth:`~LatentSpace.to_audio`
  is the one place that undoes the standardisation and decodes.
* :class:`NoteGenerator`: a trained (EMA) model, the flow it learned and its latent space, rebuilt from a
  checkpoint alone; :meth:`~NoteGenerator.generate` samples notes with or without labels and guidance.
* :func:`write_wav`: writes a note, and says what is in the file; :func:`write_notes` writes many, in batches,
  never over a file that is already there.
"""

from __future__ import annotations

import errno
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import librosa
import numpy as np
import torch

from .codec import Codec, load_codec
from .conditioning import Conditions
from .data.labels import SOURCES
from .flow import RectifiedFlow
from .runtime.files import file_fingerprint, save_atomically, temporary_name, write_atomically
from .sampling import sample, sample_seeded


@dataclass
class LatentSpace:
    """What turns standardised latents into audio: ``codec``, the training set's ``mean``/``std`` ``[64]``
    and the number of frames the model works on."""

    codec: Codec
    mean: torch.Tensor
    std: torch.Tensor
    num_frames: int
    data_source: str = ""

    def destandardise(self, latents: torch.Tensor) -> torch.Tensor:
        """Standardised latents ``[..., 64, frames]`` -> the codec's own (undoes the data set's standardisation)."""
        return latents * self.std[:, None].to(latents) + self.mean[:, None].to(latents)

    def to_audio(self, latents: torch.Tensor) -> list[np.ndarray]:
        """Standardised latents ``[N, 64, frames]`` (or ``[64, frames]``) -> N waveforms ``[samples]``."""
        latents = latents.detach().float().cpu()
        latents = latents if latents.ndim == 3 else latents[None]
        return self.codec.decode_batch(self.destandardise(latents))

    def describe(self) -> dict:
        """Plain values for a checkpoint (see :meth:`NoteGenerator.from_checkpoint`)."""
        return {"codec": self.codec.name, "codec_id": self.codec.cache_id, "mean": self.mean.clone(),
                "std": self.std.clone(), "num_frames": self.num_frames, "data_source": self.data_source}


def nearest(value: int, known: list[int]) -> int:
    """The member of ``known`` nearest to ``value`` (a tie goes to the lower)."""
    return min(known, key=lambda q: (abs(q - value), q))


def labels_held(conditions: Conditions) -> dict:
    """The labels a model was trained on (recorded in its checkpoint): ``{"pitch": [...], "source": [names],
    "velocity": [...]}``, each sorted, unknown labels (-1) left out."""
    held = {name: sorted({int(v) for v in getattr(conditions, name).tolist() if v >= 0})
            for name in ("pitch", "source", "velocity")}
    held["source"] = [SOURCES[i] for i in held["source"]]
    return held


@dataclass(frozen=True)
class TrainedOn:
    """What a model learned from, as its checkpoint records it: ``steps`` training steps on ``data`` (the notes'
    description), or for a reflowed model (chapter 6a) ``steps`` on the ``pairs`` that the model
    ``made_by`` (a checkpoint id) drew with its ODE, itself trained on ``made_by_trained_on``."""

    steps: int = 0
    data: str = "unknown data"
    pairs: int | None = None
    made_by: str = ""
    made_by_trained_on: str = "unknown"

    def __str__(self) -> str:
        if self.pairs is not None:
            return (f"{self.steps} reflow steps on {self.pairs} pairs made by {self.made_by} "
                    f"(itself: {self.made_by_trained_on})")
        return f"{self.steps} training steps on {self.data}"


@dataclass
class NoteGenerator:
    """A trained model with everything needed to go from noise to audio; ``labels_held`` (if the checkpoint
    records them) are the labels it was trained on (see :func:`labels_held`)."""

    model: torch.nn.Module
    flow: RectifiedFlow
    space: LatentSpace
    trained_on: TrainedOn = field(default_factory=TrainedOn)
    labels_held: dict | None = None

    def label_warnings(self, *, pitch: int | None = None, source: str | None = None,
                       velocity: int | None = None) -> list[str]:
        """Why the asked labels may not give what they say: a pitch, source or velocity the model never heard
        (naming the nearest it did), or a pitch whose fundamental lies above what the codec can play."""
        warnings = []
        nyquist = self.space.codec.sample_rate / 2
        if pitch is not None and librosa.midi_to_hz(pitch) >= nyquist:
            warnings.append(f"pitch {pitch} ({librosa.midi_to_hz(pitch):.0f} Hz) lies above the highest frequency the codec "
                            f"can play ({nyquist:.0f} Hz at {self.space.codec.sample_rate} Hz): the note cannot "
                            "sound at that pitch.")
        held = self.labels_held or {}
        for name, plural, value in (("pitch", "pitches", pitch), ("velocity", "velocities", velocity)):
            if value is not None and held.get(name) and value not in held[name]:
                warnings.append(f"{name} {value} was never in this model's training notes ({plural} "
                                f"{held[name][0]}-{held[name][-1]}; nearest held: {nearest(value, held[name])}): "
                                "expect a note near "
                                "a held one rather than the one asked.")
        if source is not None and held.get("source") and source not in held["source"]:
            warnings.append(f"source {source!r} was never in this model's training notes (held: "
                            f"{', '.join(held['source'])}).")
        return warnings

    def decodes_with(self, codec: Codec) -> bool:
        """Whether this model's latents are ``codec``'s (same codec and settings: ``cache_id``)."""
        return self.space.codec.cache_id == codec.cache_id

    @property
    def conditioned(self) -> bool:
        return bool(getattr(self.model, "config", {}).get("conditioned"))

    def sample_latents(self, num: int, *, seed: int = 0, conditions: Conditions | None = None,
                       noise: torch.Tensor | None = None, pitch: int | None = None, source: str | int | None = None,
                       velocity: int | None = None, guidance: float = 1.0, num_steps: int = 50,
                       solver: str = "euler") -> torch.Tensor:
        """``num`` standardised latents ``[num, 64, frames]`` (on the CPU), not decoded.

        Labels: ``conditions`` (one label per note, ``[num]`` each), or ``pitch``, ``source`` and ``velocity``
        for all ``num`` notes (``None``: not given); with none given, the model samples unconditionally. Each
        note starts from ``noise [num, 64, frames]`` if given, else from noise drawn with ``seed``.
        """
        labels = {"pitch": pitch, "source": source, "velocity": velocity}
        if any(v is not None for v in labels.values()):
            if conditions is not None:
                raise ValueError("Give the labels either as conditions (one per note) or as pitch, source and "
                                 "velocity (the same for every note), not both.")
            conditions = Conditions.make(num, **labels)
        if conditions is not None and not self.conditioned:
            raise ValueError("This model was trained without labels, so it cannot take `pitch`, `source` or "
                             "`velocity`; train a conditioned model (the ci and cpu profiles are).")
        if noise is None:
            return sample_seeded(self.model, num, self.space.num_frames, seed=seed, num_steps=num_steps,
                                 solver=solver, flow=self.flow, conditions=conditions, guidance=guidance).samples.cpu()
        if len(noise) != num:
            raise ValueError(f"noise holds {len(noise)} starting points for {num} notes.")
        return sample(self.model.eval(), noise, num_steps=num_steps, solver=solver, flow=self.flow,
                      conditions=conditions, guidance=guidance).samples.cpu()

    def generate(self, num: int, **how) -> tuple[torch.Tensor, list[np.ndarray]]:
        """``num`` notes: standardised latents ``[num, 64, frames]`` and their waveforms; ``how`` as for
        :meth:`sample_latents` (labels, noise or seed, guidance, steps, solver)."""
        latents = self.sample_latents(num, **how)
        try:
            if not torch.isfinite(latents).all():
                raise FloatingPointError("they hold NaN or infinite values")
            return latents, self.space.to_audio(latents)
        except FloatingPointError as error:
            raise FloatingPointError(f"Cannot decode the sampled notes ({error}; guidance "
                                     f"{how.get('guidance', 1.0):g}). Guidance far above the usual 1-3 overshoots: "
                                     "lower `guidance`.") from error

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, m2l_weights: str | None = None,
                        device: str = "cpu") -> "NoteGenerator":
        """Rebuilds the EMA model, its flow and its latent space from a checkpoint written by ``run``."""
        from .checkpoints import SAMPLE_ADVICE, CheckpointError, load_checkpoint

        try:
            _, ema_model, state = load_checkpoint(path, device)
        except CheckpointError as error:  # sampling cannot restart: say what it can do
            raise error.with_advice(SAMPLE_ADVICE) from error
        space = (state.get("extra") or {}).get("latent_space")
        if space is None:
            raise ValueError(f"The checkpoint {path} does not record its latent space (codec and statistics), so "
                             "its samples cannot be decoded. Write it with `python -m tutorial_lib run` or "
                             "pipeline.train_model, which record it.")
        codec = load_codec(space["codec"], checkpoint=m2l_weights, verbose=False)
        if codec.cache_id != space["codec_id"]:
            raise ValueError(f"The checkpoint {path} was trained on latents of {space['codec_id']}, but this "
                             f"machine's codec is {codec.cache_id}; decode with the same codec settings.")
        # A reflowed model's flow records its training times too (tutorial_lib.reflow.UShapedFlow); sampling needs
        # only the path's own settings.
        flow = RectifiedFlow(**{f.name: state["flow"][f.name] for f in fields(RectifiedFlow) if f.name in state["flow"]})
        steps = state.get("step", 0)
        trained_on = TrainedOn(steps, space.get("data_source") or "unknown data")
        reflowed = state["extra"].get("reflow")
        if reflowed:  # chapter 6a: trained on the pairs of another model's ODE
            trained_on = TrainedOn(steps, trained_on.data, reflowed["pairs"], reflowed["from_checkpoint"],
                                   reflowed.get("from_trained_on", "unknown"))
        return cls(model=ema_model.eval(), flow=flow, trained_on=trained_on,
                   space=LatentSpace(codec, space["mean"], space["std"], space["num_frames"], space.get("data_source", "")),
                   labels_held=state["extra"].get("labels_held"))


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> dict:
    """Writes 16-bit audio, scaled down (never up) if it would clip. Returns what is in the file:
    ``{"file", "seconds", "rms", "peak", "scaled_by"}`` (``rms`` and ``peak`` after scaling)."""
    import soundfile as sf

    audio = np.asarray(audio, dtype=np.float32)
    if not np.isfinite(audio).all():
        raise ValueError(f"Not writing {path}: the audio holds NaN or infinite values.")
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    scale = 0.99 / peak if peak > 0.99 else 1.0
    audio = audio * scale

    def write(tmp):
        try:
            sf.write(str(tmp), audio, sample_rate, subtype="PCM_16", format="WAV")
        except (RuntimeError, sf.SoundFileError) as error:  # libsndfile's errors are not OSErrors
            raise OSError(f"Cannot write {path} ({error}); check that the folder is writable and the disk not "
                          "full.") from error

    write_atomically(path, write, size=44 + 2 * audio.size)  # whole or not at all: a cut note never counts as made
    return {"file": Path(path).name, "seconds": round(len(audio) / sample_rate, 2),
            "rms": round(float(np.sqrt(np.mean(audio ** 2))) if audio.size else 0.0, 5),
            "peak": round(float(np.abs(audio).max()) if audio.size else 0.0, 4), "scaled_by": round(scale, 4)}


def checkpoint_id(path: str | Path) -> str:
    """``"<file stem>-<8 hex digits of its content's SHA-1>"``: names notes by the model that made them."""
    return f"{Path(path).stem}-{file_fingerprint(path, length=8)}"


def check_writable(folder: str | Path, names: list[str] = ()) -> Path:
    """Creates ``folder`` if needed and makes sure a file can be written there, under names as long as the
    longest of ``names`` and their temporary names (:func:`~tutorial_lib.runtime.files.temporary_name`), before any
    work is done."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"`out` {folder} is a file, not a folder; choose a folder for the notes.")
    longest = max([*names, *(temporary_name(name) for name in names)], key=len, default="")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # as long a name as the longest file's (prefix 12 + 8 random characters + suffix)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-", suffix="x" * max(0, len(longest) - 20)):
            pass
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG and longest:
            raise OSError(f"Cannot write into {folder}: its files would be named like {longest} ({len(longest)} "
                          "characters), too long for this file system. Choose a shorter `out`, or rename the "
                          "checkpoint to a shorter name.") from error
        raise OSError(f"Cannot write into {folder} ({error.strerror or error}); choose another `out`.") from error
    return folder


def note_files(out: str | Path, *, num: int, model_id: str, seed: int = 0, pitch: int | None = None,
               source: str | None = None, velocity: int | None = None, guidance: float = 1.0,
               num_steps: int = 50, solver: str = "euler") -> list[Path]:
    """The files :func:`write_notes` writes: ``<model_id>-<labels>-g<guidance>-<solver><steps>-seed<seed>-<i>.wav``."""
    labels = "-".join(f"{k}{v}" for k, v in (("pitch", pitch), ("", source), ("velocity", velocity))
                      if v is not None)
    how = f"{labels}-g{guidance:g}" if labels else "any"
    width = max(3, len(str(num - 1)))
    return [Path(out) / f"{model_id}-{how}-{solver}{num_steps}-seed{seed}-{i:0{width}d}.wav" for i in range(num)]


#: Notes sampled together by :func:`write_notes`; fixed, so note ``i`` of a seed is the same whatever ``num``.
NOTE_BATCH = 16


def write_notes(generator: NoteGenerator, out: str | Path, *, num: int, model_id: str, seed: int = 0,
                pitch: int | None = None, source: str | None = None, velocity: int | None = None,
                guidance: float = 1.0, num_steps: int = 50, solver: str = "euler",
                progress: bool = True) -> list[Path]:
    """Generates ``num`` notes into ``out`` in batches of :data:`NOTE_BATCH`, writing each as it comes.

    Files are named by what made them: the model (``model_id``, see :func:`checkpoint_id`), the labels (and
    the guidance, when labels are given), solver, steps, seed and index. A file already there is never
    written over: it holds the same note (batch ``b`` samples from seed ``seed + 1_000_003 b``), so a run cut short
    and started again makes only the missing notes. Returns the files of all ``num`` notes.
    """
    from .runtime.progress import progress_bar

    files = note_files(out, num=num, model_id=model_id, seed=seed, pitch=pitch, source=source, velocity=velocity,
                       guidance=guidance, num_steps=num_steps, solver=solver)
    out = check_writable(out, names=[f.name for f in files])
    rate = generator.space.codec.sample_rate
    missing = {i for i, f in enumerate(files) if not f.exists()}
    if len(missing) < num:
        print(f"{num - len(missing)} of the {num} notes are already in {out} (kept, not written over).")
    with progress_bar(total=len(missing), desc="Generating notes", unit="note", disable=not progress) as bar:
        for start in range(0, num, NOTE_BATCH):
            todo = [i for i in range(start, min(num, start + NOTE_BATCH)) if i in missing]
            if not todo:
                continue
            _, waveforms = generator.generate(min(NOTE_BATCH, num - start), seed=seed + 1_000_003 * (start // NOTE_BATCH),
                                              pitch=pitch, source=source, velocity=velocity, guidance=guidance,
                                              num_steps=num_steps, solver=solver)
            for i in todo:
                write_wav(files[i], waveforms[i - start], rate)
                bar.update()
    return files


#: Checkpoints that ship with the package (tutorial_lib/pretrained/, each with its README entry and report).
PRETRAINED_DIR = Path(__file__).parent / "pretrained"


def strip_checkpoint(path: str | Path, dest: str | Path) -> Path:
    """A copy of a training checkpoint with only what sampling needs (the EMA weights, the run's description,
    history and latent space): about a third of the size; it can be sampled but not resumed."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state["model"] = state["ema"]  # sampling uses the EMA; one copy of the weights is enough
    state.pop("optimizer", None)
    state["stripped"] = True
    return save_atomically(state, dest)


def load_pretrained(name: str = "cpu-long", *, codec: Codec | None = None) -> NoteGenerator:
    """The shipped model ``name`` (see ``tutorial_lib/pretrained/README.md``), with the codec it was trained on.

    It always decodes with its own codec (the offline mel codec, which runs anywhere), so it plays in every
    profile. Given the chapter's ``codec``, it says when that differs: then the shipped model is a model of
    other notes than the chapter's (in Colab: of the offline data, not of NSynth), good for hearing what a
    well-trained model sounds like, not for comparing with the reader's notes one by one (chapters 5 and 6).
    """
    path = PRETRAINED_DIR / f"{name}.pt"
    if not path.is_file():
        available = sorted(p.stem for p in PRETRAINED_DIR.glob("*.pt"))
        raise FileNotFoundError(f"No shipped model {name!r} in {PRETRAINED_DIR}; available: {available or 'none'}.")
    generator = NoteGenerator.from_checkpoint(path)
    if codec is not None and not generator.decodes_with(codec):
        print(f"The shipped model {name!r} is a model of {generator.space.data_source or 'other data'} "
              f"({generator.space.codec.describe()}), not of this chapter's notes ({codec.describe()}): it plays "
              "with its own codec, to let you hear a well-trained model beside yours.")
    return generator
