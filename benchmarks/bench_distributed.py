"""Data-parallel training on the CPU: samples per second with 1 and 2 processes (gloo), same global batch.

Each configuration trains the ci profile's U-Net through :func:`tutorial_lib.training.train` (one process, or
two ranks started the way torchrun starts them) on synthetic standardised latents [N, 64, 32] (the speed does
not depend on their values), one CPU thread per process. Speed = steps x global batch / training seconds.

`python benchmarks/bench_distributed.py [--steps 60] [--write]`: without ``--write`` the tables go to a
scratch folder (printed), so a trial run leaves benchmarks/results/ alone.
"""

import argparse
import os
import socket
import sys
import tempfile
from pathlib import Path

import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write

NOTE = ("Measured on a 2-core machine that other work (five other agents' tests and builds) was using at the same "
        "time: the 2-process figure shows that the ranks agree and run, not what two free cores or two GPUs give.")


def worker(rank: int, size: int, port: int, steps: int, folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(size), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    from tutorial_lib.conditioning import Conditions
    from tutorial_lib.runtime.distributed import leave
    from tutorial_lib.flow import RectifiedFlow
    from tutorial_lib.profiles import get_profile
    from tutorial_lib.training import train
    from tutorial_lib.unet import build_model

    profile = get_profile("ci", steps=steps, eval_every=10**9, device="cpu")
    g = torch.Generator().manual_seed(0)
    latents = torch.randn(512, 64, profile.num_frames, generator=g)
    labels = {}
    if profile.model_kwargs.get("conditioned"):
        labels["train_conditions"] = Conditions(torch.randint(40, 89, (512,), generator=g),
                                                torch.randint(0, 3, (512,), generator=g), torch.full((512,), 75))
    torch.manual_seed(0)
    model = build_model(profile.model, **profile.model_kwargs)
    result = train(model, RectifiedFlow(), latents, None, profile.train, progress=False, **labels)
    if rank == 0:
        torch.save({"seconds": result.history.train_seconds, "loss": result.history.train_loss[-1],
                    "batch": profile.train.batch_size}, Path(folder) / f"size{size}.pt")
    leave()


def measure(size: int, steps: int, folder: str) -> dict:
    if size == 1:
        os.environ.pop("WORLD_SIZE", None)
        worker(0, 1, 0, steps, folder)
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        mp.spawn(worker, args=(size, port, steps, folder), nprocs=size, join=True)
    return torch.load(Path(folder) / f"size{size}.pt")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--write", action="store_true", help="write benchmarks/results/distributed_cpu.{json,md}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        runs = {size: measure(size, args.steps, scratch) for size in (1, 2)}
    rows, results = [], {"steps": args.steps, "model": "ci profile's U-Net", "runs": {},
                         "load_average_1min_after": os.getloadavg()[0]}
    for size, run in runs.items():
        speed = args.steps * run["batch"] / run["seconds"]
        results["runs"][size] = {**run, "samples_per_s": speed}
        rows.append([size, run["batch"], args.steps, f"{run['seconds']:.1f}", f"{speed:.0f}", f"{run['loss']:.4f}"])
    results["speedup_2_over_1"] = results["runs"][2]["samples_per_s"] / results["runs"][1]["samples_per_s"]
    folder = None if args.write else Path(tempfile.mkdtemp(prefix="bench_distributed-"))
    path = write("distributed_cpu", results,
                 ["processes", "global batch", "steps", "training s", "samples/s", "last loss"], rows,
                 notes=f"2 processes / 1: {results['speedup_2_over_1']:.2f}x. Equal last losses: the two ranks "
                       f"train the same model as one process (tests/test_distributed.py checks it). {NOTE}",
                 folder=folder)
    print(f"written to {path}" + ("" if args.write else " (a scratch folder; --write for benchmarks/results/)"))
