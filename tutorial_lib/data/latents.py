"""Notes -> cached, standardised latents (chapter 2, "Preparing the dataset").

Each note is encoded once. The latents of a split live in one file under
``cache_dir/<codec.cache_id>/``, keyed by each audio file's path, size and modification time, so a
changed file is encoded again and a second run reads everything from disk. Encoding saves its progress
every ``save_every`` notes: an interrupted run loses at most that many.

:class:`LatentDataset` cuts a fixed number of frames, standardises each channel with the training
set's mean and standard deviation (stored beside the cache) and returns the labels with the latents.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..codec import Codec
from .nsynth import AudioError, Note, list_notes, load_note
from .synth import DURATION_S

SOURCE_IDS = {"acoustic": 0, "electronic": 1, "synthetic": 2}


@dataclass
class EncodeReport:
    """What :func:`encode_notes` did: counts of encoded / cached notes, fixes and skips."""

    encoded: int = 0
    cached: int = 0
    fixes: Counter = field(default_factory=Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.encoded} notes encoded, {self.cached} from the cache"
        if self.fixes:
            text += "; " + ", ".join(f"{n} {fix}" for fix, n in self.fixes.items())
        if self.skipped:
            text += f"; {len(self.skipped)} skipped (first: {self.skipped[0][1]})"
        return text


def _file_key(path: Path) -> str:
    stat = path.stat()
    return f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"


def _save_atomically(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _load_shard(path: Path) -> dict[str, torch.Tensor]:
    """A shard on disk is ``{"keys": [N], "latents": [N, 64, frames]}``: one tensor loads fast."""
    if not path.is_file():
        return {}
    try:
        shard = torch.load(path)
        return dict(zip(shard["keys"], shard["latents"]))
    except Exception:  # an older layout or a damaged file: encode again, it is only a cache
        return {}


def _save_shard(cache: dict[str, torch.Tensor], path: Path) -> None:
    _save_atomically({"keys": list(cache), "latents": torch.stack(list(cache.values()))}, path)


def encode_notes(notes: list[Note], codec: Codec, cache_dir: str | Path, duration: float = DURATION_S,
                 save_every: int = 200, progress: bool = True) -> tuple[torch.Tensor, list[Note], EncodeReport]:
    """Encodes ``notes`` (through the cache); returns ``latents [N, 64, frames]``, the kept notes, a report.

    Notes that cannot be read are skipped and listed in the report, never fatal.
    """
    from ..progress import progress_bar as tqdm

    num_samples = int(round(duration * codec.sample_rate))
    folder = Path(cache_dir) / f"{codec.cache_id}-{num_samples}"
    folder.mkdir(parents=True, exist_ok=True)
    parents = sorted({str(parent.resolve()) for parent in {n.path.parent for n in notes}})
    shard_path = folder / f"{hashlib.sha1(chr(10).join(parents).encode()).hexdigest()[:16]}.pt"
    cache = _load_shard(shard_path)

    report = EncodeReport()
    kept, latents, unsaved = [], [], 0
    for note in tqdm(notes, desc=f"Encoding ({codec.name})", disable=not progress):
        key = _file_key(note.path)
        if key in cache:
            report.cached += 1
        else:
            try:
                audio, fixes = load_note(note.path, codec.sample_rate, num_samples)
            except AudioError as error:
                report.skipped.append((str(note.path), str(error)))
                continue
            report.fixes.update(fixes)
            cache[key] = codec.encode(audio, codec.sample_rate)
            report.encoded += 1
            unsaved += 1
            if unsaved >= save_every:
                _save_shard(cache, shard_path)
                unsaved = 0
        kept.append(note)
        latents.append(cache[key])
    if unsaved:
        _save_shard(cache, shard_path)
    if not kept:
        raise ValueError(f"No usable notes among {len(notes)} files "
                         f"({report.skipped[0][1] if report.skipped else 'the folder is empty'}).")
    return torch.stack(latents), kept, report


class LatentDataset(Dataset):
    """Standardised latents and their labels; item ``i`` is ``(latents [64, frames], labels dict)``.

    Args:
        latents: ``[N, 64, frames_total]`` raw codec latents.
        notes: the N notes they come from.
        num_frames: frames kept from the start of each note (the seed keeps 32, about 3 s).
        mean, std: ``[64]`` per-channel statistics; computed from these latents when not given
            (pass the training set's to a validation set).
    """

    def __init__(self, latents: torch.Tensor, notes: list[Note], num_frames: int,
                 mean: torch.Tensor | None = None, std: torch.Tensor | None = None):
        if latents.shape[-1] < num_frames:
            raise ValueError(f"Notes give {latents.shape[-1]} latent frames, fewer than num_frames={num_frames}; "
                             "lower num_frames.")
        raw = latents[..., :num_frames].float()
        if mean is None or std is None:
            mean = raw.mean(dim=(0, 2))
            std = raw.std(dim=(0, 2)).clamp_min(1e-5)
        self.mean, self.std = mean, std
        self.latents = self.standardise(raw)
        self.notes = notes

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., 64, frames]`` raw -> zero mean, unit variance per channel."""
        return (x - self.mean[:, None].to(x)) / self.std[:, None].to(x)

    def destandardise(self, x: torch.Tensor) -> torch.Tensor:
        """Undoes :meth:`standardise`, e.g. on generated samples before decoding."""
        return x * self.std[:, None].to(x) + self.mean[:, None].to(x)

    def __len__(self) -> int:
        return len(self.notes)

    def __getitem__(self, i: int):
        note = self.notes[i]
        labels = {"pitch": note.pitch, "velocity": note.velocity, "source": SOURCE_IDS.get(note.source, -1),
                  "instrument": note.instrument}
        return self.latents[i], labels


@dataclass
class LatentData:
    """The train and valid :class:`LatentDataset` of one data folder, and what preparing them did."""

    train: LatentDataset
    valid: LatentDataset
    reports: dict[str, EncodeReport]
    stats_path: Path


def prepare_latents(data_root: str | Path, codec: Codec, cache_dir: str | Path, num_frames: int = 32,
                    progress: bool = True) -> LatentData:
    """Lists, encodes (cached) and standardises the train and valid splits of ``data_root``."""
    sets, reports = {}, {}
    for split in ("train", "valid"):
        listing = list_notes(data_root, split)
        if not listing.notes:
            raise ValueError(f"No {split} notes in {data_root} ({listing.summary()}). Each split needs notes "
                             "named <family>_<source>_<NNN>-<pitch>-<velocity>.wav/.mp3/.flac.")
        latents, kept, report = encode_notes(listing.notes, codec, cache_dir, progress=progress)
        report.skipped[:0] = [(str(p), r) for p, r in listing.skipped]
        sets[split], reports[split] = (latents, kept), report
    train = LatentDataset(*sets["train"], num_frames)
    valid = LatentDataset(*sets["valid"], num_frames, mean=train.mean, std=train.std)
    stats_path = Path(cache_dir) / f"{codec.cache_id}-stats.pt"
    _save_atomically({"mean": train.mean, "std": train.std, "num_frames": num_frames,
                      "data_root": str(Path(data_root).resolve())}, stats_path)
    return LatentData(train=train, valid=valid, reports=reports, stats_path=stats_path)
