import json
import os
import time
import zipfile
from pathlib import Path

import pytest

from tutorial_lib.book import chapters
from tutorial_lib.runtime import estimates
from tutorial_lib.data.download import keep_archive_times
from tutorial_lib.data.latents import choose_notes
from tutorial_lib.data.nsynth import parse_note_name
from tutorial_lib.profiles import CPU_10MIN, default_data_dir, get_profile

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
CHAPTERS = sorted(p.stem for p in (RESULTS.parent.parent / "notebooks").glob("*.ipynb"))


def test_h100_figures_are_the_measured_ones():
    measured = json.loads((RESULTS / "throughput_cuda.json").read_text())["results"]
    names = {"plain (35 M)": ("plain", estimates.PLAIN_CHANNELS), "ours, cpu profile": ("unet", (64, 128, 128)),
             "ours, wide": ("unet", (256, 512, 512))}
    for label, run in measured.items():
        model, precision = label.rsplit(" ", 1)
        figure = estimates.H100_TRAIN_SAMPLES_PER_S[(*names[model], precision)]
        assert figure == round(run["train_samples_per_s"])
    cpu = json.loads((RESULTS / "unets_cpu_plain-profile_cpu.json").read_text())
    config, plain = cpu["train_config"], cpu["runs"]["plain (PlainUNet)"]
    rate = config["steps"] * config["batch_size"] / plain["train_seconds"]
    assert estimates.CPU_TRAIN_SAMPLES_PER_S[("plain", (32, 64, 128, 256, 512))] == pytest.approx(rate, rel=0.05)


def test_every_chapter_is_estimated():
    assert set(CHAPTERS) == set(chapters.CHAPTERS)


# Chapter 4 trains two models (ours and the original tutorial's) with the measured recipe: longer than the others.
COLAB_MINUTES = {"04_training": 20.0, "05_sampling": 13.5}  # the intro rounds to the minute


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_colab_profile_fits_its_time_on_a_t4(chapter):
    colab = get_profile("colab")
    est = chapters.chapter_estimate(colab, chapter)
    assert est.minutes <= COLAB_MINUTES.get(chapter, 13.0), est.describe()
    assert chapters.chapter_estimate(colab, chapter, drive_cache=True).minutes <= est.minutes


def test_colab_trains_the_measured_recipe_with_a_step_floor():
    colab = get_profile("colab")
    assert (colab.model_kwargs, colab.train.steps, colab.train.batch_size, colab.train.lr) == (
        CPU_10MIN.model_kwargs, CPU_10MIN.train.steps, CPU_10MIN.train.batch_size, CPU_10MIN.train.lr)
    ours, t4_precision = estimates.training_seconds(colab, colab.model, colab.model_kwargs)
    assert t4_precision == "fp32" and colab.train.precision == "bf16"  # a T4 has no bfloat16
    assert estimates.training_seconds(colab, colab.model, colab.model_kwargs, card="H100")[1] == "bf16"
    assert colab.real_data and colab.codec == "m2l" and colab.max_notes["train"] < estimates.NSYNTH_NOTES["train"]
    # Small batches cost at least the per-step floor, however fast the card: an H100 is not 10x a T4 here.
    h100, _ = estimates.training_seconds(colab, colab.model, colab.model_kwargs, card="H100")
    assert h100 == pytest.approx(colab.train.steps * estimates.STEP_FLOOR_S) and ours > h100
    # The recipe's measured quality on the offline data is in benchmarks/results/recipe_colab.json.
    measured = json.loads((RESULTS / "recipe_colab.json").read_text())["settings"]
    recipe = next(s for s in measured if s["setting"] == "colab recipe")
    assert (recipe["steps"], recipe["batch_size"]) == (colab.train.steps, colab.train.batch_size)


def test_the_full_scale_does_not_fit_and_says_how_long():
    gpu, colab = get_profile("gpu"), get_profile("colab")
    training = chapters.chapter_estimate(gpu, "04_training")
    assert training.minutes > 60 and chapters.chapter_estimate(gpu, "02_dataset").minutes > 10  # known-bad: refused
    assert chapters.chapter_estimate(gpu, "04_training", card="H100").minutes < training.minutes / 10
    plan = chapters.colab_plan("04_training", colab, full_scale=gpu)
    print(plan)
    assert 'PROFILE = "gpu"' in plan and " h on a T4" in plan and "USE_DRIVE" in plan
    assert "estimate" in estimates.describe_training(gpu, "plain", {}).lower()


def test_unmeasured_model_is_refused_and_a_narrower_one_borrows_a_wider_figure():
    with pytest.raises(ValueError, match="bench_throughput"):
        estimates.train_samples_per_s("unet", {"channels": (512, 1024, 1024)})
    narrow, _ = estimates.train_samples_per_s("plain", {"channels": (32, 64, 128, 256, 512)}, card="H100",
                                              precision="fp32")
    assert narrow == estimates.H100_TRAIN_SAMPLES_PER_S[("plain", estimates.PLAIN_CHANNELS, "fp32")]


def test_t4_is_slower_than_h100_by_the_published_ratio():
    assert estimates.card_ratio("T4", "fp32") == pytest.approx(320 / 3350)
    assert estimates.card_ratio("H100", "bf16") == 1.0
    assert estimates.m2l_seconds(encodes=100, card="T4") > estimates.m2l_seconds(encodes=100, card="H100")


def test_subset_is_fixed_and_keeps_order(tmp_path):
    notes = [parse_note_name(f"guitar_acoustic_{i:03d}-060-100") for i in range(50)]
    first, again = choose_notes(notes, 10), choose_notes(notes, 10)
    assert len(first) == 10 and first == again and first != notes[:10]
    assert [notes.index(n) for n in first] == sorted(notes.index(n) for n in first)
    assert choose_notes(notes, None) is notes and choose_notes(notes, 99) is notes


def test_subset_is_said_plainly():
    from types import SimpleNamespace

    from tutorial_lib.pipeline import subset_sentence
    data = SimpleNamespace(listed={"train": 32_690, "valid": 2_081})
    text = subset_sentence(get_profile("colab"), data)
    assert "ONLY A SUBSET" in text and "5,000 of its 32,690 train notes" in text and 'PROFILE = "gpu"' in text
    assert subset_sentence(get_profile("gpu"), data) == ""
    assert subset_sentence(get_profile("colab"), SimpleNamespace(listed={"train": 40, "valid": 9})) == ""


def test_unpacked_files_keep_the_archive_times(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("set/note.mp3", date_time=(2020, 1, 2, 3, 4, 6)), b"x" * 10)
    stamps = []
    for copy in ("one", "two"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp_path / copy)
            keep_archive_times(zf, tmp_path / copy)
        stamps.append(os.stat(tmp_path / copy / "set" / "note.mp3").st_mtime_ns)
        time.sleep(0.01)
    assert stamps[0] == stamps[1] and time.localtime(stamps[0] / 1e9).tm_year == 2020


def test_data_dir_follows_its_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("TUTORIAL_LIB_DATA", raising=False)
    assert default_data_dir(tmp_path) == tmp_path
    monkeypatch.setenv("TUTORIAL_LIB_DATA", str(tmp_path / "local"))
    assert default_data_dir(tmp_path / "drive") == tmp_path / "local"


def test_the_appendix_table_is_the_estimate():
    """The table of notebooks/appendix_running.md (made by estimates_table when the book builds) has every
    chapter, each with its four estimates."""
    colab, gpu = get_profile("colab"), get_profile("gpu")
    lines = chapters.estimates_table(colab, gpu).splitlines()[2:]
    assert len(lines) == len(CHAPTERS) and set(chapters.TABLE_LABELS) == set(CHAPTERS)
    for chapter, line in zip(chapters.TABLE_LABELS, lines):
        cells = [c.strip() for c in line.strip("|").split("|")[1:]]
        expected = [chapters.chapter_estimate(colab, chapter), chapters.chapter_estimate(colab, chapter, drive_cache=True),
                    chapters.chapter_estimate(gpu, chapter), chapters.chapter_estimate(gpu, chapter, card="H100")]
        assert cells == [estimates.duration_text(60 * e.minutes) for e in expected], chapter
    page = (RESULTS.parent.parent / "notebooks" / "appendix_running.md").read_text()
    assert "```{chapter-estimates}" in page


def test_weights_id_survives_a_new_download_and_tells_files_apart(tmp_path):
    from tutorial_lib.codec import weights_id

    first, again, other = tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "c.pt"
    first.write_bytes(bytes(range(256)) * 9000)
    again.write_bytes(first.read_bytes())
    os.utime(again, (1e9, 1e9))  # downloaded at another time
    other.write_bytes(first.read_bytes()[:-1] + b"x")
    assert weights_id(first) == weights_id(again) != weights_id(other)


def test_prepare_encodes_only_the_subset_and_says_so(tiny_nsynth, tmp_path):
    from dataclasses import replace

    from tutorial_lib.pipeline import prepare

    profile = replace(get_profile("ci"), max_notes={"train": 4, "valid": 3})
    prepared = prepare(profile, data=tiny_nsynth, codec="mel", cache_dir=tmp_path, progress=False)
    listed = prepared.data.listed
    assert (len(prepared.data.train), len(prepared.data.valid)) == (4, 3) and listed["train"] > 4
    assert f"4 of its {listed['train']} train notes" in prepared.data_source and "ONLY A SUBSET" in prepared.data_source
    whole = prepare(get_profile("ci"), data=tiny_nsynth, codec="mel", cache_dir=tmp_path, progress=False)
    assert len(whole.data.train) == listed["train"] and "SUBSET" not in whole.data_source
    assert {n.name for n in prepared.data.train.notes} <= {n.name for n in whole.data.train.notes}


def test_training_plan_is_said_before_training(tmp_path, monkeypatch):
    import torch

    from tutorial_lib.pipeline import training_plan

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")
    colab = get_profile("colab")
    text = training_plan(colab, colab.model, colab.model_kwargs, tmp_path / "run.pt")
    assert "19,000 steps of 32" in text and "6.1 min on a free Colab T4 (fp32" in text and "This GPU: Tesla T4" in text
    (tmp_path / "run.pt").write_bytes(b"")
    assert "exists: it resumes" in training_plan(colab, colab.model, colab.model_kwargs, tmp_path / "run.pt")
    assert "No time estimate" in training_plan(colab, "unet", {"channels": (1024, 1024, 1024)}, tmp_path / "x.pt")
