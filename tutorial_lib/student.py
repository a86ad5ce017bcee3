"""The student edition: the chapters with every exercise's solution replaced by a stub to fill in.

In the teacher's edition (the book), a solution sits between ``{solution-start}`` and ``{solution-end}``
markdown cells; its code cells are tagged ``solution`` and carry their stub in
``metadata["tutorial_lib"]["stub"]``. The student edition drops the solution text, swaps each solution
cell for its stub, and clears all outputs. The check cells stay, so a student gets feedback at once.
"""

from __future__ import annotations

import json
from pathlib import Path

HEADER = ("> **Student edition.** Each exercise has a cell to complete (it raises `NotImplementedError` until "
          "you do) followed by a check that tells you what is wrong or that you are right.")


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _is_gate(cell, which: str) -> bool:
    return cell["cell_type"] == "markdown" and _source(cell).lstrip().startswith(f"```{{solution-{which}}}")


def student_notebook(notebook: dict) -> dict:
    """A copy of ``notebook`` (nbformat JSON) with solutions replaced by stubs and no outputs."""
    cells, inside = [], False
    for cell in notebook["cells"]:
        if _is_gate(cell, "start"):
            inside = True
            continue
        if _is_gate(cell, "end"):
            inside = False
            continue
        cell = json.loads(json.dumps(cell))
        if inside:
            if cell["cell_type"] != "code" or "solution" not in cell["metadata"].get("tags", []):
                continue  # the written part of a solution
            cell["source"] = cell["metadata"].pop("tutorial_lib")["stub"]
            cell["metadata"]["tags"] = [t for t in cell["metadata"]["tags"] if t != "solution"]
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    if inside:
        raise ValueError("A {solution-start} cell has no matching {solution-end}.")
    first_markdown = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown")
    cells.insert(first_markdown + 1, {"cell_type": "markdown", "id": "student-edition", "metadata": {}, "source": HEADER})
    return {**notebook, "cells": cells}


def write_student_edition(out: str | Path, notebooks: str | Path = "notebooks") -> list[Path]:
    """Writes the student edition of every ``notebooks/*.ipynb`` into ``out``; returns the files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(Path(notebooks).glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"No notebooks in {notebooks}; run this from the repository root or pass --notebooks.")
    written = []
    for path in sources:
        student = student_notebook(json.loads(path.read_text()))
        target = out / path.name
        target.write_text(json.dumps(student, indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    return written
