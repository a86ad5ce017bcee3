import librosa
import numpy as np
import pytest

from tutorial_lib.data.labels import SOURCES
from tutorial_lib.data.synth import pluck, random_guitar


@pytest.fixture(scope="module")
def guitars():
    rng = np.random.default_rng(1)
    return [random_guitar(f"guitar_{s}_000", s, rng) for s in SOURCES]


def spectral_peak_midi(note, pitch, sr=16000):
    """The strongest spectral peak within a semitone of ``pitch``, very finely resolved."""
    n = 2 ** 21
    spectrum = np.abs(np.fft.rfft(note[:32000] * np.hanning(32000), n))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    band = (freqs > librosa.midi_to_hz(pitch - 1)) & (freqs < librosa.midi_to_hz(pitch + 1))
    return librosa.hz_to_midi(freqs[band][np.argmax(spectrum[band])])


@pytest.mark.parametrize("pitch", [40, 52, 64, 76, 88])
def test_pitch_tracker_hears_the_written_pitch_within_10_cents(guitars, pitch):
    for guitar in guitars:
        note = pluck(guitar, pitch, 100, np.random.default_rng(pitch))
        f0, voiced, _ = librosa.pyin(note[:32000], sr=16000, fmin=librosa.midi_to_hz(pitch - 6), fmax=librosa.midi_to_hz(pitch + 6),
                                     resolution=0.02, frame_length=4096, hop_length=256)
        measured = np.median(librosa.hz_to_midi(f0[voiced]))
        assert abs(measured - pitch) * 100 < 10, (guitar.source, pitch, measured)


def test_fundamental_is_tuned_to_a_few_cents_over_the_whole_range(guitars):
    for guitar in guitars:
        for pitch in range(40, 89, 3):
            note = pluck(guitar, pitch, 75, np.random.default_rng(pitch))
            assert abs(spectral_peak_midi(note, pitch) - pitch) * 100 < 3, (guitar.source, pitch)


def test_note_format_held_then_damped(guitars):
    note = pluck(guitars[0], 52, 127, np.random.default_rng(0))
    assert note.shape == (64000,) and note.dtype == np.float32
    held = np.sqrt(np.mean(note[44000:48000] ** 2))  # last quarter second before key-off
    released = np.sqrt(np.mean(note[56000:] ** 2))  # half a second after
    assert released < held / 20


def test_velocity_sets_loudness_and_brightness(guitars):
    soft = pluck(guitars[0], 60, 25, np.random.default_rng(0))
    loud = pluck(guitars[0], 60, 127, np.random.default_rng(0))
    assert np.abs(loud).max() > 2 * np.abs(soft).max()
    centroid = lambda x: librosa.feature.spectral_centroid(y=x[:16000] / np.abs(x).max(), sr=16000).mean()
    assert centroid(loud) > centroid(soft)


def test_higher_notes_decay_sooner(guitars):
    def remaining(pitch):
        x = pluck(guitars[0], pitch, 100, np.random.default_rng(0))
        return np.sqrt(np.mean(x[40000:44000] ** 2)) / np.sqrt(np.mean(x[:4000] ** 2))

    assert remaining(84) < remaining(45)


def test_deterministic_and_instruments_differ():
    a = random_guitar("guitar_acoustic_000", "acoustic", np.random.default_rng(5))
    b = random_guitar("guitar_acoustic_000", "acoustic", np.random.default_rng(5))
    c = random_guitar("guitar_acoustic_001", "acoustic", np.random.default_rng(6))
    assert a == b and a != c
    assert np.array_equal(pluck(a, 60, 75, np.random.default_rng(0)), pluck(b, 60, 75, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="source must be one of"):
        random_guitar("x", "banjo", np.random.default_rng(0))
