import pytest
import torch

from tutorial_lib.checkpoints import CheckpointError, CheckpointMismatch, data_fingerprint
from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.training import (TrainConfig, TrainingDiverged, batch_indices, load_checkpoint, train)
from tutorial_lib.unet import PlainUNet, UNet


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
    assert h.train_steps == list(range(1, 61)) and h.valid_steps == [20, 40, 60]
    assert sum(h.train_loss[-10:]) / 10 < 0.8 * sum(h.train_loss[:10]) / 10
    assert h.valid_loss[-1] < h.valid_loss[0]
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
    assert resumed.history.train_loss == pytest.approx(straight.history.train_loss, rel=1e-5)
    model, ema, state = load_checkpoint(path)
    assert state["step"] == 12 and isinstance(model, UNet)
    assert all(torch.equal(a, b.cpu()) for a, b in zip(ema.parameters(), resumed.ema_model.parameters()))


def test_nan_loss_stops_with_a_message_and_keeps_the_checkpoint(latents, tmp_path):
    path = tmp_path / "ckpt.pt"
    bad = latents.clone()
    bad[batch_indices(len(bad), 8, 4, seed=0)] = float("nan")  # only the batch of step 4 is poisoned
    config = TrainConfig(steps=4, batch_size=8, checkpoint_every=2, device="cpu")
    train(small_model(), RectifiedFlow(), bad, config=config, checkpoint_path=path, progress=False)
    longer = TrainConfig(**{**config.__dict__, "steps": 8})
    with pytest.raises(TrainingDiverged, match="Lower the learning rate.*still holds the last good state"):
        train(small_model(), RectifiedFlow(), bad, config=longer, checkpoint_path=path, progress=False)
    assert torch.load(path, weights_only=False)["step"] == 4


def test_a_loss_that_is_nan_before_any_save_does_not_claim_a_good_checkpoint(latents, tmp_path):
    """`reflow --lr 1e6` once said the checkpoint "still holds the last good state" when none had been saved."""
    path = tmp_path / "ckpt.pt"
    bad = latents.clone()
    bad[batch_indices(len(bad), 8, 0, seed=0)] = float("nan")  # the very first batch
    config = TrainConfig(steps=4, batch_size=8, checkpoint_every=2, device="cpu")
    with pytest.raises(TrainingDiverged, match="no good state was saved before it") as error:
        train(small_model(), RectifiedFlow(), bad, config=config, checkpoint_path=path, progress=False)
    assert "still holds" not in str(error.value) and not path.exists()


def test_missing_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="train first"):
        load_checkpoint(tmp_path / "none.pt")


def tiny_run(latents, path, *, model=None, flow=None, restart=False, **settings):
    config = TrainConfig(**{"steps": 2, "batch_size": 8, "lr": 1e-3, "device": "cpu", **settings})
    return train(model or small_model(), flow or RectifiedFlow(), latents, config=config, checkpoint_path=path,
                 progress=False, restart=restart)


@pytest.mark.parametrize("change, named", [
    ({"settings": {"lr": 3e-3}}, "training setting lr"),
    ({"settings": {"batch_size": 4}}, "training setting batch_size"),
    ({"settings": {"seed": 1}}, "training setting seed"),
    ({"model": "other size"}, "model setting channels"),
    ({"model": "other class"}, "the model (checkpoint: 'unet', this run: 'plain')"),
    ({"flow": RectifiedFlow(sigma_data=0.5)}, "flow setting sigma_data"),
    ({"data": "other notes"}, "training latents"),
])
def test_resume_refuses_a_checkpoint_of_another_run_and_says_what_to_do(latents, tmp_path, change, named):
    path = tmp_path / "run" / "checkpoint.pt"
    tiny_run(latents, path)
    before = path.read_bytes()
    model = {"other size": UNet(channels=(16, 16)), "other class": PlainUNet(channels=(8, 8, 8, 8, 8))}.get(
        change.get("model"))
    data = latents.flip(0) if "data" in change else latents
    with pytest.raises(CheckpointMismatch) as error:
        tiny_run(data, path, model=model, flow=change.get("flow"), steps=4, **change.get("settings", {}))
    message = str(error.value)
    assert named in message and str(path) in message and "`checkpoint_path`" in message and "`restart=True`" in message
    assert message.count("(checkpoint: ") == 1  # only the setting that changed is named
    assert path.read_bytes() == before  # the old run is left as it was


def test_steps_may_grow_and_restart_starts_over(latents, tmp_path):
    path = tmp_path / "checkpoint.pt"
    tiny_run(latents, path, steps=2)
    assert tiny_run(latents, path, steps=3).history.train_steps == [1, 2, 3]  # continued, not restarted
    fresh = tiny_run(latents, tmp_path / "fresh.pt", lr=3e-3)
    restarted = tiny_run(latents, path, lr=3e-3, restart=True)  # would be refused without restart
    assert restarted.history.train_steps == [1, 2]
    assert all(torch.equal(a, b) for a, b in zip(fresh.model.parameters(), restarted.model.parameters()))
    assert load_checkpoint(path)[2]["train_config"]["lr"] == 3e-3


def test_steps_may_not_change_when_the_learning_rate_schedule_depends_on_them(latents, tmp_path):
    if "lr_schedule" not in TrainConfig.__dataclass_fields__:
        pytest.skip("no learning-rate schedule in TrainConfig")
    path = tmp_path / "checkpoint.pt"
    tiny_run(latents, path, steps=2, lr_schedule="cosine")
    with pytest.raises(CheckpointMismatch, match="training setting steps"):
        tiny_run(latents, path, steps=4, lr_schedule="cosine")


def test_a_checkpoint_describes_its_run_and_rebuilds_its_model(latents, tmp_path):
    path = tmp_path / "checkpoint.pt"
    some_latents = torch.randn(16, 64, 32, generator=torch.Generator().manual_seed(0))
    result = tiny_run(some_latents, path, model=PlainUNet(channels=(8, 8, 16, 16, 16)),
                      flow=RectifiedFlow(sigma_data=0.5))
    model, ema, state = load_checkpoint(path)
    assert state["model_key"] == "plain" and isinstance(model, PlainUNet)
    assert model.config == {"in_channels": 64, "channels": (8, 8, 16, 16, 16)}
    assert state["flow"]["sigma_data"] == 0.5 and state["train_config"]["lr"] == 1e-3
    assert state["data"] == data_fingerprint(some_latents) and state["data"]["shape"] == [16, 64, 32]
    assert all(torch.equal(a, b) for a, b in zip(ema.parameters(), result.ema_model.parameters()))



def test_a_checkpoint_of_the_old_key_seed_loads_and_resumes_as_plain_unet(tmp_path):
    """PlainUNet was once called SeedUNet, and checkpoints stored its key as "seed": users have such files."""
    some_latents = torch.randn(16, 64, 32, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "checkpoint.pt"
    tiny_run(some_latents, path, model=PlainUNet(channels=(8, 8, 16, 16, 16)))
    state = torch.load(path, weights_only=True)
    torch.save({**state, "model_key": "seed"}, path)  # as an older version wrote it
    model, _, loaded = load_checkpoint(path)
    assert isinstance(model, PlainUNet) and loaded["model_key"] == "plain"
    resumed = tiny_run(some_latents, path, model=PlainUNet(channels=(8, 8, 16, 16, 16)), steps=3)
    assert resumed.history.train_steps == [1, 2, 3]  # the same run, continued


def test_the_data_fingerprint_tells_data_sets_apart():
    x = torch.randn(10, 64, 32, generator=torch.Generator().manual_seed(0))
    assert data_fingerprint(x) == data_fingerprint(x.clone())
    changed = x.clone()
    changed[3, 5, 7] += 1e-3
    assert data_fingerprint(changed) != data_fingerprint(x)
    assert data_fingerprint(x[:9])["shape"] == [9, 64, 32] != data_fingerprint(x)["shape"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_checkpoint_is_named_with_what_to_do(latents, tmp_path, damage):
    path = tmp_path / "checkpoint.pt"
    tiny_run(latents, path)
    good = path.read_bytes()
    path.write_bytes({"garbage": b"not a checkpoint" * 10, "truncated": good[: len(good) // 2], "empty": b""}[damage])
    for attempt in (lambda: load_checkpoint(path), lambda: tiny_run(latents, path, steps=4)):
        with pytest.raises(CheckpointError, match=f"The checkpoint {path} is damaged.*`restart=True`"):
            attempt()
    assert tiny_run(latents, path, restart=True).history.train_steps == [1, 2]


def test_training_step_updates_weights_and_ema_and_a_nan_batch_changes_nothing(latents):
    from tutorial_lib.training import training_step

    model = small_model()
    ema = UNet(channels=(16, 32))
    ema.load_state_dict(model.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = [p.clone() for p in model.parameters()]
    loss = training_step(model, RectifiedFlow(), latents[:8], optimizer, ema_model=ema, ema_decay=0.5,
                         generator=torch.Generator().manual_seed(0))
    assert isinstance(loss, float) and loss > 0
    for old, new, avg in zip(before, model.parameters(), ema.parameters()):
        torch.testing.assert_close(avg, 0.5 * old + 0.5 * new)  # the EMA moved halfway to the new weights
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    after = [p.clone() for p in model.parameters()]
    nan_loss = training_step(model, RectifiedFlow(), torch.full_like(latents[:8], float("nan")), optimizer,
                             ema_model=ema, ema_decay=0.5)
    assert nan_loss != nan_loss and all(torch.equal(a, b) for a, b in zip(after, model.parameters()))


def test_a_model_outside_the_registry_trains_without_a_checkpoint():
    """Chapter 3's exercise trains its own U-Net variant: only checkpointing needs the registry."""

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, t):
            return self.w * x

    from tutorial_lib.flow import RectifiedFlow

    result = train(Tiny(), RectifiedFlow(), torch.randn(8, 64, 4), config=TrainConfig(steps=3, batch_size=4),
                   progress=False)
    assert len(result.history.train_loss) == 3
    with pytest.raises(TypeError, match="cannot be checkpointed"):
        train(Tiny(), RectifiedFlow(), torch.randn(8, 64, 4), config=TrainConfig(steps=3, batch_size=4),
              progress=False, checkpoint_path="/tmp/lead/never.pt")


class SignalAt:
    """Sends this process a real SIGINT (Ctrl-C) at one point inside training step ``at``."""

    def __init__(self, at: int):
        self.at, self.calls = at, 0

    def __call__(self, real):
        import os
        import signal

        def wrapped(*args, **kwargs):
            self.calls += 1
            if self.calls == self.at:
                os.kill(os.getpid(), signal.SIGINT)
            return real(*args, **kwargs)
        return wrapped


@pytest.mark.parametrize("where", ["flow loss", "optimizer step", "ema update", "after the step"])
def test_ctrl_c_at_any_instant_of_a_step_resumes_exactly(latents, tmp_path, monkeypatch, where):
    """A Ctrl-C landing between optimizer.step() and the history update once saved step N with step N+1's
    weights; now the step finishes first, and the resumed run is bit for bit the uninterrupted one."""
    from tutorial_lib import training

    config = TrainConfig(steps=10, batch_size=8, lr=1e-3, eval_every=4, checkpoint_every=100, device="cpu")
    straight = train(small_model(), RectifiedFlow(), latents, latents[:8], config, progress=False)
    signal_at = SignalAt(6)
    if where == "flow loss":
        monkeypatch.setattr(RectifiedFlow, "loss", signal_at(RectifiedFlow.loss))
    elif where == "optimizer step":
        monkeypatch.setattr(torch.optim.Adam, "step", signal_at(torch.optim.Adam.step))
    elif where == "ema update":
        monkeypatch.setattr(training, "update_ema", signal_at(training.update_ema))
    else:
        monkeypatch.setattr(training, "learning_rate", signal_at(training.learning_rate))  # the next step's start
    path = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        train(small_model(), RectifiedFlow(), latents, latents[:8], config, checkpoint_path=path, progress=False)
    assert signal_at.calls >= 6
    _, _, state = load_checkpoint(path)
    assert state["step"] == len(state["history"]["train_loss"]) in (5, 6)  # the step the signal found, finished
    monkeypatch.undo()
    resumed = train(small_model(), RectifiedFlow(), latents, latents[:8], config, checkpoint_path=path, progress=False)
    assert resumed.history.train_loss == straight.history.train_loss
    assert resumed.history.valid_loss == straight.history.valid_loss
    for a, b in zip([*straight.model.parameters(), *straight.ema_model.parameters()],
                    [*resumed.model.parameters(), *resumed.ema_model.parameters()]):
        assert torch.equal(a, b)


def test_ctrl_c_caught_where_sigint_was_ignored_still_stops_the_command(latents, tmp_path, monkeypatch):
    """A process started in the background ignores SIGINT; the loop catches one all the same, saves and stops: the
    caller must hear of it (a KeyboardInterrupt), not take the cut run as finished."""
    import signal

    from tutorial_lib import training

    config = TrainConfig(steps=10, batch_size=8, lr=1e-3, eval_every=4, checkpoint_every=100, device="cpu")
    monkeypatch.setattr(training, "update_ema", SignalAt(3)(training.update_ema))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(small_model(), RectifiedFlow(), latents, latents[:8], config, checkpoint_path=tmp_path / "c.pt",
                  progress=False)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # left as it was
    finally:
        signal.signal(signal.SIGINT, previous)
    assert load_checkpoint(tmp_path / "c.pt")[2]["step"] == 3


def test_a_refused_resume_writes_settings_as_a_person_does():
    """Issue 33: a page showed "lr (checkpoint: 0.003, this run: 0.009000000000000001)"."""
    from tutorial_lib.checkpoints import _differences

    saved = {"model_key": "m", "model_config": {}, "flow": {}, "train_config": {"lr": 0.003}, "data": None}
    expected = {"model_key": "m", "model_config": {}, "flow": {}, "train_config": {"lr": 3 * 0.003}, "data": None}
    (problem,) = _differences(saved, expected, None)
    assert "this run: 0.009)" in problem and "0.00900000" not in problem
