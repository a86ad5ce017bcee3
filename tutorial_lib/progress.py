"""Progress bars: a live widget in Jupyter and Colab, a few plain text lines in the built book.

Set ``TUTORIAL_LIB_PROGRESS=text`` (the book build does) for text bars that appear only for work that
lasts over 5 seconds and update at most every 15 seconds, so a static page shows a short, readable record
instead of an empty widget.
"""

from __future__ import annotations

import os
import sys


def progress_bar(iterable=None, **kwargs):
    """``tqdm.auto.tqdm`` (or text, see the module docstring) with the same arguments."""
    if os.environ.get("TUTORIAL_LIB_PROGRESS") == "text":
        from tqdm.std import tqdm

        kwargs.setdefault("delay", 5.0)
        kwargs.setdefault("mininterval", 15.0)
        kwargs.setdefault("file", sys.stdout)
        kwargs.setdefault("ascii", True)
        return tqdm(iterable, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)
