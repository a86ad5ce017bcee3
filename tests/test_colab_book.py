"""The book as Colab runs it, offline and tiny: ``bash scripts/book.sh --profile colab-offline`` (scripts/test.sh
runs it, then this file with ``TUTORIAL_LIB_COLAB_BOOK=_book-colab-offline``). Every chapter ran its Colab branch,
said first that this runtime has no GPU, used Music2Latent and the downloaded archive, and its page says so."""

import json
import os
import re
from pathlib import Path

import pytest

from tutorial_lib.book.chapters import CHAPTERS
from tutorial_lib.book.execute import book_chapters

BOOK = os.environ.get("TUTORIAL_LIB_COLAB_BOOK")
pytestmark = pytest.mark.skipif(not BOOK, reason="needs the Colab-path book: scripts/test.sh builds it, then runs this")


def colab_cell_output(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    cell = next(c for c in cells if c["cell_type"] == "code" and "google.colab" in "".join(c["source"]))
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))


def page_text(page: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page.read_text())).replace("\u2019", "'")


@pytest.mark.parametrize("chapter", book_chapters())
def test_each_chapter_ran_as_colab_runs_it(chapter):
    staged = Path(BOOK)
    said = colab_cell_output(staged / "notebooks" / f"{chapter}.ipynb")
    assert "Profile colab" in said or "profile colab" in said, said
    if not CHAPTERS[chapter].no_data:  # these want a GPU, and the machine that runs the tests has none
        assert said.startswith("NO GPU in this runtime") and "Runtime > Change runtime type" in said, said
        text = page_text(staged / "_build" / "html" / "notebooks" / f"{chapter}.html")
        provenance = re.search(r"Outputs on this page come from: data = (.*?); codec = (\S+)", text)
        assert provenance, f"{chapter}: the page does not say which data and codec made it"
        data, codec = provenance.groups()
        assert "downloaded as NSynth's archive" in data and codec == "music2latent", provenance.group(0)


def test_the_chapters_encoded_and_decoded_with_music2latent():
    counts = {}
    for log in (Path(BOOK) / "work").glob("*.json"):
        for kind, n in json.loads(log.read_text()).items():
            counts[kind] = counts.get(kind, 0) + n
    assert counts.get("encode music2latent", 0) >= 15 and counts.get("decode music2latent", 0) >= 1, counts
    assert not any(kind.endswith(" mel") for kind in counts if kind.startswith("encode")), counts
