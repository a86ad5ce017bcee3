"""benchmarks/README.md indexes every file in benchmarks/results/, and nothing reads a superseded one.

Each row of its table "Index of results" names files (``models_cpu.{json,md}``), what they measure, the
command, the date (the ``date`` in the JSON) and the status: ``current``, or ``superseded`` for a file kept in
``results/archive/``. Code, tests, chapters and the front pages (tutorial_lib/, tests/, notebooks/, benchmarks/*.py,
_ext/, README.md, intro.md) may read or cite current files only.
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
INDEX = ROOT / "benchmarks" / "README.md"
IGNORED = {"scratch"}  # trial runs, not committed (.gitignore)
READERS = ["tutorial_lib", "tests", "notebooks", "benchmarks/*.py", "README.md", "intro.md", "_ext"]


def expand(cell: str) -> list[str]:
    """``"`a.{json,md}`, `b.md`"`` -> ``["a.json", "a.md", "b.md"]``."""
    names = []
    for name in re.findall(r"`([^`]+)`", cell):
        brace = re.fullmatch(r"(.*)\{([^}]*)\}(.*)", name)
        names += [f"{brace[1]}{part}{brace[3]}" for part in brace[2].split(",")] if brace else [name]
    return names


def index_rows(text: str) -> dict[str, dict]:
    """``{file relative to results/: {"date": ..., "status": ..., "command": ...}}`` from the index table."""
    rows = {}
    section = text.split("## Index of results", 1)[-1]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if not line.startswith("| `") or len(cells) != 5:
            continue
        for name in expand(cells[0]):
            rows[name] = {"measures": cells[1], "command": cells[2], "date": cells[3], "status": cells[4]}
    return rows


def results_files(folder: Path = RESULTS) -> list[str]:
    """Every committed results file, relative to ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.parts[len(folder.parts)] not in IGNORED and p.suffix in (".json", ".md"))


def row_to_add(folder: Path, name: str) -> str:
    """The index row a missing file needs, with the command and date of its JSON where it has them."""
    payload = folder / (Path(name).with_suffix(".json"))
    facts = json.loads(payload.read_text()) if payload.is_file() else {}
    stem = Path(name).with_suffix("")
    status = "superseded" if name.startswith("archive/") else "current"
    return (f"| `{stem}.{{json,md}}` | <what it measures> | `{facts.get('command', '<the command that made it>')}` | "
            f"{facts.get('date', '<YYYY-MM-DD>')[:10]} | {status} |")


def index_problems(folder: Path, index_text: str) -> list[str]:
    rows, problems = index_rows(index_text), []
    for name in results_files(folder):
        if name not in rows:
            problems.append(f"benchmarks/results/{name} is not in benchmarks/README.md's table 'Index of results': "
                            f"add the row\n    {row_to_add(folder, name)}\n  (one row may list both files, as "
                            "`name.{json,md}`; status: current, or superseded for a file moved to results/archive/)")
    for name, row in rows.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"benchmarks/README.md lists {name}, which is not in benchmarks/results/: remove its row, "
                            "or fix the name")
            continue
        if row["status"] not in ("current", "superseded"):
            problems.append(f"{name}: status {row['status']!r} in benchmarks/README.md: write current or superseded")
        archived = name.startswith("archive/")
        if archived != (row["status"] == "superseded"):
            problems.append(f"{name} is {row['status']} but " + ("in" if archived else "not in") + " results/archive/: "
                            + ("`git mv` it into benchmarks/results/archive/ (and its row's name with it)"
                               if not archived else "set its status to superseded, or move it back"))
        if path.suffix == ".json":
            date = json.loads(path.read_text()).get("date", "")[:10]
            if date and date != row["date"]:
                problems.append(f"{name} was measured on {date}, but benchmarks/README.md says {row['date']}: "
                                "update its row (date, and the command if it changed)")
    return problems


def superseded_readers(root: Path, superseded: list[str]) -> list[str]:
    """``"path: name"`` for each file under READERS that names a superseded results file."""
    found = []
    files = [p for pattern in READERS for p in (root.glob(pattern) if "*" in pattern or "." in pattern
                                                 else (root / pattern).rglob("*"))]
    for path in sorted(set(files)):
        if not path.is_file() or path.suffix not in (".py", ".ipynb", ".md", ".json") or path == Path(__file__):
            continue
        text = path.read_text(errors="replace")
        for name in dict.fromkeys(Path(n).stem for n in superseded):
            if name in text:
                found.append(f"{path.relative_to(root)}: {name}")
    return found


def test_every_results_file_is_indexed_with_its_date_and_status():
    problems = index_problems(RESULTS, INDEX.read_text())
    assert not problems, "\n".join(problems)


def test_nothing_reads_a_superseded_result():
    superseded = [n for n, row in index_rows(INDEX.read_text()).items() if row["status"] == "superseded"]
    found = superseded_readers(ROOT, superseded)
    assert not found, ("These files read or cite a superseded result (benchmarks/README.md): make them use the "
                       "current file that replaced it:\n" + "\n".join(found))


def test_the_checks_fail_on_a_missing_row_a_stale_date_and_a_reader_of_an_old_file(tmp_path):
    folder = tmp_path / "benchmarks" / "results"
    (folder / "archive").mkdir(parents=True)
    (folder / "web_cpu.json").write_text(json.dumps({"command": "python bench_web.py --write",
                                                     "date": "2026-12-07 10:00 UTC"}))
    (folder / "web_cpu.md").write_text("# web_cpu\n")
    (folder / "archive" / "old_cpu.md").write_text("# old\n")
    index = ("## Index of results\n\n| file | what it measures | command | date | status |\n| --- | --- | --- | --- | --- |\n"
             "| `archive/old_cpu.md` | old | `python old.py` | 2026-11-01 | superseded |\n")
    problems = index_problems(folder, index)
    assert len(problems) == 2 and all("web_cpu" in p for p in problems), problems
    assert "| `web_cpu.{json,md}` | <what it measures> | `python bench_web.py --write` | 2026-12-07 | current |" in problems[0]
    index += "| `web_cpu.{json,md}` | pages | `python bench_web.py --write` | 2026-12-06 | current |\n"
    assert [p for p in index_problems(folder, index) if "2026-12-07" in p and "says 2026-12-06" in p]
    assert index_problems(folder, index.replace("2026-12-06", "2026-12-07")) == []
    # An archived file marked current, and a current one marked superseded, are refused.
    assert len(index_problems(folder, index.replace("2026-12-06", "2026-12-07").replace("| superseded |", "| current |"))) == 1
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text('json.loads((RESULTS / "old_cpu.md").read_text())\n')
    assert superseded_readers(tmp_path, ["archive/old_cpu.md"]) == ["tests/test_x.py: old_cpu"]
    assert superseded_readers(tmp_path, ["archive/other_cpu.md"]) == []
