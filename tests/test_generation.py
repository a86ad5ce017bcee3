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
    latents, audio = generator.generate(2, pitch=60, source="acoustic", guidance=2.0, sample_steps=2)
    assert latents.shape == (2, 64, 8) and len(audio) == 2
    # sigma_data is undone by the sampler: the same noise through a flow with sigma_data 1 differs by 2x
    plain = NoteGenerator(generator.model, RectifiedFlow(), generator.space)
    other, _ = plain.generate(2, pitch=60, source="acoustic", guidance=2.0, sample_steps=2)
    assert torch.allclose(latents, other / 0.5, atol=1e-5)


def test_unconditioned_model_refuses_labels(tmp_path):
    generator = NoteGenerator.from_checkpoint(_checkpoint(tmp_path, conditioned=False))
    with pytest.raises(ValueError, match="trained without labels"):
        generator.generate(1, pitch=60)


def test_cli_generate_writes_notes_and_says_what_is_in_them(tmp_path, capsys):
    path = _checkpoint(tmp_path)
    assert main(["generate", "--checkpoint", str(path), "--pitch", "60", "--source", "acoustic", "--velocity", "100",
                 "--guidance", "2", "--num", "2", "--sample-steps", "2", "--out", str(tmp_path / "notes")]) == 0
    files = sorted((tmp_path / "notes").glob("*.wav"))
    assert [f.name for f in files] == ["pitch60-acoustic-velocity100-g2-seed0-00.wav",
                                       "pitch60-acoustic-velocity100-g2-seed0-01.wav"]
    assert "2 training steps on test latents" in capsys.readouterr().out
    assert main(["generate", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path)]) == 1
    assert "No checkpoint" in capsys.readouterr().err


def test_write_wav_reports_what_is_in_the_file(tmp_path):
    info = write_wav(tmp_path / "a.wav", np.full(1600, 2.0, dtype=np.float32), 16_000)
    data, rate = sf.read(tmp_path / "a.wav")
    assert rate == 16_000 and info["scaled_by"] == pytest.approx(0.495)
    assert info["peak"] == pytest.approx(np.abs(data).max(), abs=1e-3)
    assert info["rms"] == pytest.approx(np.sqrt(np.mean(data ** 2)), abs=1e-3)
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "b.wav", np.array([np.nan], dtype=np.float32), 16_000)


def test_the_shipped_model_loads_decodes_and_stays_small():
    """tutorial_lib/pretrained/cpu-long.pt: at most 25 MB, self-describing, its evaluation report beside it."""
    import json

    from tutorial_lib.generation import PRETRAINED_DIR, load_pretrained

    path = PRETRAINED_DIR / "cpu-long.pt"
    assert path.stat().st_size <= 25 * 2**20
    generator = load_pretrained("cpu-long")
    assert generator.conditioned and "36000 training steps" in generator.trained_on
    latents, audio = generator.generate(1, pitch=57, source="acoustic", velocity=100, sample_steps=4)
    assert latents.shape == (1, 64, 32) and np.isfinite(audio[0]).all()
    report = json.loads((PRETRAINED_DIR / "cpu-long.json").read_text())
    assert report["training"]["steps"] == 36000 and "conditional (guidance 1)" in report["evaluation"]
    other = MelCodec(eps=1e-5)  # another codec: the shipped model is not used, and says why
    assert load_pretrained("cpu-long", codec=other) is None
    with pytest.raises(FileNotFoundError, match="available: \\['cpu-long'\\]"):
        load_pretrained("gpu-full")
