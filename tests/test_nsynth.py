import json

import numpy as np
import pytest
import soundfile as sf

from tutorial_lib.data import AudioError, list_notes, load_note, parse_note_name, write_synthetic_nsynth
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


def test_second_generation_is_a_no_op_and_new_settings_replace_the_set(tmp_path):
    root = write_synthetic_nsynth(tmp_path, {"train": 1}, pitches=[60], velocities=(75,), progress=False)
    wav = next(root.rglob("*.wav"))
    mtime = wav.stat().st_mtime_ns
    write_synthetic_nsynth(tmp_path, {"train": 1}, pitches=[60], velocities=(75,), progress=False)
    assert wav.stat().st_mtime_ns == mtime
    write_synthetic_nsynth(tmp_path, {"train": 1}, pitches=[62], velocities=(75,), progress=False)
    assert {parse_note_name(p.stem)["pitch"] for p in root.rglob("*.wav")} == {62}


def test_examples_json_labels_win_over_the_name(tmp_path):
    folder = tmp_path / "nsynth-valid"
    write_note(folder / "audio" / "guitar_acoustic_001-060-100.wav")
    (folder / "examples.json").write_text(json.dumps({"guitar_acoustic_001-060-100": {
        "pitch": 61, "velocity": 50, "instrument_str": "guitar_acoustic_001", "instrument_source_str": "acoustic"}}))
    (note,) = list_notes(tmp_path, "valid").notes
    assert (note.pitch, note.velocity) == (61, 50)


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
