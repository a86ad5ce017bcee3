"""NSynth's layout: note names, folders, labels and audio (chapter 2, "Preparing the dataset").

A note is named ``<family>_<source>_<NNN>-<pitch>-<velocity>`` (e.g. ``guitar_acoustic_004-071-025``).
A data folder holds ``.wav``, ``.mp3`` or ``.flac`` notes either flat or in split folders
(``nsynth-guitar-train``, ``nsynth-valid``, ``train``...), directly or under ``audio/``, with or without
NSynth's ``examples.json``. Labels come from ``examples.json`` when present, else from the name.

:func:`write_synthetic_nsynth` writes the offline default data in exactly that layout.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import synth

AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac")
SPLITS = ("train", "valid", "test")
NOTE_NAME = re.compile(
    r"^(?P<family>[a-z]+)_(?P<source>acoustic|electronic|synthetic)_(?P<number>\d{3})-(?P<pitch>\d{3})-(?P<velocity>\d{3})$"
)
#: Shortest note kept, as a fraction of the target length; shorter ones are skipped, longer ones padded.
MIN_LENGTH_FRACTION = 0.5


@dataclass(frozen=True)
class Note:
    """One audio file and its labels."""

    path: Path
    name: str
    instrument: str  # e.g. "guitar_acoustic_004"
    source: str  # "acoustic" | "electronic" | "synthetic"
    pitch: int  # MIDI
    velocity: int
    split: str


@dataclass
class NoteList:
    """The notes of one split, and the files that were skipped with the reason why."""

    notes: list[Note] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        reasons = Counter(reason for _, reason in self.skipped)
        text = f"{len(self.notes)} notes"
        if reasons:
            text += ", skipped " + ", ".join(f"{n} ({r})" for r, n in reasons.items())
        return text


class AudioError(ValueError):
    """A file that cannot be used as a note; the message names the file and what to do."""


def parse_note_name(stem: str) -> dict | None:
    """``"guitar_acoustic_004-071-025"`` -> ``{instrument, source, pitch, velocity}`` (None if not NSynth)."""
    match = NOTE_NAME.match(stem)
    if match is None:
        return None
    return {
        "instrument": f"{match['family']}_{match['source']}_{match['number']}",
        "source": match["source"],
        "pitch": int(match["pitch"]),
        "velocity": int(match["velocity"]),
    }


def find_split_folders(root: str | Path) -> dict[str, Path]:
    """``{"train": Path, "valid": Path, ...}`` for the split folders under ``root`` ({} when flat)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Data folder {root} does not exist. Pass a folder of NSynth notes, "
                                "or leave --data out to generate the synthetic set.")
    found = {}
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        for split in SPLITS:
            if child.name == split or child.name.endswith("-" + split):
                found.setdefault(split, child)
    return found


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def _examples_json(folder: Path) -> dict:
    for candidate in (folder / "examples.json", folder.parent / "examples.json"):
        if candidate.is_file():
            try:
                return json.loads(candidate.read_text())
            except json.JSONDecodeError as error:
                raise ValueError(f"{candidate} is not valid JSON ({error}); fix or delete it "
                                 "(labels then come from the file names).") from error
    return {}


def _read_folder(folder: Path, split: str) -> NoteList:
    examples = _examples_json(folder)
    result = NoteList()
    for path in _audio_files(folder):
        meta = examples.get(path.stem)
        labels = parse_note_name(path.stem)
        if meta is not None:
            instrument = meta.get("instrument_str", labels["instrument"] if labels else path.stem)
            labels = {
                "instrument": instrument,
                "source": meta.get("instrument_source_str", labels["source"] if labels else "unknown"),
                "pitch": int(meta["pitch"]),
                "velocity": int(meta["velocity"]),
            }
        if labels is None:
            result.skipped.append((path, "name is not <family>_<source>_<NNN>-<pitch>-<velocity>"))
            continue
        result.notes.append(Note(path=path, name=path.stem, split=split, **labels))
    return result


def list_notes(root: str | Path, split: str) -> NoteList:
    """The notes of ``split`` ("train", "valid" or "test") under ``root``.

    A flat folder (no split folders) is split by instrument, as NSynth is: about one instrument in six
    goes to "valid" (chosen by a fixed shuffle); with a single instrument, every seventh note does.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root)
    folders = find_split_folders(root)
    if folders:
        if split not in folders:
            return NoteList()
        return _read_folder(folders[split], split)
    everything = _read_folder(root, "train")
    if not everything.notes and not everything.skipped:
        raise FileNotFoundError(f"No audio files ({', '.join(AUDIO_EXTENSIONS)}) in {root}. "
                                "Point --data at a folder of NSynth notes.")
    instruments = sorted({n.instrument for n in everything.notes})
    if len(instruments) >= 2:
        shuffled = list(np.random.default_rng(0).permutation(instruments))
        valid = set(shuffled[: max(1, round(len(instruments) / 6))])
        in_valid = [n.instrument in valid for n in everything.notes]
    else:
        in_valid = [i % 7 == 6 for i in range(len(everything.notes))]
    wanted = {"train": False, "valid": True}.get(split)
    if wanted is None:
        return NoteList()
    notes = [Note(**{**n.__dict__, "split": split}) for n, v in zip(everything.notes, in_valid) if v == wanted]
    return NoteList(notes=notes, skipped=everything.skipped if split == "train" else [])


def load_note(path: str | Path, sample_rate: int, num_samples: int) -> tuple[np.ndarray, list[str]]:
    """Reads a note as ``[num_samples]`` float32 mono at ``sample_rate``, and the fixes it needed.

    Stereo is averaged, other rates are resampled (librosa / soxr), and the note is cropped or padded
    with silence. Raises :class:`AudioError` for unreadable, empty, non-finite or too-short files.
    """
    import soundfile as sf

    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes). Re-download or delete it.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            audio, file_rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises several types for damaged files
        raise AudioError(f"{path}: cannot be read as audio ({error}). Re-download or delete the file.") from error
    fixes = []
    if audio.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no samples. Re-download or delete it.")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: the audio holds NaN or infinite values. Re-download or delete it.")
    if audio.shape[1] > 1:
        fixes.append("mixed to mono")
    audio = audio.mean(axis=1)
    if file_rate != sample_rate:
        import librosa

        audio = librosa.resample(audio, orig_sr=file_rate, target_sr=sample_rate)
        fixes.append(f"resampled from {file_rate} Hz")
    if len(audio) < MIN_LENGTH_FRACTION * num_samples:
        raise AudioError(f"{path}: only {len(audio) / sample_rate:.2f} s long, under "
                         f"{MIN_LENGTH_FRACTION * num_samples / sample_rate:.2f} s. NSynth notes last 4 s; "
                         "remove the file or lower the note length.")
    if len(audio) < num_samples:
        fixes.append("padded")
        audio = np.pad(audio, (0, num_samples - len(audio)))
    return audio[:num_samples].astype(np.float32), fixes


def write_synthetic_nsynth(
    root: str | Path,
    instruments_per_source: dict[str, int] | None = None,
    pitches: range | list[int] = range(40, 89),
    velocities: tuple[int, ...] = synth.VELOCITIES,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Writes synthetic guitar notes in NSynth's layout and format; returns ``root``.

    ``root/nsynth-guitar-{train,valid,test}/audio/<name>.wav`` (4 s, 16 kHz mono, 16-bit) plus an
    ``examples.json`` per split. ``instruments_per_source`` gives, per split, how many instruments of
    each source (acoustic, electronic, synthetic) it holds; splits never share an instrument.
    Each instrument plays the ``pitches`` inside its range at every velocity. Deterministic in ``seed``;
    a second call with the same arguments finds the finished set and returns at once.
    """
    import soundfile as sf
    from ..progress import progress_bar as tqdm

    instruments_per_source = instruments_per_source or {"train": 4, "valid": 1, "test": 1}
    root = Path(root)
    settings = {"instruments_per_source": instruments_per_source, "pitches": list(pitches),
                "velocities": list(velocities), "seed": seed, "generator": "karplus-strong-v1"}
    marker = root / "synthetic.json"
    if marker.is_file():
        if json.loads(marker.read_text()) == settings:
            return root
        for old in root.glob("nsynth-guitar-*"):  # a set this function wrote with other settings
            shutil.rmtree(old)

    rng = np.random.default_rng(seed)
    plan = []  # (split, guitar)
    number = Counter()
    for split, count in instruments_per_source.items():
        for source in synth.SOURCES:
            for _ in range(count):
                name = f"guitar_{source}_{number[source]:03d}"
                number[source] += 1
                plan.append((split, synth.random_guitar(name, source, rng)))
    total = sum(len([p for p in pitches if g.lowest_pitch <= p <= g.highest_pitch]) for _, g in plan) * len(velocities)
    examples: dict[str, dict] = {split: {} for split in instruments_per_source}
    with tqdm(total=total, desc="Synthesising notes", disable=not progress) as bar:
        for split, guitar in plan:
            audio_dir = root / f"nsynth-guitar-{split}" / "audio"
            audio_dir.mkdir(parents=True, exist_ok=True)
            for pitch in (p for p in pitches if guitar.lowest_pitch <= p <= guitar.highest_pitch):
                for velocity in velocities:
                    name = f"{guitar.name}-{pitch:03d}-{velocity:03d}"
                    note = synth.pluck(guitar, pitch, velocity, rng)
                    sf.write(audio_dir / f"{name}.wav", note, synth.SAMPLE_RATE, subtype="PCM_16")
                    examples[split][name] = {
                        "note_str": name, "pitch": pitch, "velocity": velocity,
                        "instrument_str": guitar.name, "instrument_source_str": guitar.source,
                        "instrument_family_str": "guitar", "sample_rate": synth.SAMPLE_RATE, "qualities_str": [],
                    }
                    bar.update()
    for split, table in examples.items():
        (root / f"nsynth-guitar-{split}" / "examples.json").write_text(json.dumps(table, indent=1))
    marker.write_text(json.dumps(settings))
    return root
