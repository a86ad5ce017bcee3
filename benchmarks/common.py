"""Shared by the benchmark scripts: machine facts, and writing results as JSON plus a markdown table."""

import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "device": "cpu"}
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(0)
    return info


def write(name: str, results: dict, table_header: list[str], table_rows: list[list], notes: str = "",
          folder: Path | None = None) -> Path:
    """``results/<name>.json`` (with machine and command) and ``results/<name>.md`` (a table); ``folder``
    replaces ``results/``. Without ``--write`` on the command line, results go to ``results/scratch/``, so that a
    trial run leaves the committed figures alone."""
    if folder is None:
        folder = RESULTS if "--write" in sys.argv else RESULTS / "scratch"
    folder = Path(folder)
    folder.mkdir(exist_ok=True)
    payload = {"benchmark": name, "command": "python " + " ".join(sys.argv), "machine": machine(),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **results}
    (folder / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str))
    lines = [f"# {name}", "", f"`{payload['command']}` on {payload['machine']['device']} "
             f"({payload['machine']['cpu_count']} CPUs, torch {payload['machine']['torch']}), {payload['date']}", ""]
    lines += ["| " + " | ".join(table_header) + " |", "|" + " --- |" * len(table_header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table_rows]
    if notes:
        lines += ["", notes]
    (folder / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return folder / f"{name}.json"
