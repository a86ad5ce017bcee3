"""The book's sources: notebooks stored clean, one parameters cell, a Colab cell, one repository address."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def repository():
    """``(url, branch)`` from _config.yml, as scripts/set_repository.py reads them (url "" while unset)."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from set_repository import configured

    return configured()


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
    url, branch = repository()
    if url:
        assert f'install -q "git+{url}@{branch}"' in colab
    else:  # no address: nothing to install from, and the cell says so instead of failing on an import
        assert "git+" not in colab.replace("git+https://github.com/OWNER/NAME", "") and "find_spec" in colab
    assert 'PROFILE = "colab"' in colab
    assert "USE_DRIVE = False" in colab and f'start("{path.stem}"' in colab  # Drive: opt-in
    assert len(colab.splitlines()) <= 3  # the work is tutorial_lib.book.colab.start's
    assert colab == "".join(colab_source(path.stem, url, branch)), (
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


#: A code cell a reader sees reads as a step (d2l's cells run 5-20 lines): longer ones split where the step changes.
MAX_SHOWN_CELL_LINES = 25


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_shown_code_cells_are_steps_a_reader_can_follow(path):
    """Solutions (folded into dropdowns, and whole for the student edition's stub) are left out."""
    long = [(i, len("".join(cell["source"]).splitlines())) for i, cell in enumerate(json.loads(path.read_text())["cells"])
            if cell["cell_type"] == "code" and not {"remove-cell", "solution"} & set(cell["metadata"].get("tags", []))
            and len("".join(cell["source"]).splitlines()) > MAX_SHOWN_CELL_LINES]
    assert not long, f"{path.name}: cells (index, lines) over {MAX_SHOWN_CELL_LINES} lines: {long}"


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
    url, branch = repository()
    if url:
        owner_name = url.removeprefix("https://github.com/")
        assert f"colab.research.google.com/github/{owner_name}/blob/{branch}/student/{path.stem}.ipynb" in expected
    else:
        assert "colab.research.google.com" not in expected and "no launch button" in expected
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


COLAB_GPU = {"accelerator": "GPU", "gpuType": "T4"}


@pytest.mark.parametrize("folder", ["notebooks", "student"])
def test_every_notebook_asks_colab_for_a_gpu(folder):
    for path in sorted((ROOT / folder).glob("*.ipynb")):
        metadata = json.loads(path.read_text())["metadata"]
        assert metadata.get("accelerator") == "GPU" and metadata.get("colab", {}).get("gpuType") == "T4", (
            f"{folder}/{path.name}: no Colab GPU request in its metadata; run `python scripts/set_repository.py`.")


def _copy_of_the_book(tmp_path):
    import shutil

    for name in ("_config.yml", "_toc.yml", "references.bib", "intro.md"):
        shutil.copy2(ROOT / name, tmp_path / name)
    for folder in ("notebooks", "student", "_ext", "_static"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _theme_options(root):
    """The theme options Jupyter Book hands Sphinx for the book at ``root`` (its defaults merged)."""
    from jupyter_book.config import get_final_config

    config, _ = get_final_config(user_yaml=root / "_config.yml", cli_config={"latex_individualpages": False},
                                 sourcedir=root, raise_on_invalid=True)
    return config["html_theme_options"]


def _colab_links(text):
    return re.findall(r"https://colab\.research\.google\.com/github/[^\s)\"']+", text)


def test_an_address_set_reaches_the_buttons_the_colab_cells_and_the_student_links(tmp_path, monkeypatch, capsys):
    """In a copy of the book: set a (fake) address, check everything carries it; remove it, check nothing does."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import set_repository

    from .test_colab import run_colab_cells

    root = _copy_of_the_book(tmp_path)
    fake = "https://github.com/someone/fake-music-book"
    set_repository.main(fake + "/", root=root)
    assert set_repository.configured(root) == (fake, "main")
    theme = _theme_options(root)
    assert theme["repository_url"] == fake and theme["use_repository_button"] is True
    assert theme["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    for folder in ("notebooks", "student"):
        for path in sorted((root / folder).glob("*.ipynb")):
            text = path.read_text()
            cells = json.loads(text)["cells"]
            colab = next("".join(c["source"]) for c in cells if "google.colab" in "".join(c["source"]))
            assert f'install -q \\"git+{fake}@main\\"' in json.dumps(colab), f"{folder}/{path.name}"
            note = next("".join(c["source"]) for c in cells if c.get("id") == "colab-note")
            assert _colab_links(note) == [f"https://colab.research.google.com/github/someone/fake-music-book/blob/"
                                          f"main/student/{path.stem}.ipynb"], f"{folder}/{path.name}"
            assert "launch button above" in note
    # The cell as Colab runs it installs from the address (recorded, not run).
    _, magics = run_colab_cells(root / "notebooks" / "02_dataset.ipynb", monkeypatch, cuda=True)
    assert magics == [f'%pip install -q "git+{fake}@main"']
    with pytest.raises(SystemExit, match="not a GitHub repository"):
        set_repository.main("https://gitlab.com/someone/book", root=root)

    set_repository.main("", root=root)  # unset again: no button, link or install line is left
    theme = _theme_options(root)
    assert not theme["repository_url"] and not theme["use_repository_button"]
    assert not theme["launch_buttons"]["colab_url"]
    for path in [*(root / "notebooks").glob("*.ipynb"), *(root / "student").glob("*.ipynb")]:
        text = path.read_text()
        assert not _colab_links(text) and "fake-music-book" not in text, path.name
    with pytest.raises(RuntimeError, match="names no repository"):  # without tutorial_lib installed
        monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
        run_colab_cells(root / "notebooks" / "02_dataset.ipynb", monkeypatch, cuda=True)


def test_the_books_own_address_state_matches_its_buttons_and_links(capsys):
    """As the repository stands: no address, no launch button, repository button or Colab link anywhere; an
    address, all of them. And the build says when there is none (_ext/book_extensions.py)."""
    from types import SimpleNamespace

    sys_path = str(ROOT / "_ext")
    import sys

    sys.path.insert(0, sys_path)
    from book_extensions import NO_REPOSITORY, say_if_no_repository

    url, _ = repository()
    theme = _theme_options(ROOT)
    assert bool(theme["launch_buttons"]["colab_url"]) == bool(theme["use_repository_button"]) == bool(url)
    assert theme["repository_url"] == url  # never Jupyter Book's default (its own repository)
    links = [link for folder in ("notebooks", "student") for path in sorted((ROOT / folder).glob("*.ipynb"))
             for link in _colab_links(path.read_text())]
    assert bool(links) == bool(url), links
    say_if_no_repository(SimpleNamespace(config=SimpleNamespace(html_theme_options=theme)))
    assert (NO_REPOSITORY in capsys.readouterr().out) != bool(url)
    assert "set_repository.py https://github.com/OWNER/NAME" in NO_REPOSITORY


def _tiny_book(root):
    """A one-page book with this book's _config.yml, extensions and static files (no execution)."""
    import shutil

    for name in ("_config.yml", "references.bib"):
        shutil.copy2(ROOT / name, root / name)
    for folder in ("_ext", "_static"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    config = root / "_config.yml"
    config.write_text(config.read_text().replace("execute_notebooks: cache", 'execute_notebooks: "off"'))
    (root / "notebooks").mkdir()
    page = {"cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# 1. A page\n\nText."},
                      {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": None, "outputs": [],
                       "source": "1 + 1"}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}
    (root / "notebooks" / "page.ipynb").write_text(json.dumps(page))
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: notebooks/page\n")
    (root / "intro.md").write_text("# Intro\n\nA page.\n")


def _build(root):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
                           str(root), "-W", "-n", "--keep-going"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, (root / "_build" / "html" / "notebooks" / "page.html").read_text()


def test_a_built_page_has_a_launch_button_only_once_an_address_is_set(tmp_path):
    """Built with -W (as the book is): without an address the build says so and the page links nowhere;
    with one, the page has the Colab launch button and the repository button."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from set_repository import write_config

    _tiny_book(tmp_path)
    write_config("", tmp_path)
    log, page = _build(tmp_path)
    assert page.count("const THEBE_JS_URL") == 1  # twice, the second threw in every reader's console
    assert 'localStorage.getItem("mode") || "auto"' in page  # not "": the theme logged an error in every console
    assert "NOTE: no repository address is set" in log and "set_repository.py" in log
    assert "colab.research.google.com" not in page and "github.com/tutorial-lib" not in page
    write_config("https://github.com/someone/fake-music-book", tmp_path)
    log, page = _build(tmp_path)
    assert "no repository address" not in log
    assert ("https://colab.research.google.com/github/someone/fake-music-book/blob/main/notebooks/page.ipynb"
            in page and 'href="https://github.com/someone/fake-music-book"' in page)


#: Versions Colab's runtime already holds (ipywidgets it imports as the kernel starts), from public reports
#: (e.g. retentioneering-tools PR 145, 2026: "Colab ships ipywidgets 7.x"), not checked on Colab from here.
#: An install that replaces one asks for a runtime restart.
COLAB_SHIPS = {"ipywidgets": "7.7.1", "librosa": "0.11.0"}


def test_requirements_and_the_package_list_the_same_ranges_and_keep_colabs_own_packages():
    import tomllib

    from packaging.requirements import Requirement

    listed = [Requirement(line) for line in (ROOT / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    package = [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    as_text = lambda reqs: {r.name.lower().replace("_", "-"): str(r.specifier) for r in reqs}
    assert {k: v for k, v in as_text(package).items() if k != "torch"} == as_text(listed)
    for req in package:
        name = req.name.lower().replace("_", "-")
        if name in COLAB_SHIPS:
            assert req.specifier.contains(COLAB_SHIPS[name]), f"{req} would replace Colab's {name} {COLAB_SHIPS[name]}"
