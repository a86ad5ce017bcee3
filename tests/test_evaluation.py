"""Known answers for the evaluation: each measure must fail where it should (tutorial_lib.evaluation)."""

import json

import numpy as np
import pytest
import torch

from tutorial_lib.evaluation.classifier import ClassifierConfig, inception_score
from tutorial_lib.evaluation import comparison_table, evaluate, evaluate_sets, known_bad_latents, reference_from_prepared
from tutorial_lib.evaluation.note_measures import (decay_inside_by_pitch, energy_share_above, load_torchcrepe, note_pitch,
                                                  note_shape, note_shapes, pitch_entropy, pitch_figures, shape_distance)

SR = 16_000
t = np.arange(int(1.5 * SR)) / SR


def tone(midi, decay_s=1.0):
    return 0.5 * np.sin(2 * np.pi * 440 * 2 ** ((midi - 69) / 12) * t) * np.exp(-t / decay_s * 3)


@pytest.mark.parametrize("method", ["crepe", "pyin"])
def test_a_pure_tone_is_found_within_5_cents(method):
    if method == "crepe" and load_torchcrepe() is None:
        pytest.skip("torchcrepe is not installed")
    for midi in (45.3, 69, 84):
        assert abs(note_pitch(tone(midi), SR, method=method, refine=True) - midi) * 100 < 5
        # CREPE alone reads pure tones 4-9 cents sharp: still far inside the 50-cent accuracy window
        assert abs(note_pitch(tone(midi), SR, method=method) - midi) * 100 < (12 if method == "crepe" else 5)


def test_a_detuned_tone_fails_pitch_accuracy():
    in_tune, half, sixty = (note_pitch(tone(69 + c / 100), SR) for c in (0, 50, 60))
    assert pitch_figures([in_tune])["accuracy"] == 1.0
    assert pitch_figures([half])["accuracy"] == 0.0  # a quarter tone: 50 cents from every semitone
    assert pitch_figures([in_tune], requested=[69])["accuracy"] == 1.0
    assert pitch_figures([sixty], requested=[69])["accuracy"] == 0.0
    assert pitch_figures([in_tune], requested=[70])["accuracy"] == 0.0
    assert np.isnan(note_pitch(np.zeros(SR), SR))  # silence has no pitch
    assert pitch_figures([np.nan, 69.0])["accuracy"] == 0.5  # and counts as wrong


@pytest.mark.parametrize("method", ["crepe", "pyin"])
def test_an_octave_error_above_the_guitar_is_heard_as_one(method):
    """Issue 21: the search stopped at MIDI 96, so MIDI 88 played an octave up (100) read as no pitch."""
    if method == "crepe" and load_torchcrepe() is None:
        pytest.skip("torchcrepe is not installed")
    for midi in (88, 96, 100, 104):
        assert abs(note_pitch(tone(midi), SR, method=method) - midi) * 100 < 25, midi  # pYIN: 20 cents at 100
    off = pitch_figures([note_pitch(tone(100), SR, method=method)], requested=[88])
    assert off["accuracy"] == 0.0 and off["median_cents_off"] == pytest.approx(1200, abs=25)


def test_a_quarter_tone_passes_50_cents_but_fails_25_and_the_median():
    """Issue 21: notes 50 cents sharp read a few cents flat of that pass "within 50 cents"; the share within 25
    cents and the median cents off catch them."""
    heard = 69 + np.array([0.46, 0.48, 0.44, 0.52, 0.47])  # a +50-cent set as a tracker hears it
    figures = pitch_figures(heard, requested=[69] * 5)
    assert figures["accuracy"] == 0.8 and figures["within_25_cents"] == 0.0
    assert figures["median_cents_off"] == pytest.approx(47)
    in_tune = pitch_figures(69 + np.array([0.05, -0.08, 0.1]), requested=[69] * 3)
    assert in_tune["accuracy"] == in_tune["within_25_cents"] == 1.0
    assert pitch_figures([np.nan, 69.1], requested=[69, 69])["within_25_cents"] == 0.5  # no pitch counts as wrong


def test_decay_is_judged_against_its_own_pitch_region():
    """Issue 21: a pooled 5-95 % range passes a high note that rings like a low one; per pitch region it fails."""
    rng = np.random.default_rng(0)
    ref_pitch = np.repeat(np.arange(40, 89, 2), 8)
    ref_decay = 2.0 * 2.0 ** (-(ref_pitch - 40) / 16) * rng.uniform(0.9, 1.1, len(ref_pitch))  # 2 s down to 0.25 s
    own = 2.0 * 2.0 ** (-(ref_pitch - 40) / 16)
    assert decay_inside_by_pitch(own, ref_pitch, ref_decay, ref_pitch) > 0.9
    swapped = own[::-1]  # high notes ringing like low ones and the other way round
    pooled_lo, pooled_hi = np.quantile(ref_decay, [0.05, 0.95])
    assert np.mean((swapped >= pooled_lo) & (swapped <= pooled_hi)) > 0.8  # the pooled range passes them
    assert decay_inside_by_pitch(swapped, ref_pitch, ref_decay, ref_pitch) < 0.3
    assert decay_inside_by_pitch([1.0], [np.nan], ref_decay, ref_pitch) == 0.0  # no pitch: outside


def test_pitch_entropy_and_inception_score():
    assert pitch_entropy([60.1, 59.9, 60.0]) == 0.0
    assert pitch_entropy([60, 61, 62, 63]) == pytest.approx(2.0)
    assert inception_score(np.eye(5)) == pytest.approx(5.0)
    assert inception_score(np.tile(np.eye(5)[0], (5, 1))) == pytest.approx(1.0)
    assert inception_score(np.full((5, 5), 0.2)) == pytest.approx(1.0)


def test_energy_share_above_splits_two_equal_tones_and_is_zero_for_silence():
    rate = 16_000
    t = np.arange(rate) / rate
    low, high = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 5000 * t)
    assert energy_share_above(low + high, rate, 4000) == pytest.approx(0.5, abs=0.01)
    assert energy_share_above(low, rate, 4000) < 1e-4 and energy_share_above(high, rate, 4000) > 0.9999
    assert energy_share_above(np.zeros(rate), rate, 4000) == 0.0


def test_a_click_decays_fast_and_a_plucked_tone_rings():
    rng = np.random.default_rng(0)
    click = rng.standard_normal(len(t)) * np.exp(-t / 0.05 * 3)  # falls 26 dB in 50 ms
    click[int(0.3 * SR):] = 0.0
    click_shape, ring = note_shape(click, SR), note_shape(tone(60, decay_s=1.0), SR)
    assert click_shape["decay_s"] < 0.1 and click_shape["silence"] > 0.7
    assert 0.9 < ring["decay_s"] < 1.2 and ring["silence"] < 0.05
    late = np.concatenate([np.zeros(SR // 2), tone(60)])[: len(t)]
    assert note_shape(late, SR)["onset_s"] == pytest.approx(0.5, abs=0.02)


def test_shape_distance_separates_clicks_from_notes():
    rng = np.random.default_rng(0)
    notes = [tone(60, decay_s=d) for d in rng.uniform(0.8, 1.4, 40)]
    more_notes = [tone(62, decay_s=d) for d in rng.uniform(0.8, 1.4, 20)]
    clicks = [rng.standard_normal(len(t)) * np.exp(-t / d * 3) for d in rng.uniform(0.03, 0.1, 20)]
    reference = note_shapes(notes, SR)
    same, bad = shape_distance(note_shapes(more_notes, SR), reference), shape_distance(note_shapes(clicks, SR), reference)
    assert same["decay_s_inside"] > 0.8 and bad["decay_s_inside"] == 0.0
    assert bad["distance"] > 5 * same["distance"]


# ---- the classifier and the whole evaluation on the ci profile's data (mel codec, offline) ----

@pytest.fixture(scope="module")
def ci(tmp_path_factory):
    from tutorial_lib.data.labels import SOURCE_IDS
    from tutorial_lib.pipeline import prepare

    cache = tmp_path_factory.mktemp("eval_cache")
    prepared = prepare(profile="ci", codec="mel", cache_dir=cache, progress=False)
    valid = prepared.data.valid
    settings = dict(config=ClassifierConfig(epochs=15), cache_dir=cache / "eval", verbose=False)
    reference = reference_from_prepared(prepared, num_audio=12, **settings)
    pick = np.random.default_rng(0).permutation(len(valid))[:40]
    return {"reference": reference, "to_audio": prepared.to_audio, "valid": valid.latents[pick], "prepared": prepared,
            "pitch": np.array([valid.notes[i].pitch for i in pick]), "settings": settings,
            "source": np.array([SOURCE_IDS[valid.notes[i].source] for i in pick])}


def test_classifier_is_cached_and_learns_pitch(ci):
    classifier = ci["reference"].classifier
    assert classifier.valid_pitch_accuracy > 0.7
    again = reference_from_prepared(ci["prepared"], audio=False, **ci["settings"]).classifier
    assert again.train_seconds == classifier.train_seconds  # read back, not retrained
    x = ci["valid"][:4]
    assert np.allclose(again.predict(x)["embedding"], classifier.predict(x)["embedding"], atol=1e-5)


def test_real_notes_beat_shuffled_reversed_and_matched_noise(ci):
    sets = {"real": ci["valid"], **known_bad_latents(ci["valid"], seed=0)}
    reports = evaluate_sets(sets, reference=ci["reference"], to_audio=ci["to_audio"], num_audio=6)
    real = reports["real"]
    for name in ("shuffled", "reversed", "matched_noise"):
        assert reports[name]["classifier_fd"] > 1.5 * real["classifier_fd"], name
        assert reports[name]["shape_distance"] > 3 * real["shape_distance"], name
        assert reports[name]["inception_score"] < real["inception_score"], name
    mean, std = real.real["classifier_fd"]
    assert real["classifier_fd"] < mean + 4 * std  # real notes sit inside the reference's own spread
    assert comparison_table(reports).splitlines()[0].startswith("| measure | real | shuffled | reversed | matched_noise |")


def test_conditional_report_and_its_json(ci):
    report = evaluate(latents=ci["valid"][:20], reference=ci["reference"], to_audio=ci["to_audio"],
                      conditions={"pitch": ci["pitch"][:20], "source": ci["source"][:20]}, num_audio=6)
    assert report.conditional and report.num_audio == 6 and report.sizes == {"classifier": 20, "audio": 6}
    assert report.pitch_model == "crepe-tiny" or report.pitch_model == "pyin"
    assert {"pitch_within_25_cents", "decay_inside_pitch", "median_cents_off"} <= set(report.figures)
    assert report["pitch_within_25_cents"] <= report["pitch_accuracy"]
    assert report["classifier_pitch_accuracy"] > 0.6 and report["pitch_accuracy"] >= 0.5
    wrong = evaluate(latents=ci["valid"][:20], reference=ci["reference"], conditions={"pitch": ci["pitch"][:20] + 1})
    assert wrong["classifier_pitch_accuracy"] < 0.2 and "pitch_accuracy" not in wrong.figures
    # labels given for some notes only (-1: not given) count only where given; a Conditions object works too
    partial = ci["pitch"][:20].copy()
    partial[10:] = -1
    from types import SimpleNamespace

    half = evaluate(latents=ci["valid"][:20], reference=ci["reference"],
                    conditions=SimpleNamespace(pitch=torch.as_tensor(partial), source=torch.full((20,), -1)))
    assert half["classifier_pitch_accuracy"] > 0.6 and "classifier_source_accuracy" not in half.figures
    data = json.loads(json.dumps(report.as_dict()))
    assert data["better"]["classifier_fd"] == "lower" and "mean" in data["real"]["pitch_accuracy"]
    assert "Frechet distance" in report.table()
    with pytest.raises(ValueError, match="standardised latents"):
        evaluate(latents=torch.zeros(3, 64, 7), reference=ci["reference"])


def test_labels_to_ask_cover_every_source_of_a_sorted_split():
    """A split lists its notes by instrument: asking for its first notes would ask for one source only."""
    from tutorial_lib.conditioning import Conditions
    from tutorial_lib.evaluation import labels_to_ask

    sources = [0] * 57 + [1] * 63 + [2] * 69  # the cpu valid split's acoustic, electronic, synthetic notes
    # Listed by instrument, pitch and velocity (25, 75, 127 in turn), as the cpu valid split is.
    split = Conditions.make(len(sources), pitch=[40 + i // 3 % 25 for i in range(len(sources))], source=sources,
                            velocity=[(25, 75, 127)[i % 3] for i in range(len(sources))])
    asked = labels_to_ask(split, 64)
    assert len(asked) == 64 and set(asked.source.tolist()) == {0, 1, 2}
    assert len(set(zip(asked.pitch.tolist(), asked.source.tolist(),
                       asked.velocity.tolist()))) == 64  # no label twice
    for velocity in (25, 75, 127):  # an even stride of 189 / 64 would ask for 25 and 127 only
        assert int((asked.velocity == velocity).sum()) >= 10
    assert asked.pitch.min() <= 42 and asked.pitch.max() >= 62
    assert abs(int((asked.source == 0).sum()) - 64 * 57 / 189) <= 1
    everyone = labels_to_ask(split, 200)
    assert len(everyone) == 200 and int((everyone.source == 2).sum()) >= 69


def test_notes_with_labels_match_source_velocity_and_the_nearest_pitch():
    from tutorial_lib.conditioning import Conditions
    from tutorial_lib.evaluation import notes_with_labels

    # Two instruments of each source, even pitches 40-50, velocities 25 and 127.
    rows = [(p, s, v) for _ in range(2) for s in (0, 1, 2) for p in range(40, 51, 2) for v in (25, 127)]
    held = Conditions.make(len(rows), pitch=[r[0] for r in rows], source=[r[1] for r in rows],
                           velocity=[r[2] for r in rows])
    asked = Conditions.make(4, pitch=[44, 45, 60, 30], source=[1, 2, 0, 2], velocity=[127, 25, 25, 127])
    picks = notes_with_labels(asked, held, seed=0)
    assert held.source[picks].tolist() == [1, 2, 0, 2] and held.velocity[picks].tolist() == [127, 25, 25, 127]
    assert held.pitch[picks].tolist()[0] == 44 and held.pitch[picks].tolist()[1] in (44, 46)
    assert held.pitch[picks].tolist()[2:] == [50, 40]  # beyond the held range: its nearest end
    many = Conditions.make(50, pitch=44, source=1, velocity=127)
    assert len(set(notes_with_labels(many, held, seed=1).tolist())) == 2  # both instruments drawn


def test_fd_floor_is_reported_at_the_same_n_and_shrinks_with_it(ci):
    """Issue 21: an FD read at n notes has a floor (random training notes to all of them) and a spread; every
    report carries both, at its own n."""
    from tutorial_lib.evaluation import fd_floor

    reference = ci["reference"]
    report = evaluate(latents=ci["valid"][:20], reference=reference)
    assert report.fd_floor == fd_floor(reference, num_notes=20, repeats=8, seed=0)
    small, large = fd_floor(reference, num_notes=10), fd_floor(reference, num_notes=len(reference.train_embedding) // 2)
    assert small[0] > large[0] > 0 and small[1] > 0
    assert report["classifier_fd"] > report.fd_floor[0]  # other instruments sit above the floor
    assert "FD floor" in report.table() and tuple(report.as_dict()["fd_floor"]) == report.fd_floor


def test_same_label_notes_score_a_stand_in_against_its_own_label():
    """Issue 21: a label with no training note (synthetic MIDI 42 in the cpu data) was filled by MIDI 44 and
    scored as if it were 42, a pitch error the data did not make."""
    from tutorial_lib.conditioning import Conditions
    from tutorial_lib.evaluation import same_label_notes

    rows = [(p, s, v) for s in (0, 1, 2) for p in range(40, 51, 2) for v in (25, 127) if (s, p) != (2, 42)]
    held = Conditions.make(len(rows), pitch=[r[0] for r in rows], source=[r[1] for r in rows],
                           velocity=[r[2] for r in rows])
    asked = Conditions.make(3, pitch=[42, 42, 46], source=[2, 1, 2], velocity=[25, 25, 127])
    picks, labels, exact = same_label_notes(asked, held, seed=0)
    assert exact == 2 and labels["pitch"].tolist()[0] in (40, 44) and labels["pitch"].tolist()[1:] == [42, 46]
    assert labels["pitch"].tolist() == held.pitch[picks].tolist()
    assert labels["source"].tolist() == [2, 1, 2]


# --- pitch labels under the players (issue 33): a pitch a listener would sign, or "no clear pitch" ---------------

def _plucked(midi, seed=0):
    from tutorial_lib.data.synth import pluck, random_guitar

    rng = np.random.default_rng(seed)
    return pluck(random_guitar("g", "acoustic", rng), midi, 100, rng, sample_rate=SR)


@pytest.mark.skipif(load_torchcrepe() is None, reason="torchcrepe is not installed")
def test_pitch_label_names_real_notes_and_refuses_noise_and_clicks():
    from tutorial_lib.evaluation.note_measures import heard_pitch, pitch_label
    from tutorial_lib.generation import load_pretrained

    for midi in (44, 57, 70, 82):  # plucked strings: the right MIDI
        heard = heard_pitch(_plucked(midi), SR)
        assert heard.clear and abs(heard.midi - midi) < 0.3, (midi, heard)
    assert pitch_label(_plucked(57), SR).startswith("MIDI 5")
    space = load_pretrained("cpu-long").space  # decoded pure noise (t = 1): the tracker alone names a pitch
    rate = space.codec.sample_rate
    noise = space.to_audio(torch.randn(4, 64, space.num_frames, generator=torch.Generator().manual_seed(0)))
    assert sum(np.isfinite(note_pitch(a, rate)) for a in noise) >= 3  # the old label: a "pitch" for noise
    assert [pitch_label(a, rate) for a in noise] == ["no clear pitch"] * 4
    rng = np.random.default_rng(0)
    for decay in (0.01, 0.03):  # clicks: bursts of noise, and a plucked note cut after 60 ms
        click = np.zeros(2 * SR)
        click[:SR // 5] = 0.5 * rng.standard_normal(SR // 5) * np.exp(-np.arange(SR // 5) / SR / decay)
        assert pitch_label(click, SR) == "no clear pitch"
    cut = _plucked(62) * (np.arange(len(_plucked(62))) < 0.06 * SR)
    assert pitch_label(cut, SR) == "no clear pitch"
    assert pitch_label(0.3 * rng.standard_normal(2 * SR), SR) == "no clear pitch"  # white noise


def test_a_pitch_reading_prints_as_a_number_or_as_no_clear_pitch():
    from tutorial_lib.evaluation.note_measures import note_pitch, shown_pitch

    assert shown_pitch(note_pitch(_plucked(57), SR)).startswith("57.")
    assert shown_pitch(note_pitch(np.zeros(2 * SR), SR)) == "no clear pitch"  # silence reads NaN, printed "nan" before


def test_heard_pitch_takes_the_fundamental_when_the_tracker_hears_a_harmonic(monkeypatch):
    """A tracker that reads the second or third harmonic (chapter 6's "62.0" for a MIDI 44 note): the
    spectrum shows the fundamental's own harmonics, so the label comes down an octave or a twelfth."""
    from tutorial_lib.evaluation import note_measures

    note = _plucked(44)
    for up, divisor in ((12.0, 2), (12.0 * np.log2(3), 3), (0.0, 1)):
        monkeypatch.setattr(note_measures, "_note_pitch",
                            lambda *a, up=up, **k: (44.0 + up, 1.0, (44.0 + up, 5.0)))
        heard = note_measures.heard_pitch(note, SR)
        assert heard.clear and heard.divisor == divisor and abs(heard.midi - 44.0) < 1e-6, (up, heard)
    # a pure tone stays where it is read: no lower fundamental's harmonics stand in its spectrum
    monkeypatch.setattr(note_measures, "_note_pitch", lambda *a, **k: (69.0, 1.0, (69.0, 1.0)))
    assert note_measures.heard_pitch(tone(69), SR).divisor == 1


def test_an_unconditional_table_shows_the_25_cent_share_once():
    """Without asked pitches, the 50-cent share is the 25-cent share (every pitch is within 50 cents of its
    nearest semitone): chapter 5's table showed both rows, equal (issue 33). Only the asked case shows both."""
    from tutorial_lib.evaluation.report import EvalReport

    figures = {"pitch_accuracy": 0.5, "pitch_within_25_cents": 0.5, "pitched": 1.0}
    rows = EvalReport(4, 4, False, figures, {}, {"classifier": 4}, "crepe", 0.0).table().splitlines()
    assert not any("within 50 cents" in r for r in rows)
    assert sum("nearest semitone" in r for r in rows) == 1
    asked = EvalReport(4, 4, True, figures, {}, {"classifier": 4}, "crepe", 0.0).table()
    assert "within 50 cents" in asked and "within 25 cents of the target" in asked
