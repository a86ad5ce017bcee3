"""Opens every page of the built book in headless Chromium and checks it as a reader would see it.

Needs the built book (`bash scripts/book.sh`) and Debian's Chromium (`apt install chromium`); Playwright
drives that binary (nothing downloads a browser). Screenshots go to _build/screenshots/.
"""

import functools
import http.server
import json
import os
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_PAGE_BYTES = 5 * 1024 * 1024


def headings(notebook: Path) -> list[str]:
    """The '#' and '##' headings the chapter's markdown cells write."""
    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            found += [line.lstrip("#").strip() for line in "".join(cell["source"]).splitlines()
                      if line.startswith(("# ", "## "))]
    return found


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").is_file():
        pytest.fail("The book is not built: run `bash scripts/book.sh` first.")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
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


def open_page(browser, url, name):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(url, wait_until="load")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    return page, console_errors


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page(server, browser, notebook):
    page, _ = open_page(browser, f"{server}/notebooks/{notebook.stem}.html", notebook.stem)
    text = page.inner_text("main")

    # No error output, traceback or warning printed by a cell.
    assert page.locator(".output.error, .output.traceback, .output.stderr").count() == 0
    assert "Traceback (most recent call last)" not in text and "Warning:" not in text

    # The headings the chapter writes are on the page.
    rendered = [h.replace("\u2019", "'").strip() for h in page.locator("main h1, main h2").all_inner_texts()]
    for heading in headings(notebook):
        assert any(heading in r for r in rendered), (heading, rendered)

    # Exercises: the teacher's edition shows every check passing on its solution.
    assert "Not yet:" not in text
    assert page.locator(".exercise").count() >= 2 and text.count("Correct!") >= 1

    # It says which data and codec made its outputs.
    assert "Outputs on this page come from" in text

    # Every image loaded; chapters with figures have them.
    images = page.evaluate("Array.from(document.images).map(i => [i.src.slice(0, 80), i.complete, i.naturalWidth])")
    assert all(done and width > 0 for _, done, width in images), images
    figures = page.locator(".cell_output img").count()
    assert figures >= 1, "no figure on the page"

    # Every audio player has a source that plays about as long as a note (3 s generated, 4 s recorded).
    durations = page.evaluate("""() => Promise.all(Array.from(document.querySelectorAll('audio')).map(a =>
        new Promise(resolve => {
            if (a.readyState >= 1) return resolve(a.duration);
            a.addEventListener('loadedmetadata', () => resolve(a.duration));
            a.addEventListener('error', () => resolve(-1));
            a.load();
            setTimeout(() => resolve(-2), 10000);
        })))""")
    for d in durations:
        assert 2.5 <= d <= 4.5, durations
    if notebook.stem not in ("03_unet", "04a_toy_flow"):  # pages without sound
        assert durations, "no audio player on the page"

    # No empty output box, neither a whole cell's output nor any single output inside it. textContent, not
    # innerText: outputs inside a folded solution are hidden, not empty. A copy button's icon is not content.
    empty = page.evaluate("""Array.from(document.querySelectorAll('.cell_output, .cell_output .output')).filter(o =>
        !o.textContent.trim() && !o.querySelector('img, audio, table, svg:not(button svg)')).length""")
    assert empty == 0

    # Page weight: the HTML and the images it shows.
    weight = (HTML / "notebooks" / f"{notebook.stem}.html").stat().st_size + sum(
        (HTML / "_images" / Path(src).name).stat().st_size
        for src in page.evaluate("Array.from(document.querySelectorAll('.cell_output img')).map(i => i.getAttribute('src'))"))
    assert weight < MAX_PAGE_BYTES, weight
    page.close()


def test_front_page_and_colab_buttons(server, browser):
    page, _ = open_page(browser, f"{server}/intro.html", "intro")
    text = page.inner_text("main")
    for phrase in ("Which data and codec produced what you see", "Profiles", "Colab"):
        assert phrase in text
    assert page.locator(".citation-list .citation").count() >= 6  # the references cited on the page
    page.close()
    page, _ = open_page(browser, f"{server}/notebooks/05_sampling.html", "05_sampling_launch")
    hrefs = page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
    assert any(h.startswith("https://colab.research.google.com/github/") and h.endswith("notebooks/05_sampling.ipynb")
               for h in hrefs), [h for h in hrefs if "colab" in h]
    page.close()
