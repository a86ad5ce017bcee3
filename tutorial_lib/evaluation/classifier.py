"""An evaluation classifier on latents: the NSynth literature's way to score samples (chapter 5).

GANSynth (Engel et al. 2019) trains a pitch classifier on the real data, then reports for generated notes
its pitch accuracy and entropy, the Inception score, and a Frechet distance between generated and real
notes in its embedding. We do the same on the standardised latents ``[N, 64, frames]`` the flow learns,
with a small 1-D conv net (pitch head, and a source head: acoustic / electronic / synthetic). Unlike
per-channel means and stds, its features see *when* things happen: shuffled or reversed notes score far.

:func:`load_or_train_classifier` trains it (well under a minute on a CPU for the offline data; on the GPU
when there is one) and caches it under ``$TUTORIAL_LIB_CACHE/eval_classifier/``, keyed by the data it saw.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..data.labels import NUM_SOURCES
from ..runtime import work
from ..runtime.devices import model_device, pick_device
from ..runtime.files import default_cache_dir, fingerprint, safe_name, save_atomically
from .metrics import frechet_distance


@dataclass(frozen=True)
class ClassifierConfig:
    """Sizes and training schedule of the evaluation classifier."""

    width: int = 128
    embed_dim: int = 64
    pooled_frames: int = 8  # the time axis is pooled to this many steps, then flattened: order matters
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-3
    input_noise: float = 0.1  # Gaussian noise added to inputs while training (robustness to samples)
    seed: int = 0


class LatentClassifier(nn.Module):
    """``[N, 64, frames]`` latents -> pitch logits ``[N, P]``, source logits ``[N, 3]``, embedding ``[N, E]``."""

    def __init__(self, *, channels: int, num_pitches: int, config: ClassifierConfig):
        super().__init__()
        w = config.width
        self.features = nn.Sequential(
            nn.Conv1d(channels, w, 3, padding=1), nn.GELU(),
            nn.Conv1d(w, w, 4, stride=2, padding=1), nn.GELU(),
            nn.Conv1d(w, w, 3, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool1d(config.pooled_frames), nn.Flatten(),
            nn.Linear(w * config.pooled_frames, config.embed_dim), nn.GELU(),
        )
        self.pitch_head = nn.Linear(config.embed_dim, num_pitches)
        self.source_head = nn.Linear(config.embed_dim, NUM_SOURCES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        embedding = self.features(x)
        return self.pitch_head(embedding), self.source_head(embedding), embedding


@dataclass
class EvalClassifier:
    """A trained :class:`LatentClassifier` with its pitch classes (``pitches[k]`` is class k's MIDI number)."""

    model: LatentClassifier
    pitches: np.ndarray  # [P] MIDI numbers of the classes
    has_source: bool
    config: ClassifierConfig
    train_seconds: float
    valid_pitch_accuracy: float  # on the validation notes it never saw
    valid_source_accuracy: float

    @torch.inference_mode()
    def predict(self, latents, *, batch_size: int = 256) -> dict[str, np.ndarray]:
        """``latents [N, 64, frames]`` (standardised) -> ``{"pitch_probs" [N, P], "source_probs" [N, 3],
        "embedding" [N, E]}`` (each batch runs on the classifier's device; the results are NumPy arrays)."""
        self.model.eval()
        x = torch.as_tensor(latents, dtype=torch.float32)
        device = model_device(self.model, x.device)
        out = {"pitch_probs": [], "source_probs": [], "embedding": []}
        for start in range(0, len(x), batch_size):
            pitch, source, embedding = self.model(x[start:start + batch_size].to(device))
            out["pitch_probs"].append(pitch.softmax(-1))
            out["source_probs"].append(source.softmax(-1))
            out["embedding"].append(embedding)
        return {k: torch.cat(v).double().cpu().numpy() for k, v in out.items()}

    def pitch_class(self, midi) -> np.ndarray:
        """``[N]`` class index of each MIDI pitch (-1 for pitches the classifier never saw)."""
        lookup = {int(p): k for k, p in enumerate(self.pitches)}
        return np.array([lookup.get(int(p), -1) for p in np.asarray(midi)])


def inception_score(probs: np.ndarray) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))`` of class probabilities ``[N, C]``: high when each note is clearly one
    class and the batch covers many classes (at most C)."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    marginal = probs.mean(0, keepdims=True)
    return float(np.exp(np.mean(np.sum(probs * (np.log(probs) - np.log(marginal)), axis=1))))


def classifier_figures(classifier: EvalClassifier, latents, *, train_embedding: np.ndarray,
                       pitch=None, source=None) -> dict:
    """Classifier-based figures of a set of notes.

    Args:
        latents: ``[N, 64, frames]`` standardised latents.
        train_embedding: ``[M, E]`` embeddings of the training notes (the Frechet distance's reference).
        pitch, source: ``[N]`` requested MIDI pitches / source ids, for conditional accuracy (optional;
            entries of -1, "not given", are left out).

    Returns:
        ``{"fd", "inception_score", "pitch_entropy_bits", "pitch_confidence"}`` plus ``"pitch_accuracy"`` /
        ``"source_accuracy"`` when ``pitch`` / ``source`` are given.
    """
    out = classifier.predict(latents)
    probs = out["pitch_probs"]
    predicted = probs.argmax(1)
    _, counts = np.unique(predicted, return_counts=True)
    p = counts / counts.sum()
    figures = {"fd": frechet_distance(out["embedding"], train_embedding),
               "inception_score": inception_score(probs),
               "pitch_entropy_bits": float(-(p * np.log2(p)).sum()),
               "pitch_confidence": float(probs.max(1).mean())}
    if pitch is not None:  # requested pitches the classifier never saw count as misses; -1 (none) is left out
        known = np.asarray(pitch) >= 0
        hits = predicted == classifier.pitch_class(pitch)
        figures["pitch_accuracy"] = float(np.mean(hits[known])) if known.any() else float("nan")
    if source is not None and classifier.has_source:
        known = np.asarray(source) >= 0
        hits = out["source_probs"].argmax(1) == np.asarray(source)
        figures["source_accuracy"] = float(np.mean(hits[known])) if known.any() else float("nan")
    return figures


def _accuracy(model, x, pitch_targets, source_targets) -> tuple[float, float]:
    device = model_device(model, x.device)
    x, pitch_targets, source_targets = x.to(device), pitch_targets.to(device), source_targets.to(device)
    model.eval()
    with torch.inference_mode():
        pitch_logits, source_logits, _ = model(x)
    known = pitch_targets >= 0
    pitch_acc = float((pitch_logits.argmax(1) == pitch_targets)[known].float().mean()) if known.any() else float("nan")
    has = source_targets >= 0
    source_acc = float((source_logits.argmax(1) == source_targets)[has].float().mean()) if has.any() else float("nan")
    return pitch_acc, source_acc


def train_classifier(*, train_latents, train_pitch, train_source=None, valid_latents=None, valid_pitch=None,
                     valid_source=None, config: ClassifierConfig = ClassifierConfig(),
                     device: str | torch.device = "auto") -> EvalClassifier:
    """Trains a :class:`LatentClassifier` on standardised latents ``[N, 64, frames]``.

    Args:
        train_pitch: ``[N]`` MIDI pitches (the classes are the distinct ones).
        train_source: ``[N]`` source ids 0-2, -1 where unknown (or None: no source head is trained).
        valid_*: held-out notes, only to report the classifier's own accuracy.
        device: where it trains and stays (``"auto"``: the GPU if there is one, see
            :func:`~tutorial_lib.runtime.devices.pick_device`). The shuffles and noise are drawn on the CPU, so a
            CPU run gives the same classifier as ever.
    """
    clock = time.perf_counter()
    device = pick_device(device) if isinstance(device, str) else device
    torch.manual_seed(config.seed)
    x = torch.as_tensor(train_latents, dtype=torch.float32)
    train_pitch = np.asarray(train_pitch, dtype=np.int64)
    pitches = np.unique(train_pitch[train_pitch >= 0])  # -1: no label, left out of the pitch loss
    if len(pitches) < 2:
        raise ValueError(f"The evaluation classifier needs notes of at least two pitches, got {pitches.tolist()}: "
                         "name the notes <family>_<source>_<NNN>-<pitch>-<velocity> or give examples.json.")
    lookup = {int(p): k for k, p in enumerate(pitches)}
    y_pitch = torch.tensor([lookup.get(int(p), -1) for p in train_pitch])
    y_source = torch.as_tensor(np.full(len(x), -1) if train_source is None else np.asarray(train_source)).long()
    has_source = bool((y_source >= 0).any())
    model = LatentClassifier(channels=x.shape[1], num_pitches=len(pitches), config=config).to(device)
    x, y_pitch, y_source = x.to(device), y_pitch.to(device), y_source.to(device)
    steps_per_epoch = max(1, int(np.ceil(len(x) / config.batch_size)))
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr,
                                                   total_steps=config.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size].to(device)
            xb = x[idx] + config.input_noise * torch.randn(x[idx].shape, generator=generator).to(device)
            pitch_logits, source_logits, _ = model(xb)
            loss = F.cross_entropy(pitch_logits, y_pitch[idx], ignore_index=-1)
            if has_source:
                loss = loss + F.cross_entropy(source_logits, y_source[idx], ignore_index=-1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    valid = (float("nan"), float("nan"))
    if valid_latents is not None and valid_pitch is not None:
        vp = torch.tensor([lookup.get(int(p), -1) for p in valid_pitch])
        vs = torch.as_tensor(np.full(len(vp), -1) if valid_source is None else np.asarray(valid_source)).long()
        valid = _accuracy(model, torch.as_tensor(valid_latents, dtype=torch.float32), vp, vs)
    model.eval()
    return EvalClassifier(model, pitches, has_source, config, time.perf_counter() - clock, *valid)


def load_or_train_classifier(*, cache_key: str, train_latents, train_pitch, train_source=None,
                             valid_latents=None, valid_pitch=None, valid_source=None,
                             config: ClassifierConfig = ClassifierConfig(), cache_dir: str | Path | None = None,
                             verbose: bool = True, device: str | torch.device = "auto") -> EvalClassifier:
    """:func:`train_classifier`, cached in ``cache_dir`` (default ``$TUTORIAL_LIB_CACHE/eval_classifier/``).

    The file is named after ``cache_key`` (e.g. the codec's ``cache_id`` and the frames) and a hash of the
    training latents, labels and config, so another dataset or codec never reuses it. The file holds CPU
    weights (a classifier trained on a GPU loads anywhere); ``device`` is where it trains and runs.
    """
    device = pick_device(device) if isinstance(device, str) else device
    train_source_arr = None if train_source is None else np.asarray(train_source)
    key = fingerprint(np.asarray(train_latents, dtype=np.float32), np.asarray(train_pitch),
                   np.array([]) if train_source_arr is None else train_source_arr,
                   np.frombuffer(repr(asdict(config)).encode(), dtype=np.uint8))
    path = Path(cache_dir or default_cache_dir() / "eval_classifier") / f"{safe_name(cache_key)}-{key}.pt"
    work.add("classifier note-epochs", config.epochs * len(train_latents), once=str(path))  # cached or not: a fresh session trains it once
    if path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=False)
            model = LatentClassifier(channels=saved["channels"], num_pitches=len(saved["pitches"]), config=config)
            model.load_state_dict(saved["state_dict"])
            model.to(device).eval()
            return EvalClassifier(model, saved["pitches"], saved["has_source"], config, saved["train_seconds"],
                                  saved["valid_pitch_accuracy"], saved["valid_source_accuracy"])
        except Exception as error:  # a damaged or outdated file: train again, it is only a cache
            if verbose:
                print(f"Evaluation classifier cache {path} unreadable ({error}); training again.")
    classifier = train_classifier(train_latents=train_latents, train_pitch=train_pitch, train_source=train_source,
                                  valid_latents=valid_latents, valid_pitch=valid_pitch, valid_source=valid_source,
                                  config=config, device=device)
    save_atomically({"channels": int(np.asarray(train_latents).shape[1]), "pitches": classifier.pitches,
                      "has_source": classifier.has_source, "state_dict": {k: v.cpu() for k, v in classifier.model.state_dict().items()},
                      "train_seconds": classifier.train_seconds,
                      "valid_pitch_accuracy": classifier.valid_pitch_accuracy,
                      "valid_source_accuracy": classifier.valid_source_accuracy}, path)
    if verbose:
        print(f"Evaluation classifier trained in {classifier.train_seconds:.1f} s (valid pitch accuracy "
              f"{classifier.valid_pitch_accuracy:.1%}, source {classifier.valid_source_accuracy:.1%}); "
              f"cached in {path}")
    return classifier
