"""The shipped models in the book's web pages: ONNX export, the page's noise, and what the page must know.

The rendered chapters 5, 6 and 6a make notes in the reader's browser, with no kernel: the page's JavaScript
(``_static/note_player/``) runs the U-Net that chapter 4 trained, exported here to ONNX, with
``onnxruntime-web`` (WebAssembly, in a Web Worker), then the Euler / Heun / midpoint steps of
:mod:`tutorial_lib.sampling` and the mel codec's decoder (:meth:`tutorial_lib.codec.MelCodec.decode`: NNLS,
then Griffin-Lim), written again in JavaScript. ``tests/test_web_model.py`` holds the exported graph to
:class:`~tutorial_lib.generation.NoteGenerator`; ``browser_tests/test_note_player.py`` holds the page to both.

* :class:`GuidedVelocity`: the graph the page runs: the model's classifier-free guided velocity, both branches
  in one batch (as :func:`tutorial_lib.sampling.guided` does), labels as int64 tensors with -1 for "any".
* :func:`web_noise`: the page's starting noise, a generator both Python and the page compute (MT19937, the
  generator of ``numpy.random.RandomState``, and Box-Muller), so a seed gives the same note in both.
* :func:`page_spec`: what the page needs beside the graphs (statistics, labels held, the decoder's settings).
* :func:`build_web_assets`: writes all of it, and the runtime's files, into the built book (``_ext``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..codec import MelCodec
from ..conditioning import Conditions
from ..generation import PRETRAINED_DIR, NoteGenerator
from ..runtime.files import file_fingerprint
from .web_runtime import RUNTIME_FILES, runtime_folder

#: The models the pages play: the page's name -> the shipped checkpoint (tutorial_lib/pretrained/).
WEB_MODELS = {"first": "cpu-long", "reflowed": "cpu-long-reflow"}
OPSET = 17
#: Where the built book keeps the page's files (relative to the book's output folder).
ASSETS = Path("_static") / "note_player_assets"


class GuidedVelocity(nn.Module):
    """``model`` as the page calls it: ``(x [B, 64, frames], t [B], pitch [B], source [B], velocity [B],
    guidance [1]) -> [B, 64, frames]``, the guided velocity ``u + w (c - u)`` of chapter 6.

    Labels are int64, -1 for "any" (source 0 acoustic, 1 electronic, 2 synthetic). Both branches run in one
    batch of ``2 B``; with every label -1 both are the unconditional model, which is what an unlabelled
    :meth:`NoteGenerator.sample_latents` integrates.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x, t, pitch, source, velocity, guidance):
        given = Conditions(pitch, source, velocity)
        both = Conditions.cat(given, Conditions(*(torch.full_like(c, -1) for c in (pitch, source, velocity))))
        conditional, unconditional = self.model(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
        return unconditional + guidance * (conditional - unconditional)


def export_onnx(model: nn.Module, path: str | Path, *, num_frames: int = 32) -> Path:
    """Writes ``GuidedVelocity(model)`` as an ONNX graph (opset 17, any batch size) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = GuidedVelocity(model.eval().cpu())
    b = 1
    example = (torch.zeros(b, model.config["in_channels"], num_frames), torch.ones(b),
               torch.full((b,), 60, dtype=torch.long), torch.zeros(b, dtype=torch.long),
               torch.full((b,), 100, dtype=torch.long), torch.ones(1))
    names = ["x", "t", "pitch", "source", "velocity", "guidance"]
    batch = {0: "batch"}
    temporary = path.with_name(f".{path.name}.partial")
    with torch.no_grad():
        torch.onnx.export(wrapper, example, str(temporary), dynamo=False, opset_version=OPSET, input_names=names,
                          output_names=["velocity_out"],
                          dynamic_axes={**{n: batch for n in names[:5]}, "velocity_out": batch})
    temporary.replace(path)
    return path


def web_noise(seed: int, shape: tuple[int, ...] = (1, 64, 32)) -> torch.Tensor:
    """``shape`` standard normal float32 noise, the page's (``_static/note_player/noise.mjs``) for ``seed``.

    ``2 n`` uniform numbers of MT19937 seeded with ``seed`` (``numpy.random.RandomState(seed).random_sample``,
    53 bits each), then Box-Muller: ``r = sqrt(-2 log(1 - u1))``, the pair ``r cos(2 pi u2), r sin(2 pi u2)``.
    """
    n = int(np.prod(shape))
    u = np.random.RandomState(seed).random_sample(2 * ((n + 1) // 2)).reshape(-1, 2)
    r, angle = np.sqrt(-2.0 * np.log1p(-u[:, 0])), 2.0 * np.pi * u[:, 1]
    pairs = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1).reshape(-1)[:n]
    return torch.from_numpy(pairs.astype(np.float32).reshape(shape))


def page_spec(generators: dict[str, NoteGenerator]) -> dict:
    """What the page needs beside the graphs, as plain values: the latent space (frames, the data's ``mean``
    and ``std`` ``[64]``, ``sigma_data``), the labels the models hold, and the mel decoder (sample rate, FFT
    size, hop, the filter bank as ``[start bin, weights]`` per band, NNLS and Griffin-Lim iterations)."""
    first = next(iter(generators.values()))
    codec = first.space.codec
    if not isinstance(codec, MelCodec):
        raise ValueError(f"The page decodes with the mel codec only; these models use {codec.name}.")
    for name, g in generators.items():
        if g.space.codec.cache_id != codec.cache_id or not torch.equal(g.space.mean, first.space.mean):
            raise ValueError(f"The web models must share one latent space; {name!r} does not.")
    bands = []
    for row in codec.basis:
        nonzero = np.flatnonzero(row)
        bands.append([int(nonzero[0]), [float(w) for w in row[nonzero[0]:nonzero[-1] + 1]]])
    return {
        "models": {name: {"file": f"{name}.onnx", "trained_on": str(g.trained_on), "sigma_data": g.flow.sigma_data}
                   for name, g in generators.items()},
        "num_frames": first.space.num_frames, "channels": codec.channels,
        "mean": first.space.mean.tolist(), "std": first.space.std.tolist(),
        "labels_held": first.labels_held,
        "solvers": {"euler": 1, "heun": 2, "midpoint": 2},
        "decoder": {"sample_rate": codec.sample_rate, "n_fft": codec.n_fft, "hop_length": codec.hop_length,
                    "eps": codec.eps, "nnls_iters": codec.nnls_iters, "griffin_lim_iters": codec.griffin_lim_iters,
                    "momentum": 0.99, "griffin_lim_seed": 0, "bands": bands},
    }


def build_web_assets(out: str | Path, *, cache: str | Path | None = None) -> dict:
    """Writes the page's files into ``out`` (the built book's ``_static/note_player_assets``): one ONNX graph
    per :data:`WEB_MODELS` entry (exported once per checkpoint and torch version, then copied from ``cache``),
    ``spec.json`` and onnxruntime-web's files (``ort/``). Returns ``{file name: bytes}``."""
    from ..runtime.files import default_cache_dir

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache) if cache else default_cache_dir() / "web"
    generators = {}
    for name, stem in WEB_MODELS.items():
        checkpoint = PRETRAINED_DIR / f"{stem}.pt"
        generators[name] = NoteGenerator.from_checkpoint(checkpoint)
        key = f"{stem}-{file_fingerprint(checkpoint, length=12)}-torch{torch.__version__}-opset{OPSET}.onnx"
        if not (cache / key).is_file():
            export_onnx(generators[name].model, cache / key, num_frames=generators[name].space.num_frames)
        shutil.copyfile(cache / key, out / f"{name}.onnx")
    (out / "spec.json").write_text(json.dumps(page_spec(generators)))
    runtime = runtime_folder()
    (out / "ort").mkdir(exist_ok=True)
    for name in RUNTIME_FILES:
        shutil.copyfile(runtime / name, out / "ort" / name)
    return {str(p.relative_to(out)): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}
