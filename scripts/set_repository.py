"""Sets the repository address: `python scripts/set_repository.py https://github.com/OWNER/NAME`.

The address lives in _config.yml (repository.url, used by the book's Colab and repository buttons);
this script writes it there and into each notebook's Colab cell, which installs the project from it.
tests/test_book.py checks that they agree.
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLAB_INSTALL = re.compile(r'(%pip install -q "git\+)([^"]+)(")')


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
    print(f"repository set to {url} in _config.yml and {len(list((ROOT / 'notebooks').glob('*.ipynb')))} notebooks")


if __name__ == "__main__":
    main(sys.argv[1])
