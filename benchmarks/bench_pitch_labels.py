"""Do the pitch labels under the book's players agree with CREPE ``full``? (issue 33)

Every label a page prints comes from ``note_measures.pitch_label``: CREPE ``tiny`` checked against the note's
harmonics, or "no clear pitch". Here each label is set beside CREPE ``full``'s reading (``note_pitch(...,
model="full")``, 3 s a note on one CPU thread, too slow for every page) on the kinds of sound the pages play:

* ``real valid``: validation notes decoded by the mel codec (their labels known);
* ``shipped``: the shipped model (``cpu-long``), unconditional (Heun, 16 steps) and asked for pitches over the
  guitar's range (Euler, 50 steps);
* ``quick``: the cpu profile's 800-step model (chapter 5's), unconditional, Heun 16 steps: clicks and hisses;
* ``noise``: decoded pure noise (standard normal latents, t = 1); ``clicks``: 20 ms noise bursts.

A label AGREES when it says "no clear pitch", or its MIDI lies within 50 cents of ``full``'s. Noise and clicks
must all be "no clear pitch". `python benchmarks/bench_pitch_labels.py` (about 6 minutes on one busy core;
``--write`` replaces ``results/pitch_labels_cpu.{json,md}``)
"""

import numpy as np
import torch

from common import write
from tutorial_lib.book.widgets import generate_audio
from tutorial_lib.evaluation.note_measures import heard_pitch, note_pitch
from tutorial_lib.generation import NoteGenerator, load_pretrained
from tutorial_lib.pipeline import prepare, train_model


def clips() -> tuple[int, dict[str, list]]:
    """``{kind: [(name, waveform, label or None)]}`` at the mel codec's rate."""
    prepared = prepare("cpu", progress=False)
    shipped = load_pretrained("cpu-long")
    rate = shipped.space.codec.sample_rate
    out = {"real valid": [], "shipped": [], "quick": [], "noise": [], "clicks": []}
    valid = prepared.data.valid
    pick = list(range(0, len(valid.notes), max(1, len(valid.notes) // 24)))[:24]
    for i, audio in zip(pick, prepared.to_audio(valid.latents[pick])):
        out["real valid"].append((f"valid {i}", audio, valid.notes[i].pitch))
    for seed in range(1, 9):
        out["shipped"].append((f"seed {seed}, Heun 16", generate_audio(shipped, seed=seed, num_steps=16,
                                                                       solver="heun"), None))
    for pitch in range(40, 89, 6):
        _, audio = shipped.generate(1, seed=pitch, pitch=pitch, num_steps=50)
        out["shipped"].append((f"asked {pitch}", audio[0], pitch))
    result = train_model(prepared, progress=False)
    quick = NoteGenerator(result.ema_model.eval(), result.flow, prepared.latent_space)
    for seed in range(1, 9):
        out["quick"].append((f"seed {seed}, Heun 16", generate_audio(quick, seed=seed, num_steps=16,
                                                                     solver="heun"), None))
    noise = torch.randn(8, 64, shipped.space.num_frames, generator=torch.Generator().manual_seed(0))
    for k, audio in enumerate(shipped.space.to_audio(noise)):
        out["noise"].append((f"noise {k}", audio, None))
    rng = np.random.default_rng(0)
    for k in range(4):
        x = np.zeros(4 * rate, np.float32)
        t = np.arange(int(0.2 * rate)) / rate
        x[: len(t)] = 0.5 * rng.standard_normal(len(t)) * np.exp(-t / 0.02)
        out["clicks"].append((f"click {k}", x, None))
    return rate, out


def main() -> None:
    torch.set_num_threads(1)
    rate, sets = clips()
    rows, results = [], {}
    for kind, items in sets.items():
        agree = clear = 0
        notes = []
        for name, audio, label in items:
            heard = heard_pitch(audio, rate)
            full = note_pitch(audio, rate, model="full")
            ok = (not heard.clear) or (np.isfinite(full) and abs(heard.midi - full) <= 0.5)
            agree += ok
            clear += heard.clear
            notes.append({"name": name, "label": label, "heard": heard.midi, "tiny": heard.tracked, "full": full,
                          "clear": heard.clear, "voiced": heard.voiced, "spread_cents": heard.spread_cents,
                          "harmonic_db": heard.harmonic_db, "divisor": heard.divisor, "agrees": bool(ok)})
            print(kind, notes[-1], flush=True)
        results[kind] = notes
        rows.append([kind, len(items), clear, agree,
                     sum(n["clear"] and abs(n["tiny"] - n["full"]) > 0.5 for n in notes)])
    write("pitch_labels_cpu", {"sets": results}, ["set", "notes", "labelled with a pitch", "agree with full",
                                                  "labelled notes where tiny alone is > 50 cents off full"],
          rows, notes="A label agrees when it is 'no clear pitch' or within 50 cents of CREPE full.")


if __name__ == "__main__":
    main()
