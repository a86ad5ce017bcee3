"""Writing files that other runs may read: whole or not at all, and names safe for any file system.

The one place for both (checkpoints, the latent cache, the evaluation's cache, the synthetic notes).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import torch


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Calls ``write(tmp)`` on a temporary file of this process's own beside ``path``, then renames it onto
    ``path``: a reader (or a crash) never sees half a file, two runs sharing a folder never write or rename each
    other's temporary file, and a failed write leaves no debris (and the old ``path``, if any, untouched)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_atomically(obj, path: str | Path) -> Path:
    """``torch.save(obj, path)`` through :func:`write_atomically`."""
    return write_atomically(path, lambda tmp: torch.save(obj, tmp))


def write_text_atomically(path: str | Path, text: str) -> Path:
    """``path.write_text(text)`` through :func:`write_atomically`."""
    return write_atomically(path, lambda tmp: tmp.write_text(text))


def safe_name(key: str, limit: int = 80) -> str:
    """``key`` as a file-name part: letters, digits, ``-``, ``_`` and ``.`` kept, anything else ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:limit]


def display_path(path: str | Path) -> str:
    """``path`` as messages and pages show it: the home folder written ``~`` (a shell still finds it), so that a
    page built on one machine does not print that machine's user folders."""
    path, home = Path(path), Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) and path != home else str(path)
