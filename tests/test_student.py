import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tutorial_lib.__main__ import main
from tutorial_lib.student import student_notebook

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
