#!/usr/bin/env bash
# The test command: unit tests of tutorial_lib, then every notebook run as a test (offline).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
python -m pytest -q tests/ "$@"
if ls notebooks/*.ipynb >/dev/null 2>&1; then
  python -m pytest -q --nbmake --nbmake-timeout=600 notebooks/
fi
