"""The offline codec: does a note survive encode -> decode? Pitch accuracy and log-mel distance.

Synthetic notes from 6 instruments (2 per source) across MIDI 40-88, random velocities; pYIN on each decoded
note, within 50 cents of the written pitch. `python benchmarks/bench_codec.py`
"""

import time

import numpy as np

from common import write
from tutorial_lib.codec import MelCodec
from tutorial_lib.data.synth import SOURCES, VELOCITIES, pluck, random_guitar
from tutorial_lib.metrics import estimate_pitch, log_mel_distance

rng = np.random.default_rng(0)
guitars = [random_guitar(f"guitar_{s}_{i:03d}", s, rng) for s in SOURCES for i in range(2)]
codec = MelCodec()  # floor (eps) 1e-3 since November 2026; describe() and cache_id say so
rows, errors, distances, misses = [], [], [], []
start = time.perf_counter()
for j, guitar in enumerate(guitars):
    for pitch in range(40 + j, 89, 4):
        note = pluck(guitar, pitch, int(rng.choice(VELOCITIES)), rng)
        decoded = codec.decode(codec.encode(note, 16000))
        error = 100 * (estimate_pitch(decoded, 16000) - pitch)
        errors.append(error)
        distances.append(log_mel_distance(note, decoded, 16000))
        if not abs(error) <= 50:
            misses.append(f"{guitar.source} MIDI {pitch}: {error:+.0f} cents")
seconds = time.perf_counter() - start
hits = [abs(e) <= 50 for e in errors]  # NaN (no pitch) counts as a miss
write("codec_mel", {"codec": codec.describe(), "notes": len(errors), "pitch_accuracy_50_cents": float(np.mean(hits)),
      "misses": misses, "log_mel_distance_db_mean": float(np.mean(distances)), "seconds": seconds},
      ["codec", "notes (MIDI 40-88)", "pitch within 50 cents", "log-mel distance (dB)", "seconds"],
      [[f"{codec.describe()}, floor {codec.eps:g}", len(errors), f"{100 * np.mean(hits):.1f} %", f"{np.mean(distances):.2f}", f"{seconds:.0f}"]],
      notes="Misses: " + ("; ".join(misses) if misses else "none") + ".")
