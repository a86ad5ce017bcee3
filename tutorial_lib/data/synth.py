"""Synthetic guitar notes: the offline stand-in for NSynth (chapter 2, "Preparing the dataset").

A plucked string is a delay line whose length sets the pitch, closed by a filter that loses a little
energy (more at high frequencies) on every round trip: the extended Karplus-Strong model
(Jaffe & Smith, 1983). Everything here is linear, so each note is one call to ``scipy.signal.lfilter``.

What each parameter of a :class:`GuitarModel` does:

* ``brightness``: the loop low-pass ``(1 - s) + s z^-1`` with ``s = 0.5 * (1 - brightness)``.
* ``decay_low`` / ``decay_high``: the time (s) a note takes to fall by 60 dB at MIDI 40 / 88;
  higher notes die sooner, as on a real string.
* ``pick_position``: where the string is plucked, as a fraction of its length (a comb filter
  removes the harmonics that have a node there).
* ``pick_direction``: a one-pole low-pass on the excitation (0 = hard pick, towards 1 = soft finger).
* ``body_modes``: resonances ``(frequency Hz, Q, gain)`` of a wooden body (acoustic guitars only).
* ``pickup_position``: a second comb for a magnetic pickup (electric guitars only).
* ``drive``: a soft saturation, like an amplifier (0 = clean).
* ``excitation``: ``"noise"`` (a real pluck) or ``"saw"`` (a synthesiser's single-cycle wave).
* ``release``: the time constant (s) of the damping applied when the key is let go.

The pitch is exact to well under 10 cents: a first-order all-pass supplies the fractional part of the
loop delay, with its coefficient chosen so that the whole loop's phase delay at the fundamental is
exactly one period.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
from scipy import signal

from .labels import SOURCES

SAMPLE_RATE = 16_000
DURATION_S = 4.0
HELD_S = 3.0


@dataclass(frozen=True)
class GuitarModel:
    """One synthetic instrument (see the module docstring for what each field does)."""

    name: str
    source: str
    brightness: float
    decay_low: float
    decay_high: float
    pick_position: float
    pick_direction: float
    body_modes: tuple[tuple[float, float, float], ...] = ()
    pickup_position: float = 0.0
    drive: float = 0.0
    excitation: str = "noise"
    release: float = 0.08
    lowest_pitch: int = 40
    highest_pitch: int = 88


def random_guitar(name: str, source: str, rng: np.random.Generator) -> GuitarModel:
    """Draws an instrument of the given source ("acoustic", "electronic" or "synthetic")."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    common = dict(
        name=name,
        source=source,
        pick_position=float(rng.uniform(0.06, 0.3)),
        pick_direction=float(rng.uniform(0.0, 0.6)),
        release=float(rng.uniform(0.04, 0.15)),
        lowest_pitch=int(rng.integers(40, 46)),
        highest_pitch=int(rng.integers(80, 89)),
    )
    if source == "acoustic":
        body = tuple(
            (float(f * rng.uniform(0.9, 1.1)), float(rng.uniform(4, 12)), float(rng.uniform(0.5, 1.5)))
            for f in (100.0, 220.0, 400.0)
        )
        return GuitarModel(
            **common, brightness=float(rng.uniform(0.3, 0.8)), decay_low=float(rng.uniform(3.0, 6.0)),
            decay_high=float(rng.uniform(0.6, 1.2)), body_modes=body,
        )
    if source == "electronic":
        return GuitarModel(
            **common, brightness=float(rng.uniform(0.6, 0.95)), decay_low=float(rng.uniform(4.0, 8.0)),
            decay_high=float(rng.uniform(1.0, 2.0)), pickup_position=float(rng.uniform(0.05, 0.25)),
            drive=float(rng.choice([0.0, rng.uniform(1.0, 4.0)])),
        )
    return GuitarModel(
        **common, brightness=float(rng.uniform(0.7, 1.0)), decay_low=float(rng.uniform(2.0, 5.0)),
        decay_high=float(rng.uniform(0.4, 1.5)), excitation="saw",
    )


def string_filter(f0: float, sample_rate: int, brightness: float, t60: float) -> tuple[np.ndarray, np.ndarray]:
    """The string loop as one IIR filter ``(b, a)`` for ``lfilter``, tuned to ``f0`` Hz.

    The loop is ``y = x + g z^-N H_lp(z) H_ap(z) y``; solving for ``Y/X`` gives one rational function.
    """
    period = sample_rate / f0
    w0 = 2 * np.pi * f0 / sample_rate
    s = 0.5 * (1.0 - brightness)
    lowpass = np.array([1.0 - s, s])
    lowpass_response = lowpass[0] + lowpass[1] * np.exp(-1j * w0)
    lowpass_delay = -np.angle(lowpass_response) / w0
    delay = period - lowpass_delay
    whole = int(np.floor(delay - 0.1))  # keep the all-pass delay in [0.1, 1.1), where it is well behaved
    frac = delay - whole
    # First-order all-pass (a + z^-1) / (1 + a z^-1) with phase delay exactly `frac` at w0.
    a = np.sin((1 - frac) * w0 / 2) / np.sin((1 + frac) * w0 / 2)
    # Loop gain: fall by 60 dB in t60 seconds, after the low-pass has taken its share at f0.
    gain = 10.0 ** (-3.0 / (f0 * t60)) / abs(lowpass_response)
    gain = min(gain, 0.99995)
    b = np.array([1.0, a])
    den = np.zeros(whole + 3)
    den[0], den[1] = 1.0, a
    den[whole: whole + 3] -= gain * np.convolve(lowpass, [a, 1.0])
    return b, den


def pluck(
    guitar: GuitarModel,
    pitch: int,
    velocity: int,
    rng: np.random.Generator,
    sample_rate: int = SAMPLE_RATE,
    duration: float = DURATION_S,
    held: float = HELD_S,
) -> np.ndarray:
    """One note as NSynth records it: ``[duration * sample_rate]`` float32, key held ``held`` s.

    Loudness and brightness grow with ``velocity`` (1-127); the peak is ``0.9 * (velocity/127)^0.7``.
    """
    f0 = float(librosa.midi_to_hz(pitch))
    period = sample_rate / f0
    n = int(round(duration * sample_rate))
    strength = velocity / 127.0

    # Excitation: one period of noise (or a saw), softened for soft notes and soft picks.
    length = max(2, int(round(period)))
    if guitar.excitation == "saw":
        burst = np.linspace(-1.0, 1.0, length) + 0.05 * rng.standard_normal(length)
    else:
        burst = rng.uniform(-1.0, 1.0, length)
    softness = min(0.95, guitar.pick_direction + 0.5 * (1.0 - strength))
    burst = signal.lfilter([1.0 - softness], [1.0, -softness], burst)
    notch = max(1, int(round(guitar.pick_position * period)))
    burst = burst - np.concatenate([np.zeros(notch), burst[:-notch]])

    excitation = np.zeros(n)
    excitation[:length] = burst
    octaves_up = (pitch - 40) / 48.0
    t60 = guitar.decay_low * (guitar.decay_high / guitar.decay_low) ** np.clip(octaves_up, 0.0, 1.5)
    brightness = np.clip(guitar.brightness * (0.85 + 0.15 * strength), 0.0, 1.0)
    b, a = string_filter(f0, sample_rate, brightness, t60)
    note = signal.lfilter(b, a, excitation)
    note = signal.lfilter([1.0, -1.0], [1.0, -0.995], note)  # DC blocker: the loop keeps any offset forever

    if guitar.pickup_position > 0:
        lag = max(1, int(round(guitar.pickup_position * period)))
        note = note - np.concatenate([np.zeros(lag), note[:-lag]])
    if guitar.body_modes:
        body = np.zeros_like(note)
        for freq, q, gain in guitar.body_modes:
            bb, ba = signal.iirpeak(freq, q, fs=sample_rate)
            body += gain * signal.lfilter(bb, ba, note)
        note = note + body
    if guitar.drive > 0:
        note = np.tanh(guitar.drive * note / (np.abs(note).max() + 1e-12))

    # Key-off: the player's hand damps the string.
    t = np.arange(n) / sample_rate
    note = note * np.where(t < held, 1.0, np.exp(-(t - held) / guitar.release))
    peak = np.abs(note).max()
    if peak > 0:
        note = note / peak * 0.9 * strength ** 0.7
    return note.astype(np.float32)
