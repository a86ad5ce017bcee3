#!/usr/bin/env bash
# The test command: unit tests of tutorial_lib, every notebook run by nbmake, then the book built and
# checked page by page in headless Chromium (Debian's `chromium`, or CHROMIUM=/path/to/chromium).
# Chromium is never installed behind your back: install it once with `sudo bash scripts/install_browser.sh`,
# or pass --install-browser to let this script run that for you. Other arguments go to pytest (unit tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
install_browser=0
pytest_args=()
for arg in "$@"; do
  if [ "$arg" = --install-browser ]; then install_browser=1; else pytest_args+=("$arg"); fi
done
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then  # checked first, not after ten minutes of tests
  if [ "$install_browser" = 1 ]; then
    bash scripts/install_browser.sh
  else
    echo "The browser test needs Chromium, and $CHROMIUM is missing. Either install it once:" >&2
    echo "  sudo bash scripts/install_browser.sh   (Debian's chromium with apt; it says what it installs)" >&2
    echo "or run: bash scripts/test.sh --install-browser, or set CHROMIUM=/path/to/chromium." >&2
    exit 1
  fi
fi
source scripts/setup.sh
python -m pytest -q tests/ ${pytest_args[@]+"${pytest_args[@]}"}
# Every chapter runs; each counts its encodes, decodes and classifier epochs, checked against the estimates.
work_dir="$(mktemp -d)"
TUTORIAL_LIB_WORK_DIR="$work_dir" python -m pytest -q --nbmake --nbmake-timeout=600 notebooks/
TUTORIAL_LIB_WORK_DIR="$work_dir" python -m pytest -q tests/test_chapter_work.py
rm -rf "$work_dir"
bash scripts/book.sh
CHROMIUM="$CHROMIUM" python -m pytest -q browser_tests/
