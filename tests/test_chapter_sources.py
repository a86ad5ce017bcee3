"""Every chapter displays the library code it teaches (``show_source(...)``), as its entry in
tutorial_lib.book.chapters.CHAPTERS names it (``shows``).

A chapter passes only if each listed object is (1) a real object of tutorial_lib, (2) imported by the chapter
from that module and (3) passed to ``show_source`` in a code cell whose output the book keeps.
"""

import ast
import importlib
import json
from pathlib import Path

import pytest

from tutorial_lib.book.chapters import CHAPTERS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {p.stem: p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}

HIDDEN = {"remove-cell", "remove-output", "remove_cell", "remove_output"}


def chapter_code(path: Path):
    """``(imports {name: module}, shown {dotted name})`` of a notebook's code cells whose output is kept."""
    imports, shown = {}, set()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(line for line in "".join(cell["source"]).splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imports.update({alias.asname or alias.name: node.module for alias in node.names})
            hidden = HIDDEN & set(cell["metadata"].get("tags", []))
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_source" and node.args
                    and not hidden):
                shown.add(ast.unparse(node.args[0]))
    return imports, shown


def test_every_chapter_has_a_display_list():
    assert set(NOTEBOOKS) == set(CHAPTERS), "add the new chapter to tutorial_lib.book.chapters.CHAPTERS"


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_chapter_displays_what_it_teaches(chapter):
    imports, shown = chapter_code(NOTEBOOKS[chapter])
    for entry in CHAPTERS[chapter].shows:
        module, qualname = entry.split(":")
        obj = importlib.import_module(f"tutorial_lib.{module}")
        for part in qualname.split("."):
            obj = getattr(obj, part)  # (1) a real object of the library
        top = qualname.split(".")[0]
        assert imports.get(top, "").startswith(f"tutorial_lib.{module}"), \
            f"{chapter} shows {qualname} but does not import {top} from tutorial_lib.{module}"
        assert qualname in shown, f"{chapter} must display {qualname} with show_source({qualname})"


def test_the_guard_fails_on_a_chapter_that_shows_nothing_or_hides_it(tmp_path):
    cell = {"cell_type": "code", "metadata": {}, "source": ["from tutorial_lib.training import update_ema\n",
                                                             "show_source(update_ema)"]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [cell]}))
    assert chapter_code(path)[1] == {"update_ema"}
    cell["metadata"]["tags"] = ["remove-output"]
    path.write_text(json.dumps({"cells": [cell]}))
    assert chapter_code(path)[1] == set()
    cell["source"] = ["# show_source(update_ema) in a comment does not count\n", "print(update_ema)"]
    path.write_text(json.dumps({"cells": [{**cell, "metadata": {}}]}))
    assert chapter_code(path)[1] == set()
