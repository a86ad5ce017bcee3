import json

import pytest
import torch

from tutorial_lib import toy_flow as tf
from tutorial_lib.__main__ import main
from tutorial_lib.checkpoints import load_checkpoint
from tutorial_lib.conditioning import Conditions
from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.generation import NoteGenerator, checkpoint_id, labels_held
from tutorial_lib.reflow import (UShapedFlow, held_label_grid, make_pairs, model_straightness, pair_labels,
                                 straightness, train_reflow)
from tutorial_lib.sampling import guided, sample, seeded_noise
from tutorial_lib.training import TrainConfig, train
from tutorial_lib.unet import UNet

from .test_generation import _space


def _first_model(tmp_path, steps=3):
    """A small conditioned checkpoint that records its latent space and labels, like `run`'s."""
    labels = Conditions.make(8, pitch=list(range(50, 58)), source=0, velocity=100)
    path = tmp_path / "first" / "checkpoint.pt"
    train(UNet(channels=(8, 8), emb_dim=16, conditioned=True), RectifiedFlow(), torch.randn(8, 64, 8),
          config=TrainConfig(steps=steps, batch_size=4), checkpoint_path=path, progress=False,
          train_conditions=labels,
          checkpoint_extra={"latent_space": _space().describe(), "labels_held": labels_held(labels)})
    return path


def test_pairs_are_the_ends_of_the_models_own_ode_from_their_noise_with_labels_kept(tmp_path):
    _, model, _ = load_checkpoint(_first_model(tmp_path))
    noise = seeded_noise(10, 8, seed=3)
    labels = Conditions.make(10, pitch=[50, 51, 52, 53, 54, -1, -1, 55, 56, 57], source=0, velocity=100)
    pairs = make_pairs(model, RectifiedFlow(), noise, conditions=labels, num_steps=4, batch_size=3)
    assert torch.equal(pairs.noise, noise) and torch.equal(pairs.conditions.pitch, labels.pitch)
    for i in (0, 5, 9):  # pair i, sampled on its own from its own noise and labels, ends where the pair says
        alone = sample(model, noise[i:i + 1], num_steps=4, conditions=labels[i:i + 1]).samples
        assert torch.allclose(pairs.latents[i:i + 1], alone, atol=1e-4)
    # independent noise would not give these ends: the pairing is what reflow learns
    other = sample(model, seeded_noise(10, 8, seed=4), num_steps=4, conditions=labels).samples
    assert not torch.allclose(pairs.latents, other, atol=1e-2)


def test_pair_labels_cycle_the_given_labels_and_hide_a_share():
    grid = held_label_grid({"pitch": [50, 52], "source": ["acoustic", "synthetic"], "velocity": [75]})
    assert sorted(zip(grid.pitch.tolist(), grid.source.tolist())) == [(50, 0), (50, 2), (52, 0), (52, 2)]
    labels = pair_labels(grid, 4000, unconditional_share=0.25, seed=0)
    hidden = labels.pitch == -1
    assert abs(hidden.float().mean().item() - 0.25) < 0.03
    assert bool((labels.source[hidden] == -1).all() and (labels.velocity[hidden] == -1).all())
    shown = labels.pitch[~hidden]
    assert set(shown.tolist()) == {50, 52}


def test_u_shaped_times_lie_inside_and_crowd_both_ends():
    t = UShapedFlow().sample_times(20000, torch.Generator().manual_seed(0))
    assert 0 < t.min() and t.max() < 1
    def shares(times):
        return ((times < 0.1) | (times > 0.9)).float().mean().item(), ((times > 0.45) & (times < 0.55)).float().mean().item()

    ends, middle = shares(t)
    # density a e^{a t} / (e^a - 1), a = 4, mirrored: ends (e^4 - e^3.6 + e^0.4 - 1) / (e^4 - 1), middle (e^2.2 - e^1.8) / (e^4 - 1)
    assert ends == pytest.approx(0.345, abs=0.015) and middle == pytest.approx(0.056, abs=0.01)
    plain_ends, plain_middle = shares(RectifiedFlow().sample_times(20000, torch.Generator().manual_seed(0)))
    assert plain_ends < 0.05 and plain_middle > 0.14  # logit-normal times: the opposite


def test_straightness_is_zero_on_a_straight_flow_and_larger_on_a_curved_one():
    noise = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    straight = tf.GaussianMixture(num_modes=1, radius=2.0, std=0.0).velocity  # x_0 is one point: straight lines
    assert straightness(straight, noise, num_steps=20).mean < 1e-10
    curved = straightness(tf.GaussianMixture().velocity, noise, num_steps=50)
    assert curved.mean > 0.3 and curved.by_time.shape == (50,)
    # a constant velocity is straight too, whatever its value
    assert straightness(lambda x, t: torch.ones_like(x) * 3, noise, num_steps=7).mean < 1e-10


def test_straightness_follows_the_books_time_convention():
    """Time runs from 1 (noise) down to 0: a field that is straight only when walked that way scores 0."""
    noise = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([1.0, -2.0])
    times_seen = []

    def field(x, t):  # the exact field to one point: (target - x) / t, straight lines walked from t = 1 to 0
        times_seen.append(float(t[0]))
        return (target - x) / t[:, None]

    assert straightness(field, noise, num_steps=5).mean < 1e-10
    assert times_seen == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2])


def test_toy_reflow_straightens_the_paths_and_one_step_lands_near_the_data():
    data = tf.GaussianMixture()
    first = tf.train_toy(data=data, steps=600, hidden=64, seed=0)
    z = torch.randn(4000, 2, generator=torch.Generator().manual_seed(1))
    pairs = make_pairs(first.model, RectifiedFlow(), z, num_steps=50, batch_size=4000)
    second = tf.train_toy(pairs=(pairs.latents, pairs.noise), init=first.model, steps=600, hidden=64, lr=1e-3, seed=1)
    probe = torch.randn(1000, 2, generator=torch.Generator().manual_seed(2))
    before, after = straightness(first.model, probe).mean, straightness(second.model, probe).mean
    assert after < 0.2 * before
    one_step = {name: tf.near_a_mode(sample(m, probe, num_steps=1).samples, data)
                for name, m in (("first", first.model), ("reflowed", second.model))}
    assert one_step["reflowed"] > one_step["first"] + 0.3
    with pytest.raises(ValueError, match="either data"):
        tf.train_toy(data=data, pairs=(pairs.latents, pairs.noise))


def test_reflow_training_starts_from_the_first_model_uses_the_pairs_and_resumes(tmp_path):
    _, first, _ = load_checkpoint(_first_model(tmp_path))
    labels = Conditions.make(16, pitch=list(range(50, 58)) * 2, source=0, velocity=100)
    pairs = make_pairs(first, RectifiedFlow(), seeded_noise(16, 8, seed=0), conditions=labels, num_steps=3)
    pairs.made_with["from_checkpoint"] = "first-00000000"
    config = TrainConfig(steps=2, batch_size=4, lr=1e-3)
    path = tmp_path / "reflow" / "checkpoint.pt"
    untrained = train_reflow(first, pairs, config=TrainConfig(steps=0, batch_size=4), progress=False)
    assert all(torch.equal(a, b) for a, b in zip(untrained.model.parameters(), first.parameters()))  # initialised
    result = train_reflow(first, pairs, config=config, checkpoint_path=path, progress=False)
    assert len(result.history.train_loss) == 2
    state = torch.load(path, weights_only=True)
    assert state["extra"]["reflow"]["from_checkpoint"] == "first-00000000"
    assert state["flow"]["u_shape"] == 4.0 and state["train_config"]["label_dropout"] == 0.0
    # resuming with more steps continues the same run ...
    more = train_reflow(first, pairs, config=TrainConfig(steps=3, batch_size=4, lr=1e-3), checkpoint_path=path,
                        progress=False)
    assert more.resumed_from == 2 and len(more.history.train_loss) == 3
    # ... and other pairs (the same latents with other noise) are another run, refused
    other = make_pairs(first, RectifiedFlow(), seeded_noise(16, 8, seed=9), conditions=labels, num_steps=3)
    other.latents = pairs.latents
    with pytest.raises(ValueError, match="training latents"):
        train_reflow(first, other, config=TrainConfig(steps=3, batch_size=4, lr=1e-3), checkpoint_path=path,
                     progress=False)


def test_training_with_paired_noise_uses_exactly_that_noise():
    """train(train_noise=...) noises each latent with its own noise: a model that outputs x_0 - z for the given
    pairs has zero loss, which fresh noise would never give."""
    x0, z = torch.randn(6, 64, 8), torch.randn(6, 64, 8)

    class Oracle(UNet):
        def forward(self, x, t, conditions=None):  # recovers z from x_t = (1 - t) x0 + t z for the known pairs
            t = t.reshape(-1, 1, 1)
            best = ((x[:, None] - (1 - t[:, None]) * x0[None]) / t[:, None] - z[None]).flatten(2).norm(dim=2).argmin(1)
            return (x0 - z)[best] + 0 * self.conv_out.weight.sum()

    model = Oracle(channels=(8, 8), emb_dim=16)
    result = train(model, RectifiedFlow(), x0, config=TrainConfig(steps=3, batch_size=3, lr=0.0),
                   progress=False, train_noise=z)
    assert max(result.history.train_loss) < 1e-8
    with pytest.raises(ValueError, match="one noise per training latent"):
        train(model, RectifiedFlow(), x0, config=TrainConfig(steps=1, batch_size=3), progress=False,
              train_noise=z[:3])


def test_cli_reflow_then_generate_in_one_step_records_where_it_came_from(tmp_path, capsys):
    first = _first_model(tmp_path)
    out = tmp_path / "reflowed"
    assert main(["reflow", "--checkpoint", str(first), "--out", str(out), "--pairs", "24", "--pair-steps", "3",
                 "--train-steps", "3", "--batch-size", "8"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["reflowed_from"]["from_checkpoint"] == checkpoint_id(first)
    assert report["pairs"]["pairs"] == 24 and set(report["straightness"]) == {"first", "reflowed"}
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["extra"]["reflow"]["from_checkpoint"] == checkpoint_id(first)
    assert state["extra"]["labels_held"]["pitch"] == list(range(50, 58))
    capsys.readouterr()
    # --sample-steps: the old spelling of --num-steps, still accepted
    assert main(["generate", "--checkpoint", str(out / "checkpoint.pt"), "--sample-steps", "1", "--pitch", "52",
                 "--num", "2", "--out", str(tmp_path / "notes")]) == 0
    captured = capsys.readouterr()
    assert "3 reflow steps on 24 pairs made by " + checkpoint_id(first) in captured.out
    assert len(list((tmp_path / "notes").glob("*-euler1-*.wav"))) == 2
    generator = NoteGenerator.from_checkpoint(out / "checkpoint.pt")
    assert type(generator.flow) is RectifiedFlow
    # run again: the pairs are reused and training, complete, only reloads
    pairs_made = (out / "pairs.pt").stat().st_mtime_ns
    assert main(["reflow", "--checkpoint", str(first), "--out", str(out), "--pairs", "24", "--pair-steps", "3",
                 "--train-steps", "3", "--batch-size", "8"]) == 0
    assert (out / "pairs.pt").stat().st_mtime_ns == pairs_made
    # other pair settings in the same folder are refused, naming the file and the way out
    assert main(["reflow", "--checkpoint", str(first), "--out", str(out), "--pairs", "30", "--pair-steps", "3",
                 "--train-steps", "3", "--batch-size", "8"]) == 1
    err = capsys.readouterr().err
    assert "pairs.pt" in err and "--restart" in err


def test_reflow_refuses_a_folder_holding_a_report_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "report.json").write_text('{"profile": "cpu"}')
    assert main(["reflow", "--checkpoint", str(_first_model(tmp_path)), "--out", str(out)]) == 1
    assert "not written by `reflow`" in capsys.readouterr().err
    assert json.loads((out / "report.json").read_text()) == {"profile": "cpu"}


def test_model_straightness_measures_the_guided_field():
    model = UNet(channels=(8, 8), emb_dim=16, conditioned=True).eval()
    noise = seeded_noise(4, 8, seed=0)
    labels = Conditions.make(4, pitch=50, source=0, velocity=100)
    a = model_straightness(model, noise, conditions=labels, guidance=2.0, num_steps=4)
    b = straightness(guided(model, labels, 2.0), noise, num_steps=4)
    assert torch.allclose(a.per_example, b.per_example)


def test_the_shipped_reflowed_model_names_the_shipped_model_it_came_from_and_samples_in_one_call():
    from tutorial_lib.generation import PRETRAINED_DIR

    path = PRETRAINED_DIR / "cpu-long-reflow.pt"
    assert path.stat().st_size < 10 * 2**20
    state = torch.load(path, weights_only=True)
    assert state["extra"]["reflow"]["from_checkpoint"] == checkpoint_id(PRETRAINED_DIR / "cpu-long.pt")
    assert state["stripped"] and state["extra"]["reflow"]["pairs"] == 12000
    generator = NoteGenerator.from_checkpoint(path)
    assert generator.trained_on.pairs == 12000 and "reflow steps on 12000 pairs made by cpu-long-" in str(generator.trained_on)
    latents = generator.sample_latents(2, pitch=56, source="acoustic", velocity=75, num_steps=1)
    assert latents.shape == (2, 64, generator.space.num_frames) and torch.isfinite(latents).all()


SMALL = ["--pairs", "24", "--pair-steps", "3", "--train-steps", "3", "--batch-size", "8"]


@pytest.mark.parametrize("restart", [[], ["--restart"]])
def test_reflow_refuses_an_out_that_holds_the_first_model_before_making_pairs(tmp_path, capsys, restart):
    """`reflow --checkpoint DIR/checkpoint.pt --out DIR --restart` once replaced the model it was reflowing."""
    first = _first_model(tmp_path)
    before = first.read_bytes()
    assert main(["reflow", "--checkpoint", str(first), "--out", str(first.parent), *SMALL, *restart]) == 1
    assert "holds the first model checkpoint.pt itself" in capsys.readouterr().err
    assert first.read_bytes() == before and sorted(p.name for p in first.parent.iterdir()) == ["checkpoint.pt"]


def test_another_models_checkpoint_in_out_is_refused_before_the_pairs_are_made(tmp_path, capsys):
    out = tmp_path / "reflowed"
    assert main(["reflow", "--checkpoint", str(_first_model(tmp_path)), "--out", str(out), *SMALL]) == 0
    other = _first_model(tmp_path / "b", steps=4)
    capsys.readouterr()
    assert main(["reflow", "--checkpoint", str(other), "--out", str(out), *SMALL]) == 1
    assert "not of the first model asked for" in capsys.readouterr().err
    assert torch.load(out / "pairs.pt", weights_only=True)["made_with"]["from_checkpoint"] != checkpoint_id(other)


@pytest.mark.parametrize("text", ["null", '{"reflowed_from": ', "[1, 2]"])
def test_a_report_that_is_not_reflows_is_refused_not_a_traceback(tmp_path, capsys, text):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "report.json").write_text(text)
    assert main(["reflow", "--checkpoint", str(_first_model(tmp_path)), "--out", str(out), *SMALL]) == 1
    assert "not written by `reflow`" in capsys.readouterr().err
    assert (out / "report.json").read_text() == text


def test_a_full_disk_while_saving_the_pairs_says_where_and_how_much_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import errno

    real_save = torch.save

    def full_disk(obj, f):
        if "pairs.pt" in str(f):
            with open(f, "wb") as file:
                file.write(b"\0" * 1000)  # the start of the file, then no more room
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f)

    monkeypatch.setattr(torch, "save", full_disk)
    out = tmp_path / "reflowed"
    assert main(["reflow", "--checkpoint", str(_first_model(tmp_path)), "--out", str(out), *SMALL]) == 1
    err = capsys.readouterr().err
    assert f"The disk holding {out} is full: cannot write pairs.pt (it needs about" in err and " MB are free" in err
    assert not out.exists() or not any(out.iterdir())  # no pairs.pt, no pairs.pt.tmp
