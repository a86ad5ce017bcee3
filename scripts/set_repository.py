"""Sets the repository address: `python scripts/set_repository.py https://github.com/OWNER/NAME`.

The address lives in _config.yml (repository.url, used by the book's Colab and repository buttons);
this script writes it there and into each notebook's Colab cell, which installs the project from it, and
rewrites each chapter's Colab note (expected times and the student edition's Colab link), then the
student edition itself (student/). tests/test_book.py and tests/test_student.py check that they agree.
`python scripts/set_repository.py` with no address refreshes the notes and student/ only.
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLAB_INSTALL = re.compile(r'(%pip install -q "git\+)([^"]+)(")')


NOTE_ID = "colab-note"


def colab_note_cell(chapter: str, url: str, branch: str) -> dict:
    """The markdown cell under the Colab cell: the Colab route's expected time and the student edition's link."""
    sys.path.insert(0, str(ROOT))
    from tutorial_lib.estimates import colab_note, student_colab_url
    from tutorial_lib.profiles import get_profile

    text = colab_note(chapter, get_profile("colab"), get_profile("gpu"),
                      student_url=student_colab_url(url, branch, chapter))
    return {"cell_type": "markdown", "id": NOTE_ID, "metadata": {}, "source": text.splitlines(keepends=True)}


def refresh_notes(url: str, branch: str) -> None:
    """Writes (or rewrites) each chapter's Colab note, just after its Colab cell, and the student edition."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        cells = [c for c in nb["cells"] if c.get("id") != NOTE_ID]
        colab = next(i for i, c in enumerate(cells) if "remove-cell" in c["metadata"].get("tags", [])
                     and "google.colab" in "".join(c["source"]))
        cells.insert(colab + 1, colab_note_cell(path.stem, url, branch))
        nb["cells"] = cells
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    from tutorial_lib.student import write_student_edition

    write_student_edition(ROOT / "student", ROOT / "notebooks", force=True)  # our own edition, regenerated


def configured() -> tuple[str, str]:
    """``(repository.url, repository.branch)`` from _config.yml."""
    text = (ROOT / "_config.yml").read_text()
    return (re.search(r"repository:\n  url: (\S+)", text).group(1),
            re.search(r"repository:\n(?:  .*\n)*?  branch: (\S+)", text).group(1))


def main(url: str) -> None:
    config = ROOT / "_config.yml"
    text = re.sub(r"(repository:\n  url: ).*", lambda m: m.group(1) + url, config.read_text())
    config.write_text(text)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            source = "".join(cell["source"])
            if COLAB_INSTALL.search(source):
                cell["source"] = COLAB_INSTALL.sub(lambda m: m.group(1) + url + m.group(3), source).splitlines(keepends=True)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    refresh_notes(url, configured()[1])
    print(f"repository set to {url} in _config.yml, {len(list((ROOT / 'notebooks').glob('*.ipynb')))} notebooks "
          "and student/")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        refresh_notes(*configured())
        print("Colab notes and student/ refreshed")
