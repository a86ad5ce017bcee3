"""The 2-D toy flow: its exact field, its training and its two measures, each against known answers."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from tutorial_lib import toy_flow as tf  # noqa: E402
from tutorial_lib.flow import RectifiedFlow  # noqa: E402
from tutorial_lib.sampling import sample  # noqa: E402

DATA = tf.GaussianMixture(num_modes=4, radius=2.0, std=0.2)


def batch(n, seed):
    return DATA.sample(n, generator=torch.Generator().manual_seed(seed))


def test_exact_velocity_at_both_ends():
    x = torch.randn(5, 2)
    # t = 1: x is pure noise, so the best guess of x_0 - z is the data's mean minus x.
    assert torch.allclose(DATA.velocity(x, torch.ones(5)), DATA.means.mean(0) - x, atol=1e-5)
    # t = 0: x is the data itself and the noise has mean 0, so E[x_0 - z] = x.
    assert torch.allclose(DATA.velocity(x, torch.zeros(5)), x, atol=1e-5)


def test_exact_velocity_minimises_the_flow_loss():
    flow, x = RectifiedFlow(), batch(50_000, 0)

    def loss(f):
        return flow.loss(f, x, generator=torch.Generator().manual_seed(1)).item()

    best = loss(DATA.velocity)
    assert best < loss(lambda x, t: 1.1 * DATA.velocity(x, t))
    assert best < loss(lambda x, t: DATA.velocity(x, t) + 0.1)
    assert best < loss(lambda x, t: DATA.velocity(x, t.flip(0)))


def test_sampling_the_exact_field():
    noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(2))
    reference = batch(1000, 3)
    one = sample(DATA.velocity, noise, num_steps=1).samples
    assert torch.allclose(one, DATA.means.mean(0).expand(1000, 2), atol=1e-4)  # one step lands on the mean
    many = sample(DATA.velocity, noise, num_steps=100).samples
    assert tf.near_a_mode(many, DATA) > 0.95 and tf.near_a_mode(one, DATA) == 0.0
    assert tf.sliced_wasserstein(many, reference) < 0.1 < tf.sliced_wasserstein(one, reference)


def test_measures_score_known_bad_clouds_worse():
    a, b = batch(2000, 4), batch(2000, 5)
    same = tf.sliced_wasserstein(a, b)
    assert tf.sliced_wasserstein(a, a) == 0.0 and same < 0.1
    assert tf.sliced_wasserstein(a, b + 0.5) > 3 * same
    assert tf.sliced_wasserstein(a, 1.5 * b) > 3 * same
    assert tf.sliced_wasserstein(a, torch.randn(2000, 2)) > 3 * same
    assert tf.near_a_mode(a, DATA) > 0.95 > 0.3 > tf.near_a_mode(torch.randn(2000, 2), DATA)
    with pytest.raises(ValueError, match="same shape"):
        tf.sliced_wasserstein(a, b[:10])


def test_training_learns_the_exact_field_in_seconds():
    run = tf.train_toy(data=DATA, steps=400, batch_size=256, hidden=64, seed=0)
    assert len(run.losses) == 400 and run.seconds < 30
    untrained = tf.VelocityMLP(hidden=64)
    for t in (0.1, 0.3, 0.5):
        assert tf.field_error(run.model, DATA, t=t) < 0.1 * tf.field_error(untrained, DATA, t=t)
    again = tf.train_toy(data=DATA, steps=5, hidden=64, seed=0)
    assert again.losses == tf.train_toy(data=DATA, steps=5, hidden=64, seed=0).losses  # seeded


def test_plot_field_draws_one_arrow_per_grid_point():
    ax = tf.plot_field(plt.figure().gca(), DATA.velocity, t=0.5, n=9, data=batch(100, 6))
    assert ax.collections[-1].N == 81 and ax.get_title() == "t = 0.5"
    plt.close("all")


def test_gaussian_velocity_exercise_check_tells_right_from_wrong():
    from tutorial_lib.book.exercises import check_gaussian_velocity

    def right(x, t, mu, std):
        t = t.reshape(-1, 1)
        var = (1 - t) ** 2 * std ** 2 + t ** 2
        return mu + ((1 - t) * std ** 2 - t) / var * (x - (1 - t) * mu)

    assert check_gaussian_velocity(right)
    assert not check_gaussian_velocity(lambda x, t, mu, std: mu - x)  # right only at t = 1
    assert not check_gaussian_velocity(lambda x, t, mu, std: (1 - t.reshape(-1, 1)) * x + t.reshape(-1, 1) * (mu - x))
    assert "1.5" not in repr(check_gaussian_velocity(right))  # it confirms without giving the answer away
