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
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import synth
from ..runtime.files import write_atomically, write_text_atomically
from ..runtime.lock import LOCK_NAME
from .labels import PITCH_RANGE, SOURCES, VELOCITIES, VELOCITY_RANGE

AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac")
SPLITS = ("train", "valid", "test")
NOTE_NAME = re.compile(
    r"^(?P<family>[a-z]+)_(?P<source>acoustic|electronic|synthetic)_(?P<number>\d{3})-(?P<pitch>\d{3})-(?P<velocity>\d{3})$"
)
NAME_PATTERN = "<family>_<source>_<NNN>-<pitch>-<velocity>"
#: Shortest note kept, as a fraction of the target length; shorter ones are skipped, longer ones padded.
MIN_LENGTH_FRACTION = 0.5
#: A note whose peak stays below this (about -80 dBFS, 3 steps of 16-bit audio) is silence and is skipped.
SILENCE_PEAK = 1e-4


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
    fixes: Counter = field(default_factory=Counter)  # what was decided for the user, counted
    fix_examples: dict[str, str] = field(default_factory=dict)  # fix -> its first case, naming the file

    def fixed(self, fix: str, example: str) -> None:
        self.fixes[fix] += 1
        self.fix_examples.setdefault(fix, example)

    def summary(self) -> str:
        reasons = Counter(reason for _, reason in self.skipped)
        text = f"{len(self.notes)} notes"
        if reasons:
            text += ", skipped " + ", ".join(f"{n} ({r})" for r, n in reasons.items())
        if self.fixes:
            text += "; " + ", ".join(f"{n} {fix} (e.g. {self.fix_examples[fix]})" for fix, n in self.fixes.items())
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
    if root.is_file():
        raise NotADirectoryError(f"{root} is a file, not a folder of notes: pass the folder that holds it "
                                 f"(`data=\"{root.parent}\"`).")
    if not root.is_dir():
        raise FileNotFoundError(f"Data folder {root} does not exist. Pass a folder of NSynth notes, "
                                "or leave `data` out to generate the synthetic set.")
    found = {}
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        for split in SPLITS:
            if child.name == split or child.name.endswith("-" + split):
                found.setdefault(split, child)
    return found


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def _examples_json(path: Path) -> dict:
    """NSynth's ``examples.json``: ``{note name: {"pitch": int, "velocity": int, ...}}`` ({} when absent)."""
    if not path.is_file():
        return {}
    table = _json_object(path, "examples.json maps each note name to its labels: {\"guitar_acoustic_004-071-025\": "
                         '{"pitch": 71, "velocity": 25, ...}, ...}. Fix or delete it (labels then come from the file '
                         "names).")
    return table


def _check_range(labels: dict) -> str | None:
    """Why ``labels`` cannot be a MIDI note (None when they can)."""
    for key, (low, high) in (("pitch", PITCH_RANGE), ("velocity", VELOCITY_RANGE)):
        if not low <= labels[key] <= high:
            return f"{key} {labels[key]} is outside MIDI's {low}-{high}"
    return None


def _whole_number(value) -> int | None:
    """``71``, ``71.0`` or ``"71"`` -> 71; anything else (``71.5``, ``"A4"``, ``True``, ``None``) -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _entry_labels(entry, name_labels: dict | None) -> tuple[dict | None, str | None]:
    """Labels from one ``examples.json`` entry (name labels fill what it lacks), or why it is unusable."""
    if not isinstance(entry, dict):
        return None, f"the entry is a {type(entry).__name__}, not {{\"pitch\": ..., \"velocity\": ...}}"
    labels = dict(name_labels or {"instrument": entry.get("instrument_str"),
                                  "source": entry.get("instrument_source_str", "unknown")})
    labels["instrument"] = str(entry.get("instrument_str", labels["instrument"]))
    labels["source"] = str(entry.get("instrument_source_str", labels["source"]))
    for key in ("pitch", "velocity"):
        value = entry.get(key, labels.get(key))
        if value is None:
            return None, f"the entry has no {key!r}"
        number = _whole_number(value)
        if number is None:
            return None, f"{key} {value!r} is not a whole number"
        labels[key] = number
    if labels["instrument"] in (None, "None"):
        return None, "the entry has no 'instrument_str' and the file name does not give one"
    return labels, None


def _read_folder(folder: Path, split: str, outside: Path | None = None) -> NoteList:
    """The notes under ``folder``. Labels: the file name when it is an NSynth name (it is what you see, and
    NSynth's own ``note_str``), else ``folder/examples.json``. An entry that contradicts the name is counted
    and reported, never silently obeyed: it could move a note into the other split. ``outside``: an
    ``examples.json`` above the data folder, reported as ignored."""
    json_path = folder / "examples.json"
    examples = _examples_json(json_path)
    result = NoteList()
    if outside is not None and outside.is_file() and not examples:
        result.fixed("examples.json outside the data folder ignored, labels from the file names",
                     f"{outside}; to use it, pass its folder as `data`")
    for path in _audio_files(folder):
        name_labels = parse_note_name(path.stem)
        labels = name_labels
        if path.stem in examples:
            entry_labels, problem = _entry_labels(examples[path.stem], name_labels)
            where = f"{json_path} entry {path.stem!r}"
            if name_labels is None:
                if problem is not None:
                    why = f"{where}: {problem}; fix the entry, or name the file {NAME_PATTERN}"
                    result.skipped.append((path, why))
                    continue
                labels = entry_labels
            elif problem is not None:
                result.fixed("labels from the file name (examples.json entry unusable)", f"{where}: {problem}")
            else:
                differences = [f"{key} {entry_labels[key]} there" for key in ("instrument", "pitch", "velocity")
                               if entry_labels[key] != name_labels[key]]
                if differences:
                    result.fixed("labels from the file name (examples.json disagrees)",
                                 f"{path.name}: {', '.join(differences)}")
        if labels is None:
            result.skipped.append((path, f"name is not {NAME_PATTERN}"))
            continue
        out_of_range = _check_range(labels)
        if out_of_range is not None:
            result.skipped.append((path, f"{out_of_range}; fix the name or examples.json"))
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
    everything = list_flat_folder(root)
    in_valid = valid_by_instrument(everything.notes)
    wanted = {"train": False, "valid": True}.get(split)
    if wanted is None:
        return NoteList()
    notes = [Note(**{**n.__dict__, "split": split}) for n, v in zip(everything.notes, in_valid) if v == wanted]
    if split == "train":  # files skipped or fixed are reported once, with the training split
        return NoteList(notes=notes, skipped=everything.skipped, fixes=everything.fixes,
                        fix_examples=everything.fix_examples)
    return NoteList(notes=notes)


def list_flat_folder(root: Path) -> NoteList:
    """Every note of a folder without split folders (labelled "train" until :func:`valid_by_instrument`)."""
    everything = _read_folder(root, "train", outside=root.resolve().parent / "examples.json")
    if not everything.notes and not everything.skipped:
        raise FileNotFoundError(f"No audio files ({', '.join(AUDIO_EXTENSIONS)}) in {root}. "
                                "Point `data` at a folder of NSynth notes.")
    return everything


def valid_by_instrument(notes: list[Note]) -> list[bool]:
    """Which of a flat folder's ``notes`` go to "valid": about one instrument in six (a fixed shuffle), as
    NSynth splits; with a single instrument, every seventh note."""
    instruments = sorted({n.instrument for n in notes})
    if len(instruments) >= 2:
        shuffled = list(np.random.default_rng(0).permutation(instruments))
        valid = set(shuffled[: max(1, round(len(instruments) / 6))])
        return [n.instrument in valid for n in notes]
    return [i % 7 == 6 for i in range(len(notes))]


def empty_split_message(root: str | Path, split: str, listing: NoteList) -> str:
    """Why ``split`` of ``root`` has no notes, and what to do (the caller needs every split)."""
    root = Path(root)
    folders = find_split_folders(root)
    if folders and split not in folders:
        return (f"{root} has split folders ({', '.join(sorted(folders))}) but none for {split!r}: add a folder "
                f"named {split} or nsynth-guitar-{split} with notes in it.")
    if folders or listing.skipped:
        where = folders.get(split, root)
        return (f"No usable {split} notes in {where} ({listing.summary()}). Notes are .wav/.mp3/.flac files named "
                "<family>_<source>_<NNN>-<pitch>-<velocity>, e.g. guitar_acoustic_004-071-025.wav.")
    return too_few_to_split(root, list_notes(root, "train").notes + list_notes(root, "valid").notes)


def too_few_to_split(root: str | Path, usable: list[Note], skipped: int = 0) -> str:
    """Why a flat folder's ``usable`` notes cannot be split into train and valid, and what to do."""
    instruments = len({n.instrument for n in usable})
    unreadable = f" ({skipped} other file(s) skipped: see the report)" if skipped else ""
    return (f"{root} holds {len(usable)} usable note(s) of {instruments} instrument(s){unreadable}: too few to "
            "split into train and valid. A flat folder is split by instrument (about one instrument in six goes to "
            "valid), which needs at least 2 instruments; a single instrument needs at least 7 notes (every seventh "
            "goes to valid). Add notes or instruments, or put your notes in train/ and valid/ folders.")


def load_note(path: str | Path, sample_rate: int, num_samples: int) -> tuple[np.ndarray, list[str]]:
    """Reads a note as ``[num_samples]`` float32 mono at ``sample_rate``, and the fixes it needed.

    Stereo is averaged (or, when its channels cancel, the louder one kept), other rates are resampled
    (librosa / soxr), float audio past full scale is scaled down to peak 1, and the note is cut or padded with
    silence; each fix is named in the returned list.
    Raises :class:`AudioError` for unreadable, empty, non-finite, silent or too-short files.
    """
    import soundfile as sf

    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes). Re-download or delete it.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with sf.SoundFile(path) as file:
                audio, file_rate, header = file.read(dtype="float32", always_2d=True), file.samplerate, file.extra_info
    except Exception as error:  # soundfile raises several types for damaged files
        raise AudioError(f"{path}: cannot be read as audio ({error}). Re-download or delete the file.") from error
    cut_short = re.search(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", header, re.MULTILINE)
    if cut_short and int(cut_short.group(2)) < int(cut_short.group(1)):  # a WAV whose data end before its header says
        promised = int(cut_short.group(1)) / max(1, int(cut_short.group(2))) * len(audio) / file_rate
        raise AudioError(f"{path}: the file is truncated (its header promises {promised:.2f} s, it holds "
                         f"{len(audio) / file_rate:.2f} s): an interrupted copy or download. Re-download or delete it.")
    fixes = []
    if audio.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no samples. Re-download or delete it.")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: the audio holds NaN or infinite values. Re-download or delete it.")
    peak = float(np.abs(audio).max())
    if peak < SILENCE_PEAK:
        raise AudioError(f"{path}: the file is silent (peak {peak:.1e}, under {SILENCE_PEAK:.0e}). "
                         "Re-record, re-download or delete it.")
    if audio.shape[1] > 1:
        mixed = audio.mean(axis=1)
        if np.abs(mixed).max() < 0.01 * peak:  # e.g. right = -left: the mix would be silence
            fixes.append("stereo channels cancel: louder channel kept")
            mixed = audio[:, int(np.abs(audio).max(axis=0).argmax())]
        else:
            fixes.append("mixed to mono")
        audio = mixed
    else:
        audio = audio[:, 0]
    if file_rate != sample_rate:
        import librosa

        audio = librosa.resample(audio, orig_sr=file_rate, target_sr=sample_rate)
        fixes.append(f"resampled from {file_rate} Hz")
    if len(audio) < MIN_LENGTH_FRACTION * num_samples:
        raise AudioError(f"{path}: only {len(audio) / sample_rate:.2f} s long, under "
                         f"{MIN_LENGTH_FRACTION * num_samples / sample_rate:.2f} s. NSynth notes last 4 s; "
                         "remove the file or lower the note length.")
    loudest = float(np.abs(audio).max())
    if loudest > 1.0:  # float audio past full scale (a 16-bit file cannot be): it would clip wherever it is played
        fixes.append("scaled down to full scale (float audio peaking past 1)")
        audio = audio / loudest
    if len(audio) < num_samples:
        fixes.append("padded")
        audio = np.pad(audio, (0, num_samples - len(audio)))
    elif len(audio) > 1.01 * num_samples:  # a longer note; MP3 decoders may add a few samples: not worth a word
        fixes.append(f"cut to {num_samples / sample_rate:.2f} s")
    return audio[:num_samples].astype(np.float32), fixes


def write_synthetic_nsynth(
    root: str | Path,
    instruments_per_source: dict[str, int] | None = None,
    pitches: range | list[int] = range(40, 89),
    velocities: tuple[int, ...] = VELOCITIES,
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
    from ..runtime.progress import progress_bar as tqdm

    instruments_per_source = instruments_per_source or {"train": 4, "valid": 1, "test": 1}
    root = Path(root)
    settings = {"instruments_per_source": instruments_per_source, "pitches": list(pitches),
                "velocities": list(velocities), "seed": seed, "generator": "karplus-strong-v1"}
    marker = root / "synthetic.json"
    if marker.is_file():
        made = _read_marker(marker)
        if {k: v for k, v in made.items() if k != "complete"} != settings:
            differ = ", ".join(f"{k} {made.get(k)!r} (asked: {v!r})" for k, v in settings.items() if made.get(k) != v)
            raise FileExistsError(f"{root} holds a synthetic set made with other settings ({differ}); not writing "
                                  "into it. Choose another folder, or delete that one yourself if you no longer "
                                  "need it.")
        damaged = _damaged_synthetic_notes(root, instruments_per_source) if made.get("complete", True) else None
        if damaged is not None and not damaged:  # sets written before the flag existed wrote the marker last
            return root
        if damaged:
            print(f"{len(damaged)} synthetic note(s) in {root} are missing or cut (e.g. {damaged[0]}): writing the set "
                  "again, so that every run trains on all of its notes.")
    elif root.exists() and (not root.is_dir() or any(p.name != LOCK_NAME for p in root.iterdir())):
        found = ", ".join([p.name for p in sorted(root.iterdir()) if p.name != LOCK_NAME][:3]) if root.is_dir() \
            else "a file"
        raise FileExistsError(f"{root} is not empty ({found}...) and was not made by the synthetic-set writer: "
                              "not writing into it, so nothing of yours is replaced or mixed with synthetic "
                              "notes. Choose a new or empty folder.")
    root.mkdir(parents=True, exist_ok=True)
    write_text_atomically(marker, json.dumps({**settings, "complete": False}))  # ours from now on

    rng = np.random.default_rng(seed)
    plan = []  # (split, guitar)
    number = Counter()
    for split, count in instruments_per_source.items():
        for source in SOURCES:
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
                    # A second run sharing this cache never reads half a file.
                    write_atomically(audio_dir / f"{name}.wav", lambda tmp: sf.write(
                        tmp, note, synth.SAMPLE_RATE, subtype="PCM_16", format="WAV"))
                    examples[split][name] = {
                        "note_str": name, "pitch": pitch, "velocity": velocity,
                        "instrument_str": guitar.name, "instrument_source_str": guitar.source,
                        "instrument_family_str": "guitar", "sample_rate": synth.SAMPLE_RATE, "qualities_str": [],
                    }
                    bar.update()
    for split, table in examples.items():
        write_text_atomically(root / f"nsynth-guitar-{split}" / "examples.json", json.dumps(table, indent=1))
    write_text_atomically(marker, json.dumps({**settings, "complete": True}))
    return root


def _damaged_synthetic_notes(root: Path, instruments_per_source: dict[str, int]) -> list[str]:
    """The notes a finished synthetic set lists (``examples.json``) that are missing or not of a whole note's size."""
    size = 44 + 2 * int(synth.SAMPLE_RATE * synth.DURATION_S)  # a 16-bit mono WAV of 4 s
    damaged = []
    for split in instruments_per_source:
        folder = root / f"nsynth-guitar-{split}"
        try:
            names = json.loads((folder / "examples.json").read_text())
        except (OSError, ValueError):
            return [str(folder / "examples.json")]
        for name in names:
            path = folder / "audio" / f"{name}.wav"
            if not path.is_file() or path.stat().st_size != size:
                damaged.append(str(path))
    return damaged


def _json_object(path: Path, what_to_do: str) -> dict:
    """The JSON object in ``path``; a ValueError naming the file and ``what_to_do`` if it is damaged or not one."""
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is damaged (not valid JSON: {error}). {what_to_do}") from error
    if not isinstance(value, dict):
        raise ValueError(f"{path} holds a JSON {type(value).__name__}, not an object. {what_to_do}")
    return value


def _read_marker(marker: Path) -> dict:
    """``synthetic.json``: the settings a synthetic set was made with (and whether it is complete)."""
    return _json_object(marker, f"It records how the synthetic set in {marker.parent} was made: delete that folder "
                                "(the library made it) and run again.")
