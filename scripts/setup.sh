#!/usr/bin/env bash
# Creates .venv (once) with the CPU build of torch and everything the book and the tests need.
# Sourced by scripts/book.sh and scripts/test.sh; safe to run again (it only installs what is missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import tutorial_lib, torch, librosa, nbmake, jupyter_book, playwright, sphinx_exercise" 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  # The CPU build: a plain `pip install torch` would pull a multi-GB CUDA build.
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -r requirements-dev.txt
  .venv/bin/pip install -q --no-deps -e .
fi
export PATH="$PWD/.venv/bin:$PATH"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"  # offline by default: the mel codec and synthetic data
export TUTORIAL_LIB_CACHE="${TUTORIAL_LIB_CACHE:-$PWD/.cache/tutorial_lib}"
