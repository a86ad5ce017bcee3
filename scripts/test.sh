#!/usr/bin/env bash
# The test command: unit tests of tutorial_lib (on every core), then the main job, which runs every chapter as a
# test (nbmake; a failing cell fails it) and builds the book from those runs, then the chapters' counted work
# checked against the estimates and the built book checked page by page in headless Chromium (Debian's
# `chromium`, or CHROMIUM=/path/to/chromium), then the book built the way Colab runs it, offline and tiny
# (--profile colab-offline). A chapter unchanged since it last passed (same notebook, library,
# settings and packages) is not run again: pass --force to run them all.
# Chromium is never installed behind your back: install it once with `sudo bash scripts/install_browser.sh`,
# or pass --install-browser to let this script run that for you. Other arguments go to pytest (unit tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
install_browser=0
book_args=()
pytest_args=()
for arg in "$@"; do
  case "$arg" in
    --install-browser) install_browser=1 ;;
    --force) book_args+=(--force) ;;
    *) pytest_args+=("$arg") ;;
  esac
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
step() { echo "[test.sh] $1 done, ${SECONDS} s since the start"; }
python -m pytest -q -n "${TUTORIAL_LIB_TEST_JOBS:-auto}" tests/ ${pytest_args[@]+"${pytest_args[@]}"}
step "unit tests"
bash scripts/book.sh ${book_args[@]+"${book_args[@]}"}
step "the book"
TUTORIAL_LIB_WORK_DIR=_book/work python -m pytest -q tests/test_chapter_work.py
# The published book's build, tested: every chapter as Colab runs it (Music2Latent, the NSynth download), offline
# and tiny, into _book-colab-offline/ (bash scripts/book.sh --profile colab builds the real one). It runs while the
# browser tests check the offline book: they mostly wait on Chromium (about a third of two cores).
colab_log="$(mktemp)"
set -m  # the Colab-path build in a process group of its own, stopped whole if the browser tests fail
bash scripts/book.sh --profile colab-offline ${book_args[@]+"${book_args[@]}"} >"$colab_log" 2>&1 &
colab_pid=$!
set +m
trap 'kill -- -"$colab_pid" 2>/dev/null || true' EXIT
CHROMIUM="$CHROMIUM" python -m pytest -q -n "${TUTORIAL_LIB_TEST_JOBS:-auto}" browser_tests/
step "browser tests"
colab_status=0
wait "$colab_pid" || colab_status=$?
trap - EXIT
cat "$colab_log"
if [ "$colab_status" != 0 ]; then
  echo "The book as Colab runs it failed (bash scripts/book.sh --profile colab-offline; its output is above)." >&2
  exit "$colab_status"
fi
TUTORIAL_LIB_COLAB_BOOK=_book-colab-offline TUTORIAL_LIB_WORK_DIR=_book-colab-offline/work \
  TUTORIAL_LIB_WORK_PROFILE=colab-offline python -m pytest -q tests/test_colab_book.py tests/test_chapter_work.py
step "the book as Colab runs it"
