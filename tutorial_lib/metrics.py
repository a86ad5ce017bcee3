"""Measures of what the pipeline produces (chapters 1, 5 and the benchmarks).

* :func:`estimate_pitch` / :func:`pitch_accuracy`: does a decoded note still play its written pitch?
  (librosa's pYIN, no download).
"""

from __future__ import annotations

import numpy as np

#: The pitch range searched for a guitar note: a little wider than MIDI 40-88 on both sides.
GUITAR_FMIN_MIDI = 35
GUITAR_FMAX_MIDI = 96


def estimate_pitch(waveform: np.ndarray, sample_rate: int, seconds: float = 2.0) -> float:
    """The pitch of one note, as a fractional MIDI number (NaN where no pitch is found).

    pYIN runs over the first ``seconds`` of the note (the held part); the answer is the median of the
    voiced frames.

    Args:
        waveform: ``[samples]`` mono audio.
        sample_rate: its rate in Hz.
    """
    import librosa

    waveform = np.asarray(waveform, dtype=np.float32)[: int(seconds * sample_rate)]
    frame_length = 4096 if sample_rate <= 24_000 else 8192
    f0, voiced, _ = librosa.pyin(
        waveform,
        sr=sample_rate,
        fmin=librosa.midi_to_hz(GUITAR_FMIN_MIDI),
        fmax=librosa.midi_to_hz(GUITAR_FMAX_MIDI),
        frame_length=frame_length,
        hop_length=frame_length // 4,
    )
    if not np.any(voiced):
        return float("nan")
    return float(np.median(librosa.hz_to_midi(f0[voiced])))


def pitch_accuracy(waveforms, sample_rate: int, pitches, tolerance_cents: float = 50.0) -> float:
    """Fraction of notes whose estimated pitch is within ``tolerance_cents`` of the written ``pitches``."""
    errors = [abs(estimate_pitch(w, sample_rate) - p) * 100 for w, p in zip(waveforms, pitches)]
    return float(np.mean([e <= tolerance_cents for e in errors]))  # NaN (no pitch found) counts as wrong
