"""Notebook helpers: show the library's real source, play audio, show tables, say where outputs come from.

Nothing in the method imports it; of the book's helpers, ``widgets`` uses its audio players.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence

import numpy as np


def show_source(obj) -> None:
    """Displays the source code of a function, class or method of tutorial_lib, highlighted."""
    from IPython.display import Code, display

    display(Code(inspect.getsource(obj), language="python"))


def audio_data_uri(waveform, sample_rate: int) -> str:
    """``waveform`` (peak-normalised) as a ``data:audio/mpeg;base64,...`` URI: MP3, about a quarter of a WAV's
    bytes, so a page of players stays light (browsers, Jupyter and Colab all play it)."""
    import base64
    import io

    import soundfile as sf

    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    peak = float(np.max(np.abs(waveform))) if waveform.size else 0.0
    buffer = io.BytesIO()
    sf.write(buffer, waveform / peak * 0.99 if peak > 0 else waveform, sample_rate, format="MP3",
             bitrate_mode="CONSTANT", compression_level=0.5)
    return "data:audio/mpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def audio_html(waveform, sample_rate: int, style: str = "") -> str:
    """An ``<audio>`` player of ``waveform`` (see :func:`audio_data_uri`) that loads nothing until it is played
    (``preload="none"``); the web book moves each clip to a file of its own (_ext/book_extensions.py)."""
    style = f' style="{style}"' if style else ""
    return f'<audio controls preload="none"{style} src="{audio_data_uri(waveform, sample_rate)}"></audio>'


def play(waveform, sample_rate: int, title: str | None = None) -> None:
    """An audio player (loudness normalised, MP3) with an optional title above it."""
    from IPython.display import HTML, Markdown, display

    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if title:
        display(Markdown(f"**{title}**"))
    if not np.any(waveform):
        display(Markdown("*(silence: the waveform is all zeros)*"))
    display(HTML(audio_html(waveform, sample_rate)))


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
