"""How long each chapter takes on a GPU, worked out before it runs (README, "In Google Colab").

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

from dataclasses import dataclass, field


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

SEED_CHANNELS = (128, 256, 512, 1024, 2048)
# Measured: benchmarks/results/throughput_cuda.json (NVIDIA H100 80GB HBM3, batch 500), training samples/s.
# Keyed by (model, channels, precision); tests/test_estimates.py checks them against that file.
H100_TRAIN_SAMPLES_PER_S = {
    ("seed", SEED_CHANNELS, "fp32"): 12781, ("seed", SEED_CHANNELS, "bf16"): 39018,
    ("unet", (64, 128, 128), "fp32"): 17528, ("unet", (64, 128, 128), "bf16"): 18448,
    ("unet", (256, 512, 512), "fp32"): 15557, ("unet", (256, 512, 512), "bf16"): 17429,
}
# Small batches leave a GPU waiting on kernel launches, so a training step costs at least this much, whatever
# the batch. Measured: the cpu profile's U-Net takes 0.614 ms per forward call at batch 8 on the H100
# (throughput_cuda.md: 61.4 ms per note for Euler 100); assumed: a training step costs four such calls
# (forward, a backward twice as long, optimizer and EMA), doubled for Colab's slower host CPU.
STEP_FLOOR_S = 4 * 0.614e-3 * 2
# Measured: the seed's U-Net at the cpu profile's sizes trained 800 steps of batch 32 in 31.9 s on 2 CPU cores
# (benchmarks/results/unets_cpu_seed-profile_cpu.json); at full size 52 samples/s (throughput_cpu.json).
# Colab's free machine has 2 vCPUs: assumed as fast. Chapter 3's exercise trains on the CPU.
CPU_TRAIN_SAMPLES_PER_S = {("seed", (32, 64, 128, 256, 512)): 800, ("seed", SEED_CHANNELS): 52}

# Counted with torch.utils.flop_counter on one 4 s note (the package's network, CPU, fp32).
M2L_ENCODE_GFLOP, M2L_DECODE_GFLOP = 165.0, 1132.0
M2L_SHARE_OF_PEAK = 0.2  # assumed: batch-1 inference reaches a fifth of the fp16 peak
LOAD_SECONDS_PER_NOTE = 0.005  # measured 1.6 ms here (MP3 read + resampling); tripled for Python and a slower CPU
DOWNLOAD_MB_PER_S = 10.0  # assumed
NSYNTH_MB, M2L_WEIGHTS_MB = 335.0, 233.0
UNPACK_SECONDS = 30.0  # assumed: unzipping 35,000 MP3 files
INSTALL_SECONDS = 60.0  # assumed: pip install of the project and its dependencies (Colab keeps its torch)
OTHER_SECONDS = 30.0  # assumed: the chapter's other cells (plots, pitch tracking on the CPU)
NSYNTH_NOTES = {"train": 32_690, "valid": 2_081}  # the seed's guitar subset

# The evaluation classifier (tutorial_lib.evaluation.classifier, 40 epochs) trained on the cpu data's 573 notes in
# 5.1 s on the CPU here (benchmarks/results/evaluation_sanity_cpu.json); it trains on the GPU when there is one,
# which we assume is at least as fast (it is a small network, launch-bound on a GPU).
CLASSIFIER_NOTE_EPOCHS_PER_S = 40 * 573 / 5.12
# The shipped model decodes with the offline mel codec on the CPU: measured 2.9 s per note on one busy thread
# here; assumed 1.5 s on Colab's CPU.
MEL_DECODE_SECONDS = 1.5

# What each chapter does beyond its encodes and decodes (those: chapter_work).
CHAPTER_WORK = {
    "01_codec": {},
    "02_dataset": {},
    "03_unet": {"cpu_training": ("seed", 2 * 200 * 32)},  # the time-everywhere exercise: 2 runs of 200 x 32
    "04_training": {"trains": ("ours", "seed")},
    "04a_toy_flow": {"no_data": True, "other_seconds": 25.0},  # a 2-D toy, 23 s on a laptop CPU
    # Trajectories, solver sweep, Frechet distances of 100 samples, players: about 40,000 network calls per note.
    "05_sampling": {"trains": ("ours",), "note_calls": 40_000},
    # Guidance sweep (4 x 48 notes, doubled batches), inversions, edits, the listening table and the grid.
    "06_control": {"trains": ("ours",), "note_calls": 30_000},
    # 1,024 reflow pairs of 25 calls, 400 reflow steps of 32 (a step is about 3 forward passes), two straightness
    # curves of 64 x 50 calls.
    "06a_straight_fast": {"trains": ("ours",), "note_calls": 1024 * 25 + 3 * 400 * 32 + 2 * 64 * 50},
}


@dataclass(frozen=True)
class Work:
    """The costly work of one chapter, in notes (tutorial_lib.runtime.work counts the same when the chapter runs).

    ``encodes``: notes the chapter's codec encodes beyond preparing the data; ``decodes``: notes it decodes;
    ``reference_decodes``: real notes the evaluation decodes once (kept in the cache); ``shipped_decodes``: the
    shipped model's notes (offline codec, CPU); ``classifier_note_epochs``: the evaluation classifier's training.
    """

    encodes: int = 0
    decodes: int = 0
    reference_decodes: int = 0
    shipped_decodes: int = 0
    classifier_note_epochs: int = 0


def chapter_work(chapter: str, profile, sizes: dict[str, int]) -> Work:
    """What ``chapter`` encodes, decodes and trains the classifier on, run with ``profile`` on data of ``sizes``
    notes per split (``{"train": N, "valid": M}``). Counted from the chapters' cells; tests/test_chapter_work.py
    checks it against what the chapters do (their counts in tutorial_lib.runtime.work)."""
    train, valid = sizes["train"], sizes["valid"]

    def reference(num_audio: int) -> int:  # the evaluation's real notes: num_audio of each split, decoded
        return min(num_audio, train) + min(num_audio, valid)

    classifier = 40 * train  # ClassifierConfig.epochs
    if chapter == "01_codec":  # a round trip, six notes' pitch table, and Music2Latent's shapes (one encode)
        return Work(encodes=1 + 1 + 6, decodes=1 + 6)
    if chapter == "04_training":  # noisy latents played: t = 0, 0.5, 1; the listening exercise's five times
        return Work(decodes=3 + 5)
    if chapter == "05_sampling":
        real = -(-train // 10) - (-valid // 10)  # a tenth of both splits, for their decay times
        # samples, a 48-note evaluation, your 3 players; the shipped model: samples, 3 players, exercise 5.3's 4
        return Work(decodes=real + profile.num_samples + 48 + 3,
                    reference_decodes=reference(48), shipped_decodes=profile.num_samples + 3 + 4,
                    classifier_note_epochs=classifier)
    if chapter == "06_control":  # guidance 4 x 16, inversion 2, edits 3 + 16, slerp 5, table 3 + 3, grid 6
        return Work(decodes=64 + 2 + 3 + 16 + 5 + 3 + 3 + 6, reference_decodes=reference(48), shipped_decodes=3,
                    classifier_note_epochs=classifier)
    if chapter == "06a_straight_fast":  # the shipped pair: 2 models x 3 call counts x 12 notes, 4 timed decodes
        return Work(shipped_decodes=2 * 3 * 12 + 4)
    return Work()


def _channels(name: str, kwargs: dict) -> tuple[int, ...]:
    return tuple(kwargs.get("channels", SEED_CHANNELS if name == "seed" else ()))


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


@dataclass
class Estimate:
    """Seconds per part of one chapter's run; ``minutes`` is their sum."""

    chapter: str
    card: str
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def minutes(self) -> float:
        return sum(self.parts.values()) / 60

    def describe(self) -> str:
        items = ", ".join(f"{name} {_duration(s)}" for name, s in self.parts.items() if s >= 1)
        return f"{self.chapter}: about {_duration(60 * self.minutes)} on {CARDS[self.card].name} ({items})"


def _duration(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _minutes(minutes: float) -> str:
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


def chapter_estimate(profile, chapter: str, *, card: str = "T4", drive_cache: bool = False) -> Estimate:
    """What running ``chapter`` with ``profile`` costs in a fresh Colab session on ``card``.

    ``drive_cache=True``: a later chapter with the cache on Google Drive, where the latents and chapter 4's
    checkpoints already are (nothing encoded, nothing trained twice).
    """
    work = CHAPTER_WORK[chapter]
    est = Estimate(chapter, card, {"install": INSTALL_SECONDS})
    if not work.get("no_data"):
        counts = chapter_work(chapter, profile, notes_used(profile))
        est.parts["download"] = (NSYNTH_MB + M2L_WEIGHTS_MB) / DOWNLOAD_MB_PER_S + UNPACK_SECONDS
        encodes = 0 if drive_cache else sum(notes_used(profile).values())
        est.parts["encoding"] = m2l_seconds(encodes=encodes + counts.encodes, card=card)
        cached = 0 if drive_cache else counts.reference_decodes  # the evaluation's real notes, kept on Drive
        est.parts["decoding"] = (m2l_seconds(decodes=counts.decodes + cached, card=card)
                                 + counts.shipped_decodes * MEL_DECODE_SECONDS)
        if counts.classifier_note_epochs and not drive_cache:
            est.parts["evaluation classifier"] = counts.classifier_note_epochs / CLASSIFIER_NOTE_EPOCHS_PER_S
    if "cpu_training" in work:
        name, samples = work["cpu_training"]
        _, rate = _measured({(n, c): r for (n, c), r in CPU_TRAIN_SAMPLES_PER_S.items()}, name,
                            _channels(name, profile.seed_model_kwargs))
        est.parts["exercise training (CPU)"] = samples / rate
    models = {"ours": (profile.model, profile.model_kwargs), "seed": ("seed", profile.seed_model_kwargs)}
    trained = []
    for which in work.get("trains", ()):
        if models[which] in trained or (drive_cache and chapter in ("05_sampling", "06_control", "06a_straight_fast")):
            continue  # the same run (one checkpoint), or chapter 4's, reloaded
        trained.append(models[which])
        est.parts[f"training {which}"] = training_seconds(profile, *models[which], card=card)[0]
    if "note_calls" in work:  # a forward pass costs about a third of a training step
        rate, _ = train_samples_per_s(profile.model, profile.model_kwargs, card=card,
                                      precision=profile.train.precision)
        est.parts["sampling"] = work["note_calls"] / (3 * rate)
    est.parts["other cells"] = work.get("other_seconds", OTHER_SECONDS)
    return est


def describe_training(profile, name: str, kwargs: dict, *, gpu_name: str | None = None) -> str:
    """The sentence printed before training starts: steps, batch, precision and the expected time."""
    t4, t4_precision = training_seconds(profile, name, kwargs, card="T4")
    h100, h100_precision = training_seconds(profile, name, kwargs, card="H100")
    train = profile.train
    here = f" This GPU: {gpu_name}." if gpu_name else ""
    return (f"Training {name} ({train.steps:,} steps of {train.batch_size}, profile {profile.name}): about "
            f"{_duration(t4)} on a free Colab T4 ({t4_precision}: it has no bfloat16), {_duration(h100)} on an "
            f"H100 ({h100_precision}). Estimates from the H100's measured speed and the cards' published "
            f"figures; a run stopped early resumes from its checkpoint.{here}")


def colab_plan(chapter: str, profile, full_scale=None) -> str:
    """What the Colab cell prints: this chapter's expected time, and the full scale's, one setting away."""
    lines = [f"Profile {profile.name}. " + chapter_estimate(profile, chapter).describe() + "."]
    if CHAPTER_WORK[chapter].get("no_data"):
        return lines[0]
    lines.append("With the cache on Google Drive (USE_DRIVE = True), a later chapter: about "
                 f"{_duration(60 * chapter_estimate(profile, chapter, drive_cache=True).minutes)}.")
    if full_scale is not None and full_scale.name != profile.name:
        t4 = chapter_estimate(full_scale, chapter)
        h100 = chapter_estimate(full_scale, chapter, card="H100")
        lines.append(f'The seed\'s full scale (PROFILE = "{full_scale.name}" in this cell): this chapter about '
                     f"{_duration(60 * t4.minutes)} on a T4, {_duration(60 * h100.minutes)} on an H100 "
                     "(estimates).")
    return "\n".join(lines)


def student_colab_url(repository_url: str, branch: str, chapter: str) -> str:
    """The Colab address of ``student/<chapter>.ipynb`` in the repository at ``repository_url``."""
    path = repository_url.removeprefix("https://github.com/").strip("/")
    return f"https://colab.research.google.com/github/{path}/blob/{branch}/student/{chapter}.ipynb"


def colab_note(chapter: str, profile, full_scale, *, student_url: str) -> str:
    """The markdown note under each chapter's title: the Colab route, its expected time, the student edition."""
    est = chapter_estimate(profile, chapter)
    students = (f"**Students:** open [this chapter's student edition in Colab]({student_url}), where each "
                "exercise comes before any code that answers it.")
    if CHAPTER_WORK[chapter].get("no_data"):
        return (f"**In Colab.** The launch button above opens this page in Google Colab; it needs no GPU and "
                f"runs in about {_minutes(est.minutes)}, installation included. {students}")
    notes = notes_used(profile)
    full_t4, full_h100 = chapter_estimate(full_scale, chapter), chapter_estimate(full_scale, chapter, card="H100")
    return (f"**In Colab.** The launch button above opens this chapter in Google Colab, whose first cell picks the "
            f"`{profile.name}` profile: the real NSynth guitar notes (a fixed random {notes['train']:,} of the "
            f"{NSYNTH_NOTES['train']:,} training notes) and the real Music2Latent weights. On a free Colab GPU (a "
            f"T4) the chapter takes about {_minutes(est.minutes)} by our estimate (tutorial_lib.runtime.estimates: the "
            "H100's measured speed scaled by the cards' published figures). Set `USE_DRIVE = True` in that cell to "
            "keep latents and trained models on your Google Drive, so that later chapters reuse them. "
            f'For the seed\'s full scale, set `PROFILE = "{full_scale.name}"` in that cell: about '
            f"{_duration(60 * full_t4.minutes)} on a T4, {_duration(60 * full_h100.minutes)} on an H100. {students}")
