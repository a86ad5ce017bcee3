"""Does each evaluation figure fail where it should? Real notes against known-bad ones (issue 9, section 1).

On the ``cpu`` profile's offline data (mel codec): random halves of the validation notes, the same shuffled in
time, reversed, Gaussian noise with each note's channel means and stds, the notes pitch-shifted +50 cents
(a quarter tone: from the audio files, re-encoded) and a mode collapse (notes of MIDI 64 only). Every figure is shown beside the real notes' own mean +- std
over 8 random subsets of the same size, and each bad set is evaluated on 3 different subsets (mean +- std).
Also times the classifier's training and ``evaluate`` on 100 notes.

`python benchmarks/bench_evaluation.py` (about 10 minutes on 2 busy cores)
"""

import tempfile
import time

import numpy as np
import torch

from common import write
from tutorial_lib.data import load_note
from tutorial_lib.data.latents import SOURCE_IDS
from tutorial_lib.evaluation import FIGURES, build_reference, evaluate, known_bad_latents
from tutorial_lib.pipeline import prepare

SUBSETS, NUM_AUDIO, DETUNE_CENTS, COLLAPSE_PITCH = 3, 40, 50, 64
#: Rows shown again for the conditional pass (the others do not depend on the labels).
CONDITIONAL_ONLY = ("classifier_pitch_accuracy", "classifier_source_accuracy", "pitch_accuracy",
                    "pitch_class_accuracy", "median_cents_off")

prepared = prepare(profile="cpu", codec="mel", progress=False)
codec, train, valid = prepared.codec, prepared.data.train, prepared.data.valid
sr = codec.sample_rate


def labels(d):
    return np.array([n.pitch for n in d.notes]), np.array([SOURCE_IDS[n.source] for n in d.notes])


_decoded = {}


def to_audio(x):  # remembers each note's audio: the conditional pass decodes nothing again
    out = []
    for z in x:
        key = z.numpy().tobytes()
        if key not in _decoded:
            _decoded[key] = codec.decode(train.destandardise(z))
        out.append(_decoded[key])
    return out


(tp, ts), (vp, vs) = labels(train), labels(valid)
decode_clock = time.perf_counter()
to_audio(valid.latents[:10])
decode_seconds = (time.perf_counter() - decode_clock) / 10

with tempfile.TemporaryDirectory() as cache:  # a fresh cache: the timings include training
    clock = time.perf_counter()
    reference = build_reference(train_latents=train.latents, train_pitch=tp, train_source=ts,
                                valid_latents=valid.latents, valid_pitch=vp, valid_source=vs, to_audio=to_audio,
                                sample_rate=sr, cache_key=f"{codec.cache_id}-cpu", num_audio=100, cache_dir=cache)
    reference_seconds = time.perf_counter() - clock
classifier = reference.classifier


def detuned(indices, cents):
    """The notes' audio files pitch-shifted by resampling, encoded and standardised like the data."""
    ratio = 2.0 ** (cents / 1200.0)
    out = []
    for i in indices:
        import librosa

        audio, _ = load_note(valid.notes[i].path, sr, 4 * sr)
        shifted = librosa.resample(audio, orig_sr=sr * ratio, target_sr=sr)
        shifted = np.pad(shifted, (0, max(0, 4 * sr - len(shifted))))[: 4 * sr]
        out.append(codec.encode(shifted, sr)[:, : valid.latents.shape[-1]])
    return valid.standardise(torch.stack(out))


half = len(valid) // 2
rng = np.random.default_rng(1)
runs = {}  # (set, mode) -> list of reports
for s in range(SUBSETS):
    pick = np.sort(rng.permutation(len(valid))[:half])
    real = valid.latents[pick]
    one_pitch = rng.choice(np.nonzero(vp == COLLAPSE_PITCH)[0], size=half)  # mode collapse: one pitch only
    sets = {"real valid": real, **known_bad_latents(real, seed=s),
            f"detuned +{DETUNE_CENTS} cents": detuned(pick, DETUNE_CENTS), f"only MIDI {COLLAPSE_PITCH}": valid.latents[one_pitch]}
    for name, latents in sets.items():
        for mode, conditions in (("unconditional", None), ("conditional", {"pitch": vp[pick], "source": vs[pick]})):
            report = evaluate(latents=latents, reference=reference, to_audio=to_audio, sample_rate=sr,
                              conditions=conditions, num_audio=NUM_AUDIO)
            runs.setdefault((name, mode), []).append(report)
            print(f"subset {s} {name} {mode}: {report.seconds:.1f} s", flush=True)

clock = time.perf_counter()
timed = evaluate(latents=valid.latents[:100], reference=reference, sample_rate=sr, num_audio=100,
                 to_audio=lambda x: [codec.decode(train.destandardise(z)) for z in x])  # no remembered audio
evaluate_100_seconds = time.perf_counter() - clock


def fmt(values):
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "n/a"
    m, sd = float(np.mean(values)), float(np.std(values))
    return f"{m:.3g} +- {sd:.2g}" if abs(m) < 1000 else f"{m:.0f} +- {sd:.0f}"


names = list(dict.fromkeys(name for name, _ in runs))
rows, results = [], {}
for mode in ("unconditional", "conditional"):
    first = runs[(names[0], mode)][0]
    for key, label, better in FIGURES:
        if key not in first.figures or (mode == "conditional" and key not in CONDITIONAL_ONLY):
            continue
        real_mean, real_std = first.real[key]
        cells = [fmt([r.figures.get(key) for r in runs[(n, mode)]]) for n in names]
        rows.append([mode, label, f"{real_mean:.3g} +- {real_std:.2g}" if abs(real_mean) < 1000
                     else f"{real_mean:.0f} +- {real_std:.0f}", *cells, better])
        results.setdefault(mode, {})[key] = {
            "reference_mean": real_mean, "reference_std": real_std, "better": better,
            **{n: [r.figures.get(key) for r in runs[(n, mode)]] for n in names}}

sizes = runs[(names[0], "unconditional")][0].sizes
write("evaluation_sanity_cpu", {
    "profile": "cpu", "codec": codec.describe(), "codec_cache_id": codec.cache_id, "train_notes": len(train), "valid_notes": len(valid),
    "subset_notes": half, "audio_notes_per_subset": NUM_AUDIO, "subsets": SUBSETS, "reference_sizes": sizes,
    "pitch_method": reference.pitch_method,
    "classifier": {"train_seconds": classifier.train_seconds, "valid_pitch_accuracy": classifier.valid_pitch_accuracy,
                   "valid_source_accuracy": classifier.valid_source_accuracy},
    "seconds": {"decode_per_note": decode_seconds, "build_reference_fresh": reference_seconds,
                "reference_parts": reference.seconds, "evaluate_100_notes_100_audio": evaluate_100_seconds},
    "figures": results},
    ["mode", "measure", f"real valid, 8 subsets ({sizes['classifier']} notes / {sizes['audio']} decoded)",
     *[f"{n} ({SUBSETS} subsets)" for n in names], "better"], rows,
    notes=(f"Classifier: trained in {classifier.train_seconds:.1f} s on {len(train)} notes, valid pitch accuracy "
           f"{classifier.valid_pitch_accuracy:.1%}, source {classifier.valid_source_accuracy:.1%}. "
           f"build_reference (classifier + 100 train and 100 valid notes decoded and measured): {reference_seconds:.0f} s. "
           f"evaluate() on 100 notes, all 100 decoded: {evaluate_100_seconds:.0f} s (decode {decode_seconds:.2f} s per "
           f"note, mel codec, Griffin-Lim). Pitch tracker: {reference.pitch_method}. Each set is {half} validation "
           f"notes ({NUM_AUDIO} decoded); unconditional pitch accuracy means within 25 cents of the nearest semitone, "
           f"conditional within 50 cents of the note's label."))
