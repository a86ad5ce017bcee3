"""What every browser test shares: the built book served over local HTTP (WebAssembly does not load from
``file://``) and one headless Chromium per test module. A module names the file the build must have made as
``BUILT`` (default: ``_build/html/index.html``)."""

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

HTML = Path(__file__).resolve().parent.parent / "_build" / "html"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def server(request):
    built = getattr(request.module, "BUILT", HTML / "index.html")
    if not built.is_file():
        pytest.fail(f"The book is not built ({built.relative_to(HTML.parent.parent)} is missing): "
                    "run `bash scripts/book.sh` first.")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(HTML)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: `apt install chromium` (or set CHROMIUM=/path/to/it).")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
