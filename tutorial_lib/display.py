"""Notebook helpers: show the library's real source, play audio, show tables, say where outputs come from.

A leaf module: nothing else in tutorial_lib imports it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence

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


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A Markdown pipe table; numeric columns are right-aligned, ``|`` inside a cell is escaped."""
    rows = [list(row) for row in rows]
    numeric = [bool(rows) and all(isinstance(row[i], (int, float)) for row in rows) for i in range(len(header))]

    def cell(value) -> str:
        text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def show_table(header: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Displays rows as a table: rendered by Jupyter, Colab and the built book (never raw pipe text)."""
    from IPython.display import Markdown, display

    display(Markdown(markdown_table(header, rows)))
