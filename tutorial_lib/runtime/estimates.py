"""How long training and the codec take on a GPU, worked out before they run (README, "In Google Colab";
:mod:`tutorial_lib.book.chapters` adds up each chapter's parts).

**Estimates, not measurements**: no T4 was at hand. Training speed is the H100's, measured here
(``benchmarks/results/throughput_cuda.json``, batch 500), times the ratio of the two cards' published
figures (the smaller of the compute and the memory-bandwidth ratio). Music2Latent's encoder and decoder
were never timed on a GPU: their work is counted in FLOPs (on the CPU here) and given an assumed share of
the card's published fp16 peak (Music2Latent runs under fp16 autocast on CUDA). Downloads and installs
assume 10 MB/s. Read every figure as "within about a factor of two".

A T4 has no bfloat16, so training runs in fp32 there (:func:`tutorial_lib.training.resolve_precision`
falls back and says so); fp16 would need loss scaling, which the book does not teach.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Card:
    """Published peak figures of one GPU (dense, no sparsity)."""

    name: str
    fp32_tflops: float
    half_tflops: float  # fp16 / bf16 tensor cores
    bandwidth_gbs: float
    has_bf16: bool


CARDS = {
    # NVIDIA T4 datasheet: 8.1 TFLOPS fp32, 65 TFLOPS fp16 (tensor cores), 320 GB/s; no bf16.
    "T4": Card("NVIDIA T4 (free Colab)", 8.1, 65.0, 320.0, False),
    # NVIDIA H100 SXM5 datasheet: 67 TFLOPS fp32, 989 TFLOPS bf16 (dense), 3.35 TB/s.
    "H100": Card("NVIDIA H100 SXM5 80GB", 67.0, 989.0, 3350.0, True),
}

PLAIN_CHANNELS = (128, 256, 512, 1024, 2048)
# Measured: benchmarks/results/throughput_cuda.json (NVIDIA H100 80GB HBM3, batch 500), training samples/s.
# Keyed by (model, channels, precision); tests/test_estimates.py checks them against that file.
H100_TRAIN_SAMPLES_PER_S = {
    ("plain", PLAIN_CHANNELS, "fp32"): 12781, ("plain", PLAIN_CHANNELS, "bf16"): 39018,
    ("unet", (64, 128, 128), "fp32"): 17528, ("unet", (64, 128, 128), "bf16"): 18448,
    ("unet", (256, 512, 512), "fp32"): 15557, ("unet", (256, 512, 512), "bf16"): 17429,
}
# Small batches leave a GPU waiting on kernel launches, so a training step costs at least this much, whatever
# the batch. Measured: the cpu profile's U-Net takes 0.614 ms per forward call at batch 8 on the H100
# (throughput_cuda.md: 61.4 ms per note for Euler 100); assumed: a training step costs four such calls
# (forward, a backward twice as long, optimizer and EMA), doubled for Colab's slower host CPU.
STEP_FLOOR_S = 4 * 0.614e-3 * 2
# Measured: the original tutorial's U-Net at the cpu profile's sizes trained 800 steps of batch 32 in 31.9 s on 2 CPU cores
# (benchmarks/results/unets_cpu_plain-profile_cpu.json); at full size 52 samples/s (throughput_cpu.json).
# Colab's free machine has 2 vCPUs: assumed as fast. Chapter 3's exercise trains on the CPU.
# Ours at the cpu profile's size: the cpu-10min recipe's 19,000 steps of 32 took 8.9 min of wall time on 2 quiet
# threads (benchmarks/results/cpu10min_run.md): 1,139 samples/s. The colab profile trains the same model and recipe.
CPU_TRAIN_SAMPLES_PER_S = {("plain", (32, 64, 128, 256, 512)): 800, ("plain", PLAIN_CHANNELS): 52,
                           ("unet", (64, 128, 128)): 19_000 * 32 / (8.9 * 60)}
# Music2Latent on the CPU (a Colab runtime without a GPU): measured here with the real network, per 4 s note, on
# 2 quiet threads: encode about 2 s, decode about 12 s (1 denoising step); on one busy thread 6-9 s and 27-56 s.
# The quiet figures: a CPU estimate errs short.
M2L_CPU_ENCODE_SECONDS, M2L_CPU_DECODE_SECONDS = 2.0, 12.0

# Counted with torch.utils.flop_counter on one 4 s note (the package's network, CPU, fp32).
M2L_ENCODE_GFLOP, M2L_DECODE_GFLOP = 165.0, 1132.0
M2L_SHARE_OF_PEAK = 0.2  # assumed: batch-1 inference reaches a fifth of the fp16 peak
LOAD_SECONDS_PER_NOTE = 0.005  # measured 1.6 ms here (MP3 read + resampling); tripled for Python and a slower CPU
DOWNLOAD_MB_PER_S = 10.0  # assumed
NSYNTH_MB, M2L_WEIGHTS_MB = 335.0, 233.0
UNPACK_SECONDS = 30.0  # assumed: unzipping 35,000 MP3 files
INSTALL_SECONDS = 60.0  # assumed: pip install of the project and its dependencies (Colab keeps its torch)
OTHER_SECONDS = 30.0  # assumed: the chapter's other cells (plots, pitch tracking on the CPU)
NSYNTH_NOTES = {"train": 32_690, "valid": 2_081}  # the original tutorial's guitar subset

# The evaluation classifier (tutorial_lib.evaluation.classifier, 40 epochs) trained on the cpu data's 573 notes in
# 5.1 s on the CPU here (benchmarks/results/evaluation_sanity_cpu.json); it trains on the GPU when there is one,
# which we assume is at least as fast (it is a small network, launch-bound on a GPU).
CLASSIFIER_NOTE_EPOCHS_PER_S = 40 * 573 / 5.12
# The shipped model decodes with the offline mel codec on the CPU: measured 2.9 s per note on one busy thread
# here; assumed 1.5 s on Colab's CPU.
MEL_DECODE_SECONDS = 1.5

# What each chapter does beyond its encodes and decodes (those: chapter_work).
def _channels(name: str, kwargs: dict) -> tuple[int, ...]:
    return tuple(kwargs.get("channels", PLAIN_CHANNELS if name == "plain" else ()))


def cpu_train_samples_per_s(name: str, kwargs: dict) -> float:
    """Training samples per second of ``name(**kwargs)`` on one CPU thread, as measured (batch 32)."""
    return _measured(dict(CPU_TRAIN_SAMPLES_PER_S), name, _channels(name, kwargs))[1]


def _measured(table: dict, name: str, channels: tuple[int, ...], *rest) -> tuple[tuple[int, ...], float]:
    """The measured figure of ``name`` at ``channels``, or of its nearest wider measured sibling (slower per
    sample, so the estimate errs long). Raises ValueError if nothing measured is as wide."""
    candidates = sorted((c for (n, c, *r) in table if n == name and tuple(r) == rest
                         and len(c) == len(channels) and all(a >= b for a, b in zip(c, channels))), key=sum)
    if not candidates:
        raise ValueError(f"No measured training speed for {name} with channels {channels} (or wider): run "
                         "benchmarks/bench_throughput.py for it and add the figure to tutorial_lib/runtime/estimates.py.")
    return candidates[0], table[(name, candidates[0], *rest)]


def card_ratio(card: str, precision: str) -> float:
    """``card``'s speed over the H100's: the smaller of the compute and the memory-bandwidth ratio."""
    c, h100 = CARDS[card], CARDS["H100"]
    compute = c.half_tflops / h100.half_tflops if precision == "bf16" else c.fp32_tflops / h100.fp32_tflops
    return min(compute, c.bandwidth_gbs / h100.bandwidth_gbs)


def train_samples_per_s(name: str, kwargs: dict, *, card: str = "T4", precision: str = "bf16") -> tuple[float, str]:
    """Estimated training samples/s of model ``name(**kwargs)`` on ``card`` and the precision it gets
    (``"bf16"`` falls back to ``"fp32"`` on a card without it, as training does)."""
    used = "bf16" if precision == "bf16" and CARDS[card].has_bf16 else "fp32"
    _, h100 = _measured(H100_TRAIN_SAMPLES_PER_S, name, _channels(name, kwargs), used)
    return h100 * card_ratio(card, used), used


def m2l_seconds(*, encodes: int = 0, decodes: int = 0, card: str = "T4") -> float:
    """Music2Latent's GPU time for ``encodes`` notes read from disk and ``decodes`` notes (estimated)."""
    flops = (encodes * M2L_ENCODE_GFLOP + decodes * M2L_DECODE_GFLOP) * 1e9
    return flops / (CARDS[card].half_tflops * 1e12 * M2L_SHARE_OF_PEAK) + encodes * LOAD_SECONDS_PER_NOTE


def duration_text(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def minutes_text(minutes: float) -> str:
    return f"{round(minutes)} minute" + ("" if round(minutes) == 1 else "s")


def notes_used(profile) -> dict[str, int]:
    """Notes per split the profile encodes: its ``max_notes``, at most NSynth's own counts."""
    limits = getattr(profile, "max_notes", None) or {}
    return {split: min(limits.get(split, n), n) for split, n in NSYNTH_NOTES.items()}


def training_seconds(profile, name: str, kwargs: dict, *, card: str = "T4") -> tuple[float, str]:
    """Estimated seconds (and precision) for ``profile``'s training of ``name(**kwargs)`` on ``card``: the
    samples at the card's measured-and-scaled speed, or :data:`STEP_FLOOR_S` per step if that is longer."""
    rate, used = train_samples_per_s(name, kwargs, card=card, precision=profile.train.precision)
    steps = profile.train.steps
    return max(steps * profile.train.batch_size / rate, steps * STEP_FLOOR_S), used


def describe_training(profile, name: str, kwargs: dict, *, gpu_name: str | None = None) -> str:
    """The sentence printed before training starts: steps, batch, precision and the expected time."""
    t4, t4_precision = training_seconds(profile, name, kwargs, card="T4")
    h100, h100_precision = training_seconds(profile, name, kwargs, card="H100")
    train = profile.train
    here = f" This GPU: {gpu_name}." if gpu_name else ""
    return (f"Training {name} ({train.steps:,} steps of {train.batch_size}, profile {profile.name}): about "
            f"{duration_text(t4)} on a free Colab T4 ({t4_precision}: it has no bfloat16), {duration_text(h100)} on an "
            f"H100 ({h100_precision}). Estimates from the H100's measured speed and the cards' published "
            f"figures; a run stopped early resumes from its checkpoint.{here}")
