"""Writing files that other runs may read: whole or not at all, named safely and after what made them.

The one place for all three (checkpoints, the latent cache, the evaluation's cache, the synthetic notes, runs).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
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


def fingerprint(*parts, length: int = 16) -> str:
    """A short SHA-1 hex digest of ``parts``, naming a cache entry or a run after what made it: ``bytes`` are
    hashed as they are, ``str`` as UTF-8, arrays and tensors as their dtype, shape and values, anything else
    as JSON with sorted keys."""
    digest = hashlib.sha1()
    for part in parts:
        if isinstance(part, torch.Tensor):
            part = part.detach().cpu().numpy()
        if isinstance(part, np.ndarray):
            part = np.ascontiguousarray(part)
            digest.update(str((part.dtype, part.shape)).encode())
            digest.update(part.tobytes())
        elif isinstance(part, bytes):
            digest.update(part)
        else:
            digest.update((part if isinstance(part, str) else json.dumps(part, sort_keys=True, default=str)).encode())
    return digest.hexdigest()[:length]


def file_fingerprint(path: str | Path, length: int = 8) -> str:
    """:func:`fingerprint` of a file's bytes, read 1 MiB at a time."""
    digest = hashlib.sha1()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def display_path(path: str | Path) -> str:
    """``path`` as messages and pages show it: the home folder written ``~`` (a shell still finds it), so that a
    page built on one machine does not print that machine's user folders."""
    path, home = Path(path), Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) and path != home else str(path)
