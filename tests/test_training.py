import pytest
import torch

from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.training import (TrainConfig, TrainingDiverged, batch_indices, load_checkpoint, train)
from tutorial_lib.unet import UNet


@pytest.fixture
def latents():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 64, 1, generator=g)  # four "notes", each constant over time, plus a little noise
    return (base.repeat(10, 1, 16) + 0.1 * torch.randn(40, 64, 16, generator=g))


def small_model():
    torch.manual_seed(0)
    return UNet(channels=(16, 32))


def test_every_example_once_per_epoch_and_deterministic():
    epoch = torch.cat([batch_indices(10, 3, s, seed=1) for s in range(3)])
    assert len(set(epoch.tolist())) == 9  # 3 full batches of 3 from 10 examples
    assert torch.equal(batch_indices(10, 3, 4, seed=1), batch_indices(10, 3, 4, seed=1))
    assert not torch.equal(batch_indices(10, 3, 0, seed=1), batch_indices(10, 3, 3, seed=1))


def test_loss_goes_down_and_history_is_recorded(latents):
    config = TrainConfig(steps=60, batch_size=8, lr=2e-3, eval_every=20, device="cpu")
    result = train(small_model(), RectifiedFlow(), latents[:32], latents[32:], config, progress=False)
    h = result.history
    assert h["train_steps"] == list(range(1, 61)) and h["valid_steps"] == [20, 40, 60]
    assert sum(h["train_loss"][-10:]) / 10 < 0.8 * sum(h["train_loss"][:10]) / 10
    assert h["valid_loss"][-1] < h["valid_loss"][0]
    ema, model = result.ema_model, result.model
    assert not all(torch.equal(a, b) for a, b in zip(ema.parameters(), model.parameters()))


def test_resume_continues_as_if_never_stopped(latents, tmp_path):
    config = TrainConfig(steps=12, batch_size=8, lr=1e-3, eval_every=6, checkpoint_every=5, device="cpu")
    straight = train(small_model(), RectifiedFlow(), latents, latents[:8], config, progress=False)

    stopped = TrainConfig(**{**config.__dict__, "steps": 5})
    path = tmp_path / "ckpt.pt"
    train(small_model(), RectifiedFlow(), latents, latents[:8], stopped, checkpoint_path=path, progress=False)
    resumed = train(small_model(), RectifiedFlow(), latents, latents[:8], config, checkpoint_path=path, progress=False)

    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    for a, b in zip(straight.ema_model.parameters(), resumed.ema_model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert resumed.history["train_loss"] == pytest.approx(straight.history["train_loss"], rel=1e-5)
    model, ema, state = load_checkpoint(path)
    assert state["step"] == 12 and isinstance(model, UNet)
    assert all(torch.equal(a, b.cpu()) for a, b in zip(ema.parameters(), resumed.ema_model.parameters()))


def test_nan_loss_stops_with_a_message_and_keeps_the_checkpoint(latents, tmp_path):
    path = tmp_path / "ckpt.pt"
    config = TrainConfig(steps=4, batch_size=8, checkpoint_every=2, device="cpu")
    train(small_model(), RectifiedFlow(), latents, config=config, checkpoint_path=path, progress=False)
    bad = latents.clone()
    bad[:] = float("nan")
    longer = TrainConfig(**{**config.__dict__, "steps": 8})
    with pytest.raises(TrainingDiverged, match="Lower the learning rate.*still holds the last good state"):
        train(small_model(), RectifiedFlow(), bad, config=longer, checkpoint_path=path, progress=False)
    assert torch.load(path, weights_only=False)["step"] == 4


def test_missing_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="train first"):
        load_checkpoint(tmp_path / "none.pt")
