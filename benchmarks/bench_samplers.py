"""Sample quality against model calls, for Euler / Heun / midpoint and three time grids.

One trained model (the profile's, as chapters 4-6 train it), the same noise for every setting. Quality is
the evaluation classifier's Frechet distance to the training notes (tutorial_lib.evaluation), with the real
held-out notes' own figure beside it; the original tutorial's setting (Euler, 100 steps) is also measured from three
noise seeds, which shows how much the figure moves by chance.

    python benchmarks/bench_samplers.py            # writes to benchmarks/results/scratch/
    python benchmarks/bench_samplers.py --write    # replaces benchmarks/results/samplers_cpu.{json,md}
"""

import argparse

from common import RESULTS, write
from tutorial_lib.evaluation import evaluate, reference_from_prepared
from tutorial_lib.pipeline import prepare, train_model
from tutorial_lib.sampling import SOLVERS, sample_seeded, time_grid

parser = argparse.ArgumentParser()
parser.add_argument("--profile", default="cpu")
parser.add_argument("--samples", type=int, default=128)
parser.add_argument("--write", action="store_true", help="replace the committed results")
args = parser.parse_args()

prepared = prepare(args.profile, progress=False)
result = train_model(prepared, progress=False)
model, flow, frames = result.ema_model, result.flow, prepared.profile.num_frames
reference = reference_from_prepared(prepared, audio=False, verbose=False)


def fd(solver, steps, grid="uniform", seed=0):
    latents = sample_seeded(model, args.samples, frames, seed=seed, solver=solver, flow=flow,
                       times=time_grid(steps, grid)).samples
    report = evaluate(latents=latents, reference=reference)
    return report.figures["classifier_fd"], report.real["classifier_fd"]


seeds = [fd("euler", 100, seed=s)[0] for s in (0, 1, 2)]
baseline, real = seeds[0], fd("euler", 100)[1]
table = {}
for grid in ("uniform", "data", "noise"):
    for solver, spec in SOLVERS.items():
        for calls in (2, 4, 8, 16, 32):
            if calls >= spec.calls_per_step:
                table[(solver, grid, calls)] = fd(solver, calls // spec.calls_per_step, grid)[0]
rows = [["euler (the original tutorial's)", "uniform", 100, f"{baseline:.0f}", "+0 %"]]
rows += [[s, g, c, f"{v:.0f}", f"{100 * (v - baseline) / baseline:+.0f} %"] for (s, g, c), v in table.items()]
rows.append(["real held-out notes", "-", "-", f"{real[0]:.0f} +- {real[1]:.0f}", ""])
best = min((v, k) for k, v in table.items() if k[2] <= 8)
write(f"samplers_{args.profile}",
      {"profile": args.profile, "data": prepared.data_source, "codec": prepared.codec.describe(),
       "samples": args.samples, "measure": "classifier Frechet distance to the training notes",
       "euler_100": baseline, "euler_100_noise_seeds_0_1_2": seeds, "real_valid": {"mean": real[0], "std": real[1]},
       "fd": {"/".join(map(str, k)): v for k, v in table.items()},
       "best_at_most_8_calls": {"setting": "/".join(map(str, best[1])), "fd": best[0],
                                "relative_to_euler_100": (best[0] - baseline) / baseline}},
      ["solver", "time grid", "model calls", "classifier FD", "vs Euler-100"], rows,
      notes=f"Best at <= 8 model calls: {'/'.join(map(str, best[1]))}, FD {best[0]:.0f} "
            f"({100 * (best[0] - baseline) / baseline:+.0f} % vs Euler-100, {baseline:.0f}). The same Euler-100 "
            f"from noise seeds 0, 1, 2 gives {', '.join(f'{v:.0f}' for v in seeds)}: differences smaller than that "
            "spread are chance. Real held-out notes, on random subsets of the same size: "
            f"{real[0]:.0f} +- {real[1]:.0f}. 'data' grid: t_i = (1 - i/K)^2, smaller steps near t = 0; "
            "'noise' grid: t_i = 1 - (i/K)^2, smaller steps near t = 1.",
      folder=None if args.write else RESULTS / "scratch")
