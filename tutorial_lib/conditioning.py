"""What a note should be: pitch, source and velocity as inputs of the U-Net (chapter 6, "Control").

A :class:`Conditions` holds one label of each kind per example, as ``[B]`` integer tensors, with ``-1``
meaning "not given": a label the data folder lacks, one dropped during training, or one a user leaves
open when sampling. :class:`ConditionEmbedding` turns them into one vector per example that the U-Net
adds to its time embedding; each missing label is replaced by a learned "unknown" vector.

Classifier-free guidance (Ho & Salimans, 2022) needs one model that is both conditional and
unconditional. :func:`drop_labels` trains it that way: now and then every label of an example is
hidden, and sometimes single labels are, so the model also learns "any pitch" or "any source".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .data.labels import PITCH_RANGE, SOURCE_IDS, SOURCES, UNKNOWN, VELOCITY_RANGE


@dataclass
class Conditions:
    """Labels of a batch: ``pitch`` (MIDI 0-127), ``source`` (0 acoustic, 1 electronic, 2 synthetic) and
    ``velocity`` (1-127), each ``[B]`` long, ``-1`` where not given."""

    pitch: torch.Tensor
    source: torch.Tensor
    velocity: torch.Tensor

    @classmethod
    def make(cls, batch: int, *, pitch=None, source=None, velocity=None,
             device: torch.device | str | None = None) -> "Conditions":
        """``batch`` copies of the given labels (a number, a name for ``source``, or a ``[B]`` sequence);
        labels left as ``None`` are "not given"."""
        if isinstance(source, str):
            if source not in SOURCE_IDS:
                raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
            source = SOURCE_IDS[source]

        def column(value, name, low, high):
            if value is None:
                return torch.full((batch,), UNKNOWN, dtype=torch.long, device=device)
            out = torch.as_tensor(value, dtype=torch.long, device=device).reshape(-1).expand(batch).clone()
            given = out[out != UNKNOWN]
            if len(given) and (given.min() < low or given.max() > high):
                raise ValueError(f"{name} must lie in {low}-{high} (or -1 for 'not given'), got {out.tolist()}")
            return out

        return cls(pitch=column(pitch, "pitch", *PITCH_RANGE), source=column(source, "source", 0, len(SOURCES) - 1),
                   velocity=column(velocity, "velocity", *VELOCITY_RANGE))

    @classmethod
    def from_notes(cls, notes) -> "Conditions":
        """The labels of :class:`tutorial_lib.data.Note` objects (unknown sources become -1)."""
        return cls(pitch=torch.tensor([n.pitch for n in notes], dtype=torch.long),
                   source=torch.tensor([SOURCE_IDS.get(n.source, UNKNOWN) for n in notes], dtype=torch.long),
                   velocity=torch.tensor([n.velocity for n in notes], dtype=torch.long))

    def __len__(self) -> int:
        return len(self.pitch)

    def __getitem__(self, index) -> "Conditions":
        return Conditions(self.pitch[index], self.source[index], self.velocity[index])

    @staticmethod
    def cat(*batches: "Conditions") -> "Conditions":
        """One batch of the given batches, one after the other."""
        return Conditions(*(torch.cat([getattr(b, name) for b in batches]) for name in ("pitch", "source", "velocity")))

    def to(self, device) -> "Conditions":
        return Conditions(self.pitch.to(device), self.source.to(device), self.velocity.to(device))

    def unconditional(self) -> "Conditions":
        """The same batch with every label hidden (the second model call of guidance)."""
        return Conditions.make(len(self), device=self.pitch.device)

    def describe(self, i: int = 0) -> str:
        """``"pitch 60, acoustic, velocity 100"`` for example ``i`` ("any" for labels not given)."""
        p, s, v = (int(c[i]) for c in (self.pitch, self.source, self.velocity))
        return (f"pitch {p if p >= 0 else 'any'}, {SOURCES[s] if s >= 0 else 'any source'}, "
                f"velocity {v if v >= 0 else 'any'}")


def drop_labels(conditions: Conditions, *, p_all: float, p_each: float,
                generator: torch.Generator | None = None) -> Conditions:
    """Hides all labels of an example with probability ``p_all``, and each remaining one with ``p_each``."""
    batch = len(conditions)
    drop_all = torch.rand(batch, generator=generator) < p_all
    out = []
    for labels in (conditions.pitch, conditions.source, conditions.velocity):
        drop = drop_all | (torch.rand(batch, generator=generator) < p_each)  # drawn on the CPU
        out.append(torch.where(drop.to(labels.device), torch.full_like(labels, UNKNOWN), labels))
    return Conditions(*out)


def fourier_features(value: torch.Tensor, num: int, scale: float) -> torch.Tensor:
    """``[B]`` numbers -> ``[B, 2 num]`` sines and cosines of ``value / scale`` at octave-spaced rates.

    Nearby pitches (or velocities) get nearby features, so a pitch the model never heard still lands near
    its neighbours (though often a semitone off: chapter 6's edits measure it).
    """
    rates = math.pi * 2.0 ** torch.arange(num, device=value.device, dtype=torch.float32)
    angles = value.float()[:, None] / scale * rates[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ConditionEmbedding(nn.Module):
    """``Conditions`` -> ``[B, dim]``: the sum of a pitch, a source and a velocity embedding.

    Pitch and velocity go through Fourier features and a small MLP (smooth in the value); source is a
    lookup table. A label of -1 uses that label's learned "unknown" vector instead.
    """

    def __init__(self, dim: int, num_features: int = 8):
        super().__init__()
        self.num_features = num_features

        def mlp():
            return nn.Sequential(nn.Linear(2 * num_features, dim), nn.SiLU(), nn.Linear(dim, dim))

        self.pitch = mlp()
        self.velocity = mlp()
        self.source = nn.Embedding(len(SOURCES), dim)
        self.unknown = nn.Parameter(torch.zeros(3, dim))

    def forward(self, conditions: Conditions) -> torch.Tensor:
        parts = []
        for k, (labels, embed) in enumerate((
            (conditions.pitch, lambda c: self.pitch(fourier_features(c, self.num_features, 128.0))),
            (conditions.source, self.source),
            (conditions.velocity, lambda c: self.velocity(fourier_features(c, self.num_features, 128.0))),
        )):
            given = (labels >= 0)[:, None]
            parts.append(torch.where(given, embed(labels.clamp_min(0)), self.unknown[k]))
        return parts[0] + parts[1] + parts[2]
