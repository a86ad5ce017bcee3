"""Sets the repository address: `python scripts/set_repository.py https://github.com/OWNER/NAME`.

The address lives in _config.yml (repository.url, used by the book's Colab and repository buttons);
this script writes it there, rewrites each notebook's Colab cell from one template (it installs the project
from the address) and each chapter's Colab note (expected times and the student edition's Colab link), then
the student edition itself (student/). tests/test_book.py and tests/test_student.py check that they agree.
`python scripts/set_repository.py` with no address refreshes the notes and student/ only.
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTE_ID = "colab-note"
COLAB_CELL = """\
# In Google Colab: install this project (Colab keeps its own torch) and switch to the real data and weights,
# sized for a free GPU, about 5-20 minutes a chapter (profile "colab"; PROFILE = "gpu" is the seed's full scale).
# USE_DRIVE = True keeps latents and trained models on your Google Drive (it asks for access), so that
# later chapters reuse them: chapter 5 then reloads the model chapter 4 trained. Outside Colab this cell does nothing.
import sys

USE_DRIVE = False
if "google.colab" in sys.modules:
    %pip install -q "git+{url}"
    PROFILE = "colab"  # or "gpu": the seed's full scale (its time is printed below)
    if USE_DRIVE:
        import os
        from google.colab import drive

        drive.mount("/content/drive")
        os.environ["TUTORIAL_LIB_CACHE"] = "/content/drive/MyDrive/tutorial_lib"  # latents, checkpoints
        os.environ["TUTORIAL_LIB_DATA"] = "/content/data"  # the notes stay on this machine's disk
    from tutorial_lib.book.chapters import colab_plan
    from tutorial_lib.profiles import get_profile

    print(colab_plan("{chapter}", get_profile(PROFILE), full_scale=get_profile("gpu")))"""


def colab_source(chapter: str, url: str) -> list[str]:
    """The Colab cell's lines (the same in every chapter but for the chapter's name)."""
    return COLAB_CELL.format(url=url, chapter=chapter).splitlines(keepends=True)


def colab_note_cell(chapter: str, url: str, branch: str) -> dict:
    """The markdown cell under the Colab cell: the Colab route's expected time and the student edition's link."""
    sys.path.insert(0, str(ROOT))
    from tutorial_lib.book.chapters import colab_note, student_colab_url
    from tutorial_lib.profiles import get_profile

    text = colab_note(chapter, get_profile("colab"), get_profile("gpu"),
                      student_url=student_colab_url(url, branch, chapter))
    return {"cell_type": "markdown", "id": NOTE_ID, "metadata": {}, "source": text.splitlines(keepends=True)}


def refresh_notes(url: str, branch: str) -> None:
    """Rewrites each chapter's Colab cell and the Colab note just after it, then the student edition."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        cells = [c for c in nb["cells"] if c.get("id") != NOTE_ID]
        colab = next(i for i, c in enumerate(cells) if "remove-cell" in c["metadata"].get("tags", [])
                     and "google.colab" in "".join(c["source"]))
        cells[colab]["source"] = colab_source(path.stem, url)
        cells.insert(colab + 1, colab_note_cell(path.stem, url, branch))
        nb["cells"] = cells
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    from tutorial_lib.book.student import write_student_edition

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
    refresh_notes(url, configured()[1])
    print(f"repository set to {url} in _config.yml, {len(list((ROOT / 'notebooks').glob('*.ipynb')))} notebooks "
          "and student/")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        refresh_notes(*configured())
        print("Colab notes and student/ refreshed")
