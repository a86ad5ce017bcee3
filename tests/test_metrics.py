import numpy as np
import pytest

from tutorial_lib.evaluation.metrics import (frechet_distance, frechet_distance_from_stats, latent_features,
                                  log_mel_distance, nearest_neighbour_distances)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).standard_normal((300, 8))
    assert abs(frechet_distance(x, x)) < 1e-8


def test_frechet_distance_of_two_gaussians_matches_the_closed_form():
    # Diagonal covariances: FD = |mu1 - mu2|^2 + sum (s1 - s2)^2 over standard deviations.
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    s1, s2 = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0])
    exact = 5.0 + 1.0 + 0.0 + 4.0
    assert frechet_distance_from_stats(mu1, np.diag(s1 ** 2), mu2, np.diag(s2 ** 2)) == pytest.approx(exact)
    rng = np.random.default_rng(0)
    a = mu1 + s1 * rng.standard_normal((200_000, 3))
    b = mu2 + s2 * rng.standard_normal((200_000, 3))
    assert frechet_distance(a, b) == pytest.approx(exact, rel=0.01)


def test_latent_features_are_channel_means_and_stds():
    x = np.random.default_rng(0).standard_normal((5, 64, 32))
    f = latent_features(x)
    assert f.shape == (5, 128) and np.allclose(f[:, :64], x.mean(-1)) and np.allclose(f[:, 64:], x.std(-1))


def test_log_mel_distance_zero_for_identical_and_grows_with_noise():
    rng = np.random.default_rng(0)
    x = np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)
    assert log_mel_distance(x, x, 16000) == 0.0
    assert log_mel_distance(x, x + 0.01 * rng.standard_normal(16000), 16000) < log_mel_distance(
        x, x + 0.3 * rng.standard_normal(16000), 16000)


def test_nearest_neighbour_distances_find_copies():
    rng = np.random.default_rng(0)
    train = rng.standard_normal((50, 4, 3))
    copies = train[:5] + 1e-6
    fresh = rng.standard_normal((5, 4, 3))
    assert nearest_neighbour_distances(copies, train).max() < 1e-5
    assert nearest_neighbour_distances(fresh, train).min() > 0.1


def test_copy_share_catches_a_few_copies_that_the_median_hides():
    from tutorial_lib.evaluation.metrics import copy_share

    rng = np.random.default_rng(0)
    train, valid = rng.normal(size=(200, 16)), rng.normal(size=(200, 16))
    fresh = rng.normal(size=(100, 16))
    share, _ = copy_share(fresh, train, valid)
    assert share < 0.15
    copies = fresh.copy()
    copies[:20] = train[:20] + 0.01  # a fifth are near-copies of training notes
    share_copies, _ = copy_share(copies, train, valid)
    assert share_copies >= 0.2
    median = np.median(nearest_neighbour_distances(copies, train))
    assert median > 0.8 * np.median(nearest_neighbour_distances(fresh, train))  # the median barely moves


def test_nearest_neighbours_name_the_nearest_reference():
    import torch

    from tutorial_lib.evaluation.metrics import nearest_neighbours

    references = torch.randn(20, 4, 3)
    queries = references[[7, 2]] + 0.01
    distances, indices = nearest_neighbours(queries, references)
    assert indices.tolist() == [7, 2] and np.allclose(distances, 0.01 * np.sqrt(12))
