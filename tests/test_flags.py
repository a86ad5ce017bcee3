"""Library errors speak of arguments, never of command-line flags; the command lines add their flags
(tutorial_lib.runtime.flags)."""

import argparse
import ast
import re
from pathlib import Path

import pytest

from tutorial_lib.runtime.flags import as_flags

PACKAGE = Path(__file__).resolve().parent.parent / "tutorial_lib"
#: ``--out``, ``--eval-samples``, ``--nproc_per_node``: a flag as a shell user types it.
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9_-]*")
#: The command lines, which say the library's arguments as their flags.
COMMAND_LINES = ("__main__.py",)


def _strings(node: ast.AST) -> list[str]:
    """The text of every string literal under ``node`` (f-strings: their literal parts)."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _module_constants(tree: ast.Module) -> dict[str, list[str]]:
    """``{NAME: its strings}`` for each module-level assignment (messages kept in constants)."""
    found = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = _strings(statement.value)
    return found


def error_texts(source: str, constants: dict[str, list[str]]) -> list[tuple[int, str]]:
    """``(line, text)`` of what the ``raise`` statements of ``source`` say: their literals, the strings that the
    local names and module constants they use were given, and the constants a function takes as defaults."""
    tree = ast.parse(source)
    found = []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for function in functions:
        local = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        local.setdefault(target.id, []).extend(_strings(node.value))
        for default in function.args.defaults + function.args.kw_defaults:
            if isinstance(default, ast.Name):
                found += [(default.lineno, text) for text in constants.get(default.id, [])]
        for node in ast.walk(function):
            if isinstance(node, ast.Raise):
                found += [(node.lineno, text) for text in _strings(node)]
                for name in (n.id for n in ast.walk(node) if isinstance(n, ast.Name)):
                    found += [(node.lineno, text) for text in local.get(name, []) + constants.get(name, [])]
    return found


def flags_in_errors(files) -> list[str]:
    trees = {path: path.read_text() for path in files}
    constants = {}
    for source in trees.values():
        constants.update(_module_constants(ast.parse(source)))
    return [f"{path}:{line}: {FLAG.search(text).group()} in {text!r}"
            for path, source in trees.items() for line, text in error_texts(source, constants) if FLAG.search(text)]


def test_no_library_error_names_a_command_line_flag():
    files = [p for p in sorted(PACKAGE.rglob("*.py")) if p.name not in COMMAND_LINES]
    found = flags_in_errors(files)
    assert not found, ("Library errors name arguments as Python writes them, between backticks (`out`, "
                       "`restart=True`); the command line says them as flags (runtime.flags.as_flags):\n"
                       + "\n".join(found))


def test_the_scan_finds_a_flag_in_a_raise_a_local_message_and_a_constant(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('ADVICE = "or pass --restart."\n'
                   'def f(out, advice=ADVICE):\n'
                   '    raise ValueError(f"{out} is taken; choose another --out")\n'
                   'def g():\n'
                   '    action = "run it with --force"\n'
                   '    raise OSError(f"no. {action}")\n'
                   'def h():\n'
                   '    raise ValueError("no: " + ADVICE)\n')
    found = [line.split(": ", 1)[1].split(" in ")[0] for line in flags_in_errors([bad])]
    assert sorted(found) == ["--force", "--out", "--restart", "--restart"]  # defaults, raises, locals, constants
    bad.write_text('def f(out):\n    raise ValueError(f"{out} is taken; choose another `out`, or `restart=True`")\n'
                   'def g():\n    print("python -m tutorial_lib run --out DIR")  # not an error\n')
    assert flags_in_errors([bad]) == []


@pytest.fixture
def parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--train-steps", "--steps", dest="train_steps", type=int)
    parser.add_argument("--precision", choices=("fp32", "bf16"))
    parser.add_argument("--restart", action="store_true")
    return parser


def test_the_command_line_says_the_librarys_arguments_as_its_flags(parser):
    message = ("runs/x/checkpoint.pt belongs to another run: choose another `checkpoint_path`, or pass "
               "`restart=True`. Ask for `train_steps=3`, `precision=\"fp32\"` or `precision='bf16'`; `codec` and "
               "`python -m tutorial_lib run` are not options here.")
    assert as_flags(message, parser, aliases={"checkpoint_path": "out"}) == (
        "runs/x/checkpoint.pt belongs to another run: choose another --out, or pass --restart. Ask for "
        "--train-steps 3, --precision fp32 or --precision bf16; `codec` and `python -m tutorial_lib run` are not "
        "options here.")
    assert "`checkpoint_path`" in as_flags(message, parser)  # no alias: not an option of this parser
