"""The student edition: the chapters with every exercise's solution replaced by a stub to fill in.

In the teacher's edition (the book), a solution sits between ``{solution-start}`` and ``{solution-end}``
markdown cells; its code cells are tagged ``solution`` and carry their stub in
``metadata["tutorial_lib"]["stub"]``. The student edition drops the solution text, swaps each solution
cell for its stub, and clears all outputs. The check cells stay, so a student gets feedback at once.

A chapter may display, before an exercise, the library code that answers it (chapter 4 shows ``add_noise``
before asking for it). :data:`ANSWERS` names that code for each exercise; the student edition takes such
``show_source(...)`` calls out of the cells before the exercise and shows them after its check instead.
The edition kept in the repository is ``student/`` (``python -m tutorial_lib student-edition --out student``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..runtime.files import write_text_atomically

# For each exercise (its label): the library objects, as the chapters name them in ``show_source(...)``,
# whose source answers it. Every exercise with a code solution is listed (tests/test_student.py checks).
ANSWERS = {
    "ex-ratio-m2l": (), "ex-ratio-mel": (),  # numbers worked out by hand
    "ex-listen-codec": (), "ex-listen-sources": (), "ex-listen-noise": (),  # listening: heard, then measured
    "ex-parse-name": ("parse_note_name",), "ex-split": (),
    "ex-conv-params": (),  # a number (the exercise says the layer table shows it: work it out first)
    # A subclass of the original tutorial's U-Net; ours (ResBlock, UNet.forward) adds time per block too, shown as the idea.
    "ex-time-everywhere": (),
    "ex-add-noise": ("RectifiedFlow.add_noise",),
    "ex-times": ("RectifiedFlow.sample_times",),
    "ex-gaussian-velocity": ("GaussianMixture.velocity",),  # the mixture's exact field contains the answer
    "ex-one-step": (),
    # Heun's and the midpoint rule's first half are an Euler step.
    "ex-euler-step": ("euler_step", "heun_step", "midpoint_step"),
    "ex-sampler": ("sample",),
    "ex-predict-steps": (),
    "ex-guidance": ("guided",),
    "ex-invert": ("invert",),
    "ex-straightness": ("straightness",),
    "ex-reflow-pairs": ("make_pairs",),
}
SHOWN = re.compile(r"^\s*show_source\(([\w.]+)\)\s*$", re.MULTILINE)
LABEL = re.compile(r"^:label:\s*(\S+)", re.MULTILINE)

HEADER = ("> **Student edition.** Each exercise has a cell to complete (it raises `NotImplementedError` until "
          "you do) followed by a check that tells you what is wrong or that you are right.")


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _is_gate(cell, which: str) -> bool:
    """A ``{solution-start}`` cell, or a cell holding the ``{solution-end}`` fence (after the solution's last
    words, if they share the cell)."""
    if cell["cell_type"] != "markdown":
        return False
    text = _source(cell)
    if which == "start":
        return text.lstrip().startswith("```{solution-start}")
    return any(line.startswith("```{solution-end}") for line in text.splitlines())


def exercises(cells: list[dict]) -> list[tuple[int, str, str]]:
    """``(cell index, label, title)`` of each ``{exercise}`` markdown cell."""
    found = []
    for i, cell in enumerate(cells):
        text = _source(cell)
        if cell["cell_type"] == "markdown" and text.lstrip().startswith(":::{exercise}") and LABEL.search(text):
            title = text.lstrip().splitlines()[0].removeprefix(":::{exercise}").strip()
            found.append((i, LABEL.search(text).group(1), title))
    return found


def _answers_after(cells: list[dict]) -> list[dict]:
    """``cells`` with every ``show_source(X)`` that answers a later exercise moved after that exercise's check."""
    cells = json.loads(json.dumps(cells))
    later = exercises(cells)
    moved: dict[str, list[str]] = {}
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        for name in SHOWN.findall(_source(cell)):
            label, title = next(((lb, t) for at, lb, t in later if at > i and name in ANSWERS.get(lb, ())),
                                (None, None))
            if label is None:
                continue
            moved.setdefault(label, []).append(name)
            note = f"# show_source({name}) comes after the exercise \"{title}\": write yours first."
            text = re.sub(rf"^(\s*)show_source\({re.escape(name)}\)\s*$", lambda m, note=note: m.group(1) + note, _source(cell),
                          count=1, flags=re.MULTILINE)
            cell["source"] = text
    for at, label, title in reversed(later):
        if label not in moved:
            continue
        end = next(j for j in range(at, len(cells)) if _is_gate(cells[j], "end") or j == len(cells) - 1)
        check = next((j for j in range(end + 1, len(cells)) if cells[j]["cell_type"] == "code"
                      and not _is_gate(cells[j], "start")), end)
        stop = next((j for j, _, _ in later if j > at), len(cells))
        where = check + 1 if check < stop else end + 1
        cells[where:where] = [
            {"cell_type": "markdown", "id": f"answer-{label}"[:64], "metadata": {},
             "source": "The library's own version, now that you have written yours:"},
            {"cell_type": "code", "id": f"answer-code-{label}"[:64], "metadata": {}, "execution_count": None,
             "outputs": [], "source": "\n".join(f"show_source({name})" for name in moved[label])},
        ]
    return cells


def student_notebook(notebook: dict) -> dict:
    """A copy of ``notebook`` (nbformat JSON) with solutions replaced by stubs, the library code that answers
    an exercise shown only after it, and no outputs."""
    check_fences(notebook["cells"])
    cells, inside = [], False
    for cell in _answers_after(notebook["cells"]):
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
    first_markdown = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"), -1)
    cells.insert(first_markdown + 1, {"cell_type": "markdown", "id": "student-edition", "metadata": {}, "source": HEADER})
    return {**notebook, "cells": cells}


def check_fences(cells: list[dict]) -> None:
    """Refuses (``ValueError``, naming the cell) a ``{solution-start}`` without its ``{solution-end}`` before the
    next one, or an end without a start: the edition would silently drop the cells between them."""
    open_at = None
    for i, cell in enumerate(cells):
        where = f"cell {i} (id {cell.get('id', '?')})"
        if _is_gate(cell, "start"):
            if open_at is not None:
                raise ValueError(f"{where} opens a {{solution-start}} while the one in {open_at} has no "
                                 "{solution-end} yet: add the missing fence.")
            open_at = where
        elif _is_gate(cell, "end"):
            if open_at is None:
                raise ValueError(f"{where} closes a {{solution-end}} that no {{solution-start}} opened: remove it "
                                 "or add the start.")
            open_at = None
    if open_at is not None:
        raise ValueError(f"The {{solution-start}} in {open_at} has no matching {{solution-end}}: add the fence.")


def _is_teacher_notebook(path: Path) -> bool:
    """A notebook with solutions in it (a ``{solution-start}`` fence or a ``solution`` cell): the teacher's."""
    try:
        cells = json.loads(path.read_text()).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return False
    return any(_is_gate(c, "start") or "solution" in c.get("metadata", {}).get("tags", []) for c in cells)


class WouldOverwrite(FileExistsError):
    """Writing would replace files that someone else made or changed; nothing was written."""


def write_student_edition(out: str | Path, notebooks: str | Path = "notebooks", *, force: bool = False) -> list[Path]:
    """Writes the student edition of every ``notebooks/*.ipynb`` into ``out``; returns the files.

    Refuses (:class:`WouldOverwrite`, nothing written) when ``out`` is the teacher's folder itself, or when a
    notebook already in ``out`` differs from what would be written (a student's work, say), unless ``force``.
    """
    out, notebooks = Path(out), Path(notebooks)
    sources = sorted(notebooks.glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"No notebooks in {notebooks}; run this from the repository root or pass `notebooks`.")
    if out.resolve() == notebooks.resolve():
        raise WouldOverwrite(f"`out` {out} is the teacher's folder {notebooks} itself: writing there would replace "
                             "every chapter's solutions with stubs. Choose another folder, e.g. `out=\"student/\"`.")
    editions = {out / path.name: _edition_text(path) for path in sources}
    never = [f"{t} ({why})" for t in editions if (why := _never_replace(t, notebooks))]
    if never:
        raise WouldOverwrite(f"Not writing the student edition: {len(never)} file(s) in {out} must never be replaced, "
                             f"`force=True` or not: {'; '.join(never)}. Choose an `out` of plain files, e.g. a new folder.")
    changed = [str(target) for target, text in editions.items() if target.is_file() and target.read_text() != text]
    if changed and not force:
        raise WouldOverwrite(f"Not writing the student edition: {len(changed)} notebook(s) in {out} differ from what "
                             f"this command writes (a student's work, or an older edition): {', '.join(changed)}. "
                             f"`force=True` would replace these {len(changed)} file(s), and whatever is written in them "
                             "now would be lost. Move them aside, or choose another `out`.")
    out.mkdir(parents=True, exist_ok=True)
    for target, text in editions.items():
        write_text_atomically(target, text)
    return list(editions)


def _edition_text(path: Path) -> str:
    """The student edition of the notebook at ``path``, as written (errors name the file)."""
    try:
        notebook = json.loads(path.read_text())
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("not a notebook: no list of cells")
        if any(cell.get("id") == "student-edition" for cell in notebook["cells"]):
            raise ValueError("it is a student edition already, not the teacher's notebook; pass the teacher's folder "
                             "as `notebooks`")
        return json.dumps(student_notebook(notebook), indent=1, ensure_ascii=False) + "\n"
    except ValueError as error:
        raise ValueError(f"{path}: {error} (nothing was written).") from None


def _never_replace(target: Path, notebooks: Path) -> str:
    """Why ``target`` may not be written even with ``force=True`` (a link, a file inside the teacher's folder, a
    notebook with solutions), or ``""``."""
    if target.is_symlink():
        return f"a link to {target.resolve()}"
    if target.resolve().is_relative_to(notebooks.resolve()):  # through a link to the folder or to a file in it
        return f"it is in the teacher's folder {notebooks}"
    if target.is_file() and _is_teacher_notebook(target):
        return "a teacher's notebook, with solutions"
    return ""
