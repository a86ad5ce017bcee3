import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tutorial_lib.__main__ import main
from tutorial_lib.book.student import student_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    assert main(["student-edition", "--out", str(out), "--notebooks", str(NOTEBOOKS)]) == 0
    return out


@pytest.mark.parametrize("teacher", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_no_solution_is_left_and_every_stub_is_there(edition, teacher):
    original = json.loads(teacher.read_text())
    student = json.loads((edition / teacher.name).read_text())
    text = "\n".join("".join(c["source"]) for c in student["cells"])
    assert "{solution-start}" not in text and "{solution-end}" not in text
    solutions = [c for c in original["cells"] if "solution" in c["metadata"].get("tags", [])]
    assert solutions
    elsewhere = {line.strip() for c in original["cells"] if c not in solutions for line in "".join(c["source"]).splitlines()}
    elsewhere |= {line.strip() for c in solutions for line in c["metadata"]["tutorial_lib"]["stub"].splitlines()}
    for cell in solutions:
        assert cell["metadata"]["tutorial_lib"]["stub"] in text
        for line in "".join(cell["source"]).splitlines():
            code = line.strip()
            if code and code not in elsewhere and not code.startswith(("def ", "class ", "#")):
                assert code not in text, code
    assert all(c.get("outputs", []) == [] for c in student["cells"] if c["cell_type"] == "code")
    assert "Student edition" in text and "{exercise}" in text  # exercises (and the Colab cell) stay


def test_unclosed_solution_is_refused():
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "```{solution-start} x\n```"}]}
    with pytest.raises(ValueError, match="no matching"):
        student_notebook(nb)


def test_student_edition_runs_to_its_exercises_and_gives_feedback(edition, tmp_path, monkeypatch):
    """Chapter 1's student edition runs top to bottom; its checks say what is missing, nothing crashes."""
    monkeypatch.setenv("TUTORIAL_LIB_CACHE", str(tmp_path / "cache"))
    nb = nbformat.read(edition / "01_codec.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(o.output_type == "error" for c in code for o in c.outputs)
    checks = [c for c in code if "check_compression_ratio(" in c.source]
    results = [o["data"]["text/plain"] for c in checks for o in c.outputs if o.output_type == "execute_result"]
    assert len(results) == 2 and all(r.startswith("Not yet: set `ratio` to a number.") for r in results)


ROOT = NOTEBOOKS.parent
TEACHER = sorted(NOTEBOOKS.glob("*.ipynb"))


def answers_shown_early(notebook: dict) -> list[str]:
    """``"cell i shows X, which answers exercise L"`` for every such cell before its exercise."""
    import re

    from tutorial_lib.book.student import ANSWERS, exercises

    cells, problems = notebook["cells"], []
    found = exercises(cells)
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(line.split("#")[0] for line in "".join(cell["source"]).splitlines())
        for name in re.findall(r"show_source\(\s*([\w.]+)", code):  # anywhere on a line, not only alone
            problems += [f"cell {i} shows {name}, which answers {label}" for at, label, _ in found
                         if at > i and name in ANSWERS[label]]
    return problems


@pytest.mark.parametrize("teacher", TEACHER, ids=lambda p: p.stem)
def test_no_exercise_is_answered_before_it_in_the_student_edition(edition, teacher):
    student = json.loads((edition / teacher.name).read_text())
    assert answers_shown_early(student) == []
    # ... and what was moved is shown after its exercise, not lost.
    from tutorial_lib.book.student import SHOWN
    shown = lambda nb: sorted(n for c in nb["cells"] if c["cell_type"] == "code" for n in SHOWN.findall("".join(c["source"])))
    assert shown(student) == shown(json.loads(teacher.read_text()))


def test_the_teacher_edition_shows_answers_early_so_the_check_can_fail():
    early = {p.stem: answers_shown_early(json.loads(p.read_text())) for p in TEACHER}
    assert any("parse_note_name" in x for x in early["02_dataset"])
    assert any("add_noise" in x for x in early["04_training"]) and any("sample_times" in x for x in early["04_training"])
    assert any("euler_step" in x for x in early["05_sampling"]) and any("sample," in x for x in early["05_sampling"])
    assert any("GaussianMixture.velocity" in x for x in early["04a_toy_flow"])


def test_every_exercise_is_classified_and_every_answer_exists():
    import importlib
    import pkgutil

    import tutorial_lib
    from tutorial_lib.book.student import ANSWERS, exercises

    labels = {label for p in TEACHER for _, label, _ in exercises(json.loads(p.read_text())["cells"])}
    assert labels == set(ANSWERS), "list each exercise in tutorial_lib.book.student.ANSWERS with the code that answers it"
    modules = [importlib.import_module(m.name) for m in pkgutil.walk_packages(tutorial_lib.__path__, "tutorial_lib.")
               if m.name.rsplit(".", 1)[-1] not in {"__main__", "distributed"}]
    for name in {n for names in ANSWERS.values() for n in names}:
        head, *rest = name.split(".")
        objects = [getattr(m, head) for m in modules if hasattr(m, head)]
        for attribute in rest:
            objects = [getattr(o, attribute) for o in objects if hasattr(o, attribute)]
        assert objects, f"{name} (tutorial_lib.book.student.ANSWERS) is not in tutorial_lib"


@pytest.mark.parametrize("teacher", TEACHER, ids=lambda p: p.stem)
def test_kept_student_edition_is_what_the_command_writes(teacher):
    kept = ROOT / "student" / teacher.name
    assert kept.is_file() and json.loads(kept.read_text()) == student_notebook(json.loads(teacher.read_text())), (
        f"student/{teacher.name} is out of date: run `python scripts/set_repository.py` (or `python -m tutorial_lib student-edition --out student --force`).")
    assert sorted(p.name for p in (ROOT / "student").glob("*.ipynb")) == [p.name for p in TEACHER]


def test_student_folder_stays_out_of_the_book_and_of_nbmake():
    config = (ROOT / "_config.yml").read_text()
    assert "student" in config.split("exclude_patterns:")[1].splitlines()[0]
    assert "student/" not in (ROOT / "_toc.yml").read_text()
    from tutorial_lib.book.execute import book_chapters

    assert not any(name.startswith("student") for name in book_chapters(ROOT))  # the chapters nbmake runs


def copy_teacher(tmp_path):
    teacher = tmp_path / "notebooks"
    teacher.mkdir()
    for path in TEACHER[:2]:
        (teacher / path.name).write_text(path.read_text())
    return teacher


def test_student_edition_never_writes_over_the_teachers_notebooks(tmp_path, capsys):
    teacher = copy_teacher(tmp_path)
    before = {p.name: p.read_text() for p in teacher.iterdir()}
    (tmp_path / "link").symlink_to(teacher)
    for out in (teacher, tmp_path / "link", tmp_path / "notebooks" / ".." / "notebooks"):
        assert main(["student-edition", "--out", str(out), "--notebooks", str(teacher)]) == 1
        assert "teacher's folder" in capsys.readouterr().err
    assert {p.name: p.read_text() for p in teacher.iterdir()} == before


def test_student_edition_keeps_a_students_work_unless_forced(tmp_path, capsys):
    teacher, out = copy_teacher(tmp_path), tmp_path / "student"
    assert main(["student-edition", "--out", str(out), "--notebooks", str(teacher)]) == 0
    assert main(["student-edition", "--out", str(out), "--notebooks", str(teacher)]) == 0  # the same edition again
    worked = out / TEACHER[1].name
    notebook = json.loads(worked.read_text())
    notebook["cells"][0]["source"] = "my answer"
    worked.write_text(json.dumps(notebook))
    untouched = (out / TEACHER[0].name).stat().st_mtime_ns
    assert main(["student-edition", "--out", str(out), "--notebooks", str(teacher)]) == 1
    error = capsys.readouterr().err
    assert str(worked) in error and "--force" in error and str(out / TEACHER[0].name) not in error
    assert "my answer" in worked.read_text() and (out / TEACHER[0].name).stat().st_mtime_ns == untouched
    assert main(["student-edition", "--out", str(out), "--notebooks", str(teacher), "--force"]) == 0
    assert "my answer" not in worked.read_text()


@pytest.fixture
def teacher(tmp_path):
    """A copy of the teacher's notebooks, which a test may try (and must fail) to overwrite."""
    folder = tmp_path / "teacher"
    folder.mkdir()
    for path in sorted(NOTEBOOKS.glob("*.ipynb"))[:3]:
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def _contents(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.ipynb"))}


def test_force_never_writes_through_a_link_into_the_teachers_notebooks(teacher, tmp_path, capsys):
    """--out a folder of links to the teacher's notebooks: --force once rewrote all of them as stubs, exit 0."""
    before = _contents(teacher)
    links = tmp_path / "links"
    links.mkdir()
    for path in teacher.glob("*.ipynb"):
        (links / path.name).symlink_to(path)
    assert main(["student-edition", "--out", str(links), "--notebooks", str(teacher), "--force"]) == 1
    err = capsys.readouterr().err
    assert "must never be replaced" in err and "a link to" in err
    assert _contents(teacher) == before and all(p.is_symlink() for p in links.iterdir())


def test_force_never_replaces_a_teachers_notebook_when_the_folders_are_swapped(teacher, tmp_path, capsys):
    before = _contents(teacher)
    student = tmp_path / "student"
    assert main(["student-edition", "--out", str(student), "--notebooks", str(teacher)]) == 0
    capsys.readouterr()
    assert main(["student-edition", "--out", str(teacher), "--notebooks", str(student), "--force"]) == 1
    assert "is a student edition already" in capsys.readouterr().err
    assert _contents(teacher) == before
    other = tmp_path / "other"  # a teacher's notebook outside --notebooks is never replaced either
    other.mkdir()
    name = next(iter(before))
    (other / name).write_bytes(before[name])
    assert main(["student-edition", "--out", str(other), "--notebooks", str(teacher), "--force"]) == 1
    assert "a teacher's notebook, with solutions" in capsys.readouterr().err
    assert (other / name).read_bytes() == before[name]


def test_the_refusal_says_what_force_would_destroy_and_force_replaces_a_students_edition(teacher, tmp_path, capsys):
    out = tmp_path / "student"
    assert main(["student-edition", "--out", str(out), "--notebooks", str(teacher)]) == 0
    mine = next(out.glob("*.ipynb"))
    mine.write_text(mine.read_text().replace("NotImplementedError", "my answer", 1))
    assert main(["student-edition", "--out", str(out), "--notebooks", str(teacher)]) == 1
    err = capsys.readouterr().err
    assert "--force would replace these 1 file(s)" in err and "would be lost" in err and str(mine) in err
    assert main(["student-edition", "--out", str(out), "--notebooks", str(teacher), "--force"]) == 0
    assert "my answer" not in mine.read_text()


def test_a_missing_solution_end_fence_is_refused_naming_the_cell(teacher, tmp_path, capsys):
    """One missing {solution-end} once silently dropped an exercise's check and the next exercise's statement."""
    path = next(p for p in sorted(teacher.glob("*.ipynb")) if "{solution-end}" in p.read_text())
    notebook = json.loads(path.read_text())
    ends = [i for i, c in enumerate(notebook["cells"]) if "".join(c["source"]).lstrip().startswith("```{solution-end}")]
    cell = notebook["cells"].pop(ends[0])
    path.write_text(json.dumps(notebook))
    assert main(["student-edition", "--out", str(tmp_path / "s"), "--notebooks", str(teacher)]) == 1
    err = capsys.readouterr().err
    assert path.name in err and "has no {solution-end}" in err and "cell " in err and "(id " in err
    assert not (tmp_path / "s").exists()
    assert cell  # the fence removed was a real one


def test_a_notebook_with_no_cells_is_no_traceback(tmp_path):
    empty = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    assert [c["id"] for c in student_notebook(empty)["cells"]] == ["student-edition"]
