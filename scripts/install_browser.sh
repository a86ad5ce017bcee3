#!/usr/bin/env bash
# Installs the browser that browser_tests/ drives: Debian's `chromium`, with apt-get, as root (or with sudo).
# Run it once, on purpose: `sudo bash scripts/install_browser.sh` (or `bash scripts/test.sh --install-browser`).
# It prints how many packages apt will install or upgrade before it starts.
set -euo pipefail
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "install_browser: $CHROMIUM is already installed; nothing to do."
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install_browser: no apt-get here. Install Chromium with your system's package manager and run the" \
       "tests with CHROMIUM=/path/to/chromium bash scripts/test.sh" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
  echo "install_browser: not root: apt-get will run through sudo."
else
  echo "install_browser: installing needs root: run it as root, or install chromium yourself." >&2
  exit 1
fi
plan="$("${as_root[@]}" apt-get install -s chromium 2>/dev/null | grep -c '^Inst ' || true)"
if [ "${plan:-0}" = 0 ]; then
  echo "install_browser: apt-get update (chromium is not in the package lists yet)"
  "${as_root[@]}" apt-get update -q
  plan="$("${as_root[@]}" apt-get install -s chromium | grep -c '^Inst ' || true)"
fi
echo "install_browser: apt-get install chromium: $plan packages to install or upgrade (Debian's chromium and" \
     "its libraries, a few hundred MB; some already-installed system libraries may be upgraded)."
"${as_root[@]}" apt-get install -y -q chromium
echo "install_browser: done: $CHROMIUM"
