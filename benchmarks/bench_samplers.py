"""Frechet distance to held-out latents against model calls, for Euler / Heun / midpoint and two time grids.

One trained model (profile cpu, ours), 200 samples from the same noise for every setting; the seed's
setting is Euler with 100 steps (also from two other noise seeds, to show how much FD moves by chance). `python benchmarks/bench_samplers.py [--profile cpu]`
"""

import argparse

from common import write
from tutorial_lib.metrics import fd_by_model_calls
from tutorial_lib.pipeline import prepare, train_model

parser = argparse.ArgumentParser()
parser.add_argument("--profile", default="cpu")
parser.add_argument("--samples", type=int, default=200)
args = parser.parse_args()

prepared = prepare(args.profile, progress=False)
model = train_model(prepared, progress=False).ema_model
valid, frames = prepared.data.valid.latents, prepared.profile.num_frames
# The seed's setting from three noise seeds: how much FD moves with the noise alone.
seeds = [fd_by_model_calls(model, valid, frames, calls=(100,), solvers=("euler",), num_samples=args.samples,
                           seed=s)[("euler", "uniform", 100)] for s in (0, 1, 2)]
baseline = seeds[0]
table = fd_by_model_calls(model, valid, frames, grids=("uniform", "data", "noise"), num_samples=args.samples)
rows = [["euler (the seed's)", "uniform", 100, f"{baseline:.3f}", "+0.0 %"]]
rows += [[s, g, c, f"{v:.3f}", f"{100 * (v - baseline) / baseline:+.1f} %"] for (s, g, c), v in table.items()]
best = min((v, k) for k, v in table.items() if k[2] <= 8)
write(f"samplers_{args.profile}",
      {"profile": args.profile, "data": prepared.data_source, "codec": prepared.codec.describe(),
       "samples": args.samples, "euler_100": baseline, "euler_100_noise_seeds_0_1_2": seeds, "fd": {"/".join(map(str, k)): v for k, v in table.items()},
       "best_at_most_8_calls": {"setting": "/".join(map(str, best[1])), "fd": best[0],
                                "relative_to_euler_100": (best[0] - baseline) / baseline}},
      ["solver", "time grid", "model calls", "FD to valid", "vs Euler-100"], rows,
      notes=f"Best at <= 8 model calls: {'/'.join(map(str, best[1]))}, FD {best[0]:.3f} "
            f"({100 * (best[0] - baseline) / baseline:+.1f} % vs Euler-100, {baseline:.3f}). "
            f"The same Euler-100 from noise seeds 0, 1, 2 gives {', '.join(f'{v:.3f}' for v in seeds)}: FD moves by "
            f"{100 * (max(seeds) - min(seeds)) / min(seeds):.0f} % with the noise alone. 'data' grid: t_i = (1 - i/K)^2, "
            "smaller steps near t = 0; 'noise' grid: t_i = 1 - (i/K)^2, smaller steps near t = 1. "
            "Features: per-channel mean and std over time.")
