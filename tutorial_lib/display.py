"""Notebook helpers: show the library's real source, play audio, say where outputs come from.

A leaf module: nothing else in tutorial_lib imports it.
"""

from __future__ import annotations

import inspect

import numpy as np


def show_source(obj) -> None:
    """Displays the source code of a function, class or method of tutorial_lib, highlighted."""
    from IPython.display import Code, display

    display(Code(inspect.getsource(obj), language="python"))


def play(waveform, sample_rate: int, title: str | None = None) -> None:
    """An audio player (loudness normalised) with an optional title above it."""
    from IPython.display import Audio, Markdown, display

    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if title:
        display(Markdown(f"**{title}**"))
    if not np.any(waveform):
        display(Markdown("*(silence: the waveform is all zeros)*"))
    display(Audio(waveform, rate=sample_rate, normalize=bool(np.any(waveform))))


def provenance(data_source: str, codec_description: str) -> None:
    """A note at the top of a chapter: which data and codec produced this page's outputs."""
    from IPython.display import Markdown, display

    display(Markdown(f"> **Outputs on this page** come from: *data* = {data_source}; *codec* = {codec_description}."))
