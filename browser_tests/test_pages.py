"""Opens every page of the built book in headless Chromium and checks it as a reader would see it.

Needs the built book (`bash scripts/book.sh`) and Debian's Chromium (`apt install chromium`); Playwright
drives that binary (nothing downloads a browser). Every page is read at a desktop width (1280 px) and a
phone width (390 px), served from this machine only: any request to another host fails the test, so the
book must read offline. Full-page screenshots go to _build/screenshots/<page>-<width>.png.

What a reader must never meet (one check per class of fault found by reading the book):
- a figure squashed or stretched: shown aspect ratio more than 2 % off the image's own;
- a wall of output: a printed output taller than MAX_OUTPUT_LINES lines, or over 2 lines of progress;
- raw markup: an output line starting with `|` (a Markdown table shown as text) or TeX delimiters
  (`$$`, `\\(`, `\\[`) left in the text (MathJax did not run);
- an empty box: an output, or a widget view that needs a kernel, with nothing in it;
- text too small to read in a figure: the smallest font a figure may use (MIN_FONT_PT, which
  tests/test_book.py holds the sources to) shown under MIN_FIGURE_TEXT_PX, at 1280 px and on a phone (390 px:
  the figure's phone layout, one panel per row, which _ext/book_extensions.py shows there);
- a figure cut at the side on a phone: wider than the window, or panning inside a box that scrolls sideways;
- a word cut in two at the end of a table cell's line;
- a heavy page: audio embedded in the HTML, audio loaded before it is played, or more than MAX_FIRST_LOAD_BYTES
  of the page's own files (HTML, figures, audio), or MAX_FIRST_SHARED_BYTES of shared ones, loaded before the
  reader scrolls;
- sideways scrolling: a code or output block wider than the column (at 1280 px; on a phone, outputs), a
  page wider than the window (a long name in the prose), or a table wider than its column (it would scroll
  inside its box, its right-hand columns cut off at first sight);
- development leftovers in the prose: a commit hash, a machine's home or build folder, "not re-measured";
  and in the prose or the printed outputs: a float's repr (``0.009000000000000001``), a notice of CPU threads
  (``Using 1 CPU thread (... TUTORIAL_LIB_THREADS ...)``), a hashed cache file name (``a97dd868ae673a72.pt``);
- errors in the browser's console (a script that throws, as a twice-declared ``const`` did on every page).
"""

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDTHS = {"desktop": 1280, "phone": 390}
MAX_FIRST_LOAD_BYTES = 512 * 1024  # the page's HTML and what it loads before scrolling (shared files apart)
MAX_FIRST_SHARED_BYTES = 5 * 1024 * 1024  # styles, scripts, fonts (the theme, MathJax); not the note players' models
MAX_OUTPUT_LINES = 30  # the longest printed output a reader should scroll past (code shown by show_source excepted)
MAX_PROGRESS_LINES = 2
ASPECT_TOLERANCE = 0.02
MIN_FONT_PT, MIN_FIGURE_TEXT_PX = 9, 8.5


def smallest_text_px(image: Path, shown_width: float) -> float:
    """How tall, in CSS px, text of MIN_FONT_PT points in ``image`` (a PNG that records its dpi, as matplotlib
    writes it) is on screen when the image is shown ``shown_width`` px wide."""
    from PIL import Image

    with Image.open(image) as png:
        dpi = png.info.get("dpi", (72, 72))[0]
        return MIN_FONT_PT * dpi / 72 * shown_width / png.width


def toc_pages() -> list[str]:
    """Every page of the table of contents, as a path relative to _build/html."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            for part in entry.get("parts", []) if isinstance(entry, dict) else []:
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return [f"{Path(f).with_suffix('')}.html" for f in files]


PAGES = toc_pages()


def headings(notebook: Path) -> list[str]:
    """The '#' and '##' headings the chapter's markdown cells write."""
    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            found += [line.lstrip("#").strip() for line in "".join(cell["source"]).splitlines()
                      if line.startswith(("# ", "## "))]
    return found


def console_errors(page) -> list[str]:
    """A list that fills with the page's console errors and uncaught exceptions from now on."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text[:200]) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)[:200]))
    return errors


class Visit:
    """A page opened at one width, with every request it made recorded."""

    def __init__(self, browser, url: str, name: str, width: int):
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.requests: list[str] = []
        self.errors = console_errors(self.page)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        # MathJax typesets after load; wait for it (it is absent on pages without maths).
        self.page.evaluate("""() => window.MathJax && MathJax.startup && MathJax.startup.promise
            ? Promise.race([MathJax.startup.promise, new Promise(r => setTimeout(r, 15000))]) : null""")
        self.first_load = list(self.requests)  # what a reader's browser fetched before any scrolling
        self.scroll_through()
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)

    def scroll_through(self):
        """Scrolls down a screen at a time, as a reader would, so that lazy figures load; then back to the top."""
        self.page.evaluate("""async () => {
            for (let y = 0; y < document.documentElement.scrollHeight; y += innerHeight / 2) {
                scrollTo(0, y); await new Promise(r => setTimeout(r, 30)); }
            await Promise.all(Array.from(document.images).filter(i => !i.complete).map(i => new Promise(r => {
                i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 10000); })));
            scrollTo(0, 0); }""")

    def outside_requests(self) -> list[str]:
        return [u for u in self.requests
                if urlparse(u).scheme not in ("data", "blob", "about") and urlparse(u).hostname not in ("127.0.0.1", "localhost")]


def layout_problems(page, width: int) -> dict[str, list]:
    """Every fault a reader would see on the page at this width, by class (empty lists when all is well)."""
    found = page.evaluate("""([tolerance, maxLines, maxBars, checkInputs]) => {
        const visible = e => e.getClientRects().length > 0 && e.getBoundingClientRect().width > 0;
        const problems = {squashed: [], tall: [], rawTable: [], empty: [], widget: [], sideways: [], progress: [],
                          pageSideways: [], tableCut: [], wordCut: []};
        const page = document.documentElement;
        if (page.scrollWidth > page.clientWidth + 1) {
            const wide = Array.from(document.querySelectorAll('main p *, main li *, main td *'))
                .filter(e => e.getBoundingClientRect().right > page.clientWidth + 1);
            problems.pageSideways.push(`${page.scrollWidth} > ${page.clientWidth} px: ` +
                                       (wide.length ? wide[0].textContent.slice(0, 80) : '?'));
        }
        for (const table of document.querySelectorAll('main table')) {
            const room = table.parentElement.clientWidth;
            if (visible(table) && table.getBoundingClientRect().width > room + 1)
                problems.tableCut.push(`${Math.round(table.getBoundingClientRect().width)} > ${room} px: ` +
                                       table.innerText.slice(0, 60));
        }
        // a word of a table cell broken over two lines (its letters sit on different lines); a long name may
        // break after a hyphen, an underscore, a slash or a dot between letters (the build's <wbr>)
        for (const cell of document.querySelectorAll('main td, main th')) {
            if (!visible(cell)) continue;
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode())
                for (const m of node.textContent.matchAll(/\\S+/g)) {
                    let at = m.index;
                    for (const part of m[0].split(/(?<=[-_/])|(?<=[A-Za-z]\\.)(?=[A-Za-z])/)) {
                        const range = document.createRange();
                        range.setStart(node, at); range.setEnd(node, at + part.length);
                        at += part.length;
                        const tops = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
                        if (tops.size > 1) problems.wordCut.push(m[0].slice(0, 60));
                    }
                }
        }
        for (const img of document.querySelectorAll('main img')) {
            if (!visible(img) || !img.naturalWidth) continue;
            const r = img.getBoundingClientRect();
            const shown = r.width / r.height, natural = img.naturalWidth / img.naturalHeight;
            if (Math.abs(shown / natural - 1) > tolerance)
                problems.squashed.push(`${img.currentSrc.slice(-60)}: ${Math.round(r.width)}x${Math.round(r.height)} shown, ` +
                                       `${img.naturalWidth}x${img.naturalHeight} natural`);
        }
        // Printed text: stream output and plain-text results (not code shown by show_source).
        for (const pre of document.querySelectorAll('.cell_output .output pre')) {
            if (!visible(pre) || pre.closest('.text_html')) continue;  // code shown by show_source
            const style = getComputedStyle(pre);
            const lineHeight = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize);
            const lines = Math.round(pre.getBoundingClientRect().height / lineHeight);
            if (lines > maxLines) problems.tall.push(`${lines} lines: ${pre.innerText.slice(0, 80)}`);
            const text = pre.innerText.split(/\\r|\\n/);
            const bars = text.filter(l => /\\d+%\\||\\d+\\/\\d+ \\[\\d|it\\/s\\]|s\\/it\\]/.test(l));
            if (bars.length > maxBars) problems.progress.push(`${bars.length} progress lines: ${bars[0].slice(0, 80)}`);
        }
        for (const out of document.querySelectorAll('.cell_output')) {
            for (const line of out.innerText.split('\\n'))
                if (line.trim().startsWith('|')) { problems.rawTable.push(line.slice(0, 80)); break; }
        }
        // textContent, not innerText: outputs inside a folded solution are hidden, not empty.
        for (const o of document.querySelectorAll('.cell_output, .cell_output .output'))
            if (!o.textContent.trim() && !o.querySelector('img, audio, table, svg:not(button svg), mjx-container'))
                problems.empty.push(o.className);
        for (const w of document.querySelectorAll('.jupyter-widgets, .widget-area, script[type="application/vnd.jupyter.widget-view+json"]'))
            problems.widget.push(w.className || w.type);
        // Folded solutions count too (a reader unfolds them): their text is hidden but they have a size.
        const blocks = checkInputs ? 'main pre' : 'main .cell_output pre';
        for (const pre of document.querySelectorAll(blocks)) {
            if (!visible(pre)) continue;
            if (pre.scrollWidth > pre.clientWidth + 1)
                problems.sideways.push(`${pre.scrollWidth} > ${pre.clientWidth} px: ` +
                    pre.textContent.split('\\n').reduce((a, b) => b.length > a.length ? b : a, '').slice(0, 100));
        }
        return problems;
    }""", [ASPECT_TOLERANCE, MAX_OUTPUT_LINES, MAX_PROGRESS_LINES, width >= 1000])
    found["rawTeX"] = matches(prose(page), r"\$\$|\\\(|\\\[")
    found["leftovers"] = matches(prose(page), LEFTOVERS)
    found["outputLeftovers"] = matches(prose(page) + "\n" + outputs(page), OUTPUT_LEFTOVERS)
    return {k: v for k, v in found.items() if v}


# Development leftovers a reader must not meet in the prose: a commit hash, a machine's home or build folder,
# a note that a figure is waiting to be measured again.
LEFTOVERS = "|".join([r"\bcommit [0-9a-f]{7,40}\b", r"/(?:root|home/[\w.-]+|Users/[\w.-]+)/", re.escape(str(ROOT)),
                      r"not (?:yet )?re-?(?:measured|run)"])


# Leftovers a reader must not meet in the prose or in what the cells print: a float's repr (a setting printed
# with repr: 0.009000000000000001, 0.30000000000000004, 2.9999999999999996), the library's notice of CPU
# threads, a hashed cache file name.
OUTPUT_LEFTOVERS = "|".join([r"\b\d+\.\d*(?:0{7,}[1-9]|9{7,}\d)\d*\b", r"\bUsing \d+ CPU threads?\b",
                             r"TUTORIAL_LIB_THREADS", r"\b[0-9a-f]{16,}\.(?:pt|npz|npy|json|wav)\b"])


def outputs(page) -> str:
    """The text the cells printed (code shown by show_source left out)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('main .cell_output')).map(o => {
        const c = o.cloneNode(true); c.querySelectorAll('.highlight, script, style').forEach(e => e.remove());
        return c.textContent; }).join('\\n')""")


def prose(page) -> str:
    """The text of the page's main column outside code, scripts and typeset math."""
    return page.evaluate("""() => { const main = document.querySelector('main').cloneNode(true);
        main.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
        return main.textContent; }""")


def matches(text: str, pattern: str) -> list[str]:
    """Up to five places where ``pattern`` occurs in ``text``, with 30 characters either side."""
    return [text[max(0, m.start() - 30): m.end() + 30].replace("\n", " ") for m in re.finditer(pattern, text)][:5]


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize("path", PAGES)
def test_page_reads_well_offline(server, browser, path, width):
    visit = Visit(browser, f"{server}/{path}", Path(path).stem, width)
    problems = layout_problems(visit.page, width)
    if visit.outside_requests():  # the page must read offline
        problems["outsideRequests"] = visit.outside_requests()
    if visit.errors:
        problems["consoleErrors"] = visit.errors
    problems.update(audio_problems(visit.page, visit.first_load))
    first = loaded_bytes(visit.first_load)
    if first["page"] > MAX_FIRST_LOAD_BYTES or first["shared"] > MAX_FIRST_SHARED_BYTES:
        problems["heavy"] = [f"{first['page']:,} bytes of its own and {first['shared']:,} shared loaded before scrolling"]
    images = visit.page.evaluate("Array.from(document.images).map(i => [i.src.slice(0, 80), i.complete, i.naturalWidth])")
    if not all(done and w > 0 for _, done, w in images):
        problems["imagesNotLoaded"] = [src for src, done, w in images if not (done and w > 0)]
    assert not problems, f"{path} at {width} px: {json.dumps(problems, indent=1)}"
    visit.page.close()


def png_dpi(src: str) -> float:
    """The dpi a PNG shown by the page records (matplotlib writes it): a ``data:`` URI or a file of the book."""
    import base64
    import io

    from PIL import Image

    parts = urlparse(src)
    data = base64.b64decode(src.split(",", 1)[1]) if parts.scheme == "data" else \
        Path(unquote(parts.path)).read_bytes() if parts.scheme == "file" else \
        (HTML / unquote(parts.path).lstrip("/")).read_bytes()
    with Image.open(io.BytesIO(data)) as png:
        return png.info.get("dpi", (72, 72))[0]


def figure_problems(page) -> dict[str, list]:
    """Every figure as the reader sees it: ``small`` (its MIN_FONT_PT text shows under MIN_FIGURE_TEXT_PX: the
    image it shows now, phone layout or desktop, at the width it is shown), ``cut`` (it reaches past the
    window's sides), ``pans`` (a box around it scrolls sideways, as _static/figures.js once made them)."""
    shown = page.evaluate("""() => Array.from(document.querySelectorAll('.cell_output img'))
        .filter(i => i.getClientRects().length && i.naturalWidth).map(img => {
            const r = img.getBoundingClientRect(), room = document.documentElement.clientWidth;
            let pans = null;
            for (let e = img.parentElement; e && e !== document.body; e = e.parentElement)
                if (e.scrollWidth > e.clientWidth + 1 && /auto|scroll/.test(getComputedStyle(e).overflowX))
                    pans = `${e.className}: ${e.scrollWidth} > ${e.clientWidth} px`;
            return {src: img.currentSrc, width: r.width, natural: img.naturalWidth, pans: pans,
                    cut: r.left < -1 || r.right > room + 1 ? `${Math.round(r.left)}..${Math.round(r.right)} of ${room} px` : null};
        })""")
    problems = {"small": [], "cut": [], "pans": []}
    for f in shown:
        name = f["src"].rsplit("/", 1)[-1][-40:]
        px = MIN_FONT_PT * png_dpi(f["src"]) / 72 * f["width"] / f["natural"]
        if px < MIN_FIGURE_TEXT_PX:
            problems["small"].append(f"{name}: {px:.1f} px")
        for kind in ("cut", "pans"):
            if f[kind]:
                problems[kind].append(f"{name}: {f[kind]}")
    return {k: v for k, v in problems.items() if v}


AUDIO_FILE = re.compile(r"\.(?:mp3|wav|ogg)$|/_audio/")


def audio_problems(page, first_load: list[str]) -> dict[str, list]:
    """``embedded`` (a clip inside the HTML), ``preloads`` (a player that loads before it is played) and
    ``loaded`` (audio fetched before anything was played, from ``first_load``: the requests of the page's load)."""
    found = page.evaluate("""() => ({
        embedded: Array.from(document.querySelectorAll('audio[src^="data:"], audio source[src^="data:"]'))
            .map(a => a.src.slice(0, 40)),
        preloads: Array.from(document.querySelectorAll('audio'))
            .filter(a => a.getAttribute('src') && a.preload !== 'none').map(a => `${a.preload}: ${a.src.slice(-40)}`)})""")
    found["loaded"] = [u for u in first_load if AUDIO_FILE.search(urlparse(u).path)]
    return {k: v for k, v in found.items() if v}


def loaded_bytes(urls: list[str]) -> dict[str, int]:
    """Bytes of the book's files behind ``urls`` (the local server sends them as they are): ``page`` (the HTML,
    its figures and audio), ``shared`` (_static/: styles, scripts, fonts, cached across pages)."""
    sizes = {"page": 0, "shared": 0}
    for url in set(urls):
        parts = urlparse(url)
        if parts.scheme not in ("http", "https"):
            continue
        path = HTML / unquote(parts.path).lstrip("/")
        path = path / "index.html" if path.is_dir() else path
        if path.is_file():
            sizes["shared" if "_static" in path.relative_to(HTML).parts else "page"] += path.stat().st_size
    return sizes


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_figures_read_on_a_phone(server, browser, notebook):
    """At 390 px every figure is seen whole (no part past the window, no box panning sideways) with its smallest
    text at MIN_FIGURE_TEXT_PX or more: the phone layout of each figure (plots.book_figures)."""
    visit = Visit(browser, f"{server}/notebooks/{notebook.stem}.html", notebook.stem, WIDTHS["phone"])
    problems = figure_problems(visit.page)
    assert not problems, f"{notebook.stem} at {WIDTHS['phone']} px: {json.dumps(problems, indent=1)}"
    visit.page.close()


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page(server, browser, notebook):
    visit = Visit(browser, f"{server}/notebooks/{notebook.stem}.html", notebook.stem, WIDTHS["desktop"])
    page = visit.page
    text = page.inner_text("main")

    # No error output, traceback or warning printed by a cell.
    assert page.locator(".output.error, .output.traceback, .output.stderr").count() == 0
    assert "Traceback (most recent call last)" not in text and "Warning:" not in text

    # The headings the chapter writes are on the page.
    rendered = [h.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"').strip()
                for h in page.locator("main h1, main h2").all_inner_texts()]  # typographic quotes as typed
    for heading in headings(notebook):
        assert any(heading in r for r in rendered), (heading, rendered)

    # Exercises: the teacher's edition shows every check passing; numbered per chapter ("Exercise 3.1" in
    # chapter 3, "Exercise 4a.1" in 4a; 1, 2, ... on a page whose title has no chapter number).
    assert "Not yet:" not in text
    assert page.locator(".exercise").count() >= 2 and text.count("Correct!") >= 1
    chapter = re.match(r"(\d+[a-z]?)\.\s", page.locator("main h1").first.inner_text())
    titles = page.locator(".exercise .admonition-title").all_inner_texts()
    prefix = f"{chapter.group(1)}." if chapter else ""
    assert all(t.startswith(f"Exercise {prefix}{i}") for i, t in enumerate(titles, 1)), titles

    # It says which data and codec made its outputs.
    assert "Outputs on this page come from" in text

    # Chapters with figures have them.
    assert page.locator(".cell_output img").count() >= 1, "no figure on the page"
    # Every figure says what it shows to a reader who cannot see it (cell metadata mystnb.image.alt), not a
    # hash file name.
    alts = page.evaluate("Array.from(document.querySelectorAll('.cell_output img')).map(i => i.alt || '')")
    for alt in alts:
        assert len(alt.split()) >= 5 and not re.fullmatch(r"[0-9a-f]{16,}\.\w+", alt), alts
    # Text in every figure is readable at this width: a figure drawn too wide is shrunk, and its text with it.
    small = figure_problems(page).get("small")
    assert not small, (f"{MIN_FONT_PT} pt text shows smaller than {MIN_FIGURE_TEXT_PX} px in these figures: draw "
                       f"them narrower (fewer panels in a row, or one figure per row): {small}")

    # Every audio player has a source that plays about as long as a note (3 s generated, 4 s recorded); the
    # players load nothing by themselves (preload none), so each is asked to.
    durations = page.evaluate("""() => Promise.all(Array.from(document.querySelectorAll('audio')).map(a =>
        new Promise(resolve => {
            if (a.readyState >= 1) return resolve(a.duration);
            a.preload = 'metadata';
            a.addEventListener('loadedmetadata', () => resolve(a.duration));
            a.addEventListener('error', () => resolve(-1));
            a.load();
            setTimeout(() => resolve(-2), 10000);
        })))""")
    for d in durations:
        assert 2.5 <= d <= 4.5, durations
    if "play(" in notebook.read_text():  # a chapter that plays sound has players on its page
        assert durations, "no audio player on the page"

    page.close()


def test_front_page_and_colab_buttons(server, browser):
    page = Visit(browser, f"{server}/intro.html", "intro", WIDTHS["desktop"]).page
    text = page.inner_text("main")
    for phrase in ("Which data and codec produced what you see", "Profiles", "Colab"):
        assert phrase in text
    assert page.locator(".citation-list .citation").count() >= 6  # the references cited on the page
    page.close()
    page = Visit(browser, f"{server}/notebooks/05_sampling.html", "05_sampling_launch", WIDTHS["desktop"]).page
    hrefs = page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"].get("url")
    if url:  # scripts/set_repository.py has set an address: the launch button opens this chapter from it
        colab = url.replace("https://github.com/", "https://colab.research.google.com/github/")
        assert any(h.startswith(colab) and h.endswith("notebooks/05_sampling.ipynb") for h in hrefs), [
            h for h in hrefs if "colab" in h]
    else:  # no address: no launch button or Colab link that would point nowhere
        assert not [h for h in hrefs if "colab.research.google.com" in h]
    page.close()


def test_figure_text_size_fails_on_a_figure_drawn_too_wide(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = {}
    for width in (13, 7):
        fig, ax = plt.subplots(figsize=(width, 3))
        ax.plot([0, 1])
        fig.savefig(tmp_path / f"{width}.png", dpi=200)  # the book's retina figures: 2 x 100 dpi
        plt.close(fig)
        sizes[width] = smallest_text_px(tmp_path / f"{width}.png", min(756, width * 100))  # the 1280 px column
    assert sizes[13] < MIN_FIGURE_TEXT_PX <= sizes[7], sizes


def test_the_checks_catch_what_they_are_for(browser):
    """Each check fails on a page that has its fault (a squashed figure, a wall of progress, a raw table,
    raw TeX, an empty box, a widget view, a line too long, a page or a table too wide) and passes on the same
    page without it."""
    bad = """<main><div class="cell_output"><img src="data:image/png;base64,{png}" width="400" height="100"
        style="width:200px;height:100px"></div>
        <div class="cell_output"><div class="output stream"><pre>{bars}</pre></div></div>
        <div class="cell_output"><div class="output text_plain"><pre>| layer | shape |</pre></div></div>
        <p>The loss $$L = x$$ and \\(t\\).</p>
        <div class="cell_output"><div class="output text_html"></div></div>
        <div class="cell_output"><div class="output"><script type="application/vnd.jupyter.widget-view+json">{{}}</script>x</div></div>
        <pre style="width:300px;white-space:pre">{long}</pre>
        <div style="width:300px;overflow-x:auto"><table style="width:600px"><tr><td>a</td><td>b</td></tr></table></div>
        <p><code style="white-space:nowrap">{long}</code></p>
        <div style="width:80px"><table><tr><td style="overflow-wrap:anywhere">unbreakable</td></tr></table></div>
        <p>Measured at commit 807b265 into /home/alice/.cache (not re-measured yet).</p>
        <div class="cell_output"><div class="output stream"><pre>Using 1 CPU thread (from $TUTORIAL_LIB_THREADS).
lr (checkpoint: 0.003, this run: 0.009000000000000001) in ~/.cache/a97dd868ae673a72.pt</pre></div></div></main>"""
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAQAAAABCAYAAAD5PA/NAAAAEElEQVR4nGNgYGD4z8DAAAAJBAEAxRuZ7AAAAABJRU5ErkJggg==")
    bars = "\n".join(f"Training: {i}%|##| {i}/100 [00:0{i % 10}<00:10, 9.9it/s]" for i in range(40))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_content(bad.format(png=png, bars=bars, long="x" * 200))
    found = layout_problems(page, 1280)
    assert set(found) == {"squashed", "tall", "progress", "rawTable", "rawTeX", "empty", "widget", "sideways",
                          "pageSideways", "tableCut", "wordCut", "leftovers", "outputLeftovers"}, found
    assert found["wordCut"] == ["unbreakable"], found["wordCut"]
    assert len(found["leftovers"]) == 3, found["leftovers"]  # the hash, the home folder, the promise
    assert len(found["outputLeftovers"]) == 4, found["outputLeftovers"]  # notice, variable, repr, hashed name
    good = f"""<main><div class="cell_output"><img src="data:image/png;base64,{png}" style="width:200px;height:50px">
        <div class="output stream"><pre>Training UNet: 800/800 it in 01:02 (loss=0.471), lr 0.009, 1.0000 s</pre></div></div>
        <p>The loss <mjx-container>L</mjx-container>.</p><pre>short = 1</pre>
        <div style="width:300px"><table><tr><td>a</td><td>b</td></tr></table></div>
        <div style="width:80px"><table><tr><td>two words</td></tr></table></div></main>"""
    page.set_content(good)
    assert layout_problems(page, 1280) == {}
    page.close()


def test_console_errors_are_caught(browser):
    """The page's console is watched: a script declared twice (the fault every page had, issue 33) is caught,
    the same page with it once is not."""
    for scripts, expected in ((2, 1), (1, 0)):
        page = browser.new_page()
        errors = console_errors(page)
        page.set_content("<main>" + '<script>const THEBE_JS_URL = "x"</script>' * scripts + "</main>")
        page.wait_for_timeout(100)
        assert len(errors) == expected and all("THEBE_JS_URL" in e for e in errors), errors
        page.close()


def built_page(tmp_path, body: str, outputs: list[dict]) -> Path:
    """``body`` rewritten as the book's build rewrites a notebook page (_ext/book_extensions.py: audio to files,
    lazy images, phone layouts) for a notebook whose outputs are ``outputs``, written to tmp_path/page.html."""
    import sys
    from types import SimpleNamespace

    sys.path.insert(0, str(ROOT / "_ext"))
    from book_extensions import light_pages

    notebook = tmp_path / "page.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": outputs}]}))
    app = SimpleNamespace(outdir=str(tmp_path), builder=SimpleNamespace(format="html"),
                          env=SimpleNamespace(doc2path=lambda name: str(notebook)))
    context = {"body": body}
    light_pages(app, "page", "page.html", context, None)
    page = tmp_path / "page.html"
    page.write_text(f"<html><body style='margin:16px'><main>{context['body']}</main></body></html>")
    return page


def test_the_figure_checks_catch_a_figure_cut_panning_or_too_small(browser, tmp_path):
    """A 10.5-inch figure on a phone: shrunk to the column its text is too small; widened until readable, panning
    in its box (the old _static/figures.js), it is cut; its phone layout, shown by the <picture> the build
    makes, passes."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tutorial_lib.book.plots import PHONE_MIME, phone_png

    fig, axes = plt.subplots(1, 4, figsize=(10.5, 3), layout="constrained", sharey=True)
    for ax in axes:
        ax.plot([0, 1], [1, 0])
        ax.set(title="a panel", xlabel="time (s)", ylabel="value")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=200, bbox_inches="tight")  # as the notebooks' retina figures
    desktop, phone = base64.b64encode(buffer.getvalue()).decode(), phone_png(fig)
    plt.close(fig)
    (tmp_path / "_images").mkdir()
    name = hashlib.sha256(base64.b64decode(desktop)).hexdigest() + ".png"
    (tmp_path / "_images" / name).write_bytes(base64.b64decode(desktop))
    figure = f'<div class="cell_output"><img alt="a figure" src="_images/{name}" style="width: 1050px; height: 300px; max-width: 100%; height: auto">'
    old_figures_js = """<script>const img = document.querySelector('img'), box = img.closest('.cell_output');
        img.style.setProperty('min-width', '745px', 'important');
        Object.assign(box.style, {overflowX: 'auto', maxWidth: '100%', minWidth: '0'});</script>"""
    cases = {"shrunk": ("", {"small"}), "panning": (old_figures_js, {"cut", "pans"})}
    for case, (script, expected) in cases.items():
        page = browser.new_page(viewport={"width": 390, "height": 900})
        page.goto((tmp_path / "plain.html").as_uri() if (tmp_path / "plain.html").write_text(
            f"<html><body style='margin:16px'><main>{figure}</div>{script}</main></body></html>") else "")
        found = figure_problems(page)
        assert set(found) == expected, (case, found)
        page.close()
    page = browser.new_page(viewport={"width": 390, "height": 900})
    page.goto(built_page(tmp_path, figure + "</div>", [{"data": {"image/png": desktop, PHONE_MIME: phone}}]).as_uri())
    page.wait_for_function("() => document.querySelector('img').naturalWidth > 0")  # a lazy image, in view
    phone_name = hashlib.sha256(base64.b64decode(phone)).hexdigest() + ".png"
    assert page.evaluate("document.querySelector('img').currentSrc").endswith(phone_name)  # the phone layout
    assert figure_problems(page) == {}
    page.set_viewport_size({"width": 1280, "height": 900})  # the desktop keeps its figure, readable there
    page.wait_for_function("n => document.querySelector('img').currentSrc.endsWith(n)", arg=name)
    assert figure_problems(page) == {}
    page.close()


def test_the_audio_checks_catch_audio_in_the_page_or_loaded_before_it_is_played(browser, tmp_path):
    """A player as a cell writes it (tutorial_lib.book.display.audio_html) embeds its clip; one with
    preload="auto" loads it with the page; the build's rewrite (a file, preload none) loads nothing."""
    import numpy as np

    from tutorial_lib.book.display import audio_html

    note = np.sin(2 * np.pi * 220 * np.arange(16000 * 3) / 16000)
    player = audio_html(note, 16000)
    (tmp_path / "clip.mp3").write_bytes(b"")
    for html, expected in ((player, {"embedded"}), ('<audio controls preload="auto" src="clip.mp3"></audio>',
                                                   {"preloads", "loaded"})):
        page = browser.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        (tmp_path / "bad.html").write_text(f"<main>{html}</main>")
        page.goto((tmp_path / "bad.html").as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        assert set(audio_problems(page, requests)) == expected, html[:80]
        page.close()
    page = browser.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(built_page(tmp_path, player, []).as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    assert audio_problems(page, requests) == {}
    duration = page.evaluate("""() => new Promise(resolve => { const a = document.querySelector('audio');
        a.addEventListener('loadedmetadata', () => resolve(a.duration)); a.preload = 'metadata'; a.load(); })""")
    assert 2.9 <= duration <= 3.2, duration  # the clip, now a file beside the page, still plays
    page.close()
