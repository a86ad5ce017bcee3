"""One writer per folder: the lock that ``run``, ``reflow``, ``generate``, ``synth`` and ``download`` hold on
their ``--out`` while they work.

The lock is a file, ``DIR/.tutorial_lib.lock``, holding the process id and the command, and locked with the
kernel's ``flock``: the kernel lets go when the process ends in any way (even ``kill -9``), so a lock whose
process is gone is taken over, and the message says so. A second command on the same folder is refused at once,
naming the process that holds it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".tutorial_lib.lock"


class FolderLocked(OSError):
    """Another process is writing into the folder; nothing was done."""


def _holder(text: str) -> dict:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _open_locked(path: Path) -> tuple[int, dict]:
    """``(fd, what the file held before)``, with ``path`` locked by this process; raises :class:`FolderLocked`."""
    import fcntl  # POSIX (Linux, macOS, WSL)

    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError as error:
            raise PermissionError(f"Cannot write into {path.parent} ({error.strerror}); choose another `out`.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = _holder(os.read(fd, 4096).decode(errors="replace"))
            os.close(fd)
            raise FolderLocked(
                f"{path.parent} is in use by process {held.get('pid', '(unknown)')} "
                f"(`{held.get('command', 'another command')}`, started {held.get('started', 'earlier')}): one "
                "command writes into a folder at a time. Wait for it to finish, or choose another `out`.") from None
        try:  # the holder may have let go and removed the file between our open and our lock: lock the new one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, _holder(os.read(fd, 4096).decode(errors="replace"))
        os.close(fd)


@contextmanager
def folder_lock(folder: str | Path, command: str):
    """Holds ``folder``'s lock (making the folder if needed) while the ``with`` block runs.

    Raises :class:`FolderLocked`, naming the holder's process id, when another live process holds it; takes over
    (and prints so) a lock left by a process that is gone.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"`out` {folder} is a file, not a folder; choose a folder.")
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    try:
        fd, before = _open_locked(path)
    except OSError:
        _remove_if_empty(folder, made)
        raise
    if before.get("pid"):
        print(f"Taking over the lock of {folder}: process {before['pid']} (`{before.get('command', '?')}`) that "
              "held it is gone (stopped without letting go); its files are checked as usual.")
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        yield path
    finally:
        path.unlink(missing_ok=True)  # before letting go, so a waiting process never locks a removed file
        os.close(fd)
        _remove_if_empty(folder, made)


def _remove_if_empty(folder: Path, made: bool) -> None:
    """A folder the lock made and nothing filled (the command refused): gone again, so a refusal writes nothing."""
    if made:
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty: the command's work is in it
