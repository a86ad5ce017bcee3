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
