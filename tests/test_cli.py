import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tutorial_lib.__main__ import main
from tutorial_lib.data.labels import SOURCES
from tutorial_lib.data.synth import pluck, random_guitar


def test_ci_profile_runs_the_whole_pipeline_offline(tmp_path):
    """What the README promises: one command, offline, synthetic data, audible samples."""
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "tutorial_lib", "run", "--out", str(out), "--profile", "ci",
                           "--cache", str(tmp_path / "cache")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["source"].startswith("synthetic") and report["codec"].startswith("mel")
    assert report["data"]["notes"]["train"] > 100 and report["training"]["final_valid_loss"] < 1.0
    assert set(report["seconds"]) == {"data", "codec", "latents", "training", "sampling and decoding", "copy check",
                                      "evaluation"}
    assert report["copies"]["share"] < 0.25 and report["copies"]["warning"] is None and report["warnings"] == []
    assert report["training"]["this_command"] == "trained steps 1-600 with 1 process(es)"
    assert [(s["from_step"], s["to_step"], s["processes"]) for s in report["training"]["sessions"]] == [(0, 600, 1)]
    assert (out / "checkpoint.pt").is_file()
    wavs = sorted((out / "samples").glob("*.wav"))
    # A2, A3, A4 (45, 57, 69) at velocity 100, or the nearest the ci data hold (MIDI 40, 43, 46, ...; 25, 75, 127)
    assert [w.name for w in wavs][:3] == [f"pitch{p}_acoustic_velocity75_g1.wav" for p in (46, 58, 70)]
    assert len(wavs) == 7 and report["sampling"]["solver"] == "euler"
    for wav, info in zip(wavs, sorted(report["sampling"]["samples"], key=lambda s: s["file"])):
        audio, sr = sf.read(wav)
        assert sr == 16000 and np.isfinite(audio).all() and np.sqrt(np.mean(audio ** 2)) > 1e-3
        assert info["file"] == f"samples/{wav.name}" and abs(info["rms"] - np.sqrt(np.mean(audio ** 2))) < 1e-3
    evaluation = report["evaluation"]
    assert set(evaluation) == {"unconditional", "conditional (guidance 1)"}
    for scores in evaluation.values():  # every figure stands beside the real notes' own
        assert scores["num_notes"] == 32 and set(scores["figures"]) <= set(scores["real"])
    conditional = evaluation["conditional (guidance 1)"]["figures"]
    assert 0.0 <= conditional["pitch_accuracy"] <= 1.0 and "classifier_fd" in conditional


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
    assert main(["run", "--out", str(out), "--data", str(data), "--codec", "mel", "--train-steps", "20",
                 "--eval-samples", "8", "--cache", str(tmp_path / "cache")]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["notes"]["train"] + report["data"]["notes"]["valid"] == 18
    skipped = report["data"]["skipped"]["train+valid"]  # a flat folder is read whole, then split
    assert [s["file"].endswith("guitar_acoustic_000-060-100.mp3") and "empty" in s["reason"] for s in skipped] == [True]
    assert report["data"]["source"] == f"the folder {data}"
    # the evaluation runs on a folder nobody here made, against its own notes
    scores = report["evaluation"]["conditional (guidance 1)"]
    assert 0.0 <= scores["figures"]["pitch_accuracy"] <= 1.0 and "pitch_accuracy" in scores["real"]


def test_bad_input_gives_a_message_not_a_traceback(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["run", "--out", str(tmp_path / "o"), "--data", str(tmp_path / "empty"), "--codec", "mel"]) == 1
    assert "No audio files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(tmp_path / "o"), "--codec", "wavenet"])
    assert exit_info.value.code == 2


def write_notes(folder, seed):
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i, source in enumerate(SOURCES):
        guitar = random_guitar(f"guitar_{source}_{i:03d}", source, rng)
        for pitch in (45, 57, 69):
            sf.write(folder / f"{guitar.name}-{pitch:03d}-100.wav", pluck(guitar, pitch, 100, rng), 16000)
    return str(folder)


def test_run_refuses_to_resume_another_runs_checkpoint_until_told_to_restart(tmp_path, capsys):
    """``run --out X`` on other data than X's checkpoint (as ``--profile ci`` then ``--profile cpu``) must not
    continue the old weights on the new data: it stops, names the difference, and says what to do."""
    out, cache = str(tmp_path / "run"), str(tmp_path / "cache")
    common = ["--codec", "mel", "--steps", "2", "--cache", cache, "--eval-samples", "0"]
    assert main(["run", "--out", out, "--data", write_notes(tmp_path / "a", 0), *common]) == 0
    capsys.readouterr()
    other = write_notes(tmp_path / "b", 1)
    assert main(["run", "--out", out, "--data", other, *common]) == 1
    error = capsys.readouterr().err
    assert "training latents" in error and f"{out}/checkpoint.pt" in error
    assert "Choose another --out to keep that run, or start over with --restart, which overwrites it." in error
    assert main(["run", "--out", out, "--data", other, "--restart", *common]) == 0
    assert json.loads((tmp_path / "run" / "report.json").read_text())["data"]["folder"] == other


@pytest.mark.parametrize("steps", ["0", "-3", "ten"])
def test_nonsense_step_counts_are_refused(tmp_path, capsys, steps):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(tmp_path / "o"), f"--steps={steps}"])
    assert exit_info.value.code == 2
    assert "give a whole number of training steps, 1 or more" in capsys.readouterr().err
    from tutorial_lib.pipeline import run_pipeline

    if steps != "ten":
        with pytest.raises(ValueError, match="at least 1 step"):
            run_pipeline(tmp_path / "o", steps=int(steps), progress=False)


def test_data_given_a_file_names_its_folder(tmp_path, capsys):
    note = tmp_path / "guitar_acoustic_000-060-100.wav"
    sf.write(note, np.zeros(16000), 16000)
    assert main(["run", "--out", str(tmp_path / "o"), "--data", str(note), "--codec", "mel",
                 "--cache", str(tmp_path / "cache")]) == 1
    assert f"is a file, not a folder of notes: pass the folder that holds it (--data {tmp_path})" in capsys.readouterr().err


def test_m2l_without_weights_fails_first_and_points_to_codec_mel(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("M2L_WEIGHTS", str(tmp_path / "missing.pt"))  # weights nowhere, hub offline
    assert main(["run", "--out", str(tmp_path / "o"), "--codec", "m2l", "--cache", str(tmp_path / "cache")]) == 1
    assert "--codec mel" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.wav"))  # no data made first


def test_gpu_profile_offline_says_the_download_needs_internet(tmp_path, capsys, monkeypatch):
    import urllib.error

    from tutorial_lib.data import download

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(download.urllib.request, "urlopen", offline)
    assert main(["run", "--out", str(tmp_path / "o"), "--profile", "gpu", "--codec", "mel",
                 "--cache", str(tmp_path / "cache")]) == 1
    err = capsys.readouterr().err
    assert "needs internet" in err and "raw.githubusercontent.com cannot be reached" in err
    assert "--data /path/to/NSYNTH_GUITAR_MP3" in err


def test_ctrl_c_during_training_saves_a_checkpoint_and_the_same_command_resumes(tiny_nsynth, tmp_path, capsys,
                                                                                monkeypatch):
    import torch

    from tutorial_lib import training

    out = tmp_path / "run"
    command = ["run", "--out", str(out), "--data", str(tiny_nsynth), "--codec", "mel", "--steps", "12",
               "--cache", str(tmp_path / "cache"), "--eval-samples", "0"]
    real_update, calls = training.update_ema, []

    def interrupted_at_step_7(*args, **kwargs):  # a real Ctrl-C, landing inside step 7
        calls.append(1)
        if len(calls) == 7:
            os.kill(os.getpid(), signal.SIGINT)
        real_update(*args, **kwargs)

    monkeypatch.setattr(training, "update_ema", interrupted_at_step_7)
    # Ctrl-C at a terminal reaches Python's own handler (a test worker started in the background may have SIGINT
    # ignored: the training loop then raises KeyboardInterrupt itself, tests/test_training.py)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert main(command) == 130
    finally:
        signal.signal(signal.SIGINT, previous)
    err = capsys.readouterr().err
    assert f"Training was saved in {out / 'checkpoint.pt'}: run the same command again to resume." in err
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    assert state["step"] == 7 and len(state["history"]["train_loss"]) == 7  # the step it landed in, finished
    monkeypatch.setattr(training, "update_ema", real_update)
    assert main(command) == 0
    assert json.loads((out / "report.json").read_text())["training"]["steps"] == 12
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == 12


def test_the_run_says_how_many_cpu_threads_it_uses(tiny_nsynth, tmp_path):
    done = subprocess.run([sys.executable, "-m", "tutorial_lib", "run", "--out", str(tmp_path / "o"), "--data",
                           str(tiny_nsynth), "--codec", "mel", "--steps", "2", "--cache", str(tmp_path / "cache"),
                           "--eval-samples", "0"],
                          capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "TUTORIAL_LIB_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("Using 1 CPU thread (from $TUTORIAL_LIB_THREADS).") == 1


def test_named_notes_go_to_the_nearest_label_the_data_hold():
    import torch

    from tutorial_lib.pipeline import nearest_held

    cpu_pitches = torch.tensor([-1, *range(40, 89, 2)])  # -1: a note without a pitch label
    assert nearest_held((45, 57, 69, 60), cpu_pitches) == (44, 56, 68, 60)  # a tie goes to the lower
    assert nearest_held((100, 20), torch.tensor([25, 75, 127])) == (75, 25)
    assert nearest_held((45,), torch.tensor([-1, -1])) == (45,)  # no labels at all: asked as is


def test_a_flat_folder_is_split_among_the_notes_that_could_be_read(tmp_path, capsys):
    """Unreadable files under instrument names of their own once emptied the split chosen before reading."""
    data = tmp_path / "notes"
    write_notes(data, 0)
    for i in range(40):  # instruments that exist only as broken files
        (data / f"guitar_acoustic_{100 + i:03d}-060-100.wav").write_bytes(b"RIFF broken")
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--data", str(data), "--codec", "mel", "--steps", "2",
                 "--cache", str(tmp_path / "cache"), "--eval-samples", "0"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["notes"] == {"train": 6, "valid": 3}  # the 9 good notes, 2 instruments to 1
    assert len(report["data"]["skipped"]["train+valid"]) == 40
    assert any("only 3 validation notes" in w for w in report["warnings"])
    assert "warning: only 6 training notes, fewer than the batch of 32" in capsys.readouterr().out
    assert report["training"]["batch_size"] == 6  # what each step used, not the profile's 32


def test_a_reload_keeps_the_trainings_own_record(tiny_nsynth, tmp_path):
    out = tmp_path / "run"
    command = ["run", "--out", str(out), "--data", str(tiny_nsynth), "--codec", "mel", "--steps", "3",
               "--cache", str(tmp_path / "cache"), "--eval-samples", "0"]
    assert main(command) == 0
    trained = json.loads((out / "report.json").read_text())["training"]
    assert main(command) == 0
    reloaded = json.loads((out / "report.json").read_text())["training"]
    assert reloaded["this_command"] == "reloaded the finished checkpoint (no training)"
    assert reloaded["sessions"] == trained["sessions"] and reloaded["train_seconds"] == trained["train_seconds"]


def test_negative_eval_samples_are_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", str(tmp_path / "o"), "--eval-samples", "-1"])
    assert exit_info.value.code == 2 and "give a whole number, 0 or more" in capsys.readouterr().err
    from tutorial_lib.pipeline import run_pipeline

    with pytest.raises(ValueError, match="eval_samples=-1"):
        run_pipeline(tmp_path / "o", eval_samples=-1, progress=False)
    assert not (tmp_path / "o").exists()


def test_the_copy_check_warns_on_a_model_that_replays_its_training_notes(tiny_nsynth, tmp_path):
    """A "model" that returns training notes scores a copy share near 1 and warns; fresh noise scores 0."""
    import torch

    from tutorial_lib.pipeline import copy_report, prepare

    prepared = prepare("ci", data=tiny_nsynth, codec="mel", cache_dir=tmp_path / "cache", progress=False)
    train = prepared.data.train.latents

    copying = copy_report(train + 0.01 * torch.randn_like(train), prepared)
    assert copying["share"] > 0.9 and "copies its training notes" in copying["warning"]
    fresh = copy_report(torch.randn_like(train), prepared)
    assert fresh["share"] < 0.1 and fresh["warning"] is None


def test_run_never_writes_over_files_it_did_not_make(tmp_path, capsys):
    """An --out with a report.json or samples/*.wav but no checkpoint.pt was not made by a run: refused."""
    out = tmp_path / "mine"
    (out / "samples").mkdir(parents=True)
    (out / "samples" / "sample_00.wav").write_bytes(b"my recording")
    (out / "report.json").write_text("my notes")
    assert main(["run", "--out", str(out), "--codec", "mel", "--cache", str(tmp_path / "cache")]) == 1
    err = capsys.readouterr().err
    assert str(out / "report.json") in err and str(out / "samples" / "sample_00.wav") in err and "no checkpoint" in err
    assert (out / "report.json").read_text() == "my notes"
    assert (out / "samples" / "sample_00.wav").read_bytes() == b"my recording"
    assert not (tmp_path / "cache").exists()  # refused before any work


def test_one_evaluation_sample_is_refused_before_any_work(tmp_path, capsys):
    """`--eval-samples 1` once failed after training, in scipy's sqrtm, and wrote no report."""
    assert main(["run", "--out", str(tmp_path / "o"), "--eval-samples", "1", "--cache", str(tmp_path / "c")]) == 1
    assert "give 0 (no evaluation) or 2 notes or more" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "c").exists()


def _quick_run(out, data, cache, steps="3", *more):
    return main(["run", "--out", str(out), "--data", str(data), "--codec", "mel", "--steps", steps, "--cache",
                 str(cache), "--eval-samples", "0", *more])


def test_restart_removes_the_old_models_notes_it_made_and_nothing_else(tiny_nsynth, tmp_path):
    """`run --restart` with other settings once left the old model's samples/sample_04.wav beside the new notes."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    assert _quick_run(out, tiny_nsynth, cache) == 0
    report = json.loads((out / "report.json").read_text())  # as an older run that wrote one note more left it
    old = out / "samples" / "sample_09.wav"
    old.write_bytes((out / "samples" / "sample_00.wav").read_bytes())
    report["sampling"]["samples"].append({"file": "samples/sample_09.wav"})
    (out / "report.json").write_text(json.dumps(report))
    (out / "samples" / "sample_10.wav").write_bytes(b"mine: not in the report")
    assert _quick_run(out, tiny_nsynth, cache, "2", "--restart") == 0
    listed = {info["file"] for info in json.loads((out / "report.json").read_text())["sampling"]["samples"]}
    assert not old.exists() and (out / "samples" / "sample_10.wav").read_bytes() == b"mine: not in the report"
    assert {f"samples/{p.name}" for p in (out / "samples").iterdir()} == listed | {"samples/sample_10.wav"}


def test_fewer_steps_than_the_checkpoint_holds_are_refused_not_reported(tiny_nsynth, tmp_path, capsys):
    """`run --steps 300` over a finished 600-step checkpoint once reloaded it and reported 300 steps."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    assert _quick_run(out, tiny_nsynth, cache, "3") == 0
    capsys.readouterr()
    assert _quick_run(out, tiny_nsynth, cache, "2") == 1
    err = capsys.readouterr().err
    assert "was trained for 3 steps, more than the 2 asked" in err
    assert "choose another --out, or pass --restart to train from scratch" in err
    assert json.loads((out / "report.json").read_text())["training"]["steps"] == 3


def test_a_full_disk_while_saving_the_checkpoint_says_where_and_how_much_and_leaves_nothing(tiny_nsynth, tmp_path,
                                                                                           capsys, monkeypatch):
    import errno

    import torch

    real_save = torch.save

    def full_disk(obj, f):
        if "checkpoint.pt" in str(f):
            with open(f, "wb") as file:
                file.write(b"\0" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f)

    monkeypatch.setattr(torch, "save", full_disk)
    out = tmp_path / "run"
    assert _quick_run(out, tiny_nsynth, tmp_path / "cache") == 1
    err = capsys.readouterr().err
    assert f"The disk holding {out} is full: cannot write checkpoint.pt (it needs about" in err
    assert "run the same command again" in err
    assert not [p for p in out.rglob("*") if p.is_file()]  # no checkpoint, no temporary file


def test_a_note_in_both_train_and_valid_is_warned_about(tiny_nsynth, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_nsynth, data)
    note = next((data / "nsynth-guitar-train").rglob("*.wav"))
    shutil.copy(note, next((data / "nsynth-guitar-valid").rglob("*.wav")).parent / note.name)
    from tutorial_lib.pipeline import data_warnings, prepare

    prepared = prepare("ci", data=data, codec="mel", cache_dir=tmp_path / "cache", progress=False)
    assert any(f"1 note(s) are in both train and valid (e.g. {note.stem})" in w for w in data_warnings(prepared))


def test_a_run_folder_whose_paths_are_too_long_is_refused_before_any_work(tmp_path, capsys):
    """An --out whose files' paths passed the file system's limit once trained, then failed at every save."""
    out = tmp_path
    while len(str(out)) < 4060 - 201:
        out = out / ("d" * 200)
    out = out / ("e" * (4060 - len(str(out)) - 1))  # 4,060 characters: the folder can be made, its files cannot
    assert len(str(out)) == 4060
    assert main(["run", "--out", str(out), "--codec", "mel", "--steps", "2", "--cache", str(tmp_path / "c")]) == 1
    assert "too long for this file system" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()  # refused before any work
