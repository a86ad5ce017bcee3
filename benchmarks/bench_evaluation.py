"""Does each evaluation figure fail where it should? Real notes against known-bad ones (issues 9 and 21).

On the ``cpu`` profile's offline data (mel codec), each set is asked for (labelled with) the labels of a random
half of the validation notes, and every note of it is decoded and heard:

* ``real valid``: those notes; ``resynth in tune``: the same instruments played again by the synthesiser at the
  labelled pitch (the control for the next three);
* ``+25 cents``, ``+50 cents``: resynthesised that much sharp, labels unchanged (a tuning error);
* ``+12 semitones``: resynthesised an octave up, labels unchanged (an octave error);
* ``reversed``, ``shuffled`` (frames in random order), ``matched noise`` (Gaussian noise with each note's channel
  means and stds), ``note-shaped noise`` (white noise with each note's own loudness envelope, encoded);
* ``guidance 0`` / ``guidance 1``: the shipped model asked for the labels, ignoring them (guidance 0, a model that
  plays any pitch) and following them (guidance 1, a good model), noise seeds from ``common.HELD_OUT_SEEDS``.

A figure FAILS a set when it lies on the wrong side of the real notes' own mean (over 8 random subsets of the same
size) by more than 3 of their stds (and at least 2 % of the mean); "closer" figures fail either way. Every FD stands
beside its floor at the same n. On the first subset, CREPE ``full`` hears the first notes of each set again, to
show where it and ``tiny`` (every other figure) agree; the codec's own shortening of decays is measured on the
real notes (raw audio files against decoded latents).

`python benchmarks/bench_evaluation.py` (about 45 minutes on 2 busy cores; ``--write`` replaces the committed
``results/evaluation_sanity_cpu.{json,md}``)
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import tutorial_lib.evaluation as evaluation
from common import HELD_OUT_SEEDS, RESULTS, write
from tutorial_lib.data import load_note
from tutorial_lib.data.labels import SOURCE_IDS, SOURCES
from tutorial_lib.data.synth import pluck, random_guitar
from tutorial_lib.evaluation import FIGURES, build_reference, evaluate, known_bad_latents
from tutorial_lib.generation import NoteGenerator
from tutorial_lib.evaluation.metrics import frechet_distance
from tutorial_lib.evaluation.note_measures import _rms_db, note_pitches, note_shapes, pitch_figures
from tutorial_lib.pipeline import prepare
from tutorial_lib.sampling import sample_seeded

SUBSETS, FULL_NOTES = 1, 12  # one half: ~45 minutes on 2 busy cores (with CREPE full); 2+ where time allows
SHIPPED = Path(__file__).resolve().parents[1] / "tutorial_lib" / "pretrained" / "cpu-long.pt"
QUICK = "--quick" in sys.argv  # a smoke run: 1 subset of 8 notes (never with --write)
if QUICK:
    SUBSETS, FULL_NOTES = 1, 2
torch.set_num_threads(2)

prepared = prepare(profile="cpu", codec="mel", progress=False)
codec, train, valid = prepared.codec, prepared.data.train, prepared.data.valid
sr, frames = codec.sample_rate, valid.latents.shape[-1]


def labels(d):
    return np.array([n.pitch for n in d.notes]), np.array([SOURCE_IDS[n.source] for n in d.notes])


_decoded, _heard = {}, {}


def to_audio(x):  # remembers each note's audio: the second pass decodes nothing again
    out = []
    for z in x:
        key = z.numpy().tobytes()
        if key not in _decoded:
            _decoded[key] = codec.decode(prepared.latent_space.destandardise(z))
        out.append(_decoded[key])
    return out


def remembered_pitches(waveforms, sample_rate, **kwargs):  # the unconditional pass hears nothing again
    out = []
    for w in waveforms:
        key = (np.asarray(w, dtype=np.float32).tobytes(), kwargs.get("model"))
        if key not in _heard:
            _heard[key] = float(note_pitches([w], sample_rate, **kwargs)[0])
        out.append(_heard[key])
    return np.array(out)


evaluation.note_pitches = remembered_pitches  # evaluate() calls it through the module

(tp, ts), (vp, vs) = labels(train), labels(valid)
with tempfile.TemporaryDirectory() as cache:  # a fresh cache: the timings include training
    clock = time.perf_counter()
    reference = build_reference(train_latents=train.latents, train_pitch=tp, train_source=ts,
                                valid_latents=valid.latents, valid_pitch=vp, valid_source=vs, to_audio=to_audio,
                                sample_rate=sr, cache_key=f"{codec.cache_id}-cpu", num_audio=100, cache_dir=cache,
                                verbose=False)
    reference_seconds = time.perf_counter() - clock
classifier = reference.classifier

# The synthetic instruments, replayed from the set's own settings (tutorial_lib.data.nsynth.write_synthetic_nsynth).
settings = json.loads((prepared.data_folder / "synthetic.json").read_text())
rng_plan, guitars, number = np.random.default_rng(settings["seed"]), {}, {s: 0 for s in SOURCES}
for split, count in settings["instruments_per_source"].items():
    for source in SOURCES:
        for _ in range(count):
            name = f"guitar_{source}_{number[source]:03d}"
            number[source] += 1
            guitars[name] = random_guitar(name, source, rng_plan)


def encoded(waveforms):
    return valid.standardise(torch.stack([codec.encode(w, sr)[:, :frames] for w in waveforms]))


def resynthesised(indices, semitones, seed):
    """The notes' own instruments played again ``semitones`` above their labels (labels unchanged)."""
    rng = np.random.default_rng(seed)
    return encoded([pluck(guitars[valid.notes[i].instrument], valid.notes[i].pitch + semitones,
                          valid.notes[i].velocity, rng) for i in indices])


def note_shaped_noise(indices, seed):
    """White noise with each note's own RMS envelope (10 ms frames): a note's shape, no pitch."""
    rng, out = np.random.default_rng(seed), []
    for i in indices:
        audio, _ = load_note(valid.notes[i].path, sr, 4 * sr)
        hop = sr // 100
        envelope = np.sqrt(10.0 ** (_rms_db(audio, sr, hop) / 10.0))
        envelope = np.interp(np.arange(len(audio)), np.arange(len(envelope)) * hop, envelope)
        out.append((rng.standard_normal(len(audio)) * envelope).astype(np.float32))
    return encoded(out)


shipped = NoteGenerator.from_checkpoint(SHIPPED)
all_conditions = prepared.conditions("valid")
half = 8 if QUICK else len(valid) // 2
rng = np.random.default_rng(21)
runs, full_check, sizes = {}, {}, None
for s in range(SUBSETS):
    pick = np.sort(rng.permutation(len(valid))[:half])
    asked = all_conditions[torch.from_numpy(pick)]
    real = valid.latents[pick]
    bad = known_bad_latents(real, seed=s)
    sets = {"real valid": real, "resynth in tune": resynthesised(pick, 0.0, seed=100 + s),
            "+25 cents": resynthesised(pick, 0.25, seed=100 + s), "+50 cents": resynthesised(pick, 0.5, seed=100 + s),
            "+12 semitones": resynthesised(pick, 12.0, seed=100 + s), "reversed": bad["reversed"],
            "shuffled": bad["shuffled"], "matched noise": bad["matched_noise"],
            "note-shaped noise": note_shaped_noise(pick, seed=200 + s)}
    for guidance in (0.0, 1.0):
        sets[f"shipped, guidance {guidance:g}"] = sample_seeded(
            shipped.model, half, shipped.space.num_frames, seed=HELD_OUT_SEEDS[s], num_steps=50, flow=shipped.flow,
            conditions=asked, guidance=guidance).samples.cpu()
    for name, latents in sets.items():
        for mode, conditions in (("conditional", {"pitch": vp[pick], "source": vs[pick]}), ("unconditional", None)):
            clock = time.perf_counter()
            report = evaluate(latents=latents, reference=reference, to_audio=to_audio, sample_rate=sr,
                              conditions=conditions, num_audio=len(latents), seed=s)
            runs.setdefault((name, mode), []).append(report)
            sizes = report.sizes
            print(f"subset {s} {name} {mode}: {time.perf_counter() - clock:.1f} s", flush=True)
        if s == 0:  # CREPE full against tiny on the same decoded notes
            audio = to_audio(latents[:FULL_NOTES])
            heard = {m: remembered_pitches(audio, sr, model=m) for m in ("tiny", "full")}
            figures = {m: pitch_figures(heard[m], requested=vp[pick][:FULL_NOTES]) for m in heard}
            full_check[name] = {
                m: {k: figures[m][k] for k in ("accuracy", "within_25_cents", "median_cents_off", "pitched")}
                for m in heard}
            both = np.isfinite(heard["tiny"]) & np.isfinite(heard["full"])
            full_check[name]["disagree_over_50_cents"] = int(
                np.sum(~both & (np.isfinite(heard["tiny"]) | np.isfinite(heard["full"])))
                + np.sum(np.abs(heard["tiny"][both] - heard["full"][both]) > 0.5))
            print(f"  full vs tiny on {name}: {json.dumps(full_check[name])}", flush=True)

# The codec's own shortening of decays: the same real notes, raw files against decoded latents.
pick = np.arange(0, len(valid), 24 if QUICK else 2)
raw = [load_note(valid.notes[i].path, sr, 4 * sr)[0] for i in pick]
decay_raw = float(np.median(note_shapes(raw, sr)["decay_s"]))
decay_decoded = float(np.median(note_shapes(to_audio(valid.latents[pick]), sr)["decay_s"]))

# FD resolution: the floor at the sets' n, and two disjoint halves of the training notes.
order = np.random.default_rng(0).permutation(len(reference.train_embedding))
halves = frechet_distance(reference.train_embedding[order[: len(order) // 2]],
                          reference.train_embedding[order[len(order) // 2:]])


def fmt(values):
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "n/a"
    m, sd = float(np.mean(values)), float(np.std(values))
    return f"{m:.3g} +- {sd:.2g}" if abs(m) < 1000 else f"{m:.0f} +- {sd:.0f}"


def fails(value, mean, std, better):
    if value is None or not np.isfinite(value):
        return True
    margin = max(3 * std, 0.02 * abs(mean), 1e-9)
    if better == "higher":
        return value < mean - margin
    if better == "lower":
        return value > mean + margin
    return abs(value - mean) > margin


names = list(dict.fromkeys(name for name, _ in runs))
rows, results, caught = [], {}, {}
for mode in ("conditional", "unconditional"):
    first = runs[(names[0], mode)][0]
    for key, label, better in FIGURES:
        if key not in first.figures or key not in first.real:
            continue
        real_mean, real_std = first.real[key]
        cells, entry = [], {}
        for n in names:
            values = [r.figures.get(key) for r in runs[(n, mode)]]
            bad = fails(float(np.mean(values)), real_mean, real_std, better)
            if bad:
                caught.setdefault(mode, {}).setdefault(n, []).append(key)
            cells.append(fmt(values) + (" **FAILS**" if bad else ""))
            entry[n] = {"values": values, "fails": bad}
        rows.append([mode, label, f"{real_mean:.3g} +- {real_std:.2g}" if abs(real_mean) < 1000
                     else f"{real_mean:.0f} +- {real_std:.0f}", *cells, better])
        results.setdefault(mode, {})[key] = {"reference_mean": real_mean, "reference_std": real_std,
                                             "better": better, **entry}
    floors = [f"{np.mean([r.fd_floor[0] for r in runs[(n, mode)]]):.0f} +- "
              f"{np.mean([r.fd_floor[1] for r in runs[(n, mode)]]):.0f}" for n in names]
    rows.append([mode, f"FD floor: {sizes['classifier']} random training notes to all (mean +- std over 8)", "-",
                 *floors, "-"])

write("evaluation_sanity_cpu", {
    "profile": "cpu", "codec": codec.describe(), "codec_cache_id": codec.cache_id, "train_notes": len(train),
    "valid_notes": len(valid), "subset_notes": half, "subsets": SUBSETS, "reference_sizes": sizes,
    "pitch_model": reference.pitch_model, "noise_seeds_of_the_model_sets": list(HELD_OUT_SEEDS[:SUBSETS]),
    "classifier": {"train_seconds": classifier.train_seconds, "valid_pitch_accuracy": classifier.valid_pitch_accuracy,
                   "valid_source_accuracy": classifier.valid_source_accuracy},
    "seconds": {"build_reference_fresh": reference_seconds, "reference_parts": reference.seconds},
    "caught": caught, "crepe_full_against_tiny": full_check,
    "codec_decay_median_s": {"raw_files": decay_raw, "decoded": decay_decoded, "notes": len(pick)},
    "fd_disjoint_training_halves": halves, "figures": results},
    ["mode", "measure", f"real valid, 8 subsets ({sizes['classifier']} notes / {sizes['audio']} heard)",
     *[f"{n} ({SUBSETS} subsets)" for n in names], "better"], rows,
    notes="\n\n".join([
        f"Each set: {half} notes labelled with a random half of the validation notes' labels, all decoded and heard "
        f"(CREPE {reference.crepe_model}, pitch searched over MIDI 35-107); figures are the mean +- std over "
        f"{SUBSETS} such halves. **FAILS**: worse than the real notes' mean by more than 3 of their stds (and 2 % "
        "of the mean). Conditional: pitch against each note's label (50 and 25 cents, median cents off); "
        "unconditional: against the nearest semitone (25 cents), decay per pitch region against the pitch heard. "
        f"The shipped model's sets use noise seeds {', '.join(map(str, HELD_OUT_SEEDS[:SUBSETS]))} (first used "
        "here), Euler 50 steps.",
        "Which figure catches which failure (conditional): " + "; ".join(
            f"{n}: {', '.join(caught.get('conditional', {}).get(n, [])) or 'none'}" for n in names) + ".",
        f"FD resolution: the floor at n={sizes['classifier']} is in the table (random training notes to all of "
        f"them); two disjoint halves of the training notes score {halves:.0f}. A difference between two FDs "
        "smaller than the floor's std is not one.",
        f"The codec shortens decays: median decay to -30 dB of {len(pick)} validation notes, raw files "
        f"{decay_raw:.2f} s, decoded from their latents {decay_decoded:.2f} s.",
        "CREPE full against tiny (first subset, first "
        f"{FULL_NOTES} notes of each set, conditional; within 50 / within 25 cents / median cents off, and how "
        "many notes the two hear more than 50 cents apart): " + "; ".join(
            f"{n}: tiny {c['tiny']['accuracy']:.2f}/{c['tiny']['within_25_cents']:.2f}/"
            f"{c['tiny']['median_cents_off']:.0f}, full {c['full']['accuracy']:.2f}/"
            f"{c['full']['within_25_cents']:.2f}/{c['full']['median_cents_off']:.0f}, "
            f"{c['disagree_over_50_cents']} apart" for n, c in full_check.items()) + ".",
        f"Classifier: trained in {classifier.train_seconds:.1f} s on {len(train)} notes, valid pitch accuracy "
        f"{classifier.valid_pitch_accuracy:.1%}, source {classifier.valid_source_accuracy:.1%}; build_reference "
        f"(classifier + 100 train and 100 valid notes decoded and heard): {reference_seconds:.0f} s."]),
    folder=RESULTS / "scratch" if QUICK else None)
