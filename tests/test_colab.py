"""The Colab route's Drive cache: a new session unpacks the notes again, yet reuses latents and checkpoints."""

import shutil
import time
import zipfile

from tutorial_lib.data.download import keep_archive_times
from tutorial_lib.pipeline import prepare, train_model
from tutorial_lib.profiles import get_profile


def test_a_new_session_reuses_the_latents_and_the_trained_model(tiny_nsynth, tmp_path):
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(tiny_nsynth.rglob("*.wav")):
            zf.write(path, path.relative_to(tiny_nsynth.parent))
    data, drive = tmp_path / "content" / "data", tmp_path / "drive"  # the machine's disk; Google Drive
    profile = get_profile("ci", steps=3, eval_every=3, checkpoint_every=3)

    def session(keep_times=True):
        shutil.rmtree(data, ignore_errors=True)
        time.sleep(0.02)  # a later session: files unpacked now get other times
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(data)
            if keep_times:
                keep_archive_times(zf, data)
        prepared = prepare(profile, data=data / tiny_nsynth.name, codec="mel", cache_dir=drive, progress=False)
        return prepared, train_model(prepared, progress=False)

    first, trained = session()
    assert first.data.reports["train"].encoded > 0
    written = trained.checkpoint_path.stat().st_mtime_ns
    again, reloaded = session()
    assert again.data.reports["train"].encoded == 0 and again.data.reports["train"].cached > 0
    assert reloaded.checkpoint_path == trained.checkpoint_path and drive in trained.checkpoint_path.parents
    assert reloaded.history.train_loss == trained.history.train_loss
    assert trained.checkpoint_path.stat().st_mtime_ns == written  # reloaded, not trained (or written) again
    # Known-bad: unpacked without the archive's times, every note looks new and is encoded again.
    fresh, _ = session(keep_times=False)
    assert fresh.data.reports["train"].cached == 0


def run_colab_cells(notebook, monkeypatch, *, cuda: bool):
    """Runs a chapter's first two code cells (parameters, then the Colab cell) as Colab would: with
    ``google.colab`` imported and torch seeing CUDA or not. ``%pip`` lines are recorded, not run.
    Returns ``(namespace, magics run)``."""
    import json
    import sys
    import types

    import torch
    from IPython.core.inputtransformer2 import TransformerManager

    magics = []

    class Shell:
        def run_line_magic(self, name, line, *args):
            magics.append(f"%{name} {line}")

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    namespace = {"get_ipython": Shell}
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    for cell in cells[:2]:
        exec(TransformerManager().transform_cell("".join(cell["source"])), namespace)
    return namespace, magics


def test_the_colab_cell_on_a_cpu_runtime_says_first_to_switch_and_what_the_cpu_would_cost(monkeypatch, capsys):
    from pathlib import Path

    from tutorial_lib.book.chapters import cpu_chapter_estimate
    from tutorial_lib.runtime.estimates import duration_text

    notebook = Path(__file__).resolve().parent.parent / "notebooks" / "01_codec.ipynb"
    namespace, _ = run_colab_cells(notebook, monkeypatch, cuda=False)
    out = capsys.readouterr().out
    assert namespace["PROFILE"] == "colab"
    first = out.splitlines()[0]
    cpu = cpu_chapter_estimate(get_profile("colab"), "01_codec")
    assert first.startswith("NO GPU in this runtime") and "Runtime > Change runtime type > T4 GPU" in first
    assert f"about {duration_text(60 * cpu.minutes)}" in first and cpu.minutes > 60  # Music2Latent on 6,000 notes
    assert 'PROFILE = "cpu"' in first
    # With a GPU, the plan alone.
    run_colab_cells(notebook, monkeypatch, cuda=True)
    assert "NO GPU" not in capsys.readouterr().out
