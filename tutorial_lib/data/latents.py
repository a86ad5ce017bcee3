"""Notes -> cached, standardised latents (chapter 2, "Preparing the dataset").

Each note is encoded once. The latents of a split live in one file under
``cache_dir/<codec.cache_id>/``, keyed by each audio file's path, size and modification time, so a
changed file is encoded again and a second run reads everything from disk. Encoding saves its progress
every ``save_every`` notes: an interrupted run loses at most that many.

Under torchrun several processes share the work: rank ``r`` of ``N`` encodes every N-th missing note into
its own part file beside the shard, and rank 0 merges the parts into the shard (appendix "Past one machine").

:class:`LatentDataset` cuts a fixed number of frames, standardises each channel with the training
set's mean and standard deviation (stored beside the cache) and returns the labels with the latents.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..runtime import work
from ..codec import Codec
from ..runtime.files import fingerprint, save_atomically
from ..runtime.distributed import World, barrier, world
from .nsynth import (AudioError, Note, empty_split_message, find_split_folders, list_flat_folder, list_notes,
                     load_note, too_few_to_split, valid_by_instrument)
from .labels import SOURCE_IDS
from .synth import DURATION_S


FP32_FIX = "re-encoded in fp32 (half precision gave NaN or infinite latents)"
NON_FINITE = "the codec turned it into NaN or infinite latents"


@dataclass
class EncodeReport:
    """What :func:`encode_notes` did: counts of encoded / cached notes, fixes and skips."""

    encoded: int = 0
    cached: int = 0
    fixes: Counter = field(default_factory=Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    fix_examples: dict[str, str] = field(default_factory=dict)  # fix -> the first file it was applied to
    cache_file: str = ""  # the latent cache these notes were read from or written to

    def fixed(self, fixes: list[str], example: str) -> None:
        self.fixes.update(fixes)
        for fix in fixes:
            self.fix_examples.setdefault(fix, example)

    @property
    def non_finite(self) -> int:
        """Notes skipped because the codec gave NaN or infinite latents (in fp32 too, where it tried)."""
        return sum(NON_FINITE in why for _, why in self.skipped)

    def precision_sentence(self) -> str:
        """``""``, or how many notes half precision spoiled, how many fp32 saved and how many were lost."""
        rescued, lost = self.fixes.get(FP32_FIX, 0), self.non_finite
        if not rescued and not lost:
            return ""
        total = self.encoded + self.cached + len(self.skipped)
        return (f"The codec gave NaN or infinite latents for {rescued + lost:,} of {total:,} notes: {rescued:,} "
                f"re-encoded in fp32 and kept, {lost:,} skipped (listed in the report).")

    def summary(self) -> str:
        text = f"{self.encoded} notes encoded, {self.cached} from the cache"
        if self.fixes:
            text += "; " + ", ".join(f"{n} {fix}" + (f" (e.g. {self.fix_examples[fix]})" if fix in self.fix_examples
                                                       else "") for fix, n in self.fixes.items())
        if self.skipped:
            text += f"; {len(self.skipped)} skipped (first: {self.skipped[0][1]})"
            if self.non_finite:
                text += f", {self.non_finite} of them for NaN or infinite latents"
        return text


def _file_key(path: Path) -> str:
    stat = path.stat()
    return f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"


class DamagedCacheError(ValueError):
    """A latent cache file holds values no codec should give (NaN, infinity)."""


def _load_shard(path: Path, skipped: dict[str, str] | None = None
                ) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """A shard on disk is ``{"keys": [N], "latents": [N, 64, frames], "fixes": [N lists]}`` (one tensor loads
    fast); returns ``({key: latents [64, frames]}, {key: fixes})``. A part file written by one rank also
    holds ``"skipped": {key: why}``, added to ``skipped``. Raises :class:`DamagedCacheError`
    (naming the file to delete) if any latent is NaN or infinite."""
    if not path.is_file():
        return {}, {}
    try:
        shard = torch.load(path)
        keys = list(shard["keys"])
        latents = shard["latents"] if keys else torch.zeros(0, 1)
    except Exception:  # an older layout or a damaged file: encode again, it is only a cache
        return {}, {}
    if skipped is not None:
        skipped.update(shard.get("skipped") or {})
    finite = torch.isfinite(latents.flatten(1)).all(dim=1) if len(keys) else torch.ones(0, dtype=torch.bool)
    if not bool(finite.all()):
        raise DamagedCacheError(
            f"The latent cache {path} holds NaN or infinite values in {int((~finite).sum())} of its {len(keys)} "
            "notes (a damaged file, or written by a faulty codec). Delete that file; the notes are then "
            "encoded again.")
    fixes = shard.get("fixes") or [[] for _ in keys]
    return dict(zip(keys, latents)), dict(zip(keys, fixes))


def _save_shard(cache: dict[str, torch.Tensor], fixes: dict[str, list[str]], path: Path,
                skipped: dict[str, str] | None = None) -> None:
    save_atomically({"keys": list(cache), "latents": torch.stack(list(cache.values())) if cache else None,
                     "fixes": [fixes.get(key, []) for key in cache], **({"skipped": skipped} if skipped else {})},
                    path)


def encode_note(note: Note, codec: Codec, num_samples: int) -> tuple[torch.Tensor | None, list[str] | str]:
    """One note read, fixed to ``num_samples`` at the codec's rate and encoded (chapter 2): ``(latents
    [64, frames], the fixes made)``, or ``(None, why it was skipped)``. :func:`encode_notes` caches the result."""
    try:
        audio, fixes = load_note(note.path, codec.sample_rate, num_samples)
    except AudioError as error:
        return None, str(error)
    encoded = codec.encode(audio, codec.sample_rate)
    if not bool(torch.isfinite(encoded).all()) and codec.half_precision:  # fp16 can overflow: once more in fp32
        encoded = codec.encode(audio, codec.sample_rate, half_precision=False)
        fixes = [*fixes, FP32_FIX]
    if not bool(torch.isfinite(encoded).all()):
        return None, f"{note.path}: {NON_FINITE} ({codec.name}); check the file and the codec."
    return encoded, fixes


def _parts(shard_path: Path) -> list[Path]:
    return sorted(shard_path.parent.glob(f"{shard_path.stem}.part-*.pt"))


def _read_with_parts(shard_path: Path, skipped: dict[str, str]) -> tuple[dict, dict]:
    cache, fixes = _load_shard(shard_path)
    for part in _parts(shard_path):
        more, more_fixes = _load_shard(part, skipped)
        cache.update(more)
        fixes.update(more_fixes)
    return cache, fixes


def _encode_my_share(notes: list[Note], codec: Codec, shard_path: Path, num_samples: int, save_every: int,
                     progress: bool, place: World) -> dict[str, str]:
    """Rank ``place.rank`` encodes every ``place.size``-th note missing from the shard and its parts into its
    own part file; returns ``{key: why}`` of the notes in the cache before (``""``) or skipped now."""
    from ..runtime.progress import progress_bar as tqdm

    before: dict[str, str] = {}
    cache, _ = _read_with_parts(shard_path, before)
    before.update(dict.fromkeys(cache, ""))
    barrier()  # every rank has read the same files before any rank writes its part
    part = shard_path.with_name(f"{shard_path.stem}.part-{place.rank}.pt")
    mine, mine_fixes, skipped = {}, {}, {}
    mine.update(_load_shard(part, skipped)[0])
    missing = [n for n in notes if _file_key(n.path) not in before]
    for i, note in enumerate(tqdm(missing[place.rank::place.size], desc=f"Encoding ({codec.name})",
                                  disable=not progress or not place.is_main)):
        encoded, fixes = encode_note(note, codec, num_samples)
        if encoded is None:
            skipped[_file_key(note.path)] = fixes
        else:
            mine[_file_key(note.path)], mine_fixes[_file_key(note.path)] = encoded, fixes
        if (i + 1) % save_every == 0:
            _save_shard(mine, mine_fixes, part, skipped)
    _save_shard(mine, mine_fixes, part, skipped)
    barrier()
    return before


def encode_notes(notes: list[Note], codec: Codec, cache_dir: str | Path, duration: float = DURATION_S,
                 save_every: int = 200, progress: bool = True, *, place: World | None = None
                 ) -> tuple[torch.Tensor, list[Note], EncodeReport]:
    """Encodes ``notes`` (through the cache); returns ``latents [N, 64, frames]``, the kept notes, a report.

    Notes that cannot be read (or that the codec turns into NaN) are skipped and listed in the report,
    never fatal; the fixes a note needed (padded, cut, mixed to mono...) are counted even when it comes from
    the cache. Under torchrun (``place``: this process's :class:`~tutorial_lib.runtime.distributed.World`) the ranks
    share the encoding, each writing its own part file, and every rank returns the same result.
    """
    from ..runtime.progress import progress_bar as tqdm

    num_samples = int(round(duration * codec.sample_rate))
    folder = Path(cache_dir) / f"{codec.cache_id}-{num_samples}"
    folder.mkdir(parents=True, exist_ok=True)
    parents = sorted({str(parent.resolve()) for parent in {n.path.parent for n in notes}})
    shard_path = folder / f"{fingerprint(chr(10).join(parents))}.pt"
    place = place or world()
    before, skipped_by_ranks = None, {}
    if place.size > 1 or _parts(shard_path):  # several ranks, or the parts of an interrupted parallel run
        before = _encode_my_share(notes, codec, shard_path, num_samples, save_every, progress, place)
        progress = False  # what is left is reading the cache
    cache, cached_fixes = _read_with_parts(shard_path, skipped_by_ranks)

    report = EncodeReport(cache_file=str(shard_path))
    kept, latents, unsaved = [], [], 0
    for note in tqdm(notes, desc=f"Encoding ({codec.name})", disable=not progress or not place.is_main):
        key = _file_key(note.path)
        if key in cache and (before is None or key in before):
            report.cached += 1
            # A fresh session (Colab) encodes this note once: counted for the estimates, once per note.
            work.add(f"encode {type(codec).name}", once=key)
            report.fixed(cached_fixes.get(key, []), note.path.name)
        elif key in cache:  # encoded just now by one of the ranks
            report.encoded += 1
            report.fixed(cached_fixes.get(key, []), note.path.name)
        elif key in skipped_by_ranks:
            report.skipped.append((str(note.path), skipped_by_ranks[key]))
            continue
        else:
            encoded, fixes = encode_note(note, codec, num_samples)
            if encoded is None:
                report.skipped.append((str(note.path), fixes))
                continue
            report.fixed(fixes, note.path.name)
            cache[key], cached_fixes[key] = encoded, fixes
            work.add(f"encode {type(codec).name}", 0, once=key)  # counted by the codec: not again from the cache
            report.encoded += 1
            unsaved += 1
            if unsaved >= save_every and before is None:  # (several ranks: rank 0 saves at the end)
                _save_shard(cache, cached_fixes, shard_path)
                unsaved = 0
        kept.append(note)
        latents.append(cache[key])
    frames = sorted({int(x.shape[-1]) for x in latents})
    if len(frames) > 1:
        raise DamagedCacheError(f"The latent cache {shard_path} holds notes of {frames[0]} frames beside notes of "
                                f"{frames[-1]} (a damaged file). Delete that file; the notes are then encoded again.")
    if before is not None:  # every rank has read the parts; rank 0 merges them into the shard
        barrier()
        if place.is_main:
            _save_shard(cache, cached_fixes, shard_path)
            for part in _parts(shard_path):
                part.unlink(missing_ok=True)
        barrier()
    elif unsaved:
        _save_shard(cache, cached_fixes, shard_path)
    if report.precision_sentence() and place.is_main:
        print(report.precision_sentence())
    if not kept:
        silent = sum("is silent" in why for _, why in report.skipped)
        raise ValueError(f"No usable notes among {len(notes)} files"
                         + (f": all {silent} are silent, nothing to learn from" if silent == len(notes) else "")
                         + f" ({report.skipped[0][1] if report.skipped else 'the folder is empty'}).")
    return torch.stack(latents), kept, report


class LatentDataset(Dataset):
    """Standardised latents and their labels; item ``i`` is ``(latents [64, frames], labels dict)``.

    Args:
        latents: ``[N, 64, frames_total]`` raw codec latents.
        notes: the N notes they come from.
        num_frames: frames kept from the start of each note (the original tutorial keeps 32, about 3 s).
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
    listed: dict[str, int] = field(default_factory=dict)  # notes per split before a profile's max_notes


def choose_notes(notes: list[Note], limit: int | None, seed: int = 0) -> list[Note]:
    """At most ``limit`` of ``notes``: a fixed random choice (``seed``), kept in their listed order."""
    if limit is None or len(notes) <= limit:
        return notes
    keep = sorted(random.Random(seed).sample(range(len(notes)), limit))
    return [notes[i] for i in keep]


def prepare_latents(data_root: str | Path, codec: Codec, cache_dir: str | Path, num_frames: int = 32,
                    progress: bool = True, *, max_notes: dict | None = None) -> LatentData:
    """Lists, encodes (cached) and standardises the train and valid splits of ``data_root``.

    ``max_notes`` (e.g. ``{"train": 5000}``) keeps at most that many notes of a split (:func:`choose_notes`);
    ``LatentData.listed`` says how many there were. A flat folder (no split folders) is encoded whole and
    split by instrument afterwards, among the notes that could be read (its report is under "train+valid").
    """
    if not find_split_folders(data_root):
        return _prepare_flat(data_root, codec, cache_dir, num_frames, progress, max_notes or {})
    sets, reports, listed = {}, {}, {}
    for split in ("train", "valid"):
        listing = list_notes(data_root, split)
        if not listing.notes:
            raise ValueError(empty_split_message(data_root, split, listing))
        listed[split] = len(listing.notes)
        chosen = choose_notes(listing.notes, (max_notes or {}).get(split))
        latents, kept, report = encode_notes(chosen, codec, cache_dir, progress=progress)
        _add_listing(report, listing)
        sets[split], reports[split] = (latents, kept), report
    return _standardised(sets, reports, listed, data_root, codec, cache_dir, num_frames)


def _add_listing(report: EncodeReport, listing) -> None:
    """Files skipped or fixed while listing (before any audio was read) join the encoding's report."""
    report.skipped[:0] = [(str(p), r) for p, r in listing.skipped]
    report.fixes.update(listing.fixes)
    report.fix_examples.update(listing.fix_examples)


def _prepare_flat(data_root, codec, cache_dir, num_frames, progress, max_notes) -> LatentData:
    """A flat folder: every note read and encoded first, then the readable ones split by instrument, so a few
    unreadable files cannot empty a split (or take good notes of their instrument with them)."""
    listing = list_flat_folder(Path(data_root))
    latents, kept, report = encode_notes(listing.notes, codec, cache_dir, progress=progress)
    _add_listing(report, listing)
    in_valid = valid_by_instrument(kept)
    sets, listed = {}, {}
    for split, wanted in (("train", False), ("valid", True)):
        index = [i for i, v in enumerate(in_valid) if v == wanted]
        if not index:
            raise ValueError(too_few_to_split(data_root, kept, skipped=len(report.skipped)))
        listed[split] = len(index)
        index = choose_notes(index, max_notes.get(split))
        sets[split] = (latents[index], [Note(**{**kept[i].__dict__, "split": split}) for i in index])
    return _standardised(sets, {"train+valid": report}, listed, data_root, codec, cache_dir, num_frames)


def _standardised(sets, reports, listed, data_root, codec, cache_dir, num_frames) -> LatentData:
    frames = min(int(sets[split][0].shape[-1]) for split in ("train", "valid"))
    if frames < num_frames:
        caches = ", ".join(sorted({r.cache_file for r in reports.values() if r.cached and r.cache_file}))
        raise ValueError(f"Notes give {frames} latent frames, fewer than num_frames={num_frames}"
                         + (f": if they last the usual 4 s, the latent cache {caches} is damaged (delete it; the "
                            "notes are then encoded again); if they are shorter, lower num_frames." if caches else
                            "; lower num_frames."))
    train = LatentDataset(*sets["train"], num_frames)
    valid = LatentDataset(*sets["valid"], num_frames, mean=train.mean, std=train.std)
    stats_path = Path(cache_dir) / f"{codec.cache_id}-stats.pt"
    save_atomically({"mean": train.mean, "std": train.std, "num_frames": num_frames,
                      "data_root": str(Path(data_root).resolve())}, stats_path)
    return LatentData(train=train, valid=valid, reports=reports, stats_path=stats_path, listed=listed)
