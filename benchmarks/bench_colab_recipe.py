"""The colab profile's training recipe, measured on the offline data before a reader spends Colab time on it.

No Colab T4 and no real NSynth here: this trains the colab profile's U-Net with the colab profile's training
settings (model size, batch, steps, learning-rate schedule, EMA; fp32, as a T4 trains) on the cpu profile's
offline data (synthetic guitars, mel codec), then scores conditional notes asked for every validation label
with tutorial_lib.evaluation, on noise seeds no setting was chosen on. Beside it: the same recipe cut to a
tenth of its steps (known-bad: it must score clearly worse), and the estimated T4 time of each
(tutorial_lib.runtime.estimates: the H100's measured speed times the cards' published ratio, or a per-step floor).

    python benchmarks/bench_colab_recipe.py            # writes to benchmarks/results/scratch/
    python benchmarks/bench_colab_recipe.py --write    # replaces benchmarks/results/recipe_colab.{json,md}

The trained weights are kept in the cache (runs/bench-colab-recipe-*.pt), so a rerun only scores.
"""

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import torch

from common import write
from tutorial_lib.runtime import estimates
from tutorial_lib.evaluation import evaluate, labels_to_ask, reference_from_prepared
from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.pipeline import prepare
from tutorial_lib.profiles import get_profile
from tutorial_lib.sampling import sample_seeded
from tutorial_lib.training import train
from tutorial_lib.unet import UNet

# Noise seeds never used before this benchmark (nothing was chosen on them): the labels asked and the
# reference notes are the validation set's, as in every other benchmark; the noise alone is new.
SEEDS = (31, 32, 33)
KEYS = ("pitch_accuracy", "decay_inside", "decay_median_s", "classifier_fd", "classifier_pitch_accuracy")

parser = argparse.ArgumentParser()
parser.add_argument("--write", action="store_true", help="replace the committed results")
parser.add_argument("--notes", type=int, default=189, help="notes per seed (189: every cpu validation label once)")
args = parser.parse_args()
torch.set_num_threads(1)

colab = get_profile("colab")
prepared = prepare("cpu", codec="mel", progress=False)
asked = labels_to_ask(prepared.conditions("valid"), args.notes)
reference = reference_from_prepared(prepared, num_audio=args.notes, verbose=False)
recipe = replace(colab.train, precision="fp32", eval_every=10**9, checkpoint_every=10**9)
SETTINGS = [("colab recipe, a tenth of its steps (known-bad)", replace(recipe, steps=recipe.steps // 10)),
            ("colab recipe", recipe)]

rows, results = [], []
for name, config in SETTINGS:
    torch.manual_seed(0)
    model = UNet(**colab.model_kwargs)
    checkpoint = prepared.cache_dir / "runs" / f"bench-colab-recipe-{config.steps}.pt"
    cpu = time.process_time()
    result = train(model, RectifiedFlow(), prepared.data.train.latents, config=config, progress=False,
                   checkpoint_path=checkpoint, train_conditions=prepared.conditions("train"))
    cpu_minutes = (time.process_time() - cpu) / 60
    per_seed = []
    for seed in SEEDS:
        latents = sample_seeded(result.ema_model, len(asked), prepared.profile.num_frames, seed=seed, num_steps=50,
                           flow=result.flow, conditions=asked, guidance=colab.guidance).samples.cpu()
        per_seed.append(evaluate(latents=latents, reference=reference, to_audio=prepared.to_audio,
                                 conditions=asked, num_audio=len(asked), seed=seed))
    figures = {k: [float(r.figures[k]) for r in per_seed] for k in KEYS}
    t4 = estimates.training_seconds(replace(colab, train=replace(colab.train, steps=config.steps)),
                                    colab.model, colab.model_kwargs)[0]
    entry = {"setting": name, "steps": config.steps, "batch_size": config.batch_size, "lr": config.lr,
             "lr_schedule": config.lr_schedule, "ema_decay": config.ema_decay, "model": colab.model_kwargs,
             "guidance": colab.guidance, "cpu_minutes_this_run": round(cpu_minutes, 2),
             "t4_minutes_estimated": round(t4 / 60, 1),
             "figures": {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "seeds": v} for k, v in figures.items()},
             "real": {k: {"mean": m, "std": s} for k, (m, s) in per_seed[0].real.items() if k in KEYS}}
    results.append(entry)
    print(json.dumps(entry), flush=True)
    rows.append([name, f"{config.steps:,} x {config.batch_size}", f"{t4 / 60:.1f} (estimate)",
                 *(f"{np.mean(figures[k]):.2f} +- {np.std(figures[k]):.2f}" for k in KEYS)])
real = results[-1]["real"]
rows.append(["real validation notes (same codec)", "-", "-",
             *(f"{real[k]['mean']:.2f} +- {real[k]['std']:.2f}" if k in real else "-" for k in KEYS)])
ours_h100 = estimates.training_seconds(colab, colab.model, colab.model_kwargs, card="H100")[0]
notes = (
    f"Model {colab.model_kwargs}, trained with the colab profile's settings (batch {recipe.batch_size}, lr {recipe.lr:g} "
    f"{recipe.lr_schedule} after {recipe.warmup_steps} warm-up steps, EMA {recipe.ema_decay}) in fp32 on the cpu profile's "
    f"offline data (synthetic guitars, 25 pitches, mel codec; {len(prepared.data.train.latents)} training notes). "
    f"Notes asked for the validation labels ({len(asked)} per seed, every label once: "
    f"tutorial_lib.evaluation.labels_to_ask), guidance {colab.guidance:g}, Euler 50 steps, all of them decoded and "
    f"scored; mean +- std over noise seeds {', '.join(map(str, SEEDS))}, which nothing was chosen on (the labels "
    "and the real notes are the validation set's, as in every benchmark). CREPE model: the evaluation's "
    "(tutorial_lib.evaluation.note_measures). "
    "T4 minutes are estimates, not measurements (no T4 was at hand): tutorial_lib.runtime.estimates.training_seconds, "
    "that is the larger of (steps x batch) / (the H100's measured training speed for this U-Net, "
    f"{estimates.H100_TRAIN_SAMPLES_PER_S[('unet', (64, 128, 128), 'fp32')]} samples/s in fp32, "
    f"x {estimates.card_ratio('T4', 'fp32'):.3f}, the T4's published memory-bandwidth ratio) and steps x "
    f"{estimates.STEP_FLOOR_S * 1e3:.1f} ms (the per-step floor of a small batch: the H100's measured 0.614 ms per "
    f"forward call at batch 8, times 4 calls per step, times 2 for Colab's host CPU; assumed). On an H100 (bf16): "
    f"about {ours_h100 / 60:.1f} min. "
    "Real NSynth is harder than these offline notes (88 pitches, hundreds of instruments): these figures say the "
    "recipe trains well on what we can test, not what it reaches on the real notes. CPU minutes: process time of "
    "this run on one thread (0 when the weights came from the cache).")
write("recipe_colab", {"settings": results, "seeds": list(SEEDS)},
      ["setting", "steps x batch", "T4 minutes", *KEYS], rows, notes)
