"""Counts the costly work a run does, so that the Colab estimates can be checked against the chapters' code.

Each codec encode and decode (:func:`counted` decorates them), and the evaluation classifier's training, adds to :data:`COUNTS` (by kind, e.g.
``"decode mel"``). With ``$TUTORIAL_LIB_WORK_LOG`` set to a file, the counts are written there as they grow:
the test command runs every chapter that way and ``tests/test_chapter_work.py`` compares the counts with
:func:`tutorial_lib.book.chapters.chapter_work`, the figures the Colab estimates are made of.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from pathlib import Path

COUNTS: Counter = Counter()
LOG_ENV = "TUTORIAL_LIB_WORK_LOG"
_SEEN: set = set()


def add(kind: str, n: int = 1, *, once=None) -> None:
    """Counts ``n`` units of ``kind`` (notes encoded or decoded, classifier note-epochs); with ``once`` (a
    key, e.g. a note's file), only the first call for that key counts."""
    if once is not None:
        if (kind, once) in _SEEN:
            return
        _SEEN.add((kind, once))
    COUNTS[kind] += n
    if os.environ.get(LOG_ENV):
        Path(os.environ[LOG_ENV]).write_text(json.dumps(dict(COUNTS), sort_keys=True))


def counted(kind: str):
    """Decorator for a codec's ``encode`` or ``decode``: each call adds its notes to ``kind``, one for a note
    (a waveform, or latents ``[64, T]``), ``N`` for a batch of latents ``[N, 64, T]``. It counts around the
    method, so that the code a chapter shows is the codec's alone."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, notes, *args, **kwargs):
            add(kind, notes.shape[0] if getattr(notes, "ndim", 0) == 3 else 1)
            return method(self, notes, *args, **kwargs)

        return wrapper

    return decorate
