"""Frechet distance to held-out latents against model calls, for Euler / Heun / midpoint and two time grids.

One trained model (profile cpu, ours), 200 samples from the same noise for every setting; the seed's
setting is Euler with 100 steps. `python benchmarks/bench_samplers.py [--profile cpu]`
"""

import argparse

from common import write
from tutorial_lib.metrics import frechet_distance, latent_features
from tutorial_lib.pipeline import prepare, train_model
from tutorial_lib.sampling import CALLS_PER_STEP, generate, time_grid

parser = argparse.ArgumentParser()
parser.add_argument("--profile", default="cpu")
parser.add_argument("--samples", type=int, default=200)
args = parser.parse_args()

prepared = prepare(args.profile, progress=False)
model = train_model(prepared, progress=False).ema_model
reference = latent_features(prepared.data.valid.latents)
frames = prepared.profile.num_frames


def fd(solver, steps, grid="uniform"):
    times = time_grid(steps, grid)
    samples = generate(model, args.samples, frames, seed=0, solver=solver, times=times).samples.cpu()
    return frechet_distance(latent_features(samples), reference)


baseline = fd("euler", 100)
results, rows = {"euler_100": baseline}, [["euler (seed)", "uniform", 100, f"{baseline:.3f}", "+0.0 %"]]
for grid in ("uniform", "data"):
    for solver in ("euler", "heun", "midpoint"):
        for calls in (2, 4, 8, 16, 32):
            steps = calls // CALLS_PER_STEP[solver]
            if steps < 1:
                continue
            value = fd(solver, steps, grid)
            results[f"{solver}_{grid}_{calls}"] = value
            rows.append([solver, grid, calls, f"{value:.3f}", f"{100 * (value - baseline) / baseline:+.1f} %"])
best8 = min((v, k) for k, v in results.items() if k != "euler_100" and int(k.rsplit("_", 1)[1]) <= 8)
write(f"samplers_{args.profile}", {"profile": args.profile, "data": prepared.data_source, "samples": args.samples,
      "fd": results, "best_at_most_8_calls": {"setting": best8[1], "fd": best8[0],
                                              "vs_euler_100": (best8[0] - baseline) / baseline}},
      ["solver", "time grid", "model calls", "FD to valid", "vs Euler-100"], rows,
      notes=f"Best at <= 8 model calls: {best8[1]}, FD {best8[0]:.3f} ({100 * (best8[0] - baseline) / baseline:+.1f} % "
            f"vs Euler-100 at {baseline:.3f}). 'data' grid: t_i = (1 - i/K)^2, smaller steps near t = 0.")
