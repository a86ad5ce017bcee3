"""The book's sources: notebooks stored clean, one parameters cell, a Colab cell, one repository address."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def repository_url():
    return re.search(r"repository:\n  url: (\S+)", (ROOT / "_config.yml").read_text()).group(1)


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    assert len(NOTEBOOKS) >= 6  # chapters 1-5 and the toy-flow interlude
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}" in toc
    # ... and every page the table of contents names exists (a notebook or a MyST page).
    for entry in re.findall(r"^\s*- file: (\S+)", toc, flags=re.M):
        assert any((ROOT / f"{entry}{ext}").is_file() for ext in (".ipynb", ".md")), entry


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_then_colab_cell_with_the_configured_repository(path):
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from set_repository import colab_source

    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert "parameters" in cells[0]["metadata"].get("tags", []) and 'PROFILE = "cpu"' in "".join(cells[0]["source"])
    colab = "".join(cells[1]["source"])
    assert "remove-cell" in cells[1]["metadata"]["tags"] and '"google.colab" in sys.modules' in colab
    assert f'%pip install -q "git+{repository_url()}"' in colab and 'PROFILE = "colab"' in colab
    assert "USE_DRIVE = False" in colab and f'colab_plan("{path.stem}"' in colab  # Drive: opt-in
    assert colab == "".join(colab_source(path.stem, repository_url())), (
        f"{path.name}: the Colab cell is not the template's; run `python scripts/set_repository.py`.")


#: The widest code line a page shows without scrolling sideways at 1280 px (about 8.2 px a character in a
#: 756 px column: browser_tests/test_pages.py measures the rendered blocks themselves).
SHOWN_LINE_CHARACTERS = 92


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_shown_code_fits_the_page_column(path):
    too_wide = [line for cell in json.loads(path.read_text())["cells"]
                if cell["cell_type"] == "code" and "remove-cell" not in cell["metadata"].get("tags", [])
                for line in "".join(cell["source"]).splitlines() if len(line) > SHOWN_LINE_CHARACTERS]
    assert not too_wide, f"{path.name}: wrap these lines to {SHOWN_LINE_CHARACTERS} characters: {too_wide}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_note_gives_the_current_estimate_and_the_student_edition(path):
    """The note under the Colab cell is what scripts/set_repository.py writes from the estimates and the address."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from set_repository import NOTE_ID, colab_note_cell, configured

    cells = json.loads(path.read_text())["cells"]
    notes = [c for c in cells if c.get("id") == NOTE_ID]
    expected = "".join(colab_note_cell(path.stem, *configured())["source"])
    assert len(notes) == 1 and "".join(notes[0]["source"]) == expected, (
        f"{path.name}: the Colab note is out of date; run `python scripts/set_repository.py`.")
    owner_name = repository_url().removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{owner_name}/blob/main/student/{path.stem}.ipynb" in expected
    assert "minute" in expected and "estimate" in expected or path.stem == "04a_toy_flow"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_states_its_provenance(path):
    text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    assert "provenance(" in text and "from tutorial_lib" in text  # what each chapter shows: test_chapter_sources.py


#: The smallest font a figure may use; browser_tests/test_pages.py checks that text of this size reads at
#: least about 9 px on the page (a figure drawn too wide is shrunk to the column, and its text with it).
MIN_FONT_PT = 9
FONT_SIZE = re.compile(r"\b(?:fontsize|labelsize|size)\s*=\s*([0-9.]+|\"[a-z-]+\"|'[a-z-]+')")


def font_sizes_below_the_minimum(text: str) -> list[str]:
    """Every explicit font size in ``text`` (Python source) smaller than MIN_FONT_PT, or named smaller."""
    small = []
    for match in FONT_SIZE.finditer(text):
        value = match.group(1).strip("\"'")
        if value in ("small", "x-small", "xx-small", "smaller") or (value[0].isdigit() and float(value) < MIN_FONT_PT):
            small.append(match.group(0))
    return small


def test_figures_use_no_font_smaller_than_the_minimum():
    sources = {path.name: "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                                  if c["cell_type"] == "code") for path in NOTEBOOKS}
    sources.update({name: (ROOT / "tutorial_lib" / "book" / name).read_text() for name in ("plots.py", "diagrams.py")})
    small = {name: font_sizes_below_the_minimum(text) for name, text in sources.items()}
    assert not any(small.values()), {name: found for name, found in small.items() if found}
    assert font_sizes_below_the_minimum('ax.legend(fontsize=8); ax.text(0, 0, "a", size="small")') == [
        "fontsize=8", 'size="small"']  # the check itself finds what it is for
