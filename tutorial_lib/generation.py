"""From a trained model to notes you can hear (chapters 5, "ODE sampling", and 6, "Control").

* :class:`LatentSpace`: the codec and the training set's per-channel statistics; its :meth:`~LatentSpace.to_audio`
  is the one place that undoes the standardisation and decodes.
* :class:`NoteGenerator`: a trained (EMA) model, the flow it learned and its latent space, rebuilt from a
  checkpoint alone; :meth:`~NoteGenerator.generate` samples notes with or without labels and guidance.
* :func:`write_wav`: writes a note, and says what is in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .codec import Codec, load_codec
from .conditioning import Conditions
from .flow import RectifiedFlow
from .sampling import generate


@dataclass
class LatentSpace:
    """What turns standardised latents into audio: ``codec``, the training set's ``mean``/``std`` ``[64]``
    and the number of frames the model works on."""

    codec: Codec
    mean: torch.Tensor
    std: torch.Tensor
    num_frames: int
    data_source: str = ""

    def to_audio(self, latents: torch.Tensor) -> list[np.ndarray]:
        """Standardised latents ``[N, 64, frames]`` (or ``[64, frames]``) -> N waveforms ``[samples]``."""
        latents = latents.detach().float().cpu()
        latents = latents if latents.ndim == 3 else latents[None]
        raw = latents * self.std[:, None] + self.mean[:, None]
        return [self.codec.decode(z) for z in raw]

    def describe(self) -> dict:
        """Plain values for a checkpoint (see :meth:`NoteGenerator.from_checkpoint`)."""
        return {"codec": self.codec.name, "codec_id": self.codec.cache_id, "mean": self.mean.clone(),
                "std": self.std.clone(), "num_frames": self.num_frames, "data_source": self.data_source}


@dataclass
class NoteGenerator:
    """A trained model with everything needed to go from noise to audio."""

    model: torch.nn.Module
    flow: RectifiedFlow
    space: LatentSpace
    trained_on: str = ""

    @property
    def conditioned(self) -> bool:
        return bool(getattr(self.model, "config", {}).get("conditioned"))

    def generate(self, num: int, *, seed: int = 0, pitch: int | None = None, source: str | int | None = None,
                 velocity: int | None = None, guidance: float = 1.0, sample_steps: int = 50,
                 solver: str = "euler") -> tuple[torch.Tensor, list[np.ndarray]]:
        """``num`` notes: standardised latents ``[num, 64, frames]`` and their waveforms.

        Labels left as ``None`` are not given; with none given, the model samples unconditionally.
        """
        labels = {"pitch": pitch, "source": source, "velocity": velocity}
        conditions = None
        if any(v is not None for v in labels.values()):
            if not self.conditioned:
                raise ValueError("This model was trained without labels, so it cannot take --pitch, --source or "
                                 "--velocity; train a conditioned model (the ci and cpu profiles are).")
            conditions = Conditions.make(num, **labels)
        latents = generate(self.model, num, self.space.num_frames, seed=seed, num_steps=sample_steps, solver=solver,
                           flow=self.flow, conditions=conditions, guidance=guidance).samples.cpu()
        return latents, self.space.to_audio(latents)

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, m2l_weights: str | None = None,
                        device: str = "cpu") -> "NoteGenerator":
        """Rebuilds the EMA model, its flow and its latent space from a checkpoint written by ``run``."""
        from .checkpoints import load_checkpoint

        _, ema_model, state = load_checkpoint(path, device)
        space = (state.get("extra") or {}).get("latent_space")
        if space is None:
            raise ValueError(f"The checkpoint {path} does not record its latent space (codec and statistics), so "
                             "its samples cannot be decoded. Write it with `python -m tutorial_lib run` or "
                             "pipeline.train_model, which record it.")
        codec = load_codec(space["codec"], checkpoint=m2l_weights, verbose=False)
        if codec.cache_id != space["codec_id"]:
            raise ValueError(f"The checkpoint {path} was trained on latents of {space['codec_id']}, but this "
                             f"machine's codec is {codec.cache_id}; decode with the same codec settings.")
        flow = RectifiedFlow(**state["flow"])
        steps = state.get("step", 0)
        trained_on = f"{steps} training steps on {space.get('data_source') or 'unknown data'}"
        return cls(model=ema_model.eval(), flow=flow, trained_on=trained_on,
                   space=LatentSpace(codec, space["mean"], space["std"], space["num_frames"], space.get("data_source", "")))


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> dict:
    """Writes 16-bit audio, scaled down (never up) if it would clip. Returns what is in the file:
    ``{"file", "seconds", "rms", "peak", "scaled_by"}`` (``rms`` and ``peak`` after scaling)."""
    import soundfile as sf

    audio = np.asarray(audio, dtype=np.float32)
    if not np.isfinite(audio).all():
        raise ValueError(f"Not writing {path}: the audio holds NaN or infinite values.")
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    scale = 0.99 / peak if peak > 0.99 else 1.0
    audio = audio * scale
    sf.write(str(path), audio, sample_rate, subtype="PCM_16")
    return {"file": Path(path).name, "seconds": round(len(audio) / sample_rate, 2),
            "rms": round(float(np.sqrt(np.mean(audio ** 2))) if audio.size else 0.0, 5),
            "peak": round(float(np.abs(audio).max()) if audio.size else 0.0, 4), "scaled_by": round(scale, 4)}


#: Checkpoints that ship with the package (tutorial_lib/pretrained/, each with its README entry and report).
PRETRAINED_DIR = Path(__file__).parent / "pretrained"


def strip_checkpoint(path: str | Path, dest: str | Path) -> Path:
    """A copy of a training checkpoint with only what sampling needs (the EMA weights, the run's description,
    history and latent space): about a third of the size; it can be sampled but not resumed."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state["model"] = state["ema"]  # sampling uses the EMA; one copy of the weights is enough
    state.pop("optimizer", None)
    state["stripped"] = True
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, dest)
    return dest


def load_pretrained(name: str = "cpu-long", *, codec: Codec | None = None) -> NoteGenerator | None:
    """The shipped model ``name`` (see ``tutorial_lib/pretrained/README.md``), or ``None`` with a printed
    reason when it cannot be used here: it decodes only with the codec it was trained with (if ``codec`` is
    given, its ``cache_id`` must match)."""
    path = PRETRAINED_DIR / f"{name}.pt"
    if not path.is_file():
        available = sorted(p.stem for p in PRETRAINED_DIR.glob("*.pt"))
        raise FileNotFoundError(f"No shipped model {name!r} in {PRETRAINED_DIR}; available: {available or 'none'}.")
    generator = NoteGenerator.from_checkpoint(path)
    if codec is not None and codec.cache_id != generator.space.codec.cache_id:
        print(f"The shipped model {name!r} was trained on {generator.space.codec.describe()} latents; this chapter "
              f"runs with {codec.describe()}, so it is not played here.")
        return None
    return generator
