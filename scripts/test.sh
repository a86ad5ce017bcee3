#!/usr/bin/env bash
# The test command: unit tests of tutorial_lib, every notebook run by nbmake, then the book built and
# checked page by page in headless Chromium (Debian's `chromium`; installed here when run as root).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
python -m pytest -q tests/ "$@"
python -m pytest -q --nbmake --nbmake-timeout=600 notebooks/
bash scripts/book.sh
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -q chromium >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "The browser test needs Chromium: install it (sudo apt install chromium) or set CHROMIUM=/path/to/chromium." >&2
  exit 1
fi
python -m pytest -q browser_tests/
