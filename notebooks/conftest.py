"""nbmake: with $TUTORIAL_LIB_WORK_DIR set, each chapter's kernel counts its costly work into
<dir>/<chapter>.json (tutorial_lib.runtime.work), which tests/test_chapter_work.py compares with the estimates."""

import os
from pathlib import Path


def pytest_runtest_setup(item):
    folder = os.environ.get("TUTORIAL_LIB_WORK_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        log = Path(folder) / f"{Path(str(item.path)).stem}.json"
        log.unlink(missing_ok=True)
        os.environ["TUTORIAL_LIB_WORK_LOG"] = str(log)  # the chapter's kernel, started next, inherits it
