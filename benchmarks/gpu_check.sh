#!/usr/bin/env bash
# One short GPU session (the device tool): throughput of both U-Nets in fp32 and bf16 autocast at the
# original tutorial's batch of 500, and the U-Net comparison with the original tutorial's U-Net at its full 35 M parameters.
# Needs benchmarks/results/latents_cpu.pt (bench_unets.py --save-latents) carried along.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONPATH=..
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 bench_throughput.py --device cuda --batch 500 --steps 20
python3 bench_unets.py --latents results/latents_cpu.pt --plain-size full --device cuda
if [ -n "${OUT:-}" ]; then cp results/throughput_cuda.* results/unets_cpu_plain-full_cuda.* "$OUT"/; fi
