"""Quality against CPU minutes of training: the recipe of the cpu profile, measured with tutorial_lib.evaluation.

Each setting trains the cpu profile's conditioned U-Net (64, 128, 128) on the cpu data, on one thread, then
generates notes asked for the validation notes' labels (pitch, source, velocity; tutorial_lib.evaluation.labels_to_ask;
guidance 1 unless named, Euler 50 steps) from the held-out noise seeds (common.HELD_OUT_SEEDS), every note decoded
and heard, and scores them against the real validation notes decoded by the same codec. Figures are the mean +- std
over the seeds; every FD stands beside its floor at the same n. Each setting's checkpoint is kept in
benchmarks/results/scratch/ (not committed), so bench_models.py can compare them with the shipped model.

    python benchmarks/bench_recipe.py            # writes to benchmarks/results/scratch/
    python benchmarks/bench_recipe.py --write    # replaces benchmarks/results/recipe_cpu.{json,md}
"""

import argparse
import json
import time
from dataclasses import asdict, replace

import numpy as np
import torch

from common import (FIGURE_COLUMNS, HELD_OUT, HELD_OUT_SEEDS, RESULTS, figure_cells, held_out_reports,
                    same_label_reports, write)
from tutorial_lib.evaluation import labels_to_ask, reference_from_prepared
from tutorial_lib.generation import NoteGenerator
from tutorial_lib.pipeline import prepare, train_model
from tutorial_lib.profiles import get_profile

parser = argparse.ArgumentParser()
parser.add_argument("--write", action="store_true", help="replace the committed results")
parser.add_argument("--notes", type=int, default=94,
                    help="notes generated per noise seed (94: the FD floor's n in evaluation_sanity_cpu.md; "
                         "189 asks every label of the cpu validation notes once)")
args = parser.parse_args()
torch.set_num_threads(1)

CPU, BUDGET = get_profile("cpu").train, get_profile("cpu-10min").train
SETTINGS = [  # (name, training settings, guidance scales to sample with)
    ("under-trained (100 steps)", replace(CPU, steps=100), (1.0,)),
    ("cpu profile (800 steps)", CPU, (1.0,)),
    ("3,000 steps", replace(CPU, steps=3000), (1.0,)),
    (f"cpu-10min profile ({BUDGET.steps:,} steps)", BUDGET, (1.0, 2.0)),
]
SCRATCH = RESULTS / "scratch"
SCRATCH.mkdir(exist_ok=True)

prepared = prepare("cpu", progress=False)
reference = reference_from_prepared(prepared, num_audio=args.notes, verbose=False)
asked = labels_to_ask(prepared.conditions("valid"), args.notes)
rows, results = [], []
for name, config, guidances in SETTINGS:
    checkpoint = SCRATCH / f"recipe-{config.steps}-steps.pt"
    cpu = time.process_time()
    overrides = {**asdict(config), "eval_every": 10**9, "checkpoint_every": 10**9}
    train_model(prepared, checkpoint_path=checkpoint, progress=False, restart=True, **overrides)
    cpu_minutes = (time.process_time() - cpu) / 60
    generator = NoteGenerator.from_checkpoint(checkpoint)
    for guidance in guidances:
        per_seed = [report for _, report in held_out_reports(generator, asked, prepared, reference,
                                                              guidance=guidance)]
        figures = {k: [r.figures[k] for r in per_seed] for k in FIGURE_COLUMNS}
        real = per_seed[0].real
        label = name if len(guidances) == 1 else f"{name}, guidance {guidance:g}"
        entry = {"setting": label, "checkpoint": str(checkpoint.relative_to(RESULTS.parent.parent)),
                 "steps": config.steps, "lr": config.lr, "warmup_steps": config.warmup_steps,
                 "lr_schedule": config.lr_schedule, "ema_decay": config.ema_decay, "guidance": guidance,
                 "cpu_minutes": round(cpu_minutes, 2), "fd_floor": [list(r.fd_floor) for r in per_seed],
                 "figures": {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "seeds": v}
                             for k, v in figures.items()},
                 "real": {k: {"mean": real[k][0], "std": real[k][1]} for k in FIGURE_COLUMNS if k in real}}
        results.append(entry)
        print(json.dumps(entry), flush=True)
        rows.append([label, config.steps, f"{cpu_minutes:.1f}", *figure_cells(figures)])

copied = [report for _, report, _ in same_label_reports(asked, prepared, reference)]
same_label = {k: [r.figures[k] for r in copied] for k in FIGURE_COLUMNS}
rows.append(["same-label data reference: training notes with the asked labels, own labels", "-", "-",
             *figure_cells(same_label)])
floor = copied[0].fd_floor
rows.append([f"FD floor: {copied[0].sizes['classifier']} random training notes to all (mean +- std)", "-", "-",
             *["-"] * (len(FIGURE_COLUMNS) - 2), f"{floor[0]:.2f} +- {floor[1]:.2f}", "-"])
real = results[0]["real"]
rows.append(["real validation notes (other instruments)", "-", "-",
             *(f"{real[k]['mean']:.2f} +- {real[k]['std']:.2f}" if k in real else "-" for k in FIGURE_COLUMNS)])
ten_minutes = json.loads((RESULTS / "cpu10min_run_report.json").read_text())
notes = (f"Conditional notes asked for {args.notes} of the validation notes' labels per seed, spread evenly "
         "(tutorial_lib.evaluation.labels_to_ask), guidance 1 unless named, Euler 50 steps, every note decoded and "
         f"heard (CREPE {reference.crepe_model}); mean +- std over noise seeds {', '.join(map(str, HELD_OUT_SEEDS))} "
         f"(held out: {HELD_OUT}). CPU minutes: process time on one thread of a 2-core machine shared with other "
         f"work (the cpu-10min profile's {ten_minutes['training']['steps']:,} steps take "
         f"{ten_minutes['seconds']['training'] / 60:.1f} minutes of wall time on 2 quiet threads: "
         "benchmarks/results/cpu10min_run.md). Pitch: the median cents off the asked pitch and the shares within "
         "25 and 50 cents (the 50-cent share does not catch a tuning error: evaluation_sanity_cpu.md). Decay "
         "inside, own pitch region: the share of notes whose decay time (to -30 dB) lies in the 5-95 % range of "
         "the training notes of their pitch region (the pooled range passes notes at the wrong pitch). Classifier "
         "FD: Frechet distance in the evaluation classifier's embedding to the training notes; no FD difference "
         "smaller than the floor's std is one. Same-label data reference: one training note per asked label and "
         "seed (same source and velocity, nearest pitch, a random instrument, scored on its own label; "
         "tutorial_lib.evaluation.same_label_notes): what a model that reproduced its training notes would score, "
         "no ceiling (its FD is low because these notes belong to the FD's reference).")
write("recipe_cpu", {"settings": results, "same_label_reference": same_label, "fd_floor": list(floor),
                     "notes_per_seed": args.notes, "seeds": HELD_OUT_SEEDS, "held_out": HELD_OUT},
      ["setting", "steps", "CPU min", *FIGURE_COLUMNS.values()], rows, notes=notes,
      folder=None if args.write else SCRATCH)
