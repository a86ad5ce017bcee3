#!/usr/bin/env bash
# The main job: execute every chapter offline and build the book into _build/html.
# Fails on any warning or cell error. Unchanged chapters are not re-run (execution cache).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
export TUTORIAL_LIB_PROGRESS=text  # progress bars as a few text lines on the static pages
jupyter-book build -W -n --keep-going .
echo "Book built: open _build/html/index.html"
