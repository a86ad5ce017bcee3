"""One call that scores generated notes the way a listener would (chapter 5, "Listening with numbers").

:func:`build_reference` trains (or loads) the evaluation classifier and measures real notes decoded by
the same codec; :func:`evaluate` scores a set of generated latents against it and returns an
:class:`EvalReport` whose every figure stands beside the real validation notes' own figure, given as the
mean +- standard deviation over random subsets of the same size (the measure's own noise).

Three kinds of figure (see :mod:`tutorial_lib.evaluation.classifier` and :mod:`tutorial_lib.evaluation.note_measures`):

* classifier (GANSynth's protocol): Frechet distance in its embedding to the training notes, Inception
  score, pitch entropy, and pitch / source accuracy when conditions were asked for;
* pitch of the decoded audio (CREPE; ``EvalReport.pitch_model`` says which weights, ``tiny`` unless the
  reference was built with ``crepe_model="full"``): the median cents off the target, the share within 25
  cents and the share within 50 cents of the requested pitch (25 cents of the nearest semitone for
  unconditional samples), and entropy over the batch;
* note shape: decay time (pooled over all pitches, and against the training notes of the note's own pitch
  region), onset, digital silence, and their distance to the training notes' shapes.

The Frechet distance comes with its floor at the same number of notes (``EvalReport.fd_floor``: random
training notes against all of them), what a set drawn at random from the training notes scores at that n: a
difference smaller than the floor's spread is not one. A set asked for labels spread evenly over the data
scores below it (fewer accidents of composition); compare such a set with training notes of the same labels
(:func:`same_label_notes`).

:func:`known_bad_latents` makes the sets every measure must reject (shuffled or reversed in time, noise
with each note's channel statistics); :func:`evaluate_sets` + :func:`comparison_table` put several sets
(e.g. a model after 100 and after 3,000 steps) side by side.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..runtime import work
from .classifier import (ClassifierConfig, EvalClassifier, classifier_figures,
                              load_or_train_classifier)
from ..runtime.files import fingerprint, safe_name, save_atomically
from .metrics import frechet_distance
from .note_measures import (decay_inside_by_pitch, load_torchcrepe, note_pitches, note_shapes, pitch_figures,
                            shape_distance)
from ..runtime.files import default_cache_dir

ToAudio = Callable[[torch.Tensor], list]  # standardised latents [N, 64, frames] -> N waveforms [samples]

#: (key, label, which way is better: "higher", "lower" or "closer" to the real notes)
FIGURES = [
    ("classifier_fd", "Frechet distance, classifier embedding (to train)", "lower"),
    ("inception_score", "Inception score (pitch classes)", "higher"),
    ("classifier_pitch_entropy_bits", "pitch entropy, classifier (bits)", "closer"),
    ("classifier_pitch_accuracy", "pitch accuracy, classifier (requested pitch)", "higher"),
    ("classifier_source_accuracy", "source accuracy, classifier", "higher"),
    ("classifier_pitch_confidence", "classifier confidence (mean top probability)", "higher"),
    ("median_cents_off", "median cents off the target, CREPE", "lower"),
    ("pitch_within_25_cents", "share within 25 cents of the target, CREPE", "higher"),
    ("pitch_accuracy", "share within 50 cents of the target (pitch accuracy), CREPE", "higher"),
    ("pitch_class_accuracy", "share within 50 cents, octave errors forgiven, CREPE", "higher"),
    ("pitch_entropy_bits", "pitch entropy, CREPE (bits)", "closer"),
    ("pitched", "share with a clear pitch (steady, with its harmonics; noise and clicks have none)", "higher"),
    ("decay_inside", "share with decay time inside the training notes' 5-95 % range (all pitches)", "higher"),
    ("decay_inside_pitch", "share with decay time inside the 5-95 % range of training notes of its pitch region",
     "higher"),
    ("decay_median_s", "median decay time to -30 dB (s)", "closer"),
    ("shape_distance", "note-shape distance to train (W1 / spread, mean of 4)", "lower"),
    ("silence", "share of digital silence (samples below 1e-4)", "closer"),
]


def table_rows(conditional: bool) -> list[tuple[str, str, str]]:
    """:data:`FIGURES` as a table shows them. Without asked pitches the target is the nearest semitone, which
    every pitch lies within 50 cents of: the 50-cent share would be the 25-cent share again (both are
    computed within 25 cents, see ``note_measures.pitch_figures``), so it is left out and the 25-cent row
    says which target it measures."""
    if conditional:
        return FIGURES
    return [(k, "share within 25 cents of the nearest semitone (no pitch was asked), CREPE" if k ==
             "pitch_within_25_cents" else label, better) for k, label, better in FIGURES if k != "pitch_accuracy"]


@dataclass
class Reference:
    """What generated notes are measured against (from :func:`build_reference`).

    ``train_embedding [M, E]``: the training notes in the classifier's embedding. ``valid_*``: the real
    validation latents ``[V, 64, frames]`` and labels. ``train_shapes`` / ``valid_shapes``: note shapes of
    decoded real notes; ``valid_audio_pitch [A]`` their CREPE pitches, ``valid_audio_requested [A]`` their labels.
    """

    classifier: EvalClassifier
    train_embedding: np.ndarray
    valid_latents: torch.Tensor
    valid_pitch: np.ndarray
    valid_source: np.ndarray | None
    sample_rate: int | None = None
    train_shapes: dict | None = None
    valid_shapes: dict | None = None
    valid_audio_pitch: np.ndarray | None = None
    valid_audio_requested: np.ndarray | None = None
    pitch_method: str = "crepe"
    seconds: dict = field(default_factory=dict)
    #: CREPE's weights behind every pitch figure ("tiny" or "full"; unused with pYIN).
    crepe_model: str = "tiny"
    #: ``[A]`` the pitch labels of the decoded training notes behind ``train_shapes`` (decay per pitch region).
    train_shape_pitch: np.ndarray | None = None

    @property
    def pitch_model(self) -> str:
        """What heard the pitches: ``"crepe-tiny"``, ``"crepe-full"`` or ``"pyin"``."""
        return f"crepe-{self.crepe_model}" if self.pitch_method == "crepe" else self.pitch_method


def _labels(x) -> np.ndarray | None:
    return None if x is None else np.asarray(x, dtype=np.int64)


def _condition(conditions, name: str) -> np.ndarray | None:
    """``conditions[name]`` or ``conditions.name`` (a dict or ``tutorial_lib.conditioning.Conditions``) as
    ``[N]`` ints; None when absent or never given (all -1)."""
    if conditions is None:
        return None
    value = conditions.get(name) if isinstance(conditions, dict) else getattr(conditions, name, None)
    if value is None:
        return None
    value = np.asarray(torch.as_tensor(value).cpu(), dtype=np.int64).reshape(-1)
    return None if (value < 0).all() else value


def _decode(to_audio: ToAudio, latents: torch.Tensor, batch: int = 16) -> list[np.ndarray]:
    audio = []
    for start in range(0, len(latents), batch):
        audio.extend(np.asarray(w, dtype=np.float32).reshape(-1) for w in to_audio(latents[start:start + batch]))
    return audio


def _spread_indices(n_total: int, n: int) -> np.ndarray:
    """``n`` indices spread evenly over ``range(n_total)`` (covers all pitches of a sorted set)."""
    return np.unique(np.linspace(0, n_total - 1, n).round().astype(int))


def labels_to_ask(conditions, num: int, *, seed: int = 0):
    """``num`` labels to generate conditional notes for, each once before any twice: ``conditions`` (a split's
    labels, listed by instrument, pitch and velocity) cut into ``num`` consecutive runs, one label drawn at random
    (``seed``) from each, so that every source and pitch range is asked for, and every velocity (an even spread
    would step over the velocities in time with their period)."""
    import torch

    total = len(conditions)
    if num > total:
        return conditions[torch.arange(num) % total]
    edges = np.linspace(0, total, num + 1).round().astype(np.int64)
    rng = np.random.default_rng(seed)
    return conditions[torch.from_numpy(rng.integers(edges[:-1], edges[1:]))]  # runs of at least one label


def notes_with_labels(asked, held, *, seed: int = 0) -> np.ndarray:
    """For each label of ``asked`` (a :class:`~tutorial_lib.conditioning.Conditions`), the index of one note
    of ``held`` (e.g. the training notes' labels) with the same source and velocity at the nearest pitch,
    drawn at random (``seed``) among the instruments that hold it: ``[len(asked)]`` indices.

    Where no held note has the asked label, the nearest pitch stands in: score such a note against its own
    label (``held.pitch[picks]``), never the asked one, or it counts as a pitch error it did not make
    (:func:`same_label_notes` does both). Scored like generated notes, these notes are a *same-label data
    reference*: what a model that reproduced its training notes would score. It is no ceiling: a model can beat
    it on pitch (the training notes' own tracker errors count against it), and its Frechet distance to the
    training notes is low because these notes are part of that reference (chapter 5).
    """
    rng = np.random.default_rng(seed)
    pitch, source, velocity = (np.asarray(c) for c in (held.pitch, held.source, held.velocity))
    picks = []
    for p, s, v in zip(*(np.asarray(c).tolist() for c in (asked.pitch, asked.source, asked.velocity))):
        same = np.flatnonzero((source == s) & (velocity == v))
        if not len(same):  # no such source and velocity: any note at the nearest pitch
            same = np.arange(len(pitch))
        gap = np.abs(pitch[same] - p)
        picks.append(rng.choice(same[gap == gap.min()]))
    return np.asarray(picks, dtype=np.int64)


def same_label_notes(asked, held, *, seed: int = 0) -> tuple[np.ndarray, dict, int]:
    """The same-label data reference for the labels ``asked``: ``(picks [N], labels, exact)`` where ``picks``
    index notes of ``held`` (:func:`notes_with_labels`), ``labels = {"pitch": [N], "source": [N]}`` are the
    picked notes' *own* labels (to score them against), and ``exact`` counts the picks whose label is the
    asked one (the rest stand in at the nearest pitch, or another source or velocity)."""
    picks = notes_with_labels(asked, held, seed=seed)
    own = {k: np.asarray(getattr(held, k))[picks] for k in ("pitch", "source", "velocity")}
    exact = int(np.sum(np.all([own[k] == np.asarray(getattr(asked, k)) for k in own], axis=0)))
    return picks, {"pitch": own["pitch"], "source": own["source"]}, exact


def fd_floor(reference: "Reference", *, num_notes: int, repeats: int = 8, seed: int = 0) -> tuple[float, float]:
    """The classifier Frechet distance's floor at ``num_notes`` notes: ``(mean, std)`` over ``repeats`` random
    subsets of the training notes' embeddings scored against all of them, as generated notes are. A model
    whose notes were drawn at random from the training notes themselves would score this; a difference between
    two sets smaller than the std is inside the measure's resolution at that n. Sets asked for labels spread
    evenly over the data score below it (measured: 72 and 92 against 149 at n = 94)."""
    rng = np.random.default_rng(seed)
    train = reference.train_embedding
    n = max(2, min(num_notes, len(train)))
    values = [frechet_distance(train[rng.permutation(len(train))[:n]], train) for _ in range(repeats)]
    return float(np.mean(values)), float(np.std(values))


def build_reference(*, train_latents, train_pitch, train_source=None, valid_latents, valid_pitch,
                    valid_source=None, to_audio: ToAudio | None = None, sample_rate: int | None = None,
                    cache_key: str, num_audio: int = 100, pitch_method: str = "auto",
                    config: ClassifierConfig = ClassifierConfig(), cache_dir: str | Path | None = None,
                    verbose: bool = True, crepe_model: str = "tiny") -> Reference:
    """The evaluation classifier and the real notes' figures, cached on disk.

    Args:
        train_latents, valid_latents: ``[N, 64, frames]`` standardised latents (``LatentDataset.latents``).
        train_pitch, valid_pitch: ``[N]`` MIDI pitches; ``*_source``: ``[N]`` 0 acoustic, 1 electronic,
            2 synthetic (-1 unknown), or None.
        to_audio: standardised latents ``[n, 64, frames]`` -> list of n waveforms (destandardise + decode);
            None skips the audio figures.
        sample_rate: the waveforms' rate (Hz).
        cache_key: names the dataset and codec, e.g. ``f"{codec.cache_id}-{profile}"``: audio figures are
            cached under it with a hash of the latents, so it must change when ``to_audio`` does.
        num_audio: how many train and valid notes to decode (spread over the sets).
        pitch_method: ``"auto"`` (CREPE, pYIN without torchcrepe), ``"crepe"`` or ``"pyin"``.
        crepe_model: CREPE's ``"tiny"`` (0.13 s a note on one CPU thread) or ``"full"`` (3 s; hears low notes
            that ``tiny`` puts an octave or more up). Every pitch figure scored against this reference uses it.
    """
    clock = time.perf_counter()
    train_latents = torch.as_tensor(train_latents, dtype=torch.float32)
    valid_latents = torch.as_tensor(valid_latents, dtype=torch.float32)
    train_pitch, valid_pitch = _labels(train_pitch), _labels(valid_pitch)
    train_source, valid_source = _labels(train_source), _labels(valid_source)
    classifier = load_or_train_classifier(
        cache_key=cache_key, train_latents=train_latents, train_pitch=train_pitch, train_source=train_source,
        valid_latents=valid_latents, valid_pitch=valid_pitch, valid_source=valid_source, config=config,
        cache_dir=cache_dir, verbose=verbose)
    if pitch_method == "auto":
        pitch_method = "crepe" if load_torchcrepe() is not None else "pyin"
    reference = Reference(classifier, classifier.predict(train_latents)["embedding"], valid_latents, valid_pitch,
                          valid_source, sample_rate, pitch_method=pitch_method, crepe_model=crepe_model)
    reference.seconds["classifier"] = round(time.perf_counter() - clock, 2)
    if to_audio is None:
        return reference
    if sample_rate is None:
        raise ValueError("build_reference: pass sample_rate (e.g. codec.sample_rate) with to_audio.")
    clock = time.perf_counter()
    ti = _spread_indices(len(train_latents), min(num_audio, len(train_latents)))
    vi = _spread_indices(len(valid_latents), min(num_audio, len(valid_latents)))
    key = fingerprint(train_latents[ti].numpy(), valid_latents[vi].numpy(), valid_pitch[vi],
                   np.frombuffer(f"{sample_rate}-{reference.pitch_model}-search35-107-clear".encode(), dtype=np.uint8))
    path = Path(cache_dir or default_cache_dir() / "eval_classifier") / f"{safe_name(cache_key)}-audio-{key}.pt"
    saved = None
    if path.is_file():
        try:
            saved = torch.load(path, weights_only=False)
        except Exception:
            saved = None
    # A fresh session (Colab) decodes these notes once: counted for the estimates even when cached here.
    work.add("decode, cached", 0 if saved is None else len(ti) + len(vi), once=str(path))
    if saved is None:
        valid_audio = _decode(to_audio, valid_latents[vi])
        saved = {"train_shapes": note_shapes(_decode(to_audio, train_latents[ti]), sample_rate),
                 "valid_shapes": note_shapes(valid_audio, sample_rate),
                 "valid_audio_pitch": note_pitches(valid_audio, sample_rate, method=pitch_method, model=crepe_model,
                                                   clear=True)}
        save_atomically(saved, path)
    reference.train_shapes, reference.valid_shapes = saved["train_shapes"], saved["valid_shapes"]
    reference.valid_audio_pitch, reference.valid_audio_requested = saved["valid_audio_pitch"], valid_pitch[vi]
    reference.train_shape_pitch = train_pitch[ti]
    reference.seconds["audio"] = round(time.perf_counter() - clock, 2)
    return reference


def reference_from_prepared(prepared, *, num_audio: int = 100, audio: bool = True, **kwargs) -> Reference:
    """:func:`build_reference` from ``tutorial_lib.pipeline.prepare(...)``'s result: its train / valid
    latents and labels, its ``to_audio`` (destandardise + decode) and codec; cached per codec, data and
    frames. ``audio=False`` skips decoding (classifier figures only). ``kwargs`` go to :func:`build_reference`.
    """
    train, valid = prepared.conditions("train"), prepared.conditions("valid")
    latents = prepared.data.train.latents
    return build_reference(train_latents=latents, train_pitch=train.pitch, train_source=train.source,
                           valid_latents=prepared.data.valid.latents, valid_pitch=valid.pitch,
                           valid_source=valid.source, to_audio=prepared.to_audio if audio else None,
                           sample_rate=prepared.codec.sample_rate, num_audio=num_audio,
                           cache_key=f"{prepared.codec.cache_id}-{latents.shape[-1]}f", **kwargs)


def _prefixed(figures: dict) -> dict:
    """Classifier figures renamed so they never clash with the audio ones (``fd`` -> ``classifier_fd``...)."""
    return {k if k == "inception_score" else f"classifier_{k}": v for k, v in figures.items()}


def _audio_figures(pitches, shapes, reference: Reference, requested) -> dict:
    p = pitch_figures(pitches, requested=requested)
    out = {"pitch_accuracy": p["accuracy"], "pitch_within_25_cents": p["within_25_cents"],
           "median_cents_off": p["median_cents_off"],
           "pitch_entropy_bits": p["entropy_bits"], "pitched": p["pitched"]}
    if requested is not None:
        known = np.asarray(requested) >= 0
        off = (np.asarray(pitches)[known] - np.asarray(requested)[known]) * 100.0
        folded = np.abs((off + 600.0) % 1200.0 - 600.0)
        out["pitch_class_accuracy"] = float(np.mean(np.isfinite(folded) & (folded <= 50.0)))
    d = shape_distance(shapes, reference.train_shapes)
    if reference.train_shape_pitch is not None:  # the pitch each note should ring like: asked, else heard
        own = np.asarray(pitches, dtype=np.float64) if requested is None else np.asarray(requested, np.float64)
        out["decay_inside_pitch"] = decay_inside_by_pitch(shapes["decay_s"], np.round(own),
                                                          reference.train_shapes["decay_s"],
                                                          reference.train_shape_pitch)
    out.update({"decay_inside": d["decay_s_inside"], "decay_median_s": float(np.median(shapes["decay_s"])),
                "shape_distance": d["distance"], "silence": float(np.mean(shapes["silence"]))})
    return out


def _subset_stats(measure: Callable[[np.ndarray], dict], total: int, size: int, repeats: int,
                  rng: np.random.Generator) -> tuple[dict, dict]:
    """``measure(indices)`` averaged over ``repeats`` random subsets of ``size`` of ``range(total)``:
    ``({key: mean}, {key: std})``; a single pass (std 0) when ``size >= total``."""
    if size >= total:
        row = measure(np.arange(total))
        return row, {k: 0.0 for k in row}
    rows = [measure(np.sort(rng.permutation(total)[:size])) for _ in range(repeats)]
    return ({k: float(np.mean([r[k] for r in rows])) for k in rows[0]},
            {k: float(np.std([r[k] for r in rows])) for k in rows[0]})


def subset_sizes(reference: Reference, *, num_notes: int, num_audio: int = 0) -> dict:
    """Notes per subset behind each figure: at most half the real validation notes (and decoded notes), so
    that different random subsets differ and give a spread. Generated sets larger than this are scored on
    subsets of the same size too: Frechet and Wasserstein distances shrink as sets grow."""
    sizes = {"classifier": max(2, min(num_notes, len(reference.valid_latents) // 2))}
    if num_audio and reference.valid_audio_pitch is not None:
        sizes["audio"] = max(2, min(num_audio, len(reference.valid_audio_pitch) // 2))
    return sizes


def _classifier_measure(reference: Reference, latents, pitch, source):
    def measure(i):
        return _prefixed(classifier_figures(
            reference.classifier, latents[i], train_embedding=reference.train_embedding,
            pitch=None if pitch is None else pitch[i], source=None if source is None else source[i]))
    return measure


def _audio_measure(reference: Reference, pitches, shapes, requested):
    def measure(j):
        return _audio_figures(pitches[j], {k: v[j] for k, v in shapes.items()}, reference,
                              None if requested is None else requested[j])
    return measure


def reference_figures(reference: Reference, *, num_notes: int, num_audio: int = 0, conditional: bool = False,
                      repeats: int = 8, seed: int = 0) -> dict:
    """Real validation notes' figures over ``repeats`` random subsets: ``{key: (mean, std)}`` and ``"sizes"``
    (from :func:`subset_sizes`). ``conditional``: scored against the notes' own labels."""
    rng = np.random.default_rng(seed)
    sizes = subset_sizes(reference, num_notes=num_notes, num_audio=num_audio)
    mean, std = _subset_stats(_classifier_measure(
        reference, reference.valid_latents, reference.valid_pitch if conditional else None,
        reference.valid_source if conditional else None), len(reference.valid_latents), sizes["classifier"],
        repeats, rng)
    if "audio" in sizes:
        m, s = _subset_stats(_audio_measure(
            reference, reference.valid_audio_pitch, reference.valid_shapes,
            reference.valid_audio_requested if conditional else None), len(reference.valid_audio_pitch),
            sizes["audio"], repeats, rng)
        mean, std = {**mean, **m}, {**std, **s}
    return {**{k: (mean[k], std[k]) for k in mean}, "sizes": sizes}


@dataclass
class EvalReport:
    """Figures of one set of generated notes, each beside the real validation notes' (mean, std).

    ``figures[key]``: the value (the mean over random subsets of ``sizes`` notes when the set is larger,
    with the subsets' std in ``spread[key]``, else 0); ``real[key] = (mean, std)`` over subsets of real
    validation notes of the same sizes. ``fd_floor = (mean, std)``: the classifier Frechet distance of random
    training notes, ``sizes["classifier"]`` of them, to all of them (:func:`fd_floor`): no FD can be trusted
    below it, nor a difference smaller than its std. ``pitch_model``: what heard the pitches (``crepe-tiny``).
    """

    num_notes: int
    num_audio: int
    conditional: bool
    figures: dict
    real: dict
    sizes: dict
    pitch_method: str
    seconds: float
    spread: dict = field(default_factory=dict)
    fd_floor: tuple = (float("nan"), float("nan"))
    pitch_model: str = ""

    def __getitem__(self, key: str) -> float:
        return self.figures[key]

    def as_dict(self) -> dict:
        """Plain JSON-ready dict (for ``report.json``)."""
        d = asdict(self)
        d["real"] = {k: {"mean": m, "std": s} for k, (m, s) in self.real.items()}
        d["better"] = {k: b for k, _, b in FIGURES if k in self.figures}
        return d

    def table(self, *, title: str = "generated") -> str:
        """A markdown table: figure | this set | real valid notes (mean +- std) | which way is better."""
        lines = [f"| measure | {title} (n={self.num_notes}, audio {self.num_audio}) | real valid "
                 f"(subsets of {self.sizes.get('classifier')}/{self.sizes.get('audio', '-')}) | better |",
                 "|---|---|---|---|"]
        for key, label, better in table_rows(self.conditional):
            if key in self.figures:
                mean, std = self.real.get(key, (float("nan"), float("nan")))
                value = _fmt(self.figures[key])
                if self.spread.get(key):
                    value += f" +- {_fmt(self.spread[key])}"
                lines.append(f"| {label} | {value} | {_fmt(mean)} +- {_fmt(std)} | {better} |")
        lines.append(f"| FD floor: {self.sizes.get('classifier')} random training notes to all (the best an FD "
                     f"can read at this n) | {_fmt(self.fd_floor[0])} +- {_fmt(self.fd_floor[1])} | - | - |")
        lines.append(f"| pitch heard by | {self.pitch_model or self.pitch_method} | | |")
        return "\n".join(lines)


def _fmt(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def evaluate(*, latents, reference: Reference, to_audio: ToAudio | None = None, sample_rate: int | None = None,
             conditions: dict | None = None, num_audio: int | None = None, repeats: int = 8,
             seed: int = 0) -> EvalReport:
    """Scores generated notes against ``reference``.

    Args:
        latents: ``[N, 64, frames]`` STANDARDISED latents (what the sampler returns, before destandardising).
        reference: from :func:`build_reference`.
        to_audio: standardised latents ``[n, 64, frames]`` -> n waveforms; None: classifier figures only.
        sample_rate: the waveforms' rate; defaults to the reference's.
        conditions: the labels the samples were asked for: ``{"pitch": [N] MIDI, "source": [N] 0-2}`` (either
            optional) or a ``tutorial_lib.conditioning.Conditions``; -1 means "not given" for that note.
        num_audio: how many of the notes to decode (evenly spread over the set); default ``min(N, 100)``.
            Pitch and decay figures describe those notes only: pass ``num_audio=N`` to score every note.
        repeats: random subsets behind each figure's mean and spread (see :func:`subset_sizes`).
        seed: picks the subsets.
    """
    clock = time.perf_counter()
    latents = torch.as_tensor(latents, dtype=torch.float32).detach().cpu()
    if latents.ndim != 3 or latents.shape[1:] != reference.valid_latents.shape[1:]:
        raise ValueError(f"evaluate: latents have shape {tuple(latents.shape)}, the reference's notes "
                         f"[N, {', '.join(map(str, reference.valid_latents.shape[1:]))}]; pass standardised "
                         "latents with the same channels and frames (cut frames with [..., :num_frames]).")
    pitch, source = _condition(conditions, "pitch"), _condition(conditions, "source")
    if pitch is not None and len(pitch) != len(latents) or source is not None and len(source) != len(latents):
        raise ValueError(f"evaluate: conditions must hold one label per note ({len(latents)}).")
    conditional = pitch is not None
    real = reference_figures(reference, num_notes=len(latents), num_audio=0 if to_audio is None else
                             min(len(latents), 100 if num_audio is None else num_audio),
                             conditional=conditional, repeats=repeats)
    sizes = real.pop("sizes")
    rng = np.random.default_rng(seed)
    figures, spread = _subset_stats(_classifier_measure(reference, latents, pitch, source), len(latents),
                                    sizes["classifier"], repeats, rng)
    n_audio = 0
    if to_audio is not None and reference.train_shapes is not None:
        sample_rate = sample_rate or reference.sample_rate
        n_audio = min(len(latents), 100 if num_audio is None else num_audio)
        pick = _spread_indices(len(latents), n_audio)  # spread: a set sorted by pitch keeps all its pitches
        audio = _decode(to_audio, latents[pick])
        pitches = note_pitches(audio, sample_rate, method=reference.pitch_method, model=reference.crepe_model,
                               clear=True)
        m, s = _subset_stats(_audio_measure(reference, pitches, note_shapes(audio, sample_rate),
                                            None if pitch is None else pitch[pick]),
                             n_audio, sizes["audio"], repeats, rng)
        figures, spread = {**figures, **m}, {**spread, **s}
    return EvalReport(len(latents), n_audio, conditional, figures, real, sizes, reference.pitch_method,
                      round(time.perf_counter() - clock, 2), spread,
                      fd_floor=fd_floor(reference, num_notes=sizes["classifier"], repeats=repeats, seed=seed),
                      pitch_model=reference.pitch_model)


def known_bad_latents(latents, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """Sets every measure must score worse than ``latents [N, 64, frames]`` themselves.

    ``shuffled``: each note's frames in random order; ``reversed``: played backwards; ``matched_noise``:
    Gaussian noise with each note's own per-channel mean and std (what mean/std features cannot tell apart).
    """
    x = torch.as_tensor(latents, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    shuffled = torch.stack([xi[:, torch.randperm(xi.shape[-1], generator=g)] for xi in x])
    noise = x.mean(-1, keepdim=True) + x.std(-1, keepdim=True) * torch.randn(x.shape, generator=g)
    return {"shuffled": shuffled, "reversed": x.flip(-1), "matched_noise": noise}


def evaluate_sets(sets: dict, *, reference: Reference, to_audio: ToAudio | None = None,
                  sample_rate: int | None = None, conditions: dict | None = None,
                  num_audio: int | None = None) -> dict[str, EvalReport]:
    """:func:`evaluate` for each ``{name: latents [N, 64, frames]}`` (e.g. checkpoints after 100 and 3,000
    steps). ``conditions`` is one dict for all sets, or ``{name: dict}``."""
    per_set = conditions is not None and set(conditions) <= set(sets) and bool(conditions)
    return {name: evaluate(latents=x, reference=reference, to_audio=to_audio, sample_rate=sample_rate,
                           conditions=conditions.get(name) if per_set else conditions, num_audio=num_audio)
            for name, x in sets.items()}


def comparison_table(reports: dict[str, EvalReport]) -> str:
    """Markdown: one column per set, then the real notes' mean +- std (of the first set's sizes)."""
    names = list(reports)
    first = reports[names[0]]
    lines = ["| measure | " + " | ".join(names) + f" | real valid (subsets of {first.sizes.get('classifier')}/"
             f"{first.sizes.get('audio', '-')}) | better |", "|---" * (len(names) + 3) + "|"]
    for key, label, better in table_rows(any(r.conditional for r in reports.values())):
        if key in first.figures:
            mean, std = first.real.get(key, (float("nan"), float("nan")))
            cells = " | ".join(_fmt(reports[n].figures.get(key, float("nan"))) for n in names)
            lines.append(f"| {label} | {cells} | {_fmt(mean)} +- {_fmt(std)} | {better} |")
    cells = " | ".join(f"{_fmt(reports[n].fd_floor[0])} +- {_fmt(reports[n].fd_floor[1])}" for n in names)
    lines.append(f"| FD floor (random training notes of the same n, to all) | {cells} | - | - |")
    return "\n".join(lines)
