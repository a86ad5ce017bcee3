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


# Phone layouts ----------------------------------------------------------------------------------------
# A figure drawn for a desktop column (6-10.5 inches at 100 dpi, 600-1060 px) shrinks on a phone's 358 px column
# until its 9 pt text is 3-5 px tall. The web book therefore shows a second drawing of each figure on narrow
# screens: the same axes, one panel per row, PHONE_WIDTH_IN wide (9 pt text shows 9.9 px tall in a 358 px
# column). Jupyter and Colab show the first drawing; the second travels in the same output as PHONE_MIME, which
# they do not know and skip, and _ext/book_extensions.py puts it in a <picture> for narrow screens.

PHONE_MIME = "application/vnd.tutorial-lib.phone-figure.png"
PHONE_WIDTH_IN = 4.5


def phone_layout(fig, width: float = PHONE_WIDTH_IN):
    """A copy of ``fig`` laid out for a phone: its panels (the axes of its grid, read row by row) stacked one
    per row, ``width`` inches wide, each row as tall as a row of ``fig`` (colour bars follow their panels). A
    figure may draw its own: ``fig.phone_layout`` (a function of ``width`` returning a Figure) is used if set.
    Returns None for a figure already that narrow."""
    import pickle

    import matplotlib.pyplot as plt

    if fig.get_figwidth() <= width:
        return None
    if callable(getattr(fig, "phone_layout", None)):
        return fig.phone_layout(width)
    copy = pickle.loads(pickle.dumps(fig))
    plt.close(copy)  # unpickling registers the copy with pyplot, which would show it at the end of the cell
    panels = [ax for ax in copy.axes if ax.get_subplotspec() is not None]  # colour bars have none
    panels.sort(key=lambda ax: (ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start))
    rows = panels[0].get_subplotspec().get_gridspec().nrows if panels else 1
    grid = copy.add_gridspec(max(1, len(panels)), 1)
    for i, ax in enumerate(panels):
        ax.set_subplotspec(grid[i])
        # panels that shared an axis showed its tick labels once per row or column; each row shows its own
        if len(ax.get_shared_x_axes().get_siblings(ax)) > 1:
            ax.xaxis.set_tick_params(which="both", labelbottom=True)
        if len(ax.get_shared_y_axes().get_siblings(ax)) > 1:
            ax.yaxis.set_tick_params(which="both", labelleft=True)
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label):  # longer than the phone's width: broken into lines
            text.set_wrap(True)
    if copy._suptitle is not None:
        copy._suptitle.set_wrap(True)
    copy.set_size_inches(width, copy.get_figheight() / rows * max(1, len(panels)))
    return copy


def phone_png(fig) -> str | None:
    """Base64 PNG of :func:`phone_layout` (retina: twice the figure's dpi, as the page's own figures), or None
    when ``fig`` needs none."""
    import base64
    import io
    import warnings

    import matplotlib.pyplot as plt

    phone = phone_layout(fig)
    if phone is None:
        return None
    for _ in range(3):  # constrained layout gives up when the rows are too short for their labels: taller rows
        buffer = io.BytesIO()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            phone.savefig(buffer, format="png", dpi=2 * phone.dpi, bbox_inches="tight")
        if not any("constrained_layout not applied" in str(w.message) for w in caught):
            break
        phone.set_size_inches(phone.get_figwidth(), phone.get_figheight() * 1.4)
    else:
        buffer = None  # no layout that fits: the page shows the desktop figure (and the browser test says so)
    plt.close(phone)
    return base64.b64encode(buffer.getvalue()).decode("ascii") if buffer else None


def book_figures() -> None:
    """Sharp (retina) figures in the notebook, each with its phone layout (:func:`phone_png`) for the web
    book. Called once in each chapter's first code cell."""
    from IPython import get_ipython
    from IPython.core.formatters import BaseFormatter
    from matplotlib.figure import Figure
    from traitlets import ObjectName, Unicode

    shell = get_ipython()
    if shell is None:
        return
    shell.run_line_magic("config", 'InlineBackend.figure_formats = ["retina"]')

    class PhoneFormatter(BaseFormatter):
        format_type = Unicode(PHONE_MIME)
        print_method = ObjectName("_repr_phone_png_")

    formatters = shell.display_formatter.formatters
    formatters.setdefault(PHONE_MIME, PhoneFormatter(parent=shell.display_formatter)).for_type(Figure, phone_png)
