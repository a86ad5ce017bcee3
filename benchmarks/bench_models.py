"""Trained models side by side, on noise seeds they were not chosen on: the 10-minute recipe against the shipped model.

Each checkpoint generates notes asked for the validation notes' labels (guidance 1, Euler 50 steps) from the
same three noise seeds (2, 3, 4), scored by tutorial_lib.evaluation against the real validation notes decoded
by the same codec. The differences are paired: the same labels and noise for every model.

    python benchmarks/bench_models.py "cpu-10min=runs/ten/checkpoint.pt" \
        "shipped=tutorial_lib/pretrained/cpu-long.pt"            # writes to benchmarks/results/scratch/
    python benchmarks/bench_models.py ... --write                  # replaces benchmarks/results/models_cpu.{json,md}
"""

import argparse
import json

import numpy as np
import torch

from common import HELD_OUT_SEEDS, RESULTS, held_out_reports, training_note_reports, write
from tutorial_lib.evaluation import labels_to_ask, reference_from_prepared
from tutorial_lib.generation import NoteGenerator
from tutorial_lib.metrics import copy_share
from tutorial_lib.pipeline import prepare

parser = argparse.ArgumentParser()
parser.add_argument("models", nargs="+", help="label=checkpoint.pt, in the order of the table")
parser.add_argument("--notes", type=int, default=189,
                    help="notes generated per noise seed (189: every label of the cpu validation notes once)")
parser.add_argument("--write", action="store_true", help="replace the committed results")
args = parser.parse_args()
torch.set_num_threads(1)
KEYS = {"pitch_accuracy": "pitch acc (CREPE)", "decay_inside": "decay inside", "decay_median_s": "median decay s",
        "shape_distance": "shape distance", "classifier_fd": "classifier FD",
        "classifier_pitch_accuracy": "classifier pitch acc"}

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
results, rows, copies = {}, [], {}
for spec in args.models:
    label, path = spec.split("=", 1)
    generator = generators[label]
    reports = held_out_reports(generator.model, generator.flow, asked, prepared, reference,
                               num_frames=generator.space.num_frames)
    per_seed = [report for _, report in reports]
    copies[label] = [copy_share(latents, train_latents, valid_latents)[0] for latents, _ in reports]
    results[label] = {"checkpoint": path, "trained_on": generator.trained_on, "copy_share": copies[label],
                      "seeds": {k: [r.figures[k] for r in per_seed] for k in KEYS}}
    real = {k: per_seed[0].real[k] for k in KEYS if k in per_seed[0].real}
    print(json.dumps({label: results[label]}), flush=True)
    rows.append([label, *(f"{np.mean(v):.2f} +- {np.std(v):.2f}" for v in results[label]["seeds"].values()),
                 f"{np.mean(copies[label]):.3f}"])
labels = list(results)
for other in labels[1:]:  # paired differences against the first model
    diff = {k: np.subtract(results[other]["seeds"][k], results[labels[0]]["seeds"][k]) for k in KEYS}
    rows.append([f"{other} minus {labels[0]} (paired)", *(f"{d.mean():+.2f} +- {d.std():.2f}" for d in diff.values()),
                 "-"])
copied = training_note_reports(asked, prepared, reference)
ceiling = {k: [r.figures[k] for _, r in copied] for k in KEYS}
ceiling_copies = [copy_share(latents, train_latents, valid_latents)[0] for latents, _ in copied]
rows.append(["training notes with the asked labels (a model that copied them)",
             *(f"{np.mean(v):.2f} +- {np.std(v):.2f}" for v in ceiling.values()), f"{np.mean(ceiling_copies):.3f}"])
valid_copies = copy_share(valid_latents, train_latents, valid_latents)[0]
rows.append(["real validation notes", *(f"{real[k][0]:.2f} +- {real[k][1]:.2f}" if k in real else "-" for k in KEYS),
             f"{valid_copies:.3f}"])
write("models_cpu", {"models": results, "training_notes_asked": ceiling, "real": real, "notes_per_seed": args.notes,
                    "seeds": HELD_OUT_SEEDS},
      ["model", *KEYS.values(), "copy share"], rows,
      notes=(f"Conditional notes asked for the validation notes' labels, {args.notes} per seed, guidance 1, Euler 50 "
             "steps; mean +- std over noise seeds 2, 3, 4 (nothing was chosen on them). Real validation notes: mean "
             "+- std over random subsets of the same size. Higher is better for accuracies and decay inside, lower "
             "for the distances; the median decay should match the training notes with the same labels' (the "
             "validation notes' instruments ring shorter). Copy share: generated notes closer to a "
             "training note than 95 % of the validation notes are (tutorial_lib.metrics.copy_share; a copying model "
             "scores far above the validation notes' own 0.05). Training notes with the asked labels: for each seed, one "
             "training note with each asked label (same source and velocity, nearest pitch, a random instrument; "
             "tutorial_lib.evaluation.notes_with_labels), what a model that reproduced its training notes would "
             "score; the validation notes are other instruments. Trained on: "
             + "; ".join(f"{k}: {v['trained_on']}" for k, v in results.items()) + "."),
      folder=None if args.write else RESULTS / "scratch")
