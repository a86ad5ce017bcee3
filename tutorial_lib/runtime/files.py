"""Writing files that other runs may read: whole or not at all, named safely and after what made them.

The one place for all three (checkpoints, the latent cache, the evaluation's cache, the synthetic notes, runs),
and where the cache shared by them lives (:func:`default_cache_dir`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def default_cache_dir() -> Path:
    """Where synthetic data, latents, downloads and the chapters' training runs are kept.

    ``$TUTORIAL_LIB_CACHE`` if set, else ``$XDG_CACHE_HOME/tutorial_lib`` (``~/.cache/tutorial_lib``): one
    folder shared by the command line, the chapters and the book build, so nothing is made twice.
    """
    if os.environ.get("TUTORIAL_LIB_CACHE"):
        return Path(os.environ["TUTORIAL_LIB_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "tutorial_lib"


def write_atomically(path: str | Path, write: Callable[[Path], object], *, size: int | None = None) -> Path:
    """Calls ``write(tmp)`` on a temporary file of this process's own beside ``path``, then renames it onto
    ``path``: a reader (or a crash) never sees half a file, two runs sharing a folder never write or rename each
    other's temporary file, and a failed write leaves no debris (and the old ``path``, if any, untouched).
    A full disk raises :class:`DiskFull`, naming the folder and the space needed (``size`` bytes, if given)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(temporary_name(path.name))
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(path, size) from error
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return path


def temporary_name(name: str) -> str:
    """The name :func:`write_atomically` writes ``name`` under first: this process's own, hidden, never much
    longer than ``name`` (a name near the file system's limit keeps its first 200 characters)."""
    return f".{name[:200]}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"


class DiskFull(OSError):
    """No space left to write a file; nothing was half-written (the old file, if any, is untouched)."""

    def __init__(self, path: Path, size: int | None):
        free = shutil.disk_usage(path.parent).free
        need = f"it needs about {_megabytes(size)}, and {_megabytes(free)} are free" if size else \
            f"{_megabytes(free)} are free"
        super().__init__(errno.ENOSPC, f"The disk holding {path.parent} is full: cannot write {path.name} ({need}). "
                         "Nothing was half-written. Free some space (or choose a folder on another disk) and run "
                         "the same command again.")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def tensor_bytes(obj) -> int:
    """The bytes of the tensors and arrays inside ``obj`` (dicts, lists, tuples): about what ``torch.save`` writes."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def save_atomically(obj, path: str | Path) -> Path:
    """``torch.save(obj, path)`` through :func:`write_atomically` (torch's own "file write failed", which it
    raises for a full disk, becomes :class:`DiskFull` when the disk is indeed short of the space)."""
    size = tensor_bytes(obj) + 4096

    def save(tmp):
        try:
            torch.save(obj, tmp)
        except RuntimeError as error:
            if "write" in str(error) and shutil.disk_usage(tmp.parent).free < size:
                raise OSError(errno.ENOSPC, str(error)) from error
            raise

    return write_atomically(path, save, size=size)


def write_text_atomically(path: str | Path, text: str) -> Path:
    """``path.write_text(text)`` through :func:`write_atomically`."""
    return write_atomically(path, lambda tmp: tmp.write_text(text), size=len(text.encode()))


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
