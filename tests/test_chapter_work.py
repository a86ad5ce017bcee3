"""The Colab estimates count what the chapters really do: the encodes, decodes and classifier epochs each chapter
made when the book build ran it (tutorial_lib.runtime.work, logged per chapter by tutorial_lib.book.execute into
_book/work/, which scripts/test.sh passes as $TUTORIAL_LIB_WORK_DIR) against tutorial_lib.book.chapters.chapter_work for the same profile and data;
with $TUTORIAL_LIB_WORK_PROFILE=colab-offline, the book built the way Colab runs it (Music2Latent, tiny)."""

import json
import os
from pathlib import Path

import pytest

from tutorial_lib.book.chapters import CHAPTERS, chapter_work
from tutorial_lib.runtime import work
from tutorial_lib.profiles import get_profile



def counted(log: dict, prefix: str) -> int:
    return sum(n for kind, n in log.items() if kind.startswith(prefix))


def test_work_counts_once_per_key_where_asked():
    before = dict(work.COUNTS)
    work.add("test kind", 2)
    work.add("test kind", 3, once="a")
    work.add("test kind", 3, once="a")  # the same note again: a fresh session would not redo it
    assert work.COUNTS["test kind"] - before.get("test kind", 0) == 5


@pytest.mark.skipif(not os.environ.get("TUTORIAL_LIB_WORK_DIR"),
                    reason="needs the chapters' work logs: scripts/test.sh builds the book, then runs this test")
@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_each_chapter_does_the_work_its_estimate_counts(chapter):
    from tutorial_lib.pipeline import prepare

    folder = Path(os.environ["TUTORIAL_LIB_WORK_DIR"])
    log_path = folder / f"{chapter}.json"
    if CHAPTERS[chapter].no_data:
        assert not log_path.exists() or counted(json.loads(log_path.read_text()), "encode") == 0
        return
    log = json.loads(log_path.read_text())  # missing: the chapter has not run (bash scripts/book.sh runs it)
    if os.environ.get("TUTORIAL_LIB_WORK_PROFILE") == "colab-offline":  # the book as Colab runs it, tiny
        from tutorial_lib.book.colab_offline import NOTES, TINY

        profile, sizes = get_profile("colab", **TINY), {split: len(notes) for split, notes in NOTES.items()}
    else:
        profile = get_profile("cpu")  # what the chapters run by default (their parameters cell)
        prepared = prepare(profile, progress=False)
        sizes = {"train": len(prepared.data.train.latents), "valid": len(prepared.data.valid.latents)}
    expected = chapter_work(chapter, profile, sizes)
    assert counted(log, "encode") - sum(sizes.values()) == expected.encodes, log
    assert counted(log, "decode") == (expected.decodes + expected.reference_decodes
                                      + expected.shipped_decodes), log
    if profile.codec == "m2l":  # the shipped models decode with their own mel codec, the rest with Music2Latent
        assert log.get("decode mel", 0) == expected.shipped_decodes, log
    assert log.get("classifier note-epochs", 0) == expected.classifier_note_epochs, log
