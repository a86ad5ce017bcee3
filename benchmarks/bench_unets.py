"""The original tutorial's U-Net against ours: same data, batches, noise, optimizer and steps (profile cpu, offline).

Loss curves, valid/train gap, and the Frechet distance of 100 samples (Euler, 100 steps) to the held-out
latents. On a CPU the original tutorial's U-Net is built at the profile's reduced size unless `--plain-size full`.

    python benchmarks/bench_unets.py [--profile cpu] [--plain-size full|profile] [--device cuda]
    python benchmarks/bench_unets.py --save-latents benchmarks/results/latents_cpu.pt   # for a GPU machine
    python benchmarks/bench_unets.py --latents benchmarks/results/latents_cpu.pt --plain-size full --device cuda
    python benchmarks/bench_unets.py --lrs 1e-3 3e-3   # each model at its own best learning rate of a small sweep

With ``--lrs``, each model trains once per learning rate and is reported at the one with the lowest final
training loss (chosen without looking at the validation set, on which it is then measured); the results go
to a file named ``..._lr-sweep_...`` so the single-lr results stay as they are.
"""

import argparse
from dataclasses import asdict, replace

import numpy as np
import torch

from common import write
from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.evaluation.metrics import frechet_distance, latent_features, nearest_neighbour_distances
from tutorial_lib.profiles import get_profile
from tutorial_lib.sampling import sample_seeded
from tutorial_lib.training import train
from tutorial_lib.unet import build_model, count_parameters

parser = argparse.ArgumentParser()
parser.add_argument("--profile", default="cpu")
parser.add_argument("--plain-size", choices=["full", "profile"], default="profile")
parser.add_argument("--device", default="auto")
parser.add_argument("--latents", help="a file from --save-latents (skips data preparation)")
parser.add_argument("--save-latents", help="write the prepared latents there and stop")
parser.add_argument("--steps", type=int, help="override the profile's training steps")
parser.add_argument("--lrs", type=float, nargs="+", help="learning rates to sweep (default: the profile's)")
parser.add_argument("--note", default="", help="a sentence added to the results (e.g. that the machine was shared)")
args = parser.parse_args()
profile = get_profile(args.profile)

if args.latents:
    saved = torch.load(args.latents)
else:
    from tutorial_lib.pipeline import prepare

    prepared = prepare(profile, progress=False)
    saved = {"train": prepared.data.train.latents, "valid": prepared.data.valid.latents,
             "data": prepared.data_source, "codec": prepared.codec.describe()}
    if args.save_latents:
        torch.save(saved, args.save_latents)
        raise SystemExit(f"saved {args.save_latents}")
train_latents, valid_latents = saved["train"], saved["valid"]
reference = latent_features(valid_latents)
config = replace(profile.train, device=args.device, **({"steps": args.steps} if args.steps else {}))
runs = {"ours (UNet)": ("unet", profile.model_kwargs),
        "plain (PlainUNet)": ("plain", {} if args.plain_size == "full" else profile.plain_model_kwargs)}
lrs = args.lrs or [config.lr]
results, rows, sweep = {}, [], {}
for label, (name, kwargs) in runs.items():
    tried = {}
    for lr in lrs:
        torch.manual_seed(config.seed)
        tried[lr] = train(build_model(name, **kwargs), RectifiedFlow(), train_latents, valid_latents,
                          replace(config, lr=lr), progress=False)
    sweep[label] = {lr: {"train_loss_last50": float(np.mean(r.history.train_loss[-50:])),
                         "valid_loss": r.history.valid_loss[-1]} for lr, r in tried.items()}
    best_lr = min(tried, key=lambda lr: sweep[label][lr]["train_loss_last50"])  # chosen on training loss
    result = tried[best_lr]
    h = result.history
    train_loss, valid_loss = float(np.mean(h.train_loss[-50:])), h.valid_loss[-1]
    samples = sample_seeded(result.ema_model, 100, profile.num_frames, seed=0, num_steps=100).samples.cpu()
    fd = frechet_distance(latent_features(samples), reference)
    gap = (valid_loss - train_loss) / train_loss
    # Memorisation: how close each sample lies to its nearest training latent, against valid notes' distance.
    nn_generated = float(np.median(nearest_neighbour_distances(samples, train_latents)))
    results[label] = {"parameters": count_parameters(result.model), "steps": config.steps, "lr": best_lr,
                      "train_loss_last50": train_loss,
                      "valid_loss": valid_loss, "gap": gap, "fd_euler100_vs_valid": fd,
                      "median_nn_distance_generated_to_train": nn_generated,
                      "train_seconds": h.train_seconds, "history": asdict(h)}
    rows.append([label, f"{count_parameters(result.model) / 1e6:.2f} M", config.steps, f"{best_lr:g}", f"{train_loss:.3f}",
                 f"{valid_loss:.3f}", f"{100 * gap:+.1f} %", f"{fd:.2f}", f"{nn_generated:.1f}", f"{h.train_seconds:.0f}"])
fd_train = frechet_distance(latent_features(train_latents), reference)
nn_valid = float(np.median(nearest_neighbour_distances(valid_latents, train_latents)))
device = "cuda" if torch.cuda.is_available() and args.device in ("auto", "cuda") else "cpu"
sweep_note = ""
if len(lrs) > 1:
    sweep_note = " Learning rates tried (train loss last 50 / valid loss): " + "; ".join(
        f"{label}: " + ", ".join(f"{lr:g} -> {v['train_loss_last50']:.3f} / {v['valid_loss']:.3f}" for lr, v in s.items())
        for label, s in sweep.items()) + ". Each model is reported at the rate with the lowest training loss."
write(f"unets_{args.profile}_plain-{args.plain_size}{'_lr-sweep' if len(lrs) > 1 else ''}_{device}",
      {"profile": args.profile, "data": saved["data"], "codec": saved["codec"], "fd_train_vs_valid": fd_train,
       "median_nn_distance_valid_to_train": nn_valid, "train_config": vars(config), "lr_sweep": sweep,
       "note": args.note, "runs": results},
      ["model", "params", "steps", "lr", "train loss (last 50)", "valid loss", "valid/train gap", "FD to valid",
       "median distance to nearest train latent", "training s"],
      rows, notes=f"Same {len(train_latents)} training latents, batches, noise and times for both; batch "
                  f"{config.batch_size}, Adam, {config.steps} steps each.{sweep_note} {args.note} "
                  "FD of the training latents themselves to the valid "
                  f"latents: {fd_train:.2f} (what a perfect model of the training set would score). "
                  "Features: per-channel mean and std over time (128-d). Memorisation check: the median distance "
                  f"from a valid latent to its nearest training latent is {nn_valid:.1f}; samples much closer than "
                  "that would be copies.")
