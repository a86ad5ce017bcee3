"""Runs every chapter once, as a test, and builds the book from what the chapters printed.

``python -m tutorial_lib.book.execute`` (what ``scripts/book.sh`` runs) stages the book in ``_book/`` (nbmake skips any path with ``_build`` in it): the
repository's files as links, and a copy of each chapter notebook that nbmake executes in place (``--overwrite``),
so a failing cell fails the command, the notebooks in ``notebooks/`` stay without outputs, and Jupyter Book then
renders the executed copies with its own execution switched off. Nothing runs twice.

A chapter's copy is executed again only when its key changes: the notebook, the library's code and shipped
models, the ``TUTORIAL_LIB_*`` settings, the Python and its packages (``--force`` runs every chapter); it then
keeps the log of its work beside it (``_book/work/``), which the test command checks against the estimates. Chapters run two at a time on a
machine with two or more cores (``--jobs``), each after the chapters whose cached work it reuses
(:attr:`tutorial_lib.book.chapters.Chapter.after`), so chapter 5 reloads the model chapter 4 trained.

``--profile colab`` (or ``gpu``) runs every chapter with that profile: the real NSynth notes and Music2Latent, the
book an author publishes (a GPU and internet). ``--profile colab-offline`` is that build's test, which
``scripts/test.sh`` runs: every chapter as Colab runs it, offline and tiny (:mod:`tutorial_lib.book.colab_offline`),
staged in ``_book-colab-offline/`` so that it never replaces the offline book. ``--build`` then renders the book.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..runtime.files import write_text_atomically
from ..runtime.flags import as_flags
from .chapters import CHAPTERS

ROOT = Path(__file__).resolve().parents[2]
MARKER = ".made-by-tutorial_lib"  # a staging folder without it is someone else's: refused
NOT_STAGED = {".git", ".venv", "_build", "notebooks", ".pytest_cache", "runs", "out"}  # and every _book*
# Settings that change what a chapter prints; the rest (threads, work logs, the test server's port) change only
# how fast it runs, or nothing.
IGNORED_SETTINGS = {"TUTORIAL_LIB_THREADS", "TUTORIAL_LIB_WORK_LOG", "TUTORIAL_LIB_WORK_DIR",
                    "TUTORIAL_LIB_CHAPTER_JOBS", "TUTORIAL_LIB_COLAB_OFFLINE"}
#: The Colab path's test (the chapters' own Colab branch picks the profile: none is injected).
COLAB_OFFLINE = "colab-offline"


@dataclass
class Outcome:
    """What happened to one chapter: ``"ran"``, ``"kept"`` (unchanged since it last passed), ``"failed"`` or
    ``"not run"`` (a chapter it waits for failed); ``seconds`` of execution and ``cpu_seconds`` when it ran."""

    chapter: str
    status: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def book_chapters(root: Path = ROOT) -> list[str]:
    """The notebooks of ``_toc.yml`` (``notebooks/<name>.ipynb``), in the book's order."""
    names = []
    for line in (root / "_toc.yml").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("- file: notebooks/"):
            name = line.removeprefix("- file: notebooks/")
            if (root / "notebooks" / f"{name}.ipynb").is_file():
                names.append(name)
    return names


def library_key(root: Path = ROOT) -> str:
    """A hash of the library's code and shipped models: a change to either runs every chapter again."""
    digest = hashlib.sha256()
    package = root / "tutorial_lib"
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def chapter_key(name: str, library: str, root: Path = ROOT, profile: str | None = None) -> str:
    """What a chapter's executed copy depends on: its notebook, the library and the settings it runs with."""
    settings = {k: v for k, v in os.environ.items()
                if (k.startswith("TUTORIAL_LIB_") and k not in IGNORED_SETTINGS) or k == "HF_HUB_OFFLINE"}
    settings["profile"] = profile
    digest = hashlib.sha256((root / "notebooks" / f"{name}.ipynb").read_bytes())
    digest.update(library.encode())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()


def stage(root: Path, staged: Path) -> None:
    """Lays out ``staged`` as the book's source: links to the repository's files, the chapters' pages (copies of
    the notebooks are added by :func:`run_chapter`), and a ``_config.yml`` with execution off."""
    marker = staged / MARKER
    if staged.exists() and any(staged.iterdir()) and not marker.is_file():
        raise RuntimeError(f"{staged} holds files this build did not make: it stages the book there and writes over "
                           "what it finds. Move them, or give another folder (`staged`).")
    staged.mkdir(parents=True, exist_ok=True)
    marker.write_text("Made by python -m tutorial_lib.book.execute: the staged book, rewritten by each build.\n")
    (staged / "notebooks").mkdir(exist_ok=True)
    for link in [*staged.iterdir(), *(staged / "notebooks").iterdir()]:
        if link.is_symlink() and not link.exists():  # its file was deleted or renamed since the last build
            link.unlink()
    for source, target in [*((p, staged / p.name) for p in root.iterdir()
                              if p.name not in NOT_STAGED and not p.name.startswith("_book")),
                           *((p, staged / "notebooks" / p.name) for p in (root / "notebooks").iterdir()
                             if p.suffix != ".ipynb" and p.name != "__pycache__")]:
        if source.name == "_config.yml":
            continue
        if target.is_symlink() or not target.exists():
            target.unlink(missing_ok=True)
            target.symlink_to(source)
    config = (root / "_config.yml").read_text()
    executing = "execute_notebooks: cache"
    if executing not in config:
        raise RuntimeError(f"{root / '_config.yml'}: expected '{executing}' (the staged book turns it off)")
    (staged / "_config.yml").write_text(config.replace(executing, "execute_notebooks: 'off'"))


def work_dir(staged: Path) -> Path:
    """Where each chapter's run logs the work it did (kept with its executed copy)."""
    return staged / "work"


def environment_key() -> str:
    """The Python and the installed packages' versions: chapters that passed under others run again."""
    from importlib.metadata import distributions

    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in distributions())
    return hashlib.sha256("\n".join([sys.version, *packages]).encode()).hexdigest()


def set_profile(notebook: Path, profile: str) -> None:
    """Sets ``PROFILE`` in a chapter: a cell after its ``parameters`` cell, as papermill injects parameters."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    where = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", [])]
    if not where:
        raise RuntimeError(f"{notebook.name} has no cell tagged 'parameters' to follow with PROFILE = {profile!r}")
    cell = nbformat.v4.new_code_cell(f'PROFILE = "{profile}"  # set by the book build (--profile {profile})')
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(where[0] + 1, cell)
    nbformat.write(nb, notebook)


def run_chapter(name: str, root: Path, staged: Path, threads: str | None,
                profile: str | None = None) -> tuple[bool, float, float, Path]:
    """Executes a copy of ``notebooks/<name>.ipynb`` in ``staged/notebooks/`` with nbmake; returns (passed,
    seconds, CPU seconds of the chapter's processes, log file). The chapter counts its costly work into
    ``work_dir(staged)/<name>.json`` (tutorial_lib.runtime.work), which tests/test_chapter_work.py checks."""
    copy = staged / "notebooks" / f"{name}.ipynb"
    shutil.copyfile(root / "notebooks" / f"{name}.ipynb", copy)
    if profile and profile != COLAB_OFFLINE:
        set_profile(copy, profile)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    if threads and "TUTORIAL_LIB_THREADS" not in os.environ:  # torch's threads, and numpy's BLAS (the decoder)
        env.update(TUTORIAL_LIB_THREADS=threads, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    log = work_dir(staged) / f"{name}.json"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    env["TUTORIAL_LIB_WORK_LOG"] = str(log)
    output = staged / "logs" / f"{name}.log"
    output.parent.mkdir(exist_ok=True)
    clock = time.perf_counter()
    with open(output, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbmake",
                                    "--overwrite", "--nbmake-timeout=600", str(copy)],
                                   cwd=staged / "notebooks", env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)  # usage: this chapter's processes alone (its kernel too)
        process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode == 0, time.perf_counter() - clock, usage.ru_utime + usage.ru_stime, output


def run_chapters(names: list[str], *, root: Path = ROOT, staged: Path, jobs: int, force: bool = False,
                 after: dict[str, tuple[str, ...]] | None = None, profile: str | None = None) -> list[Outcome]:
    """Runs the chapters whose key changed (all with ``force``), ``jobs`` at a time, each after the chapters it
    waits for (``after``, by default each chapter's ``Chapter.after``), with ``profile`` instead of their own
    ``PROFILE`` when given; prints a line as each one ends."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    if after is None:
        after = {name: CHAPTERS[name].after for name in names if name in CHAPTERS}

    library = library_key(root) + environment_key()
    keys = {name: chapter_key(name, library, root, profile) for name in names}
    key_file = staged / "chapter_keys.json"
    passed = json.loads(key_file.read_text()) if key_file.is_file() else {}
    outcomes = {}
    for name in names:
        if not force and passed.get(name) == keys[name] and (staged / "notebooks" / f"{name}.ipynb").is_file():
            outcomes[name] = Outcome(name, "kept")
            print(f"{name}: unchanged since it last passed, kept", flush=True)
    waiting = [name for name in names if name not in outcomes]
    threads = "1" if jobs > 1 else None  # two chapters on two cores: one thread each (two spin-wait each other)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {}
        while waiting or running:
            for name in list(waiting):
                first = [a for a in after.get(name, ()) if a in names]
                if any(outcomes.get(a, Outcome(a, "")).status in ("failed", "not run") for a in first):
                    outcomes[name] = Outcome(name, "not run")
                    waiting.remove(name)
                    print(f"{name}: not run (it reuses the work of a chapter that failed)", flush=True)
                elif len(running) < jobs and all(a in outcomes for a in first):
                    running[pool.submit(run_chapter, name, root, staged, threads, profile)] = name
                    waiting.remove(name)
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                ok, seconds, cpu, log = future.result()
                outcomes[name] = Outcome(name, "ran" if ok else "failed", round(seconds, 1), round(cpu, 1))
                if ok:
                    passed[name] = keys[name]
                    print(f"{name}: ran and passed in {seconds:.0f} s ({cpu:.0f} CPU seconds)", flush=True)
                else:
                    passed.pop(name, None)
                    print(f"{name}: FAILED after {seconds:.0f} s; its output ({log}):\n"
                          + "\n".join(log.read_text().splitlines()[-60:]), flush=True)
                write_text_atomically(key_file, json.dumps(passed, indent=1, sort_keys=True))
    return [outcomes[name] for name in names]


def build_html(staged: Path) -> Path:
    """Renders the executed book in ``staged`` with Jupyter Book (warnings are errors); returns its HTML folder:
    ``_build/html`` for the default ``_book``, else ``<staged>/_build/html``."""
    out = ROOT if staged.resolve() == (ROOT / "_book").resolve() else staged
    subprocess.run(["jupyter-book", "build", "-W", "-n", "--keep-going", str(staged), "--path-output", str(out)],
                   check=True)
    return out / "_build" / "html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib.book.execute", description=__doc__.split("\n")[0])
    parser.add_argument("--staged", type=Path,
                        help="where the book is staged and its chapters executed (default: _book, or "
                             "_book-colab-offline for that profile)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("TUTORIAL_LIB_CHAPTER_JOBS") or
                                                           min(2, os.cpu_count() or 1)),
                        help="chapters run at once (default: 2 on a machine with 2 or more cores)")
    parser.add_argument("--force", action="store_true", help="run every chapter, even those unchanged")
    parser.add_argument("--profile", help="run the chapters with this profile instead of their own (colab: the real "
                                          "data and Music2Latent, the published book, needs internet; colab-offline: "
                                          "its offline test)")
    parser.add_argument("--build", action="store_true", help="then render the book with Jupyter Book")
    parser.add_argument("chapters", nargs="*", help="only these chapters (default: every chapter of _toc.yml)")
    args = parser.parse_args(argv)
    names = book_chapters()
    from ..profiles import PROFILES

    if args.profile and args.profile not in [*PROFILES, COLAB_OFFLINE]:
        parser.error(f"no profile {args.profile!r}; choose from {', '.join([*PROFILES, COLAB_OFFLINE])}")
    unknown = set(args.chapters) - set(names)
    if unknown:
        parser.error(f"no chapter {', '.join(sorted(unknown))} in _toc.yml; choose from {', '.join(names)}")
    staged = args.staged or ROOT / ("_book-colab-offline" if args.profile == COLAB_OFFLINE else "_book")
    try:
        stage(ROOT, staged)
    except RuntimeError as error:  # a folder it did not make: say which option chooses another
        parser.error(as_flags(str(error), parser))
    server, saved = None, dict(os.environ)
    if args.profile == COLAB_OFFLINE:
        from .colab_offline import start

        server, settings = start(staged / "colab-offline")
        os.environ.update(settings)  # the chapters' kernels inherit them
    try:
        clock = time.perf_counter()
        outcomes = run_chapters(args.chapters or names, staged=staged, jobs=max(1, args.jobs), force=args.force,
                                profile=args.profile)
    finally:
        if server:
            server.shutdown()
            os.environ.clear()
            os.environ.update(saved)  # the book is rendered as any other
    times = {o.chapter: {"seconds": o.seconds, "cpu_seconds": o.cpu_seconds} for o in outcomes if o.status == "ran"}
    write_text_atomically(staged / "chapter_times.json", json.dumps(
        {"jobs": args.jobs, "wall_seconds": round(time.perf_counter() - clock, 1), "chapters": times}, indent=1))
    failed = [o.chapter for o in outcomes if o.status in ("failed", "not run")]
    if failed:
        print(f"Chapters that failed or could not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    if args.build:
        html = build_html(staged)
        print(f"Book built: open {html.relative_to(ROOT) if html.is_relative_to(ROOT) else html}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
