"""The book build runs each chapter once, as a test, and renders what it printed (tutorial_lib.book.execute)."""

import json
from pathlib import Path

import nbformat
import pytest

from tutorial_lib.book import execute

ROOT = Path(__file__).resolve().parents[1]


def test_the_book_chapters_are_the_notebooks_of_the_table_of_contents_in_order():
    names = execute.book_chapters(ROOT)
    assert names[0] == "01_codec" and names.index("04_training") < names.index("05_sampling")
    assert all((ROOT / "notebooks" / f"{n}.ipynb").is_file() for n in names)
    assert len(names) == len(list((ROOT / "notebooks").glob("*.ipynb")))  # the student edition is not among them


def test_each_chapter_runs_after_the_chapters_whose_work_it_reuses():
    from tutorial_lib.book.chapters import CHAPTERS

    order = execute.book_chapters(ROOT)
    for name in order:
        assert all(order.index(first) < order.index(name) for first in CHAPTERS[name].after), name
    assert "04_training" in CHAPTERS["05_sampling"].after  # it reloads chapter 4's model


def book(tmp_path: Path, cells: dict[str, str]) -> Path:
    """A repository with one notebook per chapter, each a single code cell."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "tutorial_lib").mkdir()
    (root / "tutorial_lib" / "__init__.py").write_text("")
    (root / "_config.yml").write_text("execute:\n  execute_notebooks: cache\n")
    (root / "_toc.yml").write_text("root: intro\nchapters:\n"
                                   + "".join(f"  - file: notebooks/{n}\n" for n in cells)
                                   + "  - file: notebooks/closing\n")
    (root / "notebooks" / "closing.md").write_text("# The end\n")
    for name, source in cells.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")
    return root


def test_failing_cell_fails_its_chapter_and_those_after_it_while_the_rest_run_once(tmp_path, capsys):
    root = book(tmp_path, {"a": "print(6 * 7)", "b": "raise ValueError('a broken cell')", "c": "x = 1"})
    staged = tmp_path / "staged"
    assert execute.book_chapters(root) == ["a", "b", "c"]
    execute.stage(root, staged)
    assert "execute_notebooks: 'off'" in (staged / "_config.yml").read_text()
    assert (staged / "notebooks" / "closing.md").is_symlink()
    (root / "notebooks" / "gone.md").write_text("# Soon deleted\n")
    execute.stage(root, staged)
    (root / "notebooks" / "gone.md").unlink()
    execute.stage(root, staged)
    assert not (staged / "notebooks" / "gone.md").is_symlink()  # no link left pointing nowhere
    outcomes = execute.run_chapters(["a", "b", "c"], root=root, staged=staged, jobs=2,
                                    after={"c": ("b",)})
    assert [o.status for o in outcomes] == ["ran", "failed", "not run"]
    assert "a broken cell" in capsys.readouterr().out  # the failing chapter's output is shown
    executed = nbformat.read(staged / "notebooks" / "a.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"  # the book renders these outputs
    assert not nbformat.read(root / "notebooks" / "a.ipynb", as_version=4).cells[0].outputs  # sources stay clean
    assert (staged / "work" / "a.json").parent.is_dir()

    # Again: the chapter that passed is kept; the failed one runs again, and once fixed, the one after it too.
    (root / "notebooks" / "b.ipynb").write_text((root / "notebooks" / "b.ipynb").read_text()
                                                .replace("raise ValueError('a broken cell')", "y = 2"))
    outcomes = execute.run_chapters(["a", "b", "c"], root=root, staged=staged, jobs=2, after={"c": ("b",)})
    assert [o.status for o in outcomes] == ["kept", "ran", "ran"]
    # A change to the library runs every chapter again.
    (root / "tutorial_lib" / "__init__.py").write_text("# changed\n")
    outcomes = execute.run_chapters(["a"], root=root, staged=staged, jobs=1)
    assert [o.status for o in outcomes] == ["ran"]


def book_printing_its_profile(tmp_path: Path) -> Path:
    """A repository with one chapter: a parameters cell (``PROFILE = 'cpu'``), then one that prints it."""
    root = book(tmp_path, {"a": "PROFILE = 'cpu'"})
    nb = nbformat.read(root / "notebooks" / "a.ipynb", as_version=4)
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.cells.append(nbformat.v4.new_code_cell("print('profile', PROFILE)"))
    nbformat.write(nb, root / "notebooks" / "a.ipynb")
    return root


def test_a_profile_given_to_the_build_reaches_every_chapter_and_changes_its_key(tmp_path):
    root = book_printing_its_profile(tmp_path)
    staged = tmp_path / "staged"
    execute.stage(root, staged)
    outcomes = execute.run_chapters(["a"], root=root, staged=staged, jobs=1, profile="colab")
    assert [o.status for o in outcomes] == ["ran"]
    executed = nbformat.read(staged / "notebooks" / "a.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "profile colab\n"  # the page says what ran
    library = execute.library_key(root)
    assert execute.chapter_key("a", library, root, "colab") != execute.chapter_key("a", library, root)


def test_a_config_that_does_not_execute_is_refused_before_anything_runs(tmp_path):
    root = book(tmp_path, {"a": "x = 1"})
    (root / "_config.yml").write_text("execute:\n  execute_notebooks: force\n")
    with pytest.raises(RuntimeError, match="_config.yml"):
        execute.stage(root, tmp_path / "staged")


def test_a_staging_folder_the_build_did_not_make_is_refused_and_left_as_it_was(tmp_path):
    root = book(tmp_path, {"a": "x = 1"})
    theirs = tmp_path / "mine"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("my own")
    with pytest.raises(RuntimeError, match=f"{theirs} holds files this build did not make"):
        execute.stage(root, theirs)
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]
    execute.stage(root, tmp_path / "fresh")  # a new folder, then the same one again: its own
    execute.stage(root, tmp_path / "fresh")


def test_settings_that_change_what_a_chapter_prints_change_its_key(monkeypatch):
    library = execute.library_key(ROOT)
    key = execute.chapter_key("02_dataset", library, ROOT)
    monkeypatch.setenv("TUTORIAL_LIB_THREADS", "1")  # only how fast
    assert execute.chapter_key("02_dataset", library, ROOT) == key
    monkeypatch.setenv("TUTORIAL_LIB_PROGRESS", "bars")
    assert execute.chapter_key("02_dataset", library, ROOT) != key
    assert json.dumps(key)  # a plain string, stored in chapter_keys.json


def test_the_colab_path_test_leaves_the_profile_to_each_chapter_s_colab_cell_and_its_own_staging(tmp_path):
    root = book_printing_its_profile(tmp_path)
    (root / "_book-colab-offline").mkdir()  # another build's staging folder is never linked into this one
    staged = tmp_path / "staged"
    execute.stage(root, staged)
    assert not (staged / "_book-colab-offline").exists()
    outcomes = execute.run_chapters(["a"], root=root, staged=staged, jobs=1, profile=execute.COLAB_OFFLINE)
    assert [o.status for o in outcomes] == ["ran"]
    executed = nbformat.read(staged / "notebooks" / "a.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "profile cpu\n"  # nothing injected: Colab's cell decides
    library = execute.library_key(root)
    keys = {p: execute.chapter_key("a", library, root, p) for p in (None, "colab", execute.COLAB_OFFLINE)}
    assert len(set(keys.values())) == 3
