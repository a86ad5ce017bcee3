"""Everything the book's tooling knows about each chapter, in one table: :data:`CHAPTERS`.

For each page of ``notebooks/``: the library code it must display (tests/test_chapter_sources.py checks the
page shows it), the costly work it does (notes encoded and decoded, the models it trains, the network calls it
samples; tests/test_chapter_work.py checks the counts against a run of the chapter), and from those the
expected time in Colab that its first cell and its Colab note print (:func:`chapter_estimate`).
The exercises' answers are listed per exercise in :data:`tutorial_lib.book.student.ANSWERS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..runtime.estimates import (CARDS, CLASSIFIER_NOTE_EPOCHS_PER_S, DOWNLOAD_MB_PER_S, INSTALL_SECONDS,
                                 M2L_CPU_DECODE_SECONDS, M2L_CPU_ENCODE_SECONDS, M2L_WEIGHTS_MB, MEL_DECODE_SECONDS, NSYNTH_MB, NSYNTH_NOTES, OTHER_SECONDS,
                                 UNPACK_SECONDS, cpu_train_samples_per_s, duration_text, m2l_seconds,
                                 minutes_text, notes_used, train_samples_per_s, training_seconds)


@dataclass(frozen=True)
class Work:
    """The costly work of one chapter, in notes (tutorial_lib.runtime.work counts the same when the chapter runs).

    ``encodes``: notes the chapter's codec encodes beyond preparing the data; ``decodes``: notes it decodes;
    ``reference_decodes``: real notes the evaluation decodes once (kept in the cache); ``shipped_decodes``: the
    shipped model's notes (offline codec, CPU); ``classifier_note_epochs``: the evaluation classifier's training.
    """

    encodes: int = 0
    decodes: int = 0
    reference_decodes: int = 0
    shipped_decodes: int = 0
    classifier_note_epochs: int = 0


def _reference(num_audio: int, train: int, valid: int) -> int:
    """Real notes the evaluation decodes: ``num_audio`` of each split."""
    return min(num_audio, train) + min(num_audio, valid)


def _classifier(train: int) -> int:
    return 40 * train  # ClassifierConfig.epochs


@dataclass(frozen=True)
class Chapter:
    """One page of ``notebooks/``: ``name`` is its file's stem.

    ``shows``: library code the page displays with ``show_source``, as ``"module:qualified name"`` under
    ``tutorial_lib``; ``work(profile, train, valid)``: the :class:`Work` it does on data of ``train`` and
    ``valid`` notes; ``trains``: the models it trains (or reloads): ``"ours"`` (the profile's) and ``"plain"``;
    ``note_calls``: network calls it samples, in notes' worth; ``cpu_training``: an exercise's ``(model,
    samples)`` trained on the CPU; ``no_data``: it needs no notes or codec; ``other_seconds``: its other cells;
    ``after``: the chapters whose cached work (data, latents, chapter 4's model) it reuses, which the book build
    runs first (tutorial_lib.book.execute).
    """

    name: str
    shows: tuple[str, ...]
    work: Callable[..., Work] = lambda profile, train, valid: Work()
    trains: tuple[str, ...] = ()
    note_calls: int = 0
    cpu_training: tuple[str, int] | None = None
    no_data: bool = False
    other_seconds: float = OTHER_SECONDS
    after: tuple[str, ...] = ()


CHAPTERS = {c.name: c for c in (
    Chapter("01_codec", ("codec:MelCodec.encode", "codec:MelCodec.decode"),
            # a round trip, six notes' pitch table, and Music2Latent's shapes (one encode)
            work=lambda profile, train, valid: Work(encodes=1 + 1 + 6, decodes=1 + 6)),
    Chapter("02_dataset", ("data:parse_note_name", "data.synth:string_filter", "data:encode_note",
                           "training:batch_indices"), after=("01_codec",)),
    Chapter("03_unet", ("unet:PlainUNet.forward", "unet:ResBlock", "unet:UNet.forward"),
            cpu_training=("plain", 2 * 200 * 32), after=("01_codec",)),  # the time-everywhere exercise: 2 runs of 200 x 32
    Chapter("04_training", ("flow:RectifiedFlow.add_noise", "flow:RectifiedFlow.sample_times",
                            "flow:RectifiedFlow.loss", "training:batch_indices", "training:training_step",
                            "training:update_ema", "training:fit"),
            # noisy latents played: t = 0, 0.5, 1; the listening exercise's five times
            work=lambda profile, train, valid: Work(decodes=3 + 5), trains=("ours", "plain"), after=("01_codec",)),
    Chapter("04a_toy_flow", ("flow:RectifiedFlow.add_noise", "toy_flow:train_toy",
                             "toy_flow:GaussianMixture.velocity"),
            no_data=True, other_seconds=25.0),  # a 2-D toy, 23 s on a laptop CPU
    Chapter("05_sampling", ("sampling:euler_step", "sampling:integrate", "sampling:sample", "sampling:heun_step",
                            "sampling:time_grid", "book.widgets:generate_audio"),
            # samples, a 48-note evaluation, your 3 players (the real notes' decay times come from the
            # reference); the shipped model: samples, 3 players, exercise 5.3's 4
            work=lambda profile, train, valid: Work(
                decodes=profile.num_samples + profile.eval_audio + 3,
                reference_decodes=_reference(profile.eval_audio, train, valid), shipped_decodes=profile.num_samples + 3 + 4,
                classifier_note_epochs=_classifier(train)),
            # trajectories, solver sweep, Frechet distances of 100 samples, players
            trains=("ours",), note_calls=40_000, after=("04_training",)),
    Chapter("06_control", ("conditioning:ConditionEmbedding", "conditioning:drop_labels", "sampling:guided",
                           "sampling:invert", "sampling:slerp", "generation:NoteGenerator.generate"),
            # guidance 4 x 16 and one player per scale, inversion 2, edits 3 + 16, slerp 5, table 3 + 3, grid 6
            work=lambda profile, train, valid: Work(
                decodes=4 * min(16, profile.eval_audio) + 4 + 2 + 3 + 16 + 5 + 3 + 3 + 6,
                reference_decodes=_reference(profile.eval_audio, train, valid),
                shipped_decodes=3, classifier_note_epochs=_classifier(train)),
            # guidance sweep (4 x eval_audio notes, doubled batches), inversions, edits, the listening table and the grid
            trains=("ours",), note_calls=30_000, after=("04_training", "05_sampling")),  # chapter 5's reference
    Chapter("06a_straight_fast", ("reflow:make_pairs", "reflow:straightness", "reflow:UShapedFlow.sample_times",
                                  "reflow:train_reflow"),
            # the shipped pair: 2 models x 3 call counts x 12 notes, 4 timed decodes
            work=lambda profile, train, valid: Work(shipped_decodes=2 * 3 * 12 + 4),
            # 1,024 reflow pairs of 25 calls, 400 reflow steps of 32 (the cpu profile's) (a step is about 3 forward passes), two
            # straightness curves of 64 x 50 calls
            trains=("ours",), note_calls=1024 * 25 + 3 * 400 * 32 + 2 * 64 * 50, after=("04_training",)),
)}


def chapter_work(chapter: str, profile, sizes: dict[str, int]) -> Work:
    """What ``chapter`` encodes, decodes and trains the classifier on, run with ``profile`` on data of ``sizes``
    notes per split (``{"train": N, "valid": M}``)."""
    return CHAPTERS[chapter].work(profile, sizes["train"], sizes["valid"])


@dataclass
class Estimate:
    """Seconds per part of one chapter's run; ``minutes`` is their sum."""

    chapter: str
    card: str
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def minutes(self) -> float:
        return sum(self.parts.values()) / 60

    def describe(self) -> str:
        items = ", ".join(f"{name} {duration_text(s)}" for name, s in self.parts.items() if s >= 1)
        where = CARDS[self.card].name if self.card in CARDS else self.card
        return f"{self.chapter}: about {duration_text(60 * self.minutes)} on {where} ({items})"


def chapter_estimate(profile, chapter: str, *, card: str = "T4", drive_cache: bool = False) -> Estimate:
    """What running ``chapter`` with ``profile`` costs in a fresh Colab session on ``card``.

    ``drive_cache=True``: a later chapter with the cache on Google Drive, where the latents and chapter 4's
    checkpoints already are (nothing encoded, nothing trained twice).
    """
    page = CHAPTERS[chapter]
    est = Estimate(chapter, card, {"install": INSTALL_SECONDS})
    if not page.no_data:
        counts = chapter_work(chapter, profile, notes_used(profile))
        est.parts["download"] = (NSYNTH_MB + M2L_WEIGHTS_MB) / DOWNLOAD_MB_PER_S + UNPACK_SECONDS
        encodes = 0 if drive_cache else sum(notes_used(profile).values())
        est.parts["encoding"] = m2l_seconds(encodes=encodes + counts.encodes, card=card)
        cached = 0 if drive_cache else counts.reference_decodes  # the evaluation's real notes, kept on Drive
        est.parts["decoding"] = (m2l_seconds(decodes=counts.decodes + cached, card=card)
                                 + counts.shipped_decodes * MEL_DECODE_SECONDS)
        if counts.classifier_note_epochs and not drive_cache:
            est.parts["evaluation classifier"] = counts.classifier_note_epochs / CLASSIFIER_NOTE_EPOCHS_PER_S
    if page.cpu_training:
        name, samples = page.cpu_training
        est.parts["exercise training (CPU)"] = samples / cpu_train_samples_per_s(name, profile.plain_model_kwargs)
    models = {"ours": (profile.model, profile.model_kwargs), "plain": ("plain", profile.plain_model_kwargs)}
    trained = []
    for which in page.trains:
        if models[which] in trained or (drive_cache and chapter in ("05_sampling", "06_control", "06a_straight_fast")):
            continue  # the same run (one checkpoint), or chapter 4's, reloaded
        trained.append(models[which])
        est.parts[f"training {which}"] = training_seconds(profile, *models[which], card=card)[0]
    if page.note_calls:  # a forward pass costs about a third of a training step
        rate, _ = train_samples_per_s(profile.model, profile.model_kwargs, card=card,
                                      precision=profile.train.precision)
        est.parts["sampling"] = page.note_calls / (3 * rate)
    est.parts["other cells"] = page.other_seconds
    return est


CPU = "Colab's CPU (no GPU)"


def cpu_chapter_estimate(profile, chapter: str) -> Estimate:
    """What ``chapter`` costs with ``profile`` in a Colab runtime without a GPU: Music2Latent and training at
    their measured CPU speeds (:mod:`tutorial_lib.runtime.estimates`), nothing reused from Drive."""
    page = CHAPTERS[chapter]
    est = Estimate(chapter, CPU, {"install": INSTALL_SECONDS})
    if not page.no_data:
        counts = chapter_work(chapter, profile, notes_used(profile))
        est.parts["download"] = (NSYNTH_MB + M2L_WEIGHTS_MB) / DOWNLOAD_MB_PER_S + UNPACK_SECONDS
        est.parts["encoding"] = (sum(notes_used(profile).values()) + counts.encodes) * M2L_CPU_ENCODE_SECONDS
        est.parts["decoding"] = ((counts.decodes + counts.reference_decodes) * M2L_CPU_DECODE_SECONDS
                                 + counts.shipped_decodes * MEL_DECODE_SECONDS)
        est.parts["evaluation classifier"] = counts.classifier_note_epochs / CLASSIFIER_NOTE_EPOCHS_PER_S
    models = {"ours": (profile.model, profile.model_kwargs), "plain": ("plain", profile.plain_model_kwargs)}
    if page.cpu_training:
        models["exercise"] = (page.cpu_training[0], profile.plain_model_kwargs)
    for which in dict.fromkeys(page.trains + (("exercise",) if page.cpu_training else ())):
        name, kwargs = models[which]
        samples = page.cpu_training[1] if which == "exercise" else profile.train.steps * profile.train.batch_size
        est.parts[f"training {which}"] = samples / cpu_train_samples_per_s(name, kwargs)
    if page.note_calls:
        est.parts["sampling"] = page.note_calls / (3 * cpu_train_samples_per_s(profile.model, profile.model_kwargs))
    est.parts["other cells"] = page.other_seconds
    return est


def needs_gpu(profile, chapter: str) -> bool:
    """Whether ``chapter`` run with ``profile`` wants a GPU: it encodes notes with Music2Latent."""
    return profile.codec == "m2l" and not CHAPTERS[chapter].no_data


def no_gpu_message(chapter: str, profile) -> str:
    """What the Colab cell says first when ``profile`` wants a GPU and the runtime has none."""
    est = cpu_chapter_estimate(profile, chapter)
    parts = ", ".join(f"{name} {duration_text(s)}" for name, s in est.parts.items() if s >= 60)
    return (f"NO GPU in this runtime, and profile {profile.name} wants one: on this CPU the chapter would take about "
            f"{duration_text(60 * est.minutes)} ({parts}; an estimate from speeds measured on 2 CPU cores). Switch to a GPU first: Runtime > Change runtime type > T4 GPU > Save, then run the "
            'notebook again from the top. Or stay on the CPU with the offline data and codec: change PROFILE = '
            f'"{profile.name}" to PROFILE = "cpu" in this cell (a few minutes a chapter).')


def colab_plan(chapter: str, profile, full_scale=None, *, gpu: bool | None = None) -> str:
    """What the Colab cell prints: first, if ``profile`` wants a GPU and there is none (``gpu``: by default
    whether torch sees CUDA), that and how to switch; then this chapter's expected time, and the full scale's."""
    if gpu is None:
        import torch

        gpu = torch.cuda.is_available()
    first = [no_gpu_message(chapter, profile)] if needs_gpu(profile, chapter) and not gpu else []
    lines = [f"Profile {profile.name}. " + chapter_estimate(profile, chapter).describe() + "."]
    if CHAPTERS[chapter].no_data:
        return "\n".join(first + lines)
    lines.append("With the cache on Google Drive (USE_DRIVE = True), a later chapter: about "
                 f"{duration_text(60 * chapter_estimate(profile, chapter, drive_cache=True).minutes)}.")
    if full_scale is not None and full_scale.name != profile.name:
        t4 = chapter_estimate(full_scale, chapter)
        h100 = chapter_estimate(full_scale, chapter, card="H100")
        lines.append(f'The original tutorial\'s full scale (PROFILE = "{full_scale.name}" in this cell): this chapter about '
                     f"{duration_text(60 * t4.minutes)} on a T4, {duration_text(60 * h100.minutes)} on an H100 "
                     "(estimates).")
    return "\n".join(first + lines)


TABLE_LABELS = {"01_codec": "1 codec", "02_dataset": "2 dataset", "03_unet": "3 U-Net", "04_training": "4 training",
                "04a_toy_flow": "interlude (toy flow)", "05_sampling": "5 sampling", "06_control": "6 control",
                "06a_straight_fast": "6a straight and fast"}


def estimates_table(colab, gpu) -> str:
    """Every chapter's expected time as a Markdown table (the appendix "Running it yourself" shows it): the
    ``colab`` profile on a T4, fresh and with the cache on Drive, and the ``gpu`` profile on a T4 and an H100."""
    lines = ["| chapter | `colab`, T4 | `colab`, T4, cache on Drive (a later chapter) | `gpu` (full scale), T4 | "
             "`gpu`, H100 |", "|" + " --- |" * 5]
    for chapter, label in TABLE_LABELS.items():
        times = [chapter_estimate(colab, chapter), chapter_estimate(colab, chapter, drive_cache=True),
                 chapter_estimate(gpu, chapter), chapter_estimate(gpu, chapter, card="H100")]
        lines.append(f"| {label} | " + " | ".join(duration_text(60 * t.minutes) for t in times) + " |")
    return "\n".join(lines)


def student_colab_url(repository_url: str, branch: str, chapter: str) -> str:
    """The Colab address of ``student/<chapter>.ipynb`` in the repository at ``repository_url``."""
    path = repository_url.removeprefix("https://github.com/").strip("/")
    return f"https://colab.research.google.com/github/{path}/blob/{branch}/student/{chapter}.ipynb"


def colab_note(chapter: str, profile, full_scale, *, student_url: str | None) -> str:
    """The one-line note under each chapter's title: its expected time in Colab, a link to the page that says how
    Colab runs the chapters (once, for all of them), and the student edition.

    ``student_url`` None: the book has no repository address yet, so there is no launch button or student link
    (scripts/set_repository.py sets the address).
    """
    est = chapter_estimate(profile, chapter)
    page = "page" if CHAPTERS[chapter].no_data else "chapter"
    opens = f"the launch button above opens this {page} in Google Colab" if student_url else f"this {page} runs in Colab"
    how = "[running it yourself](appendix_running.md)"
    students = (f" **Students:** [this chapter's student edition in Colab]({student_url})." if student_url
                else " This copy of the book names no repository yet, so it has no launch button.")
    if CHAPTERS[chapter].no_data:
        return (f"**In Colab:** {opens} in about {minutes_text(est.minutes)} with the installation, no GPU needed "
                f"({how}).{students}")
    return (f"**In Colab:** {opens} in about {minutes_text(est.minutes)} on a free T4 GPU by our estimate, with the "
            f"real NSynth notes and Music2Latent (profile `{profile.name}`; `{full_scale.name}`, the original tutorial's full "
            f"scale, takes hours); {how}.{students}")