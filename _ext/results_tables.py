"""Tables the book reads when it is built: ``chapter-estimates`` (every chapter's expected time, from
:func:`tutorial_lib.book.chapters.estimates_table`) and ``results-table``, a table of ``benchmarks/results/<name>.md``.

The appendix "How the notes were measured" shows the benchmarks' tables through it, so a figure on that page
is always the one in its file (each ``.md`` table is written with its ``.json`` by ``benchmarks/common.py``).
A page picks the rows and columns a reader needs, and may rename them::

    ```{results-table} models_cpu
    :rows: quick = a chapter's quick model (800 steps); shipped; real validation
    :columns: model; median cents off; within 25 c
    ```

``rows`` and ``columns`` are ``;``-separated; each names a first cell or a header (exactly, or else every
one that starts so), ``= label`` renames it. ``table`` picks the file's n-th table (from 1); ``where`` (``column = value``) keeps the rows with
that value; ``transpose`` swaps rows and columns (after ``where``; the first column becomes the header).
A cell ``x +- 0 **FAILS**`` (one subset, worse than the real notes by more than 3 of their stds) is shown as
**x**. A name that matches nothing is an error naming the file, so a page cannot silently lose a row.
"""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def read_tables(text: str) -> list[list[list[str]]]:
    """Every Markdown pipe table in ``text``, as rows of cells (the header first, the ``---`` line dropped)."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _clean(cell: str) -> str:
    cell = re.sub(r"^(\S+) \+- 0 \*\*FAILS\*\*$", r"**\1**", cell)
    cell = re.sub(r"^(\S+) \+- 0$", r"\1", cell)
    return re.sub(r" \(1 subsets\)$", "", cell)


def _pick(wanted: str | None, names: list[str], what: str, source: str) -> list[tuple[int, str]]:
    """``[(index, label)]`` for each ``;``-separated ``start [= label]`` of ``wanted`` (all of ``names`` if None)."""
    if wanted is None:
        return list(enumerate(names))
    picked = []
    for item in (w.strip() for w in wanted.split(";") if w.strip()):
        start, _, label = (part.strip() for part in item.partition("="))
        hits = ([i for i, name in enumerate(names) if name == start]
                or [i for i, name in enumerate(names) if name.startswith(start)])
        if not hits:
            raise ValueError(f"{source}: no {what} starts with {start!r} (it has: {'; '.join(names)}); "
                             "fix the page's results-table, or the benchmark's file")
        picked += [(i, label or names[i]) for i in hits]
    return picked


def results_table(name: str, *, rows: str | None = None, columns: str | None = None, table: int = 1,
                  where: str | None = None, transpose: bool = False, folder: Path = RESULTS) -> str:
    """The chosen part of table ``table`` of ``folder/name.md`` as a Markdown pipe table."""
    path = folder / f"{name}.md"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run its benchmark (benchmarks/README.md) or fix the page")
    tables = read_tables(path.read_text())
    if not 1 <= table <= len(tables):
        raise ValueError(f"{path} has {len(tables)} tables, not a table {table}")
    header, *body = tables[table - 1]
    if where:
        column, _, value = (part.strip() for part in where.partition("="))
        index = _pick(column, header, "column", str(path))[0][0]
        body = [r for r in body if r[index] == value]
        header, body = [h for i, h in enumerate(header) if i != index], [[c for i, c in enumerate(r) if i != index]
                                                                       for r in body]
    if transpose:
        header, body = [header[0]] + [r[0] for r in body], [[h] + [r[i] for r in body]
                                                            for i, h in enumerate(header) if i > 0]
    header = [_clean(h) for h in header]
    chosen_rows = _pick(rows, [_clean(r[0]) for r in body], "row", str(path))
    chosen_columns = _pick(columns, header, "column", str(path))
    lines = ["| " + " | ".join(label for _, label in chosen_columns) + " |",
             "|" + " --- |" * len(chosen_columns)]
    for r, label in chosen_rows:
        cells = [label if c == 0 else _clean(body[r][c]) for c, _ in chosen_columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def setup(app):
    from docutils.parsers.rst import directives
    from docutils.statemachine import StringList
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    class ResultsTable(SphinxDirective):
        required_arguments = 1
        option_spec = {"rows": directives.unchanged, "columns": directives.unchanged,
                       "table": directives.positive_int, "where": directives.unchanged, "transpose": directives.flag}

        def run(self):
            name = self.arguments[0]
            self.env.note_dependency(str(RESULTS / f"{name}.md"))  # rebuilt when the results change
            markdown = results_table(name, rows=self.options.get("rows"), columns=self.options.get("columns"),
                                     table=self.options.get("table", 1), where=self.options.get("where"),
                                     transpose="transpose" in self.options)
            container = nodes.container(classes=["results-table"])
            self.state.nested_parse(StringList(markdown.splitlines(), source=name), self.content_offset, container)
            return [container]

    class ChapterEstimates(SphinxDirective):
        """Every chapter's expected time in Colab and on an H100 (tutorial_lib.book.chapters.estimates_table)."""

        def run(self):
            from tutorial_lib.book.chapters import estimates_table
            from tutorial_lib.profiles import get_profile

            markdown = estimates_table(get_profile("colab"), get_profile("gpu"))
            container = nodes.container(classes=["results-table"])
            self.state.nested_parse(StringList(markdown.splitlines(), source="estimates"), self.content_offset,
                                    container)
            return [container]

    app.add_directive("results-table", ResultsTable)
    app.add_directive("chapter-estimates", ChapterEstimates)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
