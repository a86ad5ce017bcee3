"""How long the project's two commands take from a fresh clone: benchmarks/results/build_times.{md,json}.

    python benchmarks/bench_build.py [--out benchmarks/results/build_times] [--venv .venv]

Clones the committed HEAD into a temporary folder, links this checkout's installed ``.venv`` into it (the
set-up's install is timed apart, by CI), and with an empty ``TUTORIAL_LIB_CACHE`` times
``bash scripts/book.sh`` (cold), ``bash scripts/test.sh`` right after it (its steps' times too, and the chapters of
the book built as Colab runs it) (the chapters unchanged since the book
ran them are kept), ``bash scripts/book.sh`` again (warm: nothing to run), and ``bash scripts/test.sh`` as CI
runs it after the install (no executed chapters, another empty cache). For each run: the wall time, each chapter's execution time and CPU
seconds (``_book/chapter_times.json``), and for the test command the 10 slowest unit tests (``--durations``).
Writes to ``--out`` (.md and .json) only when every command passed; the committed results change only when you
ask for them with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path, env: dict, log: Path) -> float:
    clock = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.call(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - clock
    if code:
        sys.exit(f"{' '.join(command)} failed after {seconds:.0f} s (exit {code}); see {log}")
    return round(seconds, 1)


def slowest_tests(log: Path, count: int = 10) -> list[list]:
    """The ``--durations`` lines of a pytest log: [[seconds, test], ...]."""
    rows = re.findall(r"^([\d.]+)s (?:call|setup|teardown)\s+(\S+)", log.read_text(), flags=re.M)
    return [[float(s), name] for s, name in sorted(rows, key=lambda r: -float(r[0]))[:count]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write <out>.md and <out>.json (e.g. benchmarks/results/build_times)")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="an installed venv to link into the clone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_build-"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    (clone / ".venv").symlink_to(args.venv.resolve())
    env = dict(os.environ, TUTORIAL_LIB_CACHE=str(work / "cache"))
    for key in ("TUTORIAL_LIB_THREADS", "OMP_NUM_THREADS", "TUTORIAL_LIB_WORK_DIR"):
        env.pop(key, None)
    runs = {}
    for name, command in (("book, empty cache", ["bash", "scripts/book.sh"]),
                          ("test command, after the book", ["bash", "scripts/test.sh", "--durations=10"]),
                          ("book, warm", ["bash", "scripts/book.sh"]),
                          ("test command, empty cache (what CI runs after the install)", ["bash", "scripts/test.sh"])):
        if name.startswith("test command, empty cache"):  # as a fresh clone: no executed chapters, no cache
            for folder in ("_book", "_build", "_book-colab-offline"):
                shutil.rmtree(clone / folder, ignore_errors=True)
            env["TUTORIAL_LIB_CACHE"] = str(work / "cache-2")
        log = work / f"{len(runs)}.log"
        times, colab_times = clone / "_book" / "chapter_times.json", clone / "_book-colab-offline" / "chapter_times.json"
        times.unlink(missing_ok=True), colab_times.unlink(missing_ok=True)
        seconds = timed(command, clone, env, log)
        runs[name] = {"command": " ".join(command), "seconds": seconds,
                      "chapters": json.loads(times.read_text()) if times.is_file() else {},
                      "steps": [[step, int(s)] for step, s in re.findall(r"^\[test.sh\] (.+) done, (\d+) s since",
                                                                       log.read_text(), flags=re.M)]}
        if colab_times.is_file():
            runs[name]["colab_chapters"] = json.loads(colab_times.read_text())
        if "--durations=10" in command:
            runs[name]["slowest_tests"] = slowest_tests(log)
        print(f"{name}: {seconds:.0f} s", flush=True)
    result = {"date": date.today().isoformat(), "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
              "load_before": os.getloadavg()[0], "runs": runs}
    if args.out:
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1))
        args.out.with_suffix(".md").write_text(markdown(result))
        print(f"wrote {args.out}.md and .json")
    else:
        print(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)


def markdown(result: dict) -> str:
    lines = ["# Build and test times from a fresh clone", "",
             f"Measured {result['date']} on this project's machine ({result['machine']}) with "
             "`python benchmarks/bench_build.py --out benchmarks/results/build_times` (the committed HEAD cloned, "
             "its `.venv` already installed, `TUTORIAL_LIB_CACHE` empty at the start). Budgets: the book 8 minutes, "
             "the test command 10 minutes, each chapter 90 s.", "",
             "| run | command | wall time |", "| --- | --- | ---: |"]
    for name, run in result["runs"].items():
        lines.append(f"| {name} | `{run['command']}` | {run['seconds'] / 60:.1f} min ({run['seconds']:.0f} s) |")
    for name, run in result["runs"].items():
        if run.get("steps"):
            lines += ["", f"## Steps of the test command ({name})", "", "| step | done after (s) |", "| --- | ---: |"]
            lines += [f"| {step} | {s} |" for step, s in run["steps"]]
    for name, run in result["runs"].items():
        for key, title in (("chapters", "Chapters"), ("colab_chapters", "Chapters as Colab runs them (offline, tiny)")):
            chapters = run.get(key, {}).get("chapters", {})
            if not chapters:
                continue
            lines += ["", f"## {title}, {name}", "",
                      f"{run[key]['jobs']} at a time; {run[key]['wall_seconds']:.0f} s from the first "
                      "start to the last end.", "", "| chapter | wall (s) | CPU (s) |", "| --- | ---: | ---: |"]
            lines += [f"| {c} | {t['seconds']:.0f} | {t['cpu_seconds']:.0f} |" for c, t in chapters.items()]
    for name, run in result["runs"].items():
        if run.get("slowest_tests"):
            lines += ["", f"## The 10 slowest unit tests ({name})", "", "| seconds | test |", "| ---: | --- |"]
            lines += [f"| {s:.1f} | `{t}` |" for s, t in run["slowest_tests"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
