"""Shared by the benchmark scripts: machine facts, and writing results as JSON plus a markdown table."""

import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "device": "cpu"}
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(0)
    return info


def write(name: str, results: dict, table_header: list[str], table_rows: list[list], notes: str = "",
          folder: Path | None = None) -> Path:
    """``results/<name>.json`` (with machine and command) and ``results/<name>.md`` (a table); ``folder``
    replaces ``results/``. Without ``--write`` on the command line, results go to ``results/scratch/``, so that a
    trial run leaves the committed figures alone."""
    if folder is None:
        folder = RESULTS if "--write" in sys.argv else RESULTS / "scratch"
    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    payload = {"benchmark": name, "command": "python " + " ".join(sys.argv), "machine": machine(),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **results}
    (folder / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str))
    lines = [f"# {name}", "", f"`{payload['command']}` on {payload['machine']['device']} "
             f"({payload['machine']['cpu_count']} CPUs, torch {payload['machine']['torch']}), {payload['date']}", ""]
    lines += ["| " + " | ".join(table_header) + " |", "|" + " --- |" * len(table_header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table_rows]
    if notes:
        lines += ["", notes]
    (folder / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return folder / f"{name}.json"


def slaney_mel_codec():
    """The offline codec as it was until November 2026: librosa's Slaney mel bands (same 64 bands over 30-4000 Hz,
    floor 1e-3), with its own cache id so its latents never mix with the codec's own."""
    import librosa
    import numpy as np

    from tutorial_lib.codec import MelCodec

    class SlaneyMelCodec(MelCodec):
        @property
        def cache_id(self) -> str:
            return super().cache_id.replace(f"break{self.break_hz:g}", "slaney")

    codec = SlaneyMelCodec()
    codec.basis = librosa.filters.mel(sr=codec.sample_rate, n_fft=codec.n_fft, n_mels=codec.channels,
                                      fmin=codec.fmin, fmax=codec.fmax).astype(np.float64)
    codec.basis_pinv = np.linalg.pinv(codec.basis)
    return codec


HELD_OUT_SEEDS = (2, 3, 4)  # noise seeds no setting was chosen on (the settings were chosen on seed 1)


def _scored(latents, asked, prepared, reference, seed: int):
    """``(latents, EvalReport)``: ``latents`` scored by tutorial_lib.evaluation as notes asked for ``asked``."""
    from tutorial_lib.evaluation import evaluate

    return latents, evaluate(latents=latents, reference=reference, to_audio=prepared.to_audio,
                             conditions={"pitch": asked.pitch, "source": asked.source}, seed=seed)


def held_out_reports(model, flow, asked, prepared, reference, *, guidance: float = 1.0, num_frames: int = 32):
    """Conditional notes for the labels ``asked`` (Euler 50 steps) from each of ``HELD_OUT_SEEDS``, each scored by
    tutorial_lib.evaluation against ``reference``: a list of ``(latents, EvalReport)``, one per seed."""
    from tutorial_lib.sampling import generate

    return [_scored(generate(model, len(asked), num_frames, seed=seed, num_steps=50, flow=flow, conditions=asked,
                             guidance=guidance).samples.cpu(), asked, prepared, reference, seed)
            for seed in HELD_OUT_SEEDS]


def training_note_reports(asked, prepared, reference):
    """The ceiling beside :func:`held_out_reports`: for each noise seed, training notes with the labels ``asked``
    (tutorial_lib.evaluation.notes_with_labels, a random instrument per seed), scored as generated notes are: a list of
    ``(latents, EvalReport)``. A model that reproduced its training notes exactly would score these figures."""
    from tutorial_lib.evaluation import notes_with_labels

    held, latents = prepared.conditions("train"), prepared.data.train.latents
    return [_scored(latents[torch.from_numpy(notes_with_labels(asked, held, seed=seed))], asked, prepared, reference,
                    seed) for seed in HELD_OUT_SEEDS]
