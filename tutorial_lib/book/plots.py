"""Figures for the chapters. Every figure has a title and labelled axes. A leaf module."""

from __future__ import annotations

import numpy as np


def _axes(ax, figsize=(7, 3)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def spectrogram(waveform, sample_rate: int, title: str, ax=None, fmax: float = 8000.0):
    """Log-magnitude spectrogram (dB) of ``[samples]`` audio."""
    import librosa

    ax = _axes(ax)
    stft = np.abs(librosa.stft(np.asarray(waveform, dtype=np.float32), n_fft=2048, hop_length=256))
    db = librosa.amplitude_to_db(stft, ref=np.max(stft) if stft.max() > 0 else 1.0)
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=2048)
    times = np.arange(db.shape[1]) * 256 / sample_rate
    keep = freqs <= fmax
    image = ax.pcolormesh(times, freqs[keep], db[keep], shading="auto", vmin=-80, vmax=0, cmap="magma")
    ax.set(title=title, xlabel="time (s)", ylabel="frequency (Hz)")
    ax.figure.colorbar(image, ax=ax, label="dB")
    return ax


def latents_image(latents, frame_rate: float, title: str, ax=None, label: str = "value", *,
                  colorbar: bool = True, vmin: float | None = None, vmax: float | None = None):
    """``[64, frames]`` latents as an image: channels against time. Panels that share one colour bar pass
    ``colorbar=False`` and the same ``vmin``/``vmax``, then ``fig.colorbar(ax.images[0], ax=axes)``."""
    ax = _axes(ax)
    latents = np.asarray(latents)
    extent = (0, latents.shape[-1] / frame_rate, latents.shape[0] - 0.5, -0.5)
    image = ax.imshow(latents, aspect="auto", extent=extent, cmap="viridis", interpolation="nearest",
                      vmin=vmin, vmax=vmax)
    ax.set(title=title, xlabel="time (s)", ylabel="latent channel")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=label)
    return ax


def loss_curves(histories: dict, title: str = "Rectified-flow loss", ax=None, smooth: int = 20):
    """Train (smoothed) and valid loss against steps for ``{label: LossHistory}`` (``TrainResult.history``)."""
    ax = _axes(ax, (7, 3.5))
    for i, (label, h) in enumerate(histories.items()):
        color = f"C{i}"
        loss = np.asarray(h.train_loss)
        k = max(1, min(smooth, len(loss) // 5))
        smoothed = np.convolve(loss, np.ones(k) / k, mode="valid")
        ax.plot(np.asarray(h.train_steps)[k - 1:], smoothed, color=color, label=f"{label}: train (mean of {k})")
        if h.valid_loss:
            ax.plot(h.valid_steps, h.valid_loss, "o--", color=color, label=f"{label}: valid")
    ax.set(title=title, xlabel="optimizer step", ylabel="MSE(v, f(x_t, t))")
    ax.legend(fontsize=9)
    return ax


def filter_bank(basis, sample_rate: int, title: str, ax=None, max_hz: float = 700.0, f0_hz: float | None = None):
    """The bands of a ``[bands, n_fft/2 + 1]`` filter bank up to ``max_hz`` (each peak scaled to 1), with the
    first harmonics of ``f0_hz`` as dashed lines: how many bands each harmonic gets (chapter 1)."""
    ax = _axes(ax, (7, 2.6))
    basis = np.asarray(basis)
    freqs = np.arange(basis.shape[1]) * sample_rate / (2 * (basis.shape[1] - 1))
    keep = freqs <= max_hz
    for band in basis:
        if band[keep].max() > 0:
            ax.plot(freqs[keep], band[keep] / band.max(), color="C0", linewidth=0.8)
    if f0_hz:
        for k in range(1, int(max_hz // f0_hz) + 1):
            ax.axvline(k * f0_hz, color="C3", linestyle="--", linewidth=1.0)
        title = f"{title}\n(red: the harmonics of {f0_hz:.0f} Hz)"
    ax.set(title=title, xlabel="frequency (Hz)", ylabel="weight (peak = 1)", xlim=(0, max_hz))
    return ax
