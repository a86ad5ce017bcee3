"""Straight and fast: the first model against its reflowed copy at 1, 2, 4 and 50 model calls (chapter 6a).

Each checkpoint generates notes asked for the validation notes' labels (every label once, guidance 1, Euler with
K steps = K model calls) from noise seeds 21, 22 and 23: the reflow settings were chosen on seed 20 alone
(`--seeds 20`, written to results/scratch/), and seeds 1-4 were used by earlier benchmarks. Every figure is
tutorial_lib.evaluation's as it is (CREPE 'tiny' pitch, decay inside the training notes' range, the
evaluation classifier's Frechet distance to the training notes), mean +- std over the seeds; the differences
reflowed minus first are paired (same labels, same noise). Straightness is tutorial_lib.reflow.straightness
along each model's own 50-step path from the seed's noise, with the asked labels.

Speed: seconds per note of the model calls (the whole batch of notes sampled at once, divided by their
number) and of decoding (the mel codec's Griffin-Lim, 16 notes), process time and wall time, one torch thread.

    python benchmarks/bench_reflow.py                 # writes to benchmarks/results/scratch/
    python benchmarks/bench_reflow.py --write         # replaces benchmarks/results/reflow_cpu.{json,md}
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from common import RESULTS, write
from tutorial_lib.evaluation import evaluate, labels_to_ask, reference_from_prepared
from tutorial_lib.generation import NoteGenerator
from tutorial_lib.pipeline import prepare
from tutorial_lib.reflow import model_straightness
from tutorial_lib.sampling import sample_seeded, seeded_noise

SHIPPED = Path(__file__).resolve().parents[1] / "tutorial_lib" / "pretrained"
parser = argparse.ArgumentParser()
parser.add_argument("--first", default=str(SHIPPED / "cpu-long.pt"))
parser.add_argument("--reflowed", default=str(SHIPPED / "cpu-long-reflow.pt"))
parser.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4, 50], help="model calls (Euler steps)")
parser.add_argument("--seeds", type=int, nargs="+", default=[21, 22, 23], help="noise seeds (20: choosing settings)")
parser.add_argument("--notes", type=int, default=189, help="notes per seed (189: every cpu validation label once)")
parser.add_argument("--num-audio", type=int, default=64, help="notes decoded and listened to per evaluation")
parser.add_argument("--write", action="store_true", help="replace the committed results")
args = parser.parse_args()
torch.set_num_threads(1)
KEYS = {"pitch_accuracy": "pitch acc (CREPE)", "decay_inside": "decay inside", "classifier_fd": "classifier FD"}
name = "reflow_cpu" if args.seeds != [20] else "reflow_cpu_seed20"
if args.write and args.seeds == [20]:
    raise SystemExit("Seed 20 chose the settings: its figures are not results. Run --write with the held-out seeds.")

models = {"first": NoteGenerator.from_checkpoint(args.first), "reflowed": NoteGenerator.from_checkpoint(args.reflowed)}
prepared = prepare("cpu", codec=models["first"].space.codec.name, progress=False)
reference = reference_from_prepared(prepared, verbose=False)
asked = labels_to_ask(prepared.conditions("valid"), args.notes)
frames = models["first"].space.num_frames
results = {label: {"trained_on": str(g.trained_on), "by_calls": {}, "straightness": [], "model_s_per_note": {}}
           for label, g in models.items()}
for label, g in models.items():
    for seed in args.seeds:
        s = model_straightness(g.model, seeded_noise(len(asked), frames, seed=seed), conditions=asked).mean
        results[label]["straightness"].append(s)
    for calls in args.calls:
        figures, cpu_s, wall_s = {k: [] for k in KEYS}, [], []
        for seed in args.seeds:
            cpu, wall = time.process_time(), time.perf_counter()
            latents = sample_seeded(g.model, len(asked), frames, seed=seed, num_steps=calls, flow=g.flow,
                               conditions=asked).samples.cpu()
            cpu_s.append((time.process_time() - cpu) / len(asked))
            wall_s.append((time.perf_counter() - wall) / len(asked))
            report = evaluate(latents=latents, reference=reference, to_audio=prepared.to_audio,
                              conditions={"pitch": asked.pitch, "source": asked.source}, num_audio=args.num_audio,
                              seed=seed)
            for k in KEYS:
                figures[k].append(report.figures[k])
        results[label]["by_calls"][calls] = figures
        results[label]["model_s_per_note"][calls] = {"cpu": float(np.mean(cpu_s)), "wall": float(np.mean(wall_s))}
        print(label, calls, {k: f"{np.mean(v):.3f} +- {np.std(v):.3f}" for k, v in figures.items()}, flush=True)

# decoding: the same for both models (one codec); timed on the reflowed model's 1-step notes
latents = sample_seeded(models["reflowed"].model, 16, frames, seed=args.seeds[0], num_steps=1,
                   flow=models["reflowed"].flow, conditions=asked[:16]).samples.cpu()
cpu, wall = time.process_time(), time.perf_counter()
prepared.to_audio(latents)
decode = {"cpu": (time.process_time() - cpu) / 16, "wall": (time.perf_counter() - wall) / 16}


def pm(values, digits=2):
    return f"{np.mean(values):.{digits}f} +- {np.std(values):.{digits}f}"


rows = []
for calls in args.calls:
    for label in models:
        f = results[label]["by_calls"][calls]
        rows.append([calls, label, *(pm(f[k], 0 if k == "classifier_fd" else 2) for k in KEYS), "-"])
    d = {k: np.subtract(results["reflowed"]["by_calls"][calls][k], results["first"]["by_calls"][calls][k]) for k in KEYS}
    rows.append([calls, "reflowed minus first (paired)",
                 *(f"{d[k].mean():+.{0 if k == 'classifier_fd' else 2}f} +- {d[k].std():.{0 if k == 'classifier_fd' else 2}f}"
                   for k in KEYS), "-"])
for label in models:
    rows.append(["50 (path)", f"{label}: straightness", "-", "-", "-", pm(results[label]["straightness"], 4)])

targets = {}
if 2 in args.calls and 50 in args.calls:
    fd50 = float(np.mean(results["first"]["by_calls"][50]["classifier_fd"]))
    for calls in [c for c in (1, 2) if c in args.calls]:
        f = results["reflowed"]["by_calls"][calls]
        targets[calls] = {"pitch_accuracy >= 0.90": float(np.mean(f["pitch_accuracy"])),
                          "decay_inside >= 0.88": float(np.mean(f["decay_inside"])),
                          "classifier_fd <= 1.5 x first at 50 calls": [float(np.mean(f["classifier_fd"])), 1.5 * fd50]}
speed_rows = []
for calls in args.calls:
    for label in models:
        m = results[label]["model_s_per_note"][calls]
        total = m["cpu"] + decode["cpu"]
        speed_rows.append(f"| {calls} | {label} | {m['cpu']:.4f} | {decode['cpu']:.3f} | {total:.3f} | "
                          f"{decode['cpu'] / total:.0%} | {m['wall'] + decode['wall']:.3f} |")
speed = ("\n\n## Seconds per note (one torch thread, process time; wall time under the machine's other load)\n\n"
         "| model calls | model | model s/note | decode s/note | total s/note | decoder's share | total wall s/note |\n"
         "| --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(speed_rows))
target_text = ""
for calls, t in targets.items():
    fd, limit = t["classifier_fd <= 1.5 x first at 50 calls"]
    target_text += (f" Targets at {calls} call(s), reflowed: pitch {t['pitch_accuracy >= 0.90']:.2f} (target >= 0.90, "
                    f"{'met' if t['pitch_accuracy >= 0.90'] >= 0.90 else 'MISSED'}), decay inside "
                    f"{t['decay_inside >= 0.88']:.2f} (target >= 0.88, {'met' if t['decay_inside >= 0.88'] >= 0.88 else 'MISSED'}), "
                    f"classifier FD {fd:.0f} (target <= {limit:.0f}, 1.5 x the first model at 50 calls: "
                    f"{'met' if fd <= limit else 'MISSED'}).")
write(name, {"models": results, "decode_s_per_note": decode, "targets": targets, "seeds": args.seeds,
             "notes_per_seed": args.notes, "num_audio": args.num_audio, "crepe_model": "tiny",
             "checkpoints": {"first": args.first, "reflowed": args.reflowed}},
      ["model calls", "model", *KEYS.values(), "straightness"], rows,
      notes=(f"Notes asked for the cpu validation notes' labels ({args.notes} per seed, every label once, "
             f"tutorial_lib.evaluation.labels_to_ask), guidance 1, Euler with as many steps as model calls; "
             f"{args.num_audio} of them decoded per evaluation for the audio figures (CREPE 'tiny' pitch within 50 "
             f"cents of the asked pitch; decay time inside the training notes' 5-95 % range); the classifier FD uses "
             f"all notes. Mean +- std over noise seeds {', '.join(map(str, args.seeds))}; settings were chosen on seed "
             f"20 only. Straightness: S = E_t ||(x_0 - z) - v(x_t, t)||^2 per number along each model's 50-step path "
             f"(0 = straight).{target_text} First: {results['first']['trained_on']}. Reflowed: "
             f"{results['reflowed']['trained_on']}." + speed),
      folder=None if args.write else RESULTS / "scratch")
