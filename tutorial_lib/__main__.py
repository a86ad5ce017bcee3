"""Command line: ``python -m tutorial_lib run --out DIR [--data DIR] [--profile ci|cpu|gpu] [--codec ...]``."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from .codec import CODEC_NAMES
from .data.labels import SOURCES
from .sampling import SOLVERS
from .profiles import PROFILES
from .runtime.files import default_cache_dir
from .runtime.flags import as_flags

#: Library arguments the command line names otherwise: a command's checkpoint is ``OUT/checkpoint.pt``.
LIBRARY_NAMES = {"checkpoint_path": "out"}


def _training_steps(text: str) -> int:
    """``--steps``: a whole number, 1 or more (leave the option out for the profile's own)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of training steps, 1 or more "
                                         "(leave --steps out for the profile's own)")
    return int(text)


def summary_of_evaluation(evaluation: dict | None) -> str:
    """A few lines of report.json's evaluation: each set's key figures beside the real notes' own."""
    if not evaluation:
        return "No evaluation (the profile's eval_samples is 0)."
    lines = ["Evaluation (generated | real validation notes, mean +- std; all figures in report.json):"]
    for name, scores in evaluation.items():
        parts = []
        for key in ("pitch_accuracy", "decay_inside", "classifier_fd"):
            if key in scores["figures"]:
                real = scores["real"].get(key, {"mean": float("nan"), "std": float("nan")})
                parts.append(f"{key} {scores['figures'][key]:.2f} | {real['mean']:.2f} +- {real['std']:.2f}")
        lines.append(f"  {name}: " + "; ".join(parts))
    return "\n".join(lines)


def _whole_number(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, 0 or more")
    return int(text)


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, 1 or more")
    return int(text)


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number, e.g. 2")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib", description="Latent diffusion for guitar notes.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the whole pipeline: data, latents, training, sampling, decoding")
    run.add_argument("--out", required=True, help="folder for samples/, checkpoint.pt and report.json")
    run.add_argument("--data", help="a folder of NSynth-style notes (default: generate the synthetic set)")
    run.add_argument("--profile", choices=sorted(PROFILES), default="ci")
    run.add_argument("--codec", choices=CODEC_NAMES, help="default: the profile's (auto = M2L if available, else mel)")
    run.add_argument("--m2l-weights", help="path to music2latent.pt")
    run.add_argument("--cache", help=f"cache folder (default {default_cache_dir()})")
    run.add_argument("--train-steps", "--steps", dest="train_steps", type=_training_steps,
                     help="override the profile's training steps (1 or more; --steps for short)")
    run.add_argument("--precision", choices=("fp32", "bf16"),
                     help="default: the profile's (bf16 autocast on gpu, where the GPU has it; fp32 elsewhere)")
    run.add_argument("--eval-samples", type=_whole_number, metavar="N",
                     help="notes generated and scored by the evaluation (default: the profile's; 0 skips it)")
    run.add_argument("--restart", action="store_true",
                     help="start training over, overwriting OUT/checkpoint.pt (default: resume it if it is this run's)")

    gen = commands.add_parser("generate", help="notes from a trained checkpoint, with labels and guidance if you like")
    gen.add_argument("--checkpoint", required=True, help="checkpoint.pt written by `run`")
    gen.add_argument("--out", required=True, help="folder for the .wav files")
    gen.add_argument("--num", type=_positive_int, default=4, help="how many notes (default 4)")
    gen.add_argument("--pitch", type=int, help="MIDI pitch, e.g. 60 for middle C (default, or -1: any)")
    gen.add_argument("--source", choices=SOURCES, help="instrument source (default: any)")
    gen.add_argument("--velocity", type=int, help="1-127 (default, or -1: any)")
    gen.add_argument("--guidance", type=_finite_float, default=1.0,
                     help="classifier-free guidance scale: 0 ignores the labels, 1 follows them, >1 insists")
    gen.add_argument("--num-steps", "--sample-steps", dest="num_steps", type=_positive_int, default=50,
                     help="solver steps (default 50; --sample-steps is the old spelling)")
    gen.add_argument("--solver", choices=sorted(SOLVERS), default="euler")
    gen.add_argument("--seed", type=int, default=0, help="noise seed: the same seed gives the same notes")
    gen.add_argument("--m2l-weights", help="path to music2latent.pt (models trained on Music2Latent latents)")

    ref = commands.add_parser("reflow", help="straighten a trained model on pairs from its own ODE (chapter 6a)")
    ref.add_argument("--checkpoint", required=True, help="the first model: checkpoint.pt written by `run`, or a shipped one")
    ref.add_argument("--out", required=True, help="folder for pairs.pt, checkpoint.pt and report.json")
    ref.add_argument("--pairs", type=_positive_int, default=8192, help="pairs (noise, the first model's note) (default 8192)")
    ref.add_argument("--pair-steps", type=_positive_int, default=50, help="Euler steps that make each pair (default 50)")
    ref.add_argument("--guidance", type=_finite_float, default=1.0, help="guidance of the pairs' notes (default 1)")
    ref.add_argument("--train-steps", type=_positive_int, default=4000, help="reflow training steps (default 4000)")
    ref.add_argument("--batch-size", type=_positive_int, default=64)
    ref.add_argument("--lr", type=_finite_float, default=1e-3, help="peak learning rate (warm-up 200 steps, cosine)")
    ref.add_argument("--seed", type=int, default=0, help="seed of the pairs' noise and of training")
    ref.add_argument("--restart", action="store_true", help="make the pairs again and retrain, overwriting OUT's files")

    synth = commands.add_parser("synth", help="write the synthetic NSynth-style guitar set")
    synth.add_argument("--out", required=True)
    synth.add_argument("--profile", choices=sorted(PROFILES), default="cpu")

    download = commands.add_parser("download", help="download the NSynth guitar MP3 subset (needs internet)")
    download.add_argument("--out", required=True)

    student = commands.add_parser("student-edition", help="write the chapters with solutions replaced by stubs")
    student.add_argument("--out", required=True)
    student.add_argument("--notebooks", default="notebooks", help="the teacher's notebooks (default: notebooks/)")
    student.add_argument("--force", action="store_true",
                         help="replace notebooks in --out that differ from this edition (a student's work is lost)")

    args = parser.parse_args(argv)
    try:
        with _writer_lock(args):
            COMMANDS[args.command](args, parser)
    except (FileNotFoundError, ValueError, OSError, FloatingPointError) as error:  # incl. TrainingDiverged
        # the library names its arguments (`out`, `restart=True`): say them as this command's flags
        print(f"error: {as_flags(str(error), commands.choices[args.command], LIBRARY_NAMES)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(_interrupted(args), file=sys.stderr)
        return 130
    return 0


#: The commands that write into ``--out``: one at a time per folder (tutorial_lib.runtime.lock).
WRITERS = ("run", "reflow", "generate", "synth", "download")


def _writer_lock(args):
    """The ``--out`` folder's lock for a command that writes there (under torchrun, rank 0 holds it for all)."""
    from contextlib import nullcontext

    if args.command not in WRITERS or int(os.environ.get("RANK", "0")) != 0:
        return nullcontext()
    from .runtime.lock import folder_lock

    return folder_lock(args.out, f"python -m tutorial_lib {args.command} --out {args.out}")


def _interrupted(args) -> str:
    """What Ctrl-C left behind and how to go on."""
    checkpoint = Path(args.out) / "checkpoint.pt" if args.command in ("run", "reflow") else None
    if checkpoint is not None and checkpoint.is_file():
        return f"\nInterrupted. Training was saved in {checkpoint}: run the same command again to resume."
    if args.command == "generate":
        return (f"\nInterrupted. The notes written so far are in {args.out}: run the same command again to make "
                "the rest.")
    return "\nInterrupted."


def _run(args, parser) -> None:
    from .runtime.distributed import leave
    from .pipeline import run_pipeline
    from .runtime.threads import use_cpu_threads

    use_cpu_threads()
    try:  # under torchrun, every rank runs this; rank 0 alone returns a report
        report = run_pipeline(args.out, data=args.data, profile=args.profile, codec=args.codec,
                              m2l_weights=args.m2l_weights, cache_dir=args.cache, steps=args.train_steps,
                              restart=args.restart, precision=args.precision, eval_samples=args.eval_samples)
    finally:
        leave()
    if report:
        print(json.dumps({k: report[k] for k in ("data", "codec", "training", "seconds")}, indent=2))
        print(summary_of_evaluation(report.get("evaluation")))


def _generate(args, parser) -> None:
    from .generation import NoteGenerator, check_writable, checkpoint_id, note_files, write_notes

    labels = {"pitch": None if args.pitch == -1 else args.pitch, "source": args.source,
              "velocity": None if args.velocity == -1 else args.velocity}
    for name, low in (("pitch", 0), ("velocity", 1)):
        if labels[name] is not None and not low <= labels[name] <= 127:
            parser.error(f"--{name} {labels[name]}: give {low}-127 (or leave it out, or -1, for any)")
    if all(v is None for v in labels.values()) and args.guidance != 1.0:
        print(f"--guidance {args.guidance:g} has no effect without --pitch, --source or --velocity: "
              "the notes are unconditional.")
    if not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"No checkpoint at {args.checkpoint}; give a checkpoint.pt written by `run` (or "
                                "one in tutorial_lib/pretrained/).")
    how = dict(num=args.num, model_id=checkpoint_id(args.checkpoint), seed=args.seed, guidance=args.guidance,
               num_steps=args.num_steps, solver=args.solver, **labels)
    check_writable(args.out, names=[f.name for f in note_files(args.out, **how)])  # before the work, not after it
    generator = NoteGenerator.from_checkpoint(args.checkpoint, m2l_weights=args.m2l_weights)
    for warning in generator.label_warnings(**labels):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Model: {generator.trained_on}; codec {generator.space.codec.describe()}")
    files = write_notes(generator, args.out, **how)
    for path in files[:10]:
        print(path)
    if len(files) > 10:
        print(f"... and {len(files) - 10} more in {args.out}")


def _reflow(args, parser) -> None:
    from dataclasses import replace

    from .reflow import RECIPE, reflow_run
    from .runtime.threads import use_cpu_threads

    use_cpu_threads()
    config = replace(RECIPE, steps=args.train_steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    report = reflow_run(args.checkpoint, args.out, num_pairs=args.pairs, pair_steps=args.pair_steps,
                        guidance=args.guidance, seed=args.seed, config=config, restart=args.restart)
    print(json.dumps(report, indent=2))


def _synth(args, parser) -> None:
    from .data import write_synthetic_nsynth

    prof = PROFILES[args.profile]
    if prof.real_data:
        parser.error(f"profile {args.profile} uses the real NSynth data; pick ci or cpu")
    print(write_synthetic_nsynth(args.out, prof.instruments_per_source, prof.pitches, prof.velocities))


def _student_edition(args, parser) -> None:
    from .book.student import write_student_edition

    for path in write_student_edition(args.out, args.notebooks, force=args.force):
        print(path)


def _download(args, parser) -> None:
    from .data import download_nsynth_guitar

    print(download_nsynth_guitar(args.out))


COMMANDS = {"run": _run, "generate": _generate, "reflow": _reflow, "synth": _synth,
            "student-edition": _student_edition, "download": _download}

if __name__ == "__main__":
    sys.exit(main())
