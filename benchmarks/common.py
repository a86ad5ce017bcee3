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
    """The offline codec before its mel break moved down to 200 Hz: librosa's Slaney mel bands (same 64 bands over 30-4000 Hz,
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


#: The figures a model table reports (tutorial_lib.evaluation's keys), with their column headers: pitch as the
#: median cents off and the shares within 25 and 50 cents, decay against the note's own pitch region and pooled,
#: the note shape, and the classifier's FD (beside its floor) and pitch accuracy.
FIGURE_COLUMNS = {"median_cents_off": "median cents off (CREPE tiny)", "pitch_within_25_cents": "within 25 c",
                  "pitch_accuracy": "within 50 c", "decay_inside_pitch": "decay inside, own pitch region",
                  "decay_inside": "decay inside, all pitches", "decay_median_s": "median decay s",
                  "shape_distance": "shape distance", "classifier_fd": "classifier FD",
                  "classifier_pitch_accuracy": "classifier pitch acc"}


def figure_cells(values: dict) -> list[str]:
    """``mean +- std`` cells for ``{key: [one figure per seed]}`` in FIGURE_COLUMNS' order."""
    import numpy as np

    return [f"{np.mean(values[k]):.{1 if k == 'median_cents_off' else 2}f} +- "
            f"{np.std(values[k]):.{1 if k == 'median_cents_off' else 2}f}" for k in FIGURE_COLUMNS]


#: Noise seeds already spent: 1 (every setting was chosen on it) and 2-4 (the first "held-out" seeds, reused
#: through at least seven reruns). Claims no longer rest on them.
SPENT_SEEDS = (1, 2, 3, 4)
#: Noise seeds of the committed figures (first used by the rerun that made them, chosen by nothing).
HELD_OUT_SEEDS = (5, 6, 7)
#: Noise seeds no one has looked at: keep them for the next claim, then move them to HELD_OUT_SEEDS.
FRESH_SEEDS = (11, 12, 13)
#: What a held-out seed holds out: the noise only. The labels asked (every validation label once,
#: tutorial_lib.evaluation.labels_to_ask) and the reference (the validation notes) are those the settings were
#: chosen with.
HELD_OUT = "the noise only (labels asked and reference notes as when the settings were chosen)"


def _scored(latents, asked, prepared, reference, seed: int):
    """``(latents, EvalReport)``: ``latents`` scored by tutorial_lib.evaluation as notes asked for ``asked``
    (a Conditions or ``{"pitch", "source"}``), every note decoded and heard."""
    from tutorial_lib.evaluation import evaluate

    labels = asked if isinstance(asked, dict) else {"pitch": asked.pitch, "source": asked.source}
    return latents, evaluate(latents=latents, reference=reference, to_audio=prepared.to_audio,
                             conditions=labels, num_audio=len(latents), seed=seed)


def held_out_reports(generator, asked, prepared, reference, *, guidance: float = 1.0, seeds=HELD_OUT_SEEDS):
    """Conditional notes of ``generator`` (a tutorial_lib.generation.NoteGenerator) for the labels ``asked``
    (Euler 50 steps) from each of ``seeds``, each scored by tutorial_lib.evaluation against ``reference`` (every
    note decoded): a list of ``(latents, EvalReport)``."""
    return [_scored(generator.sample_latents(len(asked), seed=seed, conditions=asked, guidance=guidance,
                                             num_steps=50), asked, prepared, reference, seed)
            for seed in seeds]


def same_label_reports(asked, prepared, reference, *, seeds=HELD_OUT_SEEDS):
    """The same-label data reference beside :func:`held_out_reports`: for each seed, training notes with the labels
    ``asked`` (tutorial_lib.evaluation.same_label_notes, a random instrument per seed), each scored against its own
    label (a label no training note holds is filled by the nearest pitch, scored as that pitch): a list of
    ``(latents, EvalReport, exact)``, ``exact`` counting picks with exactly the asked label.

    It is what a model that reproduced its training notes would score, not a ceiling: a model can beat it on pitch
    (the tracker's errors on training notes count against it), and its FD is low because these notes are part of
    the FD's own reference (the training notes)."""
    from tutorial_lib.evaluation import same_label_notes

    held, latents = prepared.conditions("train"), prepared.data.train.latents
    out = []
    for seed in seeds:
        picks, labels, exact = same_label_notes(asked, held, seed=seed)
        out.append((*_scored(latents[torch.from_numpy(picks)], labels, prepared, reference, seed), exact))
    return out

