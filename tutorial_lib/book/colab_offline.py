"""Chapters run the way Colab runs them, offline and tiny: ``python -m tutorial_lib.book.colab_offline``.

Colab's route through a chapter is its Colab cell (``google.colab`` imported: profile ``colab``, the plan, the
no-GPU message) and then the chapter with the real NSynth download and Music2Latent. Here, in every process
(notebook kernels too, through ``colab_offline_site/sitecustomize.py``):

* ``google.colab`` is an importable module, so the Colab cell runs its Colab branch;
* profile ``colab`` is shrunk to :data:`TINY` (a few notes, 32 frames, a few training steps; its name stays);
* the NSynth guitar archive comes from a local HTTP server, in NSynth's layout, with its own checksum;
* Music2Latent is the package's own network class with random weights, from a file (no download), built at
  :data:`TINY_M2L` (0.4 % of its parameters: its full size decodes a note in several seconds on a CPU).

Everything else is the library's and the chapter's own code. ``bash scripts/book.sh --profile colab-offline``
(run by ``scripts/test.sh``) builds the whole book this way; for a chapter at a time::

    python -m tutorial_lib.book.colab_offline                     # every chapter; seconds per chapter
    python -m tutorial_lib.book.colab_offline 02_dataset --timeout 600
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import os
import sys
import tempfile
import threading
import time
import types
import zipfile
from pathlib import Path

ENV = "TUTORIAL_LIB_COLAB_OFFLINE"  # JSON: {"url", "sha256", "weights"}, set by main() for its kernels
SITE = Path(__file__).with_name("colab_offline_site")
#: The colab profile, tiny: every served note (12 + 3 of 4 s, as NSynth's), 32 frames (the original tutorial's U-Net
#: needs a multiple of 32), 4 training steps of 4.
TINY = dict(num_frames=32, steps=4, batch_size=4, eval_every=2, checkpoint_every=2, warmup_steps=1, num_samples=2,
            num_steps=2, eval_notes=8, eval_audio=8, reflow_pairs=64, reflow_steps=8)
#: Music2Latent's own hyperparameters (``music2latent.hparams``), shrunk: 0.23 M parameters instead of 58 M (a
#: 3 s note decodes in 0.2 s on one thread instead of about 8 s).
TINY_M2L = dict(base_channels=4, bottleneck_base_channels=32, cond_channels=32, heads=1, num_bottleneck_layers=1,
                layers_list=[1, 1, 1, 1, 1])
#: Served notes: one instrument per source and split; the labels the chapters look for (velocity 127, pitches
#: above and below MIDI 52...).
NOTES = {"train": [(source, i, pitch, velocity) for i, source in enumerate(("acoustic", "electronic", "synthetic"))
                   for pitch in (45, 57) for velocity in (75, 127)],
         "valid": [(source, 5 + i, 57, 127) for i, source in enumerate(("acoustic", "electronic", "synthetic"))]}


def shrink_music2latent() -> None:
    """Builds every later ``music2latent.models.UNet()`` of this process at :data:`TINY_M2L`'s sizes."""
    import music2latent.models

    for name, value in TINY_M2L.items():
        setattr(music2latent.models, name, value)


#: What the pages say of the served notes.
SERVED = ("synthetic plucked notes in NSynth's layout, downloaded as NSynth's archive from a server on this machine "
          "(an offline test of the Colab path)")


def write_fixture(folder: Path) -> tuple[Path, dict[str, str], Path]:
    """Writes the served archive (``NSYNTH_GUITAR_MP3.zip`` of 4 s plucked MP3 notes, and its parts list) and a
    ``music2latent.pt`` of random weights (:data:`TINY_M2L`) under ``folder``; returns ``(served folder, sha256
    per part, weights)``."""
    import numpy as np
    import soundfile as sf
    import torch
    from music2latent.models import UNet

    shrink_music2latent()
    from ..data.synth import pluck, random_guitar

    sizes = hashlib.sha256(json.dumps(TINY_M2L, sort_keys=True).encode()).hexdigest()[:8]
    served, weights = folder / "served", folder / f"music2latent-tiny-{sizes}.pt"  # new sizes, a new file
    served.mkdir(parents=True, exist_ok=True)
    archive = served / "NSYNTH_GUITAR_MP3.zip"
    if not archive.is_file():
        rng = np.random.default_rng(0)
        with zipfile.ZipFile(archive, "w") as zf:
            for split, notes in NOTES.items():
                for source, instrument, pitch, velocity in notes:
                    name = f"guitar_{source}_{instrument:03d}-{pitch:03d}-{velocity:03d}"
                    audio = pluck(random_guitar(name, source, rng), pitch, velocity, rng, duration=4.0)
                    path = folder / f"{name}.mp3"
                    sf.write(path, audio, 16_000, format="MP3")
                    zf.write(path, f"NSYNTH_GUITAR_MP3/nsynth-guitar-{split}/{name}.mp3")
                    path.unlink()
        (served / "NSYNTH_GUITAR_MP3.txt").write_text("NSYNTH_GUITAR_MP3.zip\n")
    if not weights.is_file():
        torch.manual_seed(0)
        torch.save({"gen_state_dict": UNet().state_dict()}, weights)
    sha256 = {archive.name: hashlib.sha256(archive.read_bytes()).hexdigest()}
    return served, sha256, weights


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """``folder`` over HTTP on 127.0.0.1 (a daemon thread); returns the server and its address."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def install(settings: dict | None = None) -> None:
    """Makes this process Colab-like (see the module's docstring); ``settings`` default: ``$TUTORIAL_LIB_COLAB_OFFLINE``."""
    settings = settings or json.loads(os.environ[ENV])
    colab = types.ModuleType("google.colab")
    try:  # a namespace package where protobuf is installed (onnx needs it): add to it, never replace it
        import google
    except ImportError:
        google = sys.modules["google"] = types.ModuleType("google")
    sys.modules["google.colab"] = google.colab = colab
    os.environ["M2L_WEIGHTS"] = settings["weights"]
    shrink_music2latent()
    from .. import codec, pipeline, profiles
    from ..data.download import download_nsynth_guitar

    profiles.PROFILES["colab"] = profiles.get_profile("colab", **TINY)
    pipeline.download_nsynth_guitar = functools.partial(download_nsynth_guitar, raw_url=settings["url"],
                                                        media_url=settings["url"], sha256=settings["sha256"])
    # Every output says what made it: here, not NSynth's notes nor Music2Latent's trained weights.
    resolve_data, describe = pipeline.resolve_data, codec.Music2LatentCodec.describe

    def resolve_served(profile, data, *args, **kwargs):
        folder, said = resolve_data(profile, data, *args, **kwargs)
        return folder, (SERVED if profile.real_data and data is None else said)

    pipeline.resolve_data = resolve_served
    codec.Music2LatentCodec.describe = lambda self: (
        f"{describe(self)}, its network at 0.4 % of its size with random weights (an offline test: it makes no music)")


def run_chapter(path: Path, timeout: int) -> tuple[float, str]:
    """Executes the notebook at ``path`` (a copy; the file is untouched); returns ``(seconds, error or "")``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        error = ""
    except CellTimeoutError:
        error = f"a cell ran over {timeout} s"
    except CellExecutionError as failure:
        import re

        lines = re.sub(r"\x1b\[[0-9;]*m", "", str(failure)).strip().splitlines()
        error = "\n    ".join(lines[-12:])  # the failing line and the error's last frames
    return time.perf_counter() - start, error


def start(work: Path) -> tuple[http.server.ThreadingHTTPServer, dict[str, str]]:
    """Writes the fixture under ``work``, serves it, and returns the server and the settings that make the
    processes started with them Colab-like (``os.environ.update`` them; ``server.shutdown()`` when done)."""
    served, sha256, weights = write_fixture(work)
    httpd, url = serve(served)
    return httpd, {ENV: json.dumps({"url": url, "sha256": sha256, "weights": str(weights)}),
                   "TUTORIAL_LIB_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="notebook names (default: every notebooks/*.ipynb)")
    parser.add_argument("--notebooks", default="notebooks")
    parser.add_argument("--work", help="folder for the served data, the weights and the cache (default: a temporary one)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds a cell may run")
    args = parser.parse_args(argv)
    paths = sorted(Path(args.notebooks).glob("*.ipynb"))
    if args.chapters:
        paths = [p for p in paths if p.stem in args.chapters]
    httpd, settings = start(Path(args.work or tempfile.mkdtemp(prefix="colab-offline-")))
    os.environ.update(settings)
    failed = 0
    try:
        for path in paths:
            seconds, error = run_chapter(path.resolve(), args.timeout)
            failed += bool(error)
            print(f"{path.stem}: {seconds:.0f} s" + (f", FAILED: {error}" if error else ", passed"), flush=True)
    finally:
        httpd.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
