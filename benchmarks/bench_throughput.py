"""Training samples/s and sampling latency per note for both U-Nets (CPU, or GPU with bf16 autocast).

Synthetic standardised latents [batch, 64, 32] (the speed does not depend on their values).
`python benchmarks/bench_throughput.py [--device cpu|cuda] [--batch 32]`
"""

import argparse
import time

import torch

from common import write
from tutorial_lib.flow import RectifiedFlow
from tutorial_lib.sampling import sample
from tutorial_lib.unet import PlainUNet, UNet, count_parameters

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--steps", type=int, default=10)
args = parser.parse_args()
device = torch.device(args.device)
precisions = ["fp32", "bf16"] if device.type == "cuda" else ["fp32"]


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()


results, rows = {}, []
for label, build in (("plain (35 M)", lambda: PlainUNet()), ("ours, cpu profile", lambda: UNet(channels=(64, 128, 128))),
                     ("ours, wide", lambda: UNet(channels=(256, 512, 512)))):
    for precision in precisions:
        torch.manual_seed(0)
        model = build().to(device)
        flow = RectifiedFlow()
        optimizer = torch.optim.Adam(model.parameters(), 1e-4)
        x = torch.randn(args.batch, 64, 32, device=device)
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
        for i in range(args.steps + 2):
            if i == 2:
                sync()
                start = time.perf_counter()
            with autocast:
                loss = flow.loss(model, x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        sync()
        train_rate = args.steps * args.batch / (time.perf_counter() - start)
        noise = torch.randn(8, 64, 32, device=device)
        with autocast:
            sample(model, noise, num_steps=2)
            sync()
            start = time.perf_counter()
            sample(model, noise, num_steps=100)
            sync()
        latency = (time.perf_counter() - start) / 8
        key = f"{label} {precision}"
        results[key] = {"parameters": count_parameters(model), "train_samples_per_s": train_rate,
                        "sampling_seconds_per_note_euler100_batch8": latency}
        rows.append([label, precision, f"{count_parameters(model) / 1e6:.1f} M", f"{train_rate:.0f}", f"{1000 * latency:.1f}"])
write(f"throughput_{device.type}", {"batch": args.batch, "results": results},
      ["model", "precision", "params", "train samples/s", "ms per note (Euler 100, batch 8)"], rows)
