import numpy as np
import pytest
import soundfile as sf
import torch

from tutorial_lib.__main__ import main
from tutorial_lib.codec import MelCodec
from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.generation import LatentSpace, NoteGenerator, write_wav
from tutorial_lib.training import TrainConfig, train
from tutorial_lib.unet import UNet


def _space(sigma_frames=8):
    torch.manual_seed(0)
    return LatentSpace(MelCodec(), mean=torch.full((64,), -6.0), std=torch.full((64,), 2.0), num_frames=sigma_frames,
                       data_source="test latents")


def _checkpoint(tmp_path, conditioned=True, sigma_data=0.5):
    from tutorial_lib.conditioning import Conditions

    latents = torch.randn(8, 64, 8)
    labels = Conditions.make(8, pitch=list(range(50, 58)), source=0, velocity=100) if conditioned else None
    path = tmp_path / "checkpoint.pt"
    train(UNet(channels=(8, 8), emb_dim=16, conditioned=conditioned), RectifiedFlow(sigma_data=sigma_data), latents,
          config=TrainConfig(steps=2, batch_size=4), checkpoint_path=path, progress=False, train_conditions=labels,
          checkpoint_extra={"latent_space": _space().describe()})
    return path


def test_to_audio_undoes_the_standardisation_then_decodes():
    space = _space()
    raw = torch.full((64, 8), -3.0)
    standardised = (raw - space.mean[:, None]) / space.std[:, None]
    audio = space.to_audio(standardised[None])
    assert len(audio) == 1 and np.allclose(audio[0], space.codec.decode(raw))


def test_generator_rebuilt_from_a_checkpoint_keeps_its_flow_and_latent_space(tmp_path):
    generator = NoteGenerator.from_checkpoint(_checkpoint(tmp_path, sigma_data=0.5))
    assert generator.flow.sigma_data == 0.5 and generator.conditioned
    assert torch.equal(generator.space.std, torch.full((64,), 2.0)) and generator.space.num_frames == 8
    latents, audio = generator.generate(2, pitch=60, source="acoustic", guidance=2.0, num_steps=2)
    assert latents.shape == (2, 64, 8) and len(audio) == 2
    # sigma_data is undone by the sampler: the same noise through a flow with sigma_data 1 differs by 2x
    plain = NoteGenerator(generator.model, RectifiedFlow(), generator.space)
    other, _ = plain.generate(2, pitch=60, source="acoustic", guidance=2.0, num_steps=2)
    assert torch.allclose(latents, other / 0.5, atol=1e-5)


def test_generator_takes_per_note_labels_and_given_noise(tmp_path):
    from tutorial_lib.conditioning import Conditions
    from tutorial_lib.sampling import sample, seeded_noise

    generator = NoteGenerator.from_checkpoint(_checkpoint(tmp_path))
    asked = Conditions.make(3, pitch=[50, 55, 57], source=[0, 1, 2], velocity=100)
    noise = seeded_noise(3, 8, seed=4)
    latents = generator.sample_latents(3, conditions=asked, noise=noise, guidance=2.0, num_steps=2)
    by_hand = sample(generator.model, noise, num_steps=2, flow=generator.flow, conditions=asked, guidance=2.0).samples
    assert torch.allclose(latents, by_hand)
    # per-note labels matter: the same noise asked for one label throughout gives other notes
    same = generator.sample_latents(3, pitch=50, source=0, velocity=100, noise=noise, guidance=2.0, num_steps=2)
    assert torch.allclose(same[0], latents[0], atol=1e-6) and not torch.allclose(same[1:], latents[1:])
    # a seed draws the same noise as seeded_noise
    assert torch.allclose(generator.sample_latents(3, seed=4, conditions=asked, guidance=2.0, num_steps=2), latents)
    with pytest.raises(ValueError, match="not both"):
        generator.sample_latents(3, conditions=asked, pitch=50)
    with pytest.raises(ValueError, match="2 starting points for 3 notes"):
        generator.sample_latents(3, noise=noise[:2])


def test_unconditioned_model_refuses_labels(tmp_path):
    generator = NoteGenerator.from_checkpoint(_checkpoint(tmp_path, conditioned=False))
    with pytest.raises(ValueError, match="trained without labels"):
        generator.generate(1, pitch=60)


def _labelled_checkpoint(tmp_path, name="checkpoint.pt"):
    """A conditioned checkpoint that records its training labels (pitches 50-57, acoustic, velocity 100)."""
    from tutorial_lib.conditioning import Conditions
    from tutorial_lib.generation import labels_held

    folder = tmp_path / name.replace(".pt", "")
    folder.mkdir()
    labels = Conditions.make(8, pitch=list(range(50, 58)), source=0, velocity=100)
    train(UNet(channels=(8, 8), emb_dim=16, conditioned=True), RectifiedFlow(), torch.randn(8, 64, 8),
          config=TrainConfig(steps=2, batch_size=4, seed=len(name)), checkpoint_path=folder / "checkpoint.pt",
          progress=False, train_conditions=labels,
          checkpoint_extra={"latent_space": _space().describe(), "labels_held": labels_held(labels)})
    return folder / "checkpoint.pt"


GENERATE = ["--pitch", "52", "--source", "acoustic", "--velocity", "100", "--guidance", "2", "--num-steps", "2"]


def test_cli_generate_writes_notes_and_says_what_is_in_them(tmp_path, capsys):
    from tutorial_lib.generation import checkpoint_id

    path = _labelled_checkpoint(tmp_path)
    assert main(["generate", "--checkpoint", str(path), *GENERATE, "--num", "2", "--out", str(tmp_path / "notes")]) == 0
    files = sorted((tmp_path / "notes").glob("*.wav"))
    model = checkpoint_id(path)
    assert model.startswith("checkpoint-") and len(model) == len("checkpoint-") + 8
    assert [f.name for f in files] == [f"{model}-pitch52-acoustic-velocity100-g2-euler2-seed0-{i:03d}.wav"
                                       for i in range(2)]
    captured = capsys.readouterr()
    assert "2 training steps on test latents" in captured.out and "warning" not in captured.err
    assert main(["generate", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path)]) == 1
    assert "No checkpoint" in capsys.readouterr().err


def test_generate_never_writes_over_notes_and_a_second_model_gets_its_own_names(tmp_path, capsys):
    first, second = _labelled_checkpoint(tmp_path, "a.pt"), _labelled_checkpoint(tmp_path, "b.pt")
    out = tmp_path / "notes"
    assert main(["generate", "--checkpoint", str(first), *GENERATE, "--num", "2", "--out", str(out)]) == 0
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    assert main(["generate", "--checkpoint", str(second), *GENERATE, "--num", "2", "--out", str(out)]) == 0
    after = {f.name: f.read_bytes() for f in out.iterdir()}
    assert len(after) == 4 and all(after[name] == data for name, data in before.items())
    mine = sorted(before)[0]
    (out / mine).write_bytes(b"my own file")  # the same name again: kept, never replaced
    assert main(["generate", "--checkpoint", str(first), *GENERATE, "--num", "3", "--out", str(out)]) == 0
    assert (out / mine).read_bytes() == b"my own file" and len(list(out.iterdir())) == 5
    assert "2 of the 3 notes are already in" in capsys.readouterr().out


def test_generated_notes_do_not_depend_on_how_many_are_asked(tmp_path, monkeypatch):
    from tutorial_lib import generation

    monkeypatch.setattr(generation, "NOTE_BATCH", 2)  # 5 notes: batches of 2, 2 and 1
    generator = NoteGenerator.from_checkpoint(_labelled_checkpoint(tmp_path))
    kwargs = {"model_id": "m", "pitch": 52, "num_steps": 2}
    many = generation.write_notes(generator, tmp_path / "many", num=5, progress=False, **kwargs)
    few = generation.write_notes(generator, tmp_path / "few", num=3, progress=False, **kwargs)
    for a, b in zip(few, many):  # the same notes, up to float rounding (a batch of 1 is computed differently)
        assert np.allclose(sf.read(a)[0], sf.read(b)[0], atol=2e-3)
    assert len({f.read_bytes() for f in many}) == 5  # every batch draws its own noise


def test_generate_checks_its_folder_before_the_work(tmp_path, capsys, monkeypatch):
    from tutorial_lib import generation

    path = _labelled_checkpoint(tmp_path)
    monkeypatch.setattr(generation.NoteGenerator, "from_checkpoint", lambda *a, **k: pytest.fail("work began"))
    (tmp_path / "a_file").write_text("mine")
    for out in (tmp_path / "a_file", tmp_path / "a_file" / "notes"):
        assert main(["generate", "--checkpoint", str(path), "--out", str(out)]) == 1
        assert str(out) in capsys.readouterr().err
    assert (tmp_path / "a_file").read_text() == "mine"


@pytest.mark.parametrize("args, message", [
    (["--guidance", "nan", "--pitch", "52"], "give a finite number"),
    (["--guidance", "inf", "--pitch", "52"], "give a finite number"),
    (["--pitch", "128"], "--pitch 128: give 0-127"),
    (["--velocity", "0"], "--velocity 0: give 1-127"),
])
def test_generate_refuses_nonsense_labels_and_guidance(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--checkpoint", str(tmp_path / "c.pt"), "--out", str(tmp_path / "o"), *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_generate_names_files_by_what_was_done_and_warns_outside_the_training_labels(tmp_path, capsys):
    path = _labelled_checkpoint(tmp_path)
    out = tmp_path / "notes"
    assert main(["generate", "--checkpoint", str(path), "--pitch", "-1", "--guidance", "3", "--num", "1",
                 "--num-steps", "2", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "--guidance 3 has no effect" in captured.out
    assert [f.name.split("-", 2)[2] for f in out.iterdir()] == ["any-euler2-seed0-000.wav"]
    assert main(["generate", "--checkpoint", str(path), "--pitch", "100", "--velocity", "75", "--source", "synthetic",
                 "--num", "1", "--num-steps", "2", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "pitch 100 was never in this model's training notes (pitches 50-57; nearest held: 57)" in err
    assert "velocity 75 was never" in err and "nearest held: 100" in err and "source 'synthetic'" in err
    assert main(["generate", "--checkpoint", str(path), "--pitch", "127", "--num", "1", "--num-steps", "2",
                 "--out", str(out)]) == 0
    assert "above the highest frequency the codec can play (8000 Hz" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"hello, this is a text file\n", b"x", b""])
def test_generate_on_a_file_that_is_not_a_checkpoint_says_what_to_do(tmp_path, capsys, content):
    fake = tmp_path / "model.pt"
    fake.write_bytes(content)
    assert main(["generate", "--checkpoint", str(fake), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert str(fake) in err and "not a checkpoint" in err and "--restart" not in err and "Traceback" not in err


def test_write_wav_reports_what_is_in_the_file(tmp_path):
    info = write_wav(tmp_path / "a.wav", np.full(1600, 2.0, dtype=np.float32), 16_000)
    data, rate = sf.read(tmp_path / "a.wav")
    assert rate == 16_000 and info["scaled_by"] == pytest.approx(0.495)
    assert info["peak"] == pytest.approx(np.abs(data).max(), abs=1e-3)
    assert info["rms"] == pytest.approx(np.sqrt(np.mean(data ** 2)), abs=1e-3)
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "b.wav", np.array([np.nan], dtype=np.float32), 16_000)


def test_the_shipped_model_loads_decodes_and_stays_small(capsys):
    """tutorial_lib/pretrained/cpu-long.pt: at most 25 MB, self-describing, its evaluation report beside it."""
    import json

    from tutorial_lib.generation import PRETRAINED_DIR, load_pretrained

    path = PRETRAINED_DIR / "cpu-long.pt"
    assert path.stat().st_size <= 25 * 2**20
    generator = load_pretrained("cpu-long")
    assert generator.conditioned and generator.trained_on.steps == 36000 and "36000 training steps" in str(generator.trained_on)
    latents, audio = generator.generate(1, pitch=57, source="acoustic", velocity=100, num_steps=4)
    assert latents.shape == (1, 64, 32) and np.isfinite(audio[0]).all()
    report = json.loads((PRETRAINED_DIR / "cpu-long.json").read_text())
    assert report["training"]["steps"] == 36000 and "conditional (guidance 1)" in report["evaluation"]
    other = MelCodec(eps=1e-5)  # another codec (Music2Latent in Colab): it still plays, with its own, and says so
    kept = load_pretrained("cpu-long", codec=other)
    assert not kept.decodes_with(other) and kept.decodes_with(generator.space.codec)
    assert "not of this chapter's notes" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="available: \\['cpu-long', 'cpu-long-reflow'\\]"):
        load_pretrained("gpu-full")


def test_generate_cut_short_keeps_the_notes_it_wrote_and_a_rerun_makes_only_the_rest(tmp_path, monkeypatch, capsys):
    from tutorial_lib import generation

    monkeypatch.setattr(generation, "NOTE_BATCH", 2)
    path, out = _labelled_checkpoint(tmp_path), tmp_path / "notes"
    real, calls = generation.NoteGenerator.generate, []

    def second_batch_interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(generation.NoteGenerator, "generate", second_batch_interrupted)
    command = ["generate", "--checkpoint", str(path), "--num", "5", "--num-steps", "2", "--out", str(out)]
    assert main(command) == 130
    assert "run the same command again to make the rest" in capsys.readouterr().err
    first = {f.name: f.read_bytes() for f in out.glob("*.wav")}
    assert len(first) == 2  # the first batch was written as it came
    calls.clear()
    monkeypatch.setattr(generation.NoteGenerator, "generate", real)
    assert main(command) == 0
    assert "2 of the 5 notes are already in" in capsys.readouterr().out
    after = {f.name: f.read_bytes() for f in out.glob("*.wav")}
    assert len(after) == 5 and all(after[name] == data for name, data in first.items())


def test_a_note_cut_by_a_full_disk_never_counts_as_made(tmp_path, capsys, monkeypatch):
    """`generate` once kept a 4 KB note cut by a full disk as done, for good."""
    import errno

    import soundfile as sf

    path = _labelled_checkpoint(tmp_path)
    out = tmp_path / "notes"
    real_write, calls = sf.write, []

    def full_at_the_second_note(file, data, *args, **kwargs):
        calls.append(file)
        if len(calls) == 2:
            with open(file, "wb") as handle:
                handle.write(b"RIFF" + b"\0" * 100)  # a few bytes, then no more room
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(file, data, *args, **kwargs)

    monkeypatch.setattr(sf, "write", full_at_the_second_note)
    assert main(["generate", "--checkpoint", str(path), *GENERATE, "--num", "3", "--out", str(out)]) == 1
    assert f"The disk holding {out} is full" in capsys.readouterr().err
    assert len(list(out.iterdir())) == 1  # the first note, whole; nothing of the second
    monkeypatch.undo()
    assert main(["generate", "--checkpoint", str(path), *GENERATE, "--num", "3", "--out", str(out)]) == 0
    assert "1 of the 3 notes are already in" in capsys.readouterr().out
    assert [sf.info(f).frames for f in sorted(out.iterdir())] == [sf.info(sorted(out.iterdir())[0]).frames] * 3


def test_note_names_too_long_for_the_file_system_are_refused_before_sampling(tmp_path, capsys, monkeypatch):
    long_name = tmp_path / ("m" * 230 + ".pt")  # a legal file name; its notes' names (about 290 characters) are not
    long_name.write_bytes(_labelled_checkpoint(tmp_path).read_bytes())
    monkeypatch.setattr(NoteGenerator, "generate", lambda *a, **k: pytest.fail("sampled before checking the names"))
    assert main(["generate", "--checkpoint", str(long_name), *GENERATE, "--out", str(tmp_path / "notes")]) == 1
    err = capsys.readouterr().err
    assert "too long for this file system" in err and "shorter name" in err


def test_another_projects_checkpoint_and_overshooting_guidance_are_errors_not_tracebacks(tmp_path, capsys):
    other = tmp_path / "other.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "epoch": 3}, other)  # once: KeyError 'model_config'
    assert main(["generate", "--checkpoint", str(other), "--out", str(tmp_path / "a")]) == 1
    assert "not a tutorial_lib checkpoint (it does not describe its model" in capsys.readouterr().err
    shipped = "tutorial_lib/pretrained/cpu-long.pt"  # once: librosa's "Audio buffer is not finite everywhere"
    assert main(["generate", "--checkpoint", shipped, "--pitch", "50", "--guidance", "1e4", "--num", "1",
                 "--num-steps", "5", "--out", str(tmp_path / "b")]) == 1
    assert "infinite loudness; a full-scale sine" in (err := capsys.readouterr().err) and "lower --guidance" in err
    assert not (tmp_path / "b").exists()
