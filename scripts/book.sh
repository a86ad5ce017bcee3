#!/usr/bin/env bash
# The main job: run every chapter offline, once, as a test (nbmake, two at a time on 2 cores), then build the
# book from the executed copies into _build/html. Fails on any cell error or warning. A chapter whose notebook,
# library code and settings are unchanged since it last passed is not run again; --force runs them all.
# --profile colab runs every chapter with the real NSynth notes and Music2Latent (a GPU and internet): the
# published book; --profile colab-offline is its test (the Colab path, offline and tiny, into
# _book-colab-offline/_build/html; scripts/test.sh runs it). Arguments go to `python -m tutorial_lib.book.execute` (--help lists them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
export TUTORIAL_LIB_PROGRESS=text  # progress bars as a few text lines on the static pages
python -m tutorial_lib.book.execute --build "$@"
