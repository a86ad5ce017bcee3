"""The package's layout shows its architecture: the method at the top level, three subpackages beside it, and
the book's helpers never imported by the method (tutorial_lib/__init__.py, the README's Layout)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "tutorial_lib"
METHOD = {"__init__", "__main__", "codec", "conditioning", "unet", "flow", "toy_flow", "training", "checkpoints",
          "sampling", "generation", "reflow", "profiles", "pipeline"}


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Absolute dotted names of every module ``path`` (a file under the package folder ``root``) imports,
    relative imports resolved."""
    package = list(path.relative_to(root.parent).with_suffix("").parts)[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def book_imports(paths) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): {m for m in imported_modules(p) if m.startswith("tutorial_lib.book")}
            for p in paths if any(m.startswith("tutorial_lib.book") for m in imported_modules(p))}


def test_the_top_level_holds_the_method_and_three_subpackages():
    assert {p.stem for p in ROOT.glob("*.py")} == METHOD
    assert {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").is_file()} == \
        {"data", "evaluation", "runtime", "book"}


def test_the_method_evaluation_and_runtime_never_import_the_book():
    outside_book = [p for p in ROOT.rglob("*.py") if "book" not in p.relative_to(ROOT).parts]
    # the command line offers teachers the student edition (`python -m tutorial_lib student-edition`)
    assert book_imports(outside_book) == {"__main__.py": {"tutorial_lib.book.student", "tutorial_lib.book.student.write_student_edition"}}


def test_the_guard_sees_a_relative_import_of_the_book(tmp_path):
    probe = tmp_path / "tutorial_lib" / "data" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from ..book.plots import waveform\nfrom . import synth\n")
    assert imported_modules(probe, tmp_path / "tutorial_lib") >= {"tutorial_lib.book.plots", "tutorial_lib.data.synth"}
