"""Download of the real NSynth guitar subset the original tutorial uses (chapter 2; needs internet, e.g. in Colab).

The original tutorial fetches ``NSYNTH_GUITAR_MP3`` from the ``SonyCSLParis/test-lfs`` repository: a text file lists
the archive's parts, each served from GitHub's LFS media host. We do the same in Python: resumable
(HTTP ``Range``), size-checked, checked against the sha256 the repository publishes for each part,
unpacked, and marked done so that a second call returns at once.
Dataset licence: CC BY 4.0 (NSynth, Engel et al. 2017).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from ..runtime.files import write_text_atomically

DATASET = "NSYNTH_GUITAR_MP3"
RAW_URL = "https://raw.githubusercontent.com/SonyCSLParis/test-lfs/refs/heads/master"
MEDIA_URL = "https://media.githubusercontent.com/media/SonyCSLParis/test-lfs/refs/heads/master"
DONE_MARKER = ".download-complete"
#: The sha256 of each part, as published by the repository's Git-LFS pointer files (``oid sha256:...``), read
#: at SonyCSLParis/test-lfs commit 0ee504db805fe08abdeb5b445a54f7ef892f6c62 (the part added in ecdb1ca9,
#: 2024-10-21). The whole archive: one part of 334,999,208 bytes.
PUBLISHED_SHA256 = {
    "NSYNTH_GUITAR_MP3.zip": "cbabb3ba2ce81c28982eb41c3ba5127a0d81a3cd72d55d427a95f0558e43dfb3",
}


class OfflineError(OSError):
    """The download's host cannot be reached; the message says how to use a copy made elsewhere."""


def _offline_message(url: str, error: Exception) -> str:
    host = urllib.parse.urlparse(url).netloc
    return (f"Downloading NSynth's guitar notes needs internet, and {host} cannot be reached "
            f"({getattr(error, 'reason', error)}). Download them on a machine with internet "
            "(download_nsynth_guitar(DIR), or the command `download`; about 335 MB), copy DIR/NSYNTH_GUITAR_MP3 here "
            "and pass it as `data=\"/path/to/NSYNTH_GUITAR_MP3\"`; or leave the gpu profile for ci or cpu, which "
            "make their notes offline.")


def _remote_size(url: str, timeout: float) -> int | None:
    request = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        return int(length) if length is not None else None


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read 1 MiB at a time (the archive is 335 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class ChecksumError(OSError):
    """A downloaded file's sha256 differs from the published one."""


def _check_sha256(path: Path, sha256: str | None, *, downloaded: bool) -> None:
    if sha256 is None:
        return
    found = file_sha256(path)
    if found == sha256.lower():
        return
    if downloaded:  # ours: delete it, a new download starts from scratch
        path.unlink()
        action = "It was deleted: run the download again."
    else:  # already there before this call: not ours to delete
        action = f"Delete {path} and run the download again."
    raise ChecksumError(f"{path.name}: its sha256 is {found}, but the published one is {sha256} (the file is "
                        f"damaged or not the published archive). {action} If it fails again, the repository's "
                        "copy may have changed: download it elsewhere and pass its folder as `data`.")


def download_file(url: str, dest: Path, timeout: float = 60.0, progress: bool = True,
                  sha256: str | None = None) -> Path:
    """Downloads ``url`` to ``dest``, resuming a partial ``dest.part``; checks the size against the server's
    and, if given, the file's ``sha256`` (a mismatch deletes what this call downloaded and raises
    :class:`ChecksumError`). A ``dest`` already there of the right size is checked and used as it is."""
    return _fetch(url, dest, timeout, progress, sha256)[0]


def _fetch(url: str, dest: Path, timeout: float, progress: bool, sha256: str | None) -> tuple[Path, bool]:
    """:func:`download_file`, and whether this call downloaded ``dest`` (``False``: it was there already)."""
    from ..runtime.progress import progress_bar as tqdm

    expected = _remote_size(url, timeout)
    partial = dest.with_name(dest.name + ".part")
    if dest.is_file() and (expected is None or dest.stat().st_size == expected):
        _check_sha256(dest, sha256, downloaded=False)
        return dest, False
    have = partial.stat().st_size if partial.is_file() else 0
    if expected is not None and have > expected:
        partial.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if have and response.status != 206:  # the server ignored Range: start again
            have = 0
        with open(partial, "ab" if have else "wb") as out, tqdm(
            total=expected, initial=have, unit="B", unit_scale=True, desc=dest.name, disable=not progress
        ) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))
    size = partial.stat().st_size
    if expected is not None and size != expected:
        raise OSError(f"{dest.name}: downloaded {size} of {expected} bytes. Run the download again: it resumes.")
    if dest.exists():  # a file of the user's (of another size) under the part's name: never replaced
        raise FileExistsError(f"{dest} is in the way (not the archive's size); the download is kept in {partial}. "
                              "Move it aside and run the download again.")
    partial.replace(dest)
    _check_sha256(dest, sha256, downloaded=True)
    return dest, True


def keep_archive_times(zf: zipfile.ZipFile, dest: Path) -> None:
    """Gives each unpacked file the time stored in the archive (``extractall`` stamps them "now"), so a copy
    unpacked again in a new session (Colab) has the same keys in the latent cache, which include it."""
    for info in zf.infolist():
        path = dest / info.filename
        if path.is_file():
            stamp = time.mktime((*info.date_time, 0, 0, -1))
            os.utime(path, (stamp, stamp))


def download_nsynth_guitar(dest: str | Path, raw_url: str = RAW_URL, media_url: str = MEDIA_URL,
                           dataset: str = DATASET, progress: bool = True,
                           sha256: dict[str, str] | None = None) -> Path:
    """Downloads and unpacks the NSynth guitar MP3 subset into ``dest``; returns ``dest/NSYNTH_GUITAR_MP3``.

    Afterwards ``dest/NSYNTH_GUITAR_MP3/nsynth-guitar-{train,valid,test}/`` hold the notes. ``sha256`` maps
    each part's name to its expected sha256 (default: :data:`PUBLISHED_SHA256`).
    """
    dest = Path(dest)
    target = dest / dataset
    if (target / DONE_MARKER).is_file():
        return target
    if target.exists():
        raise FileExistsError(f"{target} is there but was not made by a finished download (no {DONE_MARKER} in it): "
                              "not unpacking over it, so nothing in it is replaced. Move it aside (or pass it as "
                              "`data` if it holds the notes), then run the download again.")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        return _download_and_unpack(dest, target, raw_url, media_url, dataset, progress,
                                    PUBLISHED_SHA256 if sha256 is None else sha256)
    except urllib.error.HTTPError:
        raise  # the host answered: its message says what went wrong
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise OfflineError(_offline_message(raw_url, error)) from error


def _download_and_unpack(dest: Path, target: Path, raw_url: str, media_url: str, dataset: str,
                         progress: bool, sha256: dict[str, str]) -> Path:
    with urllib.request.urlopen(f"{raw_url}/{dataset}.txt", timeout=60) as response:
        parts = [line.strip() for line in response.read().decode().splitlines() if line.strip()]
    if not parts:
        raise OSError(f"{raw_url}/{dataset}.txt lists no archive parts.")
    unknown = [part for part in parts if part not in sha256]
    if unknown:
        print(f"No published sha256 for {', '.join(unknown)} (the list of parts changed?): checking their sizes only.")
    ours = _downloaded_parts(dest, dataset)
    files = []
    for part in parts:
        path, downloaded = _fetch(f"{media_url}/{part}", dest / part, 60.0, progress, sha256.get(part))
        files.append(path)
        if downloaded:
            ours.add(part)
            _record_parts(dest, dataset, ours)
    made = [dest / part for part in ours] + _unpack(dest, target, files, dataset)
    for f in made:  # only what this command downloaded or joined: a part of the user's stays
        f.unlink(missing_ok=True)
    _parts_record(dest, dataset).unlink(missing_ok=True)
    return target


def _parts_record(dest: Path, dataset: str) -> Path:
    return dest / f".{dataset}.downloaded"


def _downloaded_parts(dest: Path, dataset: str) -> set[str]:
    """The parts that an earlier call downloaded itself (deleted after unpacking, unlike a part of the user's)."""
    record = _parts_record(dest, dataset)
    return set(record.read_text().split()) if record.is_file() else set()


def _record_parts(dest: Path, dataset: str, parts: set[str]) -> None:
    write_text_atomically(_parts_record(dest, dataset), "\n".join(sorted(parts)) + "\n")


def _unpack(dest: Path, target: Path, files: list[Path], dataset: str) -> list[Path]:
    """Unpacks the archive (joined first, if split) into a fresh hidden folder, marks it done and renames its
    ``dataset/`` onto ``target``, so ``target`` exists only whole; returns the files it made, to delete."""
    archive, made = dest / f"{dataset}.zip", []
    if len(files) > 1:  # a split archive (.z01, .z02, ..., .zip): `zip -F` joins it, as the original tutorial's script does
        if shutil.which("zip") is None:
            raise OSError(f"{dataset} comes in {len(files)} parts; joining them needs the `zip` tool "
                          "(apt install zip), then run the download again.")
        joined = dest / f".{dataset}-joined.{os.getpid()}.zip"
        subprocess.run(["zip", "-q", "-F", str(archive), "--out", str(joined)], check=True)
        archive = joined
        made.append(joined)
    work = Path(tempfile.mkdtemp(dir=dest, prefix=f".{dataset}.unpacking-"))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(work)
                keep_archive_times(zf, work)
        except zipfile.BadZipFile as error:
            raise OSError(f"{archive} is not a valid zip ({error}); {_forget_bad_parts(dest, files, made, dataset)}") \
                from error
        if not (work / dataset).is_dir():
            raise OSError(f"The archive {archive} did not contain a {dataset}/ folder; nothing was unpacked into "
                          f"{dest}.")
        (work / dataset / DONE_MARKER).write_text("ok\n")
        os.rename(work / dataset, target)  # refuses a target that appeared meanwhile (not empty)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the folder this call made, and only it
    return made


def _forget_bad_parts(dest: Path, files: list[Path], made: list[Path], dataset: str) -> str:
    """Deletes the parts of a bad archive that were downloaded here (not a user's); says what to do."""
    ours = _downloaded_parts(dest, dataset)
    for f in [*made, *(f for f in files if f.name in ours)]:
        f.unlink(missing_ok=True)
    _parts_record(dest, dataset).unlink(missing_ok=True)
    kept = [str(f) for f in files if f.name not in ours]
    if kept:
        return (f"{', '.join(kept)} was not downloaded by this command, so it was kept: delete it yourself and run "
                "the download again.")
    return "it was deleted. Run the download again."
