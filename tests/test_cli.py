import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tutorial_lib.__main__ import main
from tutorial_lib.data.synth import SOURCES, pluck, random_guitar


def test_ci_profile_runs_the_whole_pipeline_offline(tmp_path):
    """What the README promises: one command, offline, synthetic data, audible samples."""
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "tutorial_lib", "run", "--out", str(out), "--profile", "ci",
                           "--cache", str(tmp_path / "cache")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["source"].startswith("synthetic") and report["codec"].startswith("mel")
    assert report["data"]["notes"]["train"] > 100 and report["training"]["final_valid_loss"] < 1.0
    assert set(report["seconds"]) == {"data", "codec", "latents", "training", "sampling", "decoding"}
    assert (out / "checkpoint.pt").is_file()
    wavs = sorted((out / "samples").glob("*.wav"))
    assert len(wavs) == 4
    for wav in wavs:
        audio, sr = sf.read(wav)
        assert sr == 16000 and np.isfinite(audio).all() and np.sqrt(np.mean(audio ** 2)) > 1e-3


def test_flat_folder_of_mp3_notes_with_names_only(tmp_path, capsys):
    """A folder nobody here made: flat, MP3 at 16 kHz, NSynth names, no examples.json, one bad file."""
    data = tmp_path / "notes"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i, source in enumerate(SOURCES * 2):
        guitar = random_guitar(f"guitar_{source}_{i:03d}", source, rng)
        for pitch in (45, 57, 69):
            sf.write(data / f"{guitar.name}-{pitch:03d}-100.mp3", pluck(guitar, pitch, 100, rng), 16000)
    (data / "guitar_acoustic_000-060-100.mp3").write_bytes(b"")  # an empty download
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--data", str(data), "--codec", "mel", "--steps", "20",
                 "--cache", str(tmp_path / "cache")]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["notes"]["train"] + report["data"]["notes"]["valid"] == 18
    skipped = report["data"]["skipped"]["train"] + report["data"]["skipped"]["valid"]
    assert [s["file"].endswith("guitar_acoustic_000-060-100.mp3") and "empty" in s["reason"] for s in skipped] == [True]
    assert report["data"]["source"] == f"the folder {data}"


def test_bad_input_gives_a_message_not_a_traceback(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["run", "--out", str(tmp_path / "o"), "--data", str(tmp_path / "empty"), "--codec", "mel"]) == 1
    assert "No audio files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(tmp_path / "o"), "--codec", "wavenet"])
    assert exit_info.value.code == 2
