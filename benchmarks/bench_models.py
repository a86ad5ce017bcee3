"""Trained models side by side, on noise seeds they were not chosen on: the 10-minute recipe against the shipped model.

Each checkpoint generates notes asked for the validation notes' labels (guidance 1, Euler 50 steps) from the
same three noise seeds (common.HELD_OUT_SEEDS: 5, 6, 7, first used by this benchmark's issue-21 run; they hold out
the noise only, the labels and reference are those the settings were chosen with), every note decoded and scored
by tutorial_lib.evaluation against the real validation notes decoded by the same codec (CREPE tiny; the first
notes of the first seed heard by CREPE full too). The differences are paired: the same labels and noise for every
model. Every FD stands beside its floor at the same n.

    python benchmarks/bench_models.py "cpu-10min=runs/ten/checkpoint.pt" \
        "shipped=tutorial_lib/pretrained/cpu-long.pt"            # writes to benchmarks/results/scratch/
    python benchmarks/bench_models.py ... --write                  # replaces benchmarks/results/models_cpu.{json,md}
"""

import argparse
import json

import numpy as np
import torch

from common import (FIGURE_COLUMNS, HELD_OUT, HELD_OUT_SEEDS, RESULTS, figure_cells, held_out_reports,
                    same_label_reports, write)
from tutorial_lib.evaluation import labels_to_ask, reference_from_prepared, same_label_notes
from tutorial_lib.generation import NoteGenerator
from tutorial_lib.evaluation.metrics import copy_share
from tutorial_lib.evaluation.note_measures import note_pitches, pitch_figures
from tutorial_lib.pipeline import prepare

parser = argparse.ArgumentParser()
parser.add_argument("models", nargs="+", help="label=checkpoint.pt, in the order of the table")
parser.add_argument("--notes", type=int, default=189,
                    help="notes generated per noise seed (189: every label of the cpu validation notes once)")
parser.add_argument("--write", action="store_true", help="replace the committed results")
parser.add_argument("--name", default="models_cpu", help="results file name (benchmarks/results/<name>.{json,md})")
args = parser.parse_args()
torch.set_num_threads(1)
KEYS = FIGURE_COLUMNS
FULL_NOTES = 24  # the first notes of the first seed, heard again by CREPE full

generators = {label: NoteGenerator.from_checkpoint(path) for label, path in (s.split("=", 1) for s in args.models)}
codecs = {g.space.codec.cache_id: g.space.codec.name for g in generators.values()}
if len(codecs) != 1:
    raise SystemExit(f"The checkpoints were trained on latents of different codecs ({', '.join(codecs)}): compare "
                     "models of one codec at a time.")
# The checkpoints' own codec (its recorded name, e.g. "music2latent" or "mel"), not a fixed one.
prepared = prepare("cpu", codec=next(iter(codecs.values())), progress=False)
if prepared.codec.cache_id not in codecs:
    raise SystemExit(f"This machine's {prepared.codec.name} codec is {prepared.codec.cache_id}, the checkpoints' "
                     f"{next(iter(codecs))}: score them with the codec settings they were trained with.")
reference = reference_from_prepared(prepared, num_audio=args.notes, verbose=False)
valid = prepared.conditions("valid")
asked = labels_to_ask(valid, args.notes)
train_latents, valid_latents = prepared.data.train.latents, prepared.data.valid.latents
results, rows, copies, full_check = {}, [], {}, {}


def crepe_full_check(latents, pitch):
    """Pitch figures of the first FULL_NOTES notes heard by CREPE tiny and full: do the two agree?"""
    audio = prepared.to_audio(latents[:FULL_NOTES])
    return {m: pitch_figures(note_pitches(audio, prepared.codec.sample_rate, model=m),
                             requested=np.asarray(pitch)[:FULL_NOTES]) for m in ("tiny", "full")}


for spec in args.models:
    label, path = spec.split("=", 1)
    generator = generators[label]
    reports = held_out_reports(generator, asked, prepared, reference)
    per_seed = [report for _, report in reports]
    copies[label] = [copy_share(latents, train_latents, valid_latents)[0] for latents, _ in reports]
    results[label] = {"checkpoint": path, "trained_on": str(generator.trained_on), "copy_share": copies[label],
                      "seeds": {k: [r.figures[k] for r in per_seed] for k in KEYS},
                      "fd_floor": [list(r.fd_floor) for r in per_seed]}
    full_check[label] = crepe_full_check(reports[0][0], asked.pitch)
    real = {k: per_seed[0].real[k] for k in KEYS if k in per_seed[0].real}
    print(json.dumps({label: results[label]}), flush=True)
    rows.append([label, *figure_cells(results[label]["seeds"]), f"{np.mean(copies[label]):.3f}"])
labels = list(results)
for other in labels[1:]:  # paired differences against the first model
    diff = {k: np.subtract(results[other]["seeds"][k], results[labels[0]]["seeds"][k]) for k in KEYS}
    rows.append([f"{other} minus {labels[0]} (paired)", *(f"{d.mean():+.2f} +- {d.std():.2f}" for d in diff.values()),
                 "-"])
copied = same_label_reports(asked, prepared, reference)
same_label = {k: [r.figures[k] for _, r, _ in copied] for k in KEYS}
exact = [e for _, _, e in copied]
same_label_copies = [copy_share(latents, train_latents, valid_latents)[0] for latents, _, _ in copied]
own_labels = same_label_notes(asked, prepared.conditions("train"), seed=HELD_OUT_SEEDS[0])[1]
full_check["same-label data reference"] = crepe_full_check(copied[0][0], own_labels["pitch"])
rows.append(["same-label data reference: training notes with the asked labels, each scored on its own label",
             *figure_cells(same_label), f"{np.mean(same_label_copies):.3f}"])
floor = per_seed[0].fd_floor
rows.append([f"FD floor: {per_seed[0].sizes['classifier']} random training notes to all (mean +- std)",
             *["-"] * (len(KEYS) - 2), f"{floor[0]:.2f} +- {floor[1]:.2f}", "-", "-"])
valid_copies = copy_share(valid_latents, train_latents, valid_latents)[0]
rows.append(["real validation notes (other instruments)",
             *(f"{real[k][0]:.2f} +- {real[k][1]:.2f}" if k in real else "-" for k in KEYS), f"{valid_copies:.3f}"])
full_text = "; ".join(f"{name}: tiny {c['tiny']['accuracy']:.2f}/{c['tiny']['within_25_cents']:.2f}/"
                      f"{c['tiny']['median_cents_off']:.1f}, full {c['full']['accuracy']:.2f}/"
                      f"{c['full']['within_25_cents']:.2f}/{c['full']['median_cents_off']:.1f}"
                      for name, c in full_check.items())
write(args.name, {"models": results, "same_label_reference": same_label, "same_label_exact": exact,
                    "fd_floor": list(floor), "real": real, "notes_per_seed": args.notes, "seeds": HELD_OUT_SEEDS,
                    "held_out": HELD_OUT, "pitch_model": reference.pitch_model, "crepe_full_against_tiny": full_check},
      ["model", *KEYS.values(), "copy share"], rows,
      notes=(f"Conditional notes asked for the validation notes' labels, {args.notes} per seed, every one decoded and "
             f"heard (CREPE {reference.crepe_model}), guidance 1, Euler 50 steps; mean +- std over noise seeds "
             f"{', '.join(map(str, HELD_OUT_SEEDS))} (first used here; held out: {HELD_OUT}). FD floor: the "
             "classifier FD of random training notes, as many as each FD is read on, to all of them; no FD "
             "difference smaller than its std is one. CREPE full against tiny on the first "
             f"{FULL_NOTES} notes of the first seed (within 50 / within 25 cents / median cents off): {full_text}. "
             "Real validation notes: mean "
             "+- std over random subsets of the same size. Higher is better for accuracies and decay inside, lower "
             "for the distances; the median decay should match the training notes with the same labels' (the "
             "validation notes' instruments ring shorter). Copy share: generated notes closer to a "
             "training note than 95 % of the validation notes are (tutorial_lib.evaluation.metrics.copy_share; a copying model "
             "scores far above the validation notes' own 0.05). Same-label data reference: for each seed, one "
             "training note with each asked label (same source and velocity, nearest pitch, a random instrument; "
             f"tutorial_lib.evaluation.same_label_notes; {min(exact)}-{max(exact)} of {args.notes} with exactly the "
             "asked label, the rest scored on their own), what a model that reproduced its training notes would "
             "score: no ceiling (a model can beat it on pitch, and its FD is low because these notes belong to the "
             "FD's reference); the validation notes are other instruments. Trained on: "
             + "; ".join(f"{k}: {v['trained_on']}" for k, v in results.items()) + "."),
      folder=None if args.write else RESULTS / "scratch")
