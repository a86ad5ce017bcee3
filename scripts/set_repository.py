"""Sets the repository address: `python scripts/set_repository.py https://github.com/OWNER/NAME`.

The address lives in _config.yml (repository.url). Until it is set there (``url: ""``), the book has no
launch or repository button and no Colab link, since they would point nowhere: the build says so
(_ext/book_extensions.py), each notebook's Colab cell asks the reader to install the project by hand and the
Colab note under it names no link. This script writes the address into _config.yml (with the Colab launch
button and the repository button), rewrites each notebook's Colab cell from one template (it installs the
project from the address), its Colab note (expected times and the student edition's Colab link) and its
Colab metadata (a T4 GPU runtime), then the student edition itself (student/). tests/test_book.py and
tests/test_student.py check that they agree.

`python scripts/set_repository.py` with no address refreshes the notes and student/ only;
`python scripts/set_repository.py --unset` removes the address (and the buttons).
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTE_ID = "colab-note"
#: What Colab writes into a notebook whose runtime is a T4 GPU (Runtime > Change runtime type): opened from
#: GitHub, the notebook starts on such a runtime.
COLAB_METADATA = {"accelerator": "GPU", "colab": {"gpuType": "T4", "provenance": []}}
COLAB_URL = "https://colab.research.google.com"
GITHUB = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
#: The Colab cell: three lines, the same in every chapter but for its name (tutorial_lib.book.colab.start does
#: the work). ``{imports}`` and ``{install}`` differ while the address is unset: then the cell installs nothing
#: and, where tutorial_lib is missing, says how to install it by hand.
COLAB_CELL = """\
import {imports}; USE_DRIVE = False  # in Google Colab, True keeps latents and trained models on your Google Drive
{install}
if "google.colab" in sys.modules: PROFILE = "colab"; from tutorial_lib.book.colab import start; start("{chapter}", PROFILE, USE_DRIVE)  # "gpu": the original tutorial's full scale"""
INSTALL = """if "google.colab" in sys.modules: get_ipython().run_line_magic("pip", 'install -q "git+{url}@{branch}"')  # this project"""
INSTALL_BY_HAND = ("""if "google.colab" in sys.modules and not importlib.util.find_spec("tutorial_lib"): raise RuntimeError('This """
                   """copy of the book names no repository to install tutorial_lib from: run %pip install -q """
                   """"git+https://github.com/OWNER/NAME" first (scripts/set_repository.py URL sets one).')""")


def colab_source(chapter: str, url: str, branch: str = "main") -> list[str]:
    """The Colab cell's lines (the same in every chapter but for the chapter's name); ``url`` "": unset."""
    install = INSTALL.format(url=url, branch=branch) if url else INSTALL_BY_HAND
    imports = "sys" if url else "importlib.util, sys"
    return COLAB_CELL.format(imports=imports, install=install, chapter=chapter).splitlines(keepends=True)


def colab_note_cell(chapter: str, url: str, branch: str) -> dict:
    """The markdown cell under the Colab cell: the Colab route's expected time and, once the address is set,
    the student edition's link."""
    sys.path.insert(0, str(ROOT))
    from tutorial_lib.book.chapters import colab_note, student_colab_url
    from tutorial_lib.profiles import get_profile

    text = colab_note(chapter, get_profile("colab"), get_profile("gpu"),
                      student_url=student_colab_url(url, branch, chapter) if url else None)
    return {"cell_type": "markdown", "id": NOTE_ID, "metadata": {}, "source": text.splitlines(keepends=True)}


def refresh_notes(url: str, branch: str, root: Path = ROOT) -> None:
    """Rewrites each chapter's Colab cell, the Colab note just after it and its Colab metadata, then the
    student edition."""
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        cells = [c for c in nb["cells"] if c.get("id") != NOTE_ID]
        colab = next(i for i, c in enumerate(cells) if "remove-cell" in c["metadata"].get("tags", [])
                     and "google.colab" in "".join(c["source"]))
        cells[colab]["source"] = colab_source(path.stem, url, branch)
        cells.insert(colab + 1, colab_note_cell(path.stem, url, branch))
        nb["cells"] = cells
        nb["metadata"]["accelerator"] = COLAB_METADATA["accelerator"]
        nb["metadata"]["colab"] = {**COLAB_METADATA["colab"], **nb["metadata"].get("colab", {}),
                                   "gpuType": COLAB_METADATA["colab"]["gpuType"]}
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    from tutorial_lib.book.student import write_student_edition

    write_student_edition(root / "student", root / "notebooks", force=True)  # our own edition, regenerated


def configured(root: Path = ROOT) -> tuple[str, str]:
    """``(repository.url, repository.branch)`` from _config.yml; the url is "" while unset."""
    import yaml

    repository = yaml.safe_load((root / "_config.yml").read_text())["repository"]
    return (repository.get("url") or "").strip(), str(repository.get("branch") or "main")


def write_config(url: str, root: Path = ROOT) -> None:
    """The address, the Colab launch button and the repository button in _config.yml (all off for ``""``)."""
    config = root / "_config.yml"
    text = config.read_text()
    for pattern, value in ((r"(repository:\n  url: ).*", url or '""'),
                           (r"(launch_buttons:\n  colab_url: ).*", COLAB_URL if url else '""'),
                           (r"(html:\n  use_repository_button: ).*", "true" if url else "false")):
        text, found = re.subn(pattern, lambda m, v=value: m.group(1) + v, text)
        if found != 1:
            raise SystemExit(f"{config}: expected one line matching {pattern!r} (a key moved?); fix it by hand.")
    config.write_text(text)


def main(url: str, root: Path = ROOT) -> None:
    """Sets (or, with ``""``, removes) the address everywhere it is used."""
    url = url.strip().removesuffix("/").removesuffix(".git")
    if url and not GITHUB.match(url):
        raise SystemExit(f"{url!r} is not a GitHub repository's address (https://github.com/OWNER/NAME): Colab's "
                         "launch buttons and the student edition's links open notebooks from GitHub.")
    write_config(url, root)
    refresh_notes(url, configured(root)[1], root)
    count = len(list((root / "notebooks").glob("*.ipynb")))
    print(f"repository set to {url} in _config.yml, {count} notebooks and student/" if url else
          f"repository address removed from _config.yml, {count} notebooks and student/: no launch buttons")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main("" if sys.argv[1] == "--unset" else sys.argv[1])
    else:
        refresh_notes(*configured())
        print("Colab notes and student/ refreshed")
