"""Progress bars: a live widget in Jupyter and Colab, one plain text line in the built book.

Set ``TUTORIAL_LIB_PROGRESS=text`` (the book build does) and a loop prints nothing while it runs and a
single summary line when it ends, and only if it lasted over 5 seconds: a static page cannot animate a
bar, so it keeps a short record (what ran, how far, how long, the last loss) instead of a screenful of
redrawn bars or an estimate of time left that is stale the moment the page is built.
"""

from __future__ import annotations

import os
import sys
import time


def progress_bar(iterable=None, **kwargs):
    """``tqdm.auto.tqdm`` (or :class:`TextProgress`, see the module docstring) with the same arguments."""
    if os.environ.get("TUTORIAL_LIB_PROGRESS") == "text":
        return TextProgress(iterable, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


class TextProgress:
    """The part of tqdm's interface the library uses; prints one line at the end (see the module docstring).

    Args:
        iterable: what to loop over (or None, and call :meth:`update`).
        desc, total, initial, unit, unit_scale, disable: as in tqdm.
        min_seconds: work that ends sooner prints nothing.
        file: where the line goes (default ``sys.stdout``).
    """

    def __init__(self, iterable=None, *, desc: str = "", total: int | float | None = None, initial: int = 0,
                 unit: str = "it", unit_scale: bool = False, disable: bool = False, min_seconds: float = 5.0,
                 file=None, **_ignored):
        self.iterable, self.desc, self.unit, self.unit_scale = iterable, desc, unit, unit_scale
        if total is None and hasattr(iterable, "__len__"):
            total = initial + len(iterable)
        self.total, self.n, self.initial = total, initial, initial
        self.disable, self.min_seconds, self.file = disable, min_seconds, file
        self.postfix: dict[str, str] = {}
        self.start = time.perf_counter()
        self.closed = False

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.n += 1
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def update(self, n: int | float = 1) -> None:
        self.n += n

    def set_postfix(self, **values) -> None:
        self.postfix = {k: str(v) for k, v in values.items()}

    def summary(self) -> str:
        """The line :meth:`close` prints, e.g. ``Training UNet: 800/800 it in 1:02 (loss=0.471)``."""
        from tqdm.std import tqdm

        def amount(x):
            return tqdm.format_sizeof(x) if self.unit_scale else f"{x:,.0f}"

        done = amount(self.n) + (f"/{amount(self.total)}" if self.total is not None else "")
        line = f"{self.desc}: {done} {self.unit} in {tqdm.format_interval(time.perf_counter() - self.start)}"
        if self.initial:
            line += f" (resumed at {amount(self.initial)})"
        if self.postfix:
            line += " (" + ", ".join(f"{k}={v}" for k, v in self.postfix.items()) + ")"
        return line

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.disable and time.perf_counter() - self.start >= self.min_seconds:
            print(self.summary(), file=self.file or sys.stdout, flush=True)
