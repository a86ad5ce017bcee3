"""The offline codec: does a note survive encode -> decode? Pitch (CREPE, the evaluation's tracker), log-mel distance.

Synthetic notes from 12 instruments (4 per source) across MIDI 40-88, random velocities, and the same notes
undecoded as the reference. Three filter banks of the same 64 bands over 30-4000 Hz: librosa's Slaney mel
(the codec before its break moved down), HTK's mel (break at 700 Hz) and the codec's scale with its break at 200 Hz.
`python benchmarks/bench_codec.py --write`
"""

import time

import numpy as np

from common import slaney_mel_codec, write
from tutorial_lib.codec import MelCodec
from tutorial_lib.data.labels import SOURCES, VELOCITIES
from tutorial_lib.data.synth import pluck, random_guitar
from tutorial_lib.evaluation.metrics import log_mel_distance
from tutorial_lib.evaluation.note_measures import note_pitch

LOW = 56  # below this MIDI pitch a guitar's fundamental is weakest

rng = np.random.default_rng(0)
guitars = [random_guitar(f"guitar_{s}_{i:03d}", s, rng) for s in SOURCES for i in range(4)]
notes = [(guitar, pitch, pluck(guitar, pitch, int(rng.choice(VELOCITIES)), rng))
         for j, guitar in enumerate(guitars) for pitch in range(40 + j % 4, 89, 4)]
pitches = np.array([pitch for _, pitch, _ in notes])

codecs = {"Slaney mel (librosa's default; the codec until Nov 2026)": slaney_mel_codec(),
          "HTK mel (break 700 Hz)": MelCodec(break_hz=700.0),
          "break 200 Hz (the codec now)": MelCodec()}


def scores(errors_cents):
    hits = np.abs(np.asarray(errors_cents)) <= 50  # NaN (no pitch) counts as a miss
    return float(hits.mean()), float(hits[pitches < LOW].mean()), float(hits[pitches >= LOW].mean())


results, rows = {}, []
raw_errors = [100 * (note_pitch(audio, 16000) - pitch) for _, pitch, audio in notes]
results["undecoded notes"] = dict(zip(("pitch_accuracy", "low", "high"), scores(raw_errors)))
rows.append(["the notes themselves (not encoded)", len(notes), *(f"{100 * x:.1f} %" for x in scores(raw_errors)),
             "-", "-"])
for name, codec in codecs.items():
    start = time.perf_counter()
    errors, distances, misses = [], [], []
    for guitar, pitch, audio in notes:
        decoded = codec.decode(codec.encode(audio, 16000))
        errors.append(100 * (note_pitch(decoded, 16000) - pitch))
        distances.append(log_mel_distance(audio, decoded, 16000))
        if not abs(errors[-1]) <= 50:
            misses.append(f"{guitar.source} MIDI {pitch}: {errors[-1]:+.0f} cents")
    seconds = time.perf_counter() - start
    accuracy, low, high = scores(errors)
    results[name] = {"cache_id": codec.cache_id, "pitch_accuracy": accuracy, "low": low, "high": high,
                     "log_mel_distance_db_mean": float(np.mean(distances)), "misses": misses, "seconds": seconds}
    rows.append([name, len(notes), f"{100 * accuracy:.1f} %", f"{100 * low:.1f} %", f"{100 * high:.1f} %",
                 f"{np.mean(distances):.2f}", f"{seconds:.0f}"])
write("codec_mel", {"notes": len(notes), "results": results},
      ["filter bank (64 bands, 30-4000 Hz, floor 1e-3)", "notes", "CREPE pitch within 50 cents",
       f"below MIDI {LOW}", f"MIDI {LOW}+", "log-mel distance (dB)", "seconds"], rows,
      notes="Misses of the codec now: " + ("; ".join(results["break 200 Hz (the codec now)"]["misses"]) or "none")
      + ". The seconds include CREPE and the log-mel distance.")
