"""Distances between sets of latents, and a codec's reconstruction error (chapters 1, 5 and the benchmarks).

A note's pitch and shape are measured by :mod:`tutorial_lib.evaluation.note_measures`.

* :func:`frechet_distance` of :func:`latent_features`: how far generated latents are from real ones.
* :func:`log_mel_distance`: a codec's reconstruction error; :func:`nearest_neighbour_distances`: memorisation.

To judge generated notes use :mod:`tutorial_lib.evaluation` (CREPE pitch, note shape, an evaluation
classifier): the Frechet distance of :func:`latent_features` is blind to time, and gives the same value for
real notes, the same shuffled or reversed in time, and noise with each note's channel statistics.
"""

from __future__ import annotations

import numpy as np

def latent_features(latents) -> np.ndarray:
    """``[N, 64, frames]`` -> ``[N, 128]``: each channel's mean and standard deviation over time.

    A note's summary that does not depend on where in time things happen, small enough for a stable
    covariance from a few hundred notes.
    """
    x = np.asarray(latents, dtype=np.float64)
    return np.concatenate([x.mean(axis=-1), x.std(axis=-1)], axis=1)


def frechet_distance_from_stats(mu1, cov1, mu2, cov2) -> float:
    """``|mu1 - mu2|^2 + Tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2))``: the Frechet distance of two Gaussians."""
    from scipy import linalg

    covmean = np.real(linalg.sqrtm(np.asarray(cov1) @ np.asarray(cov2)))
    diff = np.asarray(mu1) - np.asarray(mu2)
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(covmean))


def frechet_distance(a, b) -> float:
    """Frechet distance between two sets of feature vectors ``[N, d]`` and ``[M, d]`` (0 for equal sets)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return frechet_distance_from_stats(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def log_mel_distance(reference, reconstruction, sample_rate: int, n_mels: int = 80) -> float:
    """Mean absolute difference (dB) of two signals' log-mel spectrograms: a codec's reconstruction error."""
    import librosa

    n = min(len(reference), len(reconstruction))

    def log_mel(x):
        mel = librosa.feature.melspectrogram(y=np.asarray(x[:n], dtype=np.float32), sr=sample_rate, n_fft=2048,
                                             hop_length=512, n_mels=n_mels)
        return librosa.power_to_db(mel, ref=1.0, amin=1e-8, top_db=None)

    return float(np.mean(np.abs(log_mel(reference) - log_mel(reconstruction))))


def nearest_neighbours(queries, references) -> tuple[np.ndarray, np.ndarray]:
    """``(distances [N], indices [N])``: for each flattened query ``[N, ...]``, the Euclidean distance to its
    nearest reference ``[M, ...]`` and that reference's index (chapter 6 plays it beside the query)."""
    import torch

    q = torch.as_tensor(np.asarray(queries), dtype=torch.float64).flatten(1)
    r = torch.as_tensor(np.asarray(references), dtype=torch.float64).flatten(1)
    nearest = torch.cdist(q, r).min(dim=1)
    return nearest.values.numpy(), nearest.indices.numpy()


def nearest_neighbour_distances(queries, references) -> np.ndarray:
    """``[N]`` Euclidean distance from each flattened query ``[N, ...]`` to its nearest reference ``[M, ...]``.

    Memorisation check: generated-to-train distances much smaller than valid-to-train distances mean the
    model copies its training notes.
    """
    return nearest_neighbours(queries, references)[0]


def copy_share(generated, train, valid, percentile: float = 5.0) -> tuple[float, float]:
    """Memorisation: the share of generated notes closer to a training note than all but ``percentile`` % of
    held-out notes are, and that threshold distance.

    Real held-out notes give about ``percentile / 100``; a model that copies its training notes gives much
    more. The median distance hides a few copies; this share does not. Shapes: ``[N, ...]``, ``[M, ...]``,
    ``[V, ...]``.
    """
    threshold = float(np.percentile(nearest_neighbour_distances(valid, train), percentile))
    return float(np.mean(nearest_neighbour_distances(generated, train) < threshold)), threshold
