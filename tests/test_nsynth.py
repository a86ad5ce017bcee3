import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tutorial_lib.data import (
    AudioError,
    list_notes,
    load_note,
    parse_note_name,
    write_synthetic_nsynth,
)
from tutorial_lib.data.nsynth import find_split_folders


def write_note(path, seconds=4.0, sr=16000, channels=1, fmt=None):
    t = np.arange(int(seconds * sr)) / sr
    audio = 0.3 * np.sin(2 * np.pi * 220 * t)
    if channels == 2:
        audio = np.stack([audio, audio], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, sr, format=fmt)
    return path


def test_parse_note_name():
    assert parse_note_name("guitar_acoustic_004-071-025") == {
        "instrument": "guitar_acoustic_004", "source": "acoustic", "pitch": 71, "velocity": 25}
    assert parse_note_name("my_recording") is None
    assert parse_note_name("guitar_wooden_004-071-025") is None


def test_synthetic_set_has_nsynth_layout_and_labels(tiny_nsynth):
    splits = find_split_folders(tiny_nsynth)
    assert set(splits) == {"train", "valid"}
    assert splits["train"].name == "nsynth-guitar-train"
    examples = json.loads((splits["train"] / "examples.json").read_text())
    wavs = sorted((splits["train"] / "audio").glob("*.wav"))
    assert {w.stem for w in wavs} == set(examples)
    audio, sr = sf.read(wavs[0])
    assert sr == 16000 and audio.shape == (64000,)
    first = examples[wavs[0].stem]
    assert first["pitch"] == parse_note_name(wavs[0].stem)["pitch"]
    assert first["instrument_source_str"] in ("acoustic", "electronic", "synthetic")


def test_splits_have_disjoint_instruments_and_all_sources(tiny_nsynth):
    train, valid = list_notes(tiny_nsynth, "train"), list_notes(tiny_nsynth, "valid")
    assert not {n.instrument for n in train.notes} & {n.instrument for n in valid.notes}
    assert {n.source for n in train.notes} == {"acoustic", "electronic", "synthetic"}
    assert list_notes(tiny_nsynth, "test").notes == []


def test_second_generation_is_a_no_op_and_other_settings_are_refused(tmp_path):
    root = write_synthetic_nsynth(tmp_path, {"train": 1}, pitches=[60], velocities=(75,), progress=False)
    wav = next(root.rglob("*.wav"))
    mtime = wav.stat().st_mtime_ns
    write_synthetic_nsynth(tmp_path, {"train": 1}, pitches=[60], velocities=(75,), progress=False)
    assert wav.stat().st_mtime_ns == mtime
    mine = root / "nsynth-guitar-train" / "audio" / "guitar_acoustic_900-060-100.wav"  # a note the user added
    write_note(mine)
    with pytest.raises(FileExistsError, match=r"other settings \(pitches \[60\] \(asked: \[62\]\)"):
        write_synthetic_nsynth(tmp_path, {"train": 1}, pitches=[62], velocities=(75,), progress=False)
    assert mine.is_file() and wav.stat().st_mtime_ns == mtime


def test_synthetic_notes_are_never_mixed_into_a_folder_nobody_here_made(tmp_path):
    users = tmp_path / "my_nsynth"
    write_note(users / "nsynth-guitar-train" / "audio" / "guitar_acoustic_001-060-100.wav")
    (users / "nsynth-guitar-train" / "examples.json").write_text("{}")
    with pytest.raises(FileExistsError, match="not made by the synthetic-set writer") as error:
        write_synthetic_nsynth(users, {"train": 1}, pitches=[60], velocities=(75,), progress=False)
    assert str(users) in str(error.value)
    assert (users / "nsynth-guitar-train" / "examples.json").read_text() == "{}"
    assert [p.name for p in users.rglob("*.wav")] == ["guitar_acoustic_001-060-100.wav"]


def test_an_interrupted_synthetic_set_is_finished_and_a_damaged_marker_is_named(tmp_path, monkeypatch):
    from tutorial_lib.data import nsynth

    real_pluck, calls = nsynth.synth.pluck, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_pluck(*args, **kwargs)

    monkeypatch.setattr(nsynth.synth, "pluck", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic_nsynth(tmp_path, {"train": 1}, pitches=[60, 62], velocities=(75,), progress=False)
    monkeypatch.setattr(nsynth.synth, "pluck", real_pluck)
    root = write_synthetic_nsynth(tmp_path, {"train": 1}, pitches=[60, 62], velocities=(75,), progress=False)
    assert len(list(root.rglob("*.wav"))) == 2 * 3  # each of 3 instruments plays both pitches
    (root / "synthetic.json").write_text('{"pitches": [60,')
    with pytest.raises(ValueError, match="synthetic.json is damaged") as error:
        write_synthetic_nsynth(tmp_path, {"train": 1}, pitches=[60, 62], velocities=(75,), progress=False)
    assert str(root / "synthetic.json") in str(error.value)


def test_name_wins_over_a_contradicting_examples_json_and_says_so(tmp_path):
    folder = tmp_path / "nsynth-valid"
    write_note(folder / "audio" / "guitar_acoustic_001-060-100.wav")
    write_note(folder / "audio" / "my_take_1.wav")  # not an NSynth name: examples.json gives its labels
    (folder / "examples.json").write_text(json.dumps({
        "guitar_acoustic_001-060-100": {"pitch": 61, "velocity": 50, "instrument_str": "guitar_acoustic_009"},
        "my_take_1": {"pitch": 64, "velocity": 80, "instrument_str": "my_guitar", "instrument_source_str": "acoustic"}}))
    listing = list_notes(tmp_path, "valid")
    labels = {n.name: (n.instrument, n.pitch, n.velocity) for n in listing.notes}
    assert labels == {"guitar_acoustic_001-060-100": ("guitar_acoustic_001", 60, 100),
                      "my_take_1": ("my_guitar", 64, 80)}
    assert listing.fixes == {"labels from the file name (examples.json disagrees)": 1}
    assert "guitar_acoustic_001-060-100.wav: instrument guitar_acoustic_009 there, pitch 61 there, velocity 50 there" \
        in listing.summary()


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "holds a JSON list, not an object. examples.json maps each note name"),
    ("{not json", "is damaged \\(not valid JSON"),
])
def test_examples_json_of_the_wrong_shape_names_the_file(tmp_path, content, message):
    write_note(tmp_path / "guitar_acoustic_001-060-100.wav", seconds=1.0)
    (tmp_path / "examples.json").write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        list_notes(tmp_path, "train")
    assert str(tmp_path / "examples.json") in str(error.value)


def test_unusable_examples_json_entries_name_the_entry(tmp_path):
    folder = tmp_path / "train"
    for stem in ("take_a", "take_b", "take_c", "guitar_acoustic_001-060-100"):
        write_note(folder / f"{stem}.wav", seconds=1.0)
    (folder / "examples.json").write_text(json.dumps({
        "take_a": {"velocity": 50, "instrument_str": "mine"},              # no pitch
        "take_b": {"pitch": "A4", "velocity": 50, "instrument_str": "mine"},  # not a number
        "take_c": [60, 50],                                                  # not an object
        "guitar_acoustic_001-060-100": {"pitch": 60.5},                      # the name still gives the labels
    }))
    listing = list_notes(tmp_path, "train")
    reasons = {path.name: why for path, why in listing.skipped}
    assert "entry 'take_a': the entry has no 'pitch'" in reasons["take_a.wav"]
    assert "entry 'take_b': pitch 'A4' is not a whole number" in reasons["take_b.wav"]
    assert "entry 'take_c': the entry is a list" in reasons["take_c.wav"]
    assert all(str(folder / "examples.json") in why for why in reasons.values())
    (note,) = listing.notes
    assert note.pitch == 60
    assert "pitch 60.5 is not a whole number" in listing.summary()


def test_pitch_and_velocity_outside_midi_are_skipped(tmp_path):
    folder = tmp_path / "train"
    for stem in ("guitar_acoustic_001-130-100", "guitar_acoustic_001-999-100", "guitar_acoustic_001-060-999",
                 "guitar_acoustic_001-060-000", "guitar_acoustic_001-127-127"):
        write_note(folder / f"{stem}.wav", seconds=1.0)
    listing = list_notes(tmp_path, "train")
    assert [n.name for n in listing.notes] == ["guitar_acoustic_001-127-127"]
    reasons = sorted(why for _, why in listing.skipped)
    assert reasons == ["pitch 130 is outside MIDI's 0-127; fix the name or examples.json",
                       "pitch 999 is outside MIDI's 0-127; fix the name or examples.json",
                       "velocity 0 is outside MIDI's 1-127; fix the name or examples.json",
                       "velocity 999 is outside MIDI's 1-127; fix the name or examples.json"]


def test_examples_json_above_the_data_folder_is_not_used(tmp_path):
    data = tmp_path / "nsynth-valid" / "audio"
    write_note(data / "guitar_acoustic_001-060-100.wav", seconds=1.0)
    (tmp_path / "nsynth-valid" / "examples.json").write_text(json.dumps(
        {"guitar_acoustic_001-060-100": {"pitch": 30, "velocity": 50}}))
    listing = list_notes(data, "train")
    assert [n.pitch for n in listing.notes] == [60]
    assert "examples.json outside the data folder ignored" in listing.summary()
    assert str(tmp_path / "nsynth-valid" / "examples.json") in listing.summary()


def test_too_few_notes_to_split_says_so(tmp_path):
    from tutorial_lib.data.nsynth import empty_split_message

    for pitch in (60, 62):
        write_note(tmp_path / f"guitar_acoustic_001-{pitch:03d}-100.wav", seconds=1.0)
    listing = list_notes(tmp_path, "valid")
    assert listing.notes == []
    message = empty_split_message(tmp_path, "valid", listing)
    assert "holds 2 usable note(s) of 1 instrument(s): too few to split" in message
    assert "at least 2 instruments" in message and "at least 7 notes" in message
    assert "named" not in message  # the names are fine: the message must not blame them


def test_flat_mp3_folder_is_split_by_instrument_and_odd_names_are_reported(tmp_path):
    for i in range(6):
        for pitch in (50, 60):
            write_note(tmp_path / f"guitar_electronic_{i:03d}-{pitch:03d}-075.mp3", seconds=1.0, fmt="MP3")
    write_note(tmp_path / "holiday.mp3", seconds=1.0, fmt="MP3")
    train, valid = list_notes(tmp_path, "train"), list_notes(tmp_path, "valid")
    assert len(train.notes) + len(valid.notes) == 12 and len(valid.notes) >= 2
    assert not {n.instrument for n in train.notes} & {n.instrument for n in valid.notes}
    assert [p.name for p, _ in train.skipped] == ["holiday.mp3"]
    assert "skipped 1" in train.summary()


def test_empty_or_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="No audio files"):
        list_notes(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_notes(tmp_path / "nope", "train")
    note = write_note(tmp_path / "guitar_acoustic_001-060-100.wav")
    with pytest.raises(NotADirectoryError, match=f'is a file, not a folder of notes.*`data="{tmp_path}"`'):
        list_notes(note, "train")


def test_load_note_fixes_stereo_rate_and_length(tmp_path):
    path = write_note(tmp_path / "a.wav", seconds=3.0, sr=44100, channels=2)
    audio, fixes = load_note(path, 16000, 64000)
    assert audio.shape == (64000,) and audio.dtype == np.float32
    assert set(fixes) == {"mixed to mono", "resampled from 44100 Hz", "padded"}
    assert np.abs(audio[-1000:]).max() == 0  # padding is silence
    mp3 = write_note(tmp_path / "b.mp3", seconds=4.0, fmt="MP3")
    audio, fixes = load_note(mp3, 16000, 64000)
    assert audio.shape == (64000,) and fixes == [] and np.abs(audio).max() > 0.1


def test_load_note_rejects_bad_files_with_the_file_name(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF not really a wav file")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0,)), 16000)
    short = write_note(tmp_path / "short.wav", seconds=0.5)
    for path, message in ((corrupt, "cannot be read"), (empty, "no samples"), (short, "only 0.50 s")):
        with pytest.raises(AudioError, match=message) as error:
            load_note(path, 16000, 64000)
        assert str(path) in str(error.value)


def test_long_note_is_cut_and_says_so(tmp_path):
    path = write_note(tmp_path / "long.wav", seconds=60.0)
    audio, fixes = load_note(path, 16000, 64000)
    assert audio.shape == (64000,) and fixes == ["cut to 4.00 s"]


def test_silent_files_are_refused_and_cancelling_stereo_keeps_a_channel(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(64000), 16000)
    with pytest.raises(AudioError, match="silent") as error:
        load_note(silent, 16000, 64000)
    assert str(silent) in str(error.value)
    t = np.arange(64000) / 16000
    left = 0.3 * np.sin(2 * np.pi * 220 * t)
    cancelling = tmp_path / "cancelling.wav"
    sf.write(cancelling, np.stack([left, -left], axis=1), 16000, subtype="FLOAT")
    audio, fixes = load_note(cancelling, 16000, 64000)
    assert fixes == ["stereo channels cancel: louder channel kept"]
    assert np.allclose(audio, left, atol=1e-6)


def test_synthetic_set_is_written_through_temporary_names(tmp_path, monkeypatch):
    """Two runs sharing a cache may write the same set at once: no reader may see half a file."""
    import os

    from tutorial_lib.runtime import files

    renames = []
    real_replace = os.replace
    monkeypatch.setattr(files.os, "replace", lambda src, dst: (renames.append((src, dst)), real_replace(src, dst)))
    root = write_synthetic_nsynth(tmp_path, {"train": 1}, pitches=[60], velocities=(75,), progress=False)
    targets = {Path(dst).name for _, dst in renames}
    assert {p.name for p in root.rglob("*.wav")} <= targets and {"examples.json", "synthetic.json"} <= targets
    assert all(Path(src).name.endswith(".tmp") for src, _ in renames)
    assert not list(root.rglob("*.tmp"))


def test_a_truncated_wav_is_skipped_as_truncated_not_padded(tmp_path):
    """A copy cut off mid-way (its header promises 4 s) once trained as a note padded with silence."""
    whole = write_note(tmp_path / "whole.wav")
    data = whole.read_bytes()
    cut = tmp_path / "guitar_acoustic_000-060-100.wav"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(AudioError, match=r"truncated \(its header promises 4.00 s, it holds 2.6\d s\)") as error:
        load_note(cut, 16000, 64000)
    assert str(cut) in str(error.value)
    short = tmp_path / "short.wav"  # a whole file that is simply shorter is still padded
    sf.write(short, 0.3 * np.sin(np.arange(48000) / 10), 16000, subtype="PCM_16")
    assert load_note(short, 16000, 64000)[1] == ["padded"]


def test_float_audio_past_full_scale_is_scaled_down_and_the_fix_listed(tmp_path):
    """A float WAV peaking at 2.7 was once taken as it was, with no fix named."""
    import soundfile as sf

    from tutorial_lib.data.nsynth import load_note

    path = tmp_path / "guitar_acoustic_000-060-100.wav"
    sf.write(path, 2.7 * np.sin(np.linspace(0, 2000, 64000)).astype(np.float32), 16000, subtype="FLOAT")
    audio, fixes = load_note(path, 16000, 64000)
    assert "scaled down to full scale (float audio peaking past 1)" in fixes
    assert abs(np.abs(audio).max() - 1.0) < 1e-6


def test_a_synthetic_set_with_a_note_deleted_or_cut_is_written_again(tmp_path, capsys):
    """A deleted or cut note of a finished synthetic set once left every later run training on fewer notes."""
    from tutorial_lib.data import write_synthetic_nsynth

    root = write_synthetic_nsynth(tmp_path / "set", {"train": 1, "valid": 1}, pitches=range(40, 89, 12),
                                  velocities=(75,), progress=False)
    notes = sorted(root.rglob("*.wav"))
    whole = {p: p.read_bytes() for p in notes}
    stamp = notes[2].stat().st_mtime_ns
    write_synthetic_nsynth(root, {"train": 1, "valid": 1}, pitches=range(40, 89, 12), velocities=(75,), progress=False)
    assert notes[2].stat().st_mtime_ns == stamp and "missing or cut" not in capsys.readouterr().out  # whole: kept
    notes[0].unlink()
    notes[1].write_bytes(whole[notes[1]][:4096])
    write_synthetic_nsynth(root, {"train": 1, "valid": 1}, pitches=range(40, 89, 12), velocities=(75,), progress=False)
    assert "2 synthetic note(s) in" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in sorted(root.rglob("*.wav"))} == whole
