"""Five small Sphinx additions for this book (loaded through `local_extensions` in _config.yml).

1. Exercises are numbered per chapter ("Exercise 3.2": chapter 3, second exercise) instead of running
   across the whole book. The chapter number is the one its title starts with ("3. The U-Net", "4a. ..."); a page
   without one numbers its exercises 1, 2, ...
2. MathJax is served by the book itself, so equations render with no network: the files come from the
   PyPI package `sphinx-mathjax-offline` (MathJax 3.2.2, installed by scripts/setup.sh) and are copied
   into `_build/html/_static/mathjax/` when the build ends (`mathjax_path` in _config.yml points there).
   Not in the book's own `_static/`: Jupyter Book adds every .js file found there to every page.
3. Without a repository address (_config.yml's repository.url is ""), the build says so, and how to set one;
   the pages then carry no launch button (scripts/set_repository.py).
4. The note players of chapters 5, 6 and 6a run the shipped models in the reader's browser: when the build
   ends, `tutorial_lib.book.web_model.build_web_assets` writes the models as ONNX graphs (exported once per
   checkpoint, then copied from the cache: about 0.1 s), what the page needs to know, and onnxruntime-web's
   files (fetched by scripts/setup.sh) into `_build/html/_static/note_player_assets/`.
5. Light pages that a phone can read (issue 33), by rewriting each page's HTML as it is written:
   - each audio clip a cell embedded (``data:audio/...;base64``, tutorial_lib.book.display) becomes a file in
     ``_build/html/_audio/`` (named by its hash), played with ``preload="none"``: nothing loads until played;
   - every image gets ``loading="lazy"``: figures below the fold load as the reader scrolls to them;
   - in tables, long names may break after an underscore, a slash or a dot (``<wbr>``), as after a hyphen;
   - a figure with a phone layout (tutorial_lib.book.plots.book_figures stores it beside the figure in the
     executed notebook) becomes a ``<picture>`` that shows the phone layout on screens too narrow for the
     desktop figure's 9 pt text to show 8.5 px tall.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math

import re
import shutil
from importlib import metadata
from pathlib import Path

# The parts of MathJax that the TeX-to-HTML component loads: itself, the TeX extensions it loads on
# demand, its fonts, and the menu with its accessibility parts (loaded when a reader opens the menu).
MATHJAX_PARTS = ("tex-chtml.js", "input/tex/extensions", "output/chtml", "ui", "a11y", "sre")


def mathjax_source() -> Path:
    """The folder of MathJax files inside the installed `sphinx-mathjax-offline` package."""
    try:
        dist = metadata.distribution("sphinx-mathjax-offline")
    except metadata.PackageNotFoundError:
        raise RuntimeError("The book serves MathJax itself and needs the package sphinx-mathjax-offline: "
                           "run `bash scripts/setup.sh` (or `pip install -r requirements-dev.txt`).") from None
    folder = Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))
    if not (folder / "tex-chtml.js").is_file():
        raise RuntimeError(f"{folder} has no tex-chtml.js: reinstall sphinx-mathjax-offline.")
    return folder


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def write_note_player_assets(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import warnings

    from tutorial_lib.book.web_model import ASSETS, build_web_assets

    with warnings.catch_warnings():  # the ONNX tracer's notes about constant shapes (the frames are fixed)
        warnings.simplefilter("ignore")
        build_web_assets(Path(app.outdir) / ASSETS)


def number_exercises_per_chapter(app, env) -> list[str]:
    """Runs after Sphinx numbered every enumerable node across the book; restarts exercises per page."""
    for docname, by_type in env.toc_fignumbers.items():
        exercises = by_type.get("exercise")
        if not exercises:
            continue
        title = env.titles[docname].astext() if docname in env.titles else ""
        chapter = re.match(r"\s*(\d+[a-z]?)\.\s", title)  # "3. The U-Net", "4a. Interlude: ..."
        prefix = (int(chapter.group(1)) if chapter.group(1).isdigit() else chapter.group(1),) if chapter else ()
        for i, node_id in enumerate(sorted(exercises, key=exercises.get), start=1):
            exercises[node_id] = prefix + (i,)
    return []


def say_if_no_repository(app) -> None:
    """A plain message (not a warning: the offline build passes -W) when the book names no repository."""
    if not app.config.html_theme_options.get("repository_url"):
        print(f"\n{NO_REPOSITORY}\n", flush=True)


NO_REPOSITORY = ("NOTE: no repository address is set (_config.yml: repository.url is empty), so the pages carry no "
                 "Colab launch button, repository button or student-edition link. Once the book has a home on "
                 "GitHub, run `python scripts/set_repository.py https://github.com/OWNER/NAME` and build again.")


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    """Each script once per page. sphinx-thebe adds its inline settings (``const THEBE_JS_URL = ...``) with
    ``app.add_js_file(None, body=...)`` after the HTML builder has started, which Sphinx records both in its
    registry and in the builder; an inline script has no file name to deduplicate by, so every page carried
    it twice and the second ``const`` threw "Identifier 'THEBE_JS_URL' has already been declared" in every
    reader's console (issue 33)."""
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # file name and attributes (an inline script's body among them); the repeat of an inline script is
        # recorded once with the file name None and once with ""
        key = (getattr(script, "filename", None) or "", sorted(getattr(script, "attributes", {}).items()))
        key = str(key) if hasattr(script, "filename") else str(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept
    # The theme reads the colour mode from the page's context; left unset, its script logged "Got invalid theme
    # mode" in every reader's console before falling back to the system's setting, which this asks for.
    context.setdefault("default_mode", "auto")


PHONE_MIME = "application/vnd.tutorial-lib.phone-figure.png"  # tutorial_lib.book.plots.PHONE_MIME
# The smallest text a figure uses (9 pt, tests/test_book.py) at the figures' 100 dpi, in CSS px at natural size,
# and the smallest size it may show at; the page's column is the window's width less 32 px below 960 px.
SMALLEST_TEXT_PX, READABLE_PX, COLUMN_MARGIN_PX, SIDEBAR_FROM_PX = 9 * 100 / 72, 8.5, 32, 960
AUDIO = re.compile(r'(<audio\b[^>]*?)\ssrc="data:audio/([\w.+-]+);base64,([A-Za-z0-9+/=]+)"')
IMAGE = re.compile(r'<img\b[^>]*>')
# In tables, long names (guitar_acoustic_001-044-127, condition_emb.pitch, a/b) may break after an underscore, a
# slash or a dot between letters, as after a hyphen: a phone's narrow cells then wrap between parts, never inside one.
TABLE, TEXT = re.compile(r"<table\b.*?</table>", re.S), re.compile(r">([^<]+)<")
SOFT_BREAK = re.compile(r"[_/](?=\w)|(?<=[A-Za-z])\.(?=[A-Za-z])")
EXTENSIONS = {"mpeg": ".mp3", "mp3": ".mp3", "wav": ".wav", "x-wav": ".wav", "ogg": ".ogg"}


def _png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def phone_figures(app, pagename: str) -> dict[str, tuple[str, int, int]]:
    """``{desktop image file: (phone image file, width, height in CSS px)}`` for the figures of a notebook page;
    writes each phone image into ``_build/html/_images/`` (named by its hash, as myst-nb names the figures)."""
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".ipynb":
        return {}
    found = {}
    for cell in json.loads(source.read_text(encoding="utf-8")).get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PHONE_MIME not in data or "image/png" not in data:
                continue
            desktop = base64.b64decode("".join(data["image/png"]))
            phone = base64.b64decode("".join(data[PHONE_MIME]))
            name = hashlib.sha256(phone).hexdigest() + ".png"
            target = Path(app.outdir) / "_images" / name
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(phone)
            width, height = _png_size(phone)
            found[hashlib.sha256(desktop).hexdigest() + ".png"] = (name, width // 2, height // 2)  # retina
    return found


def light_pages(app, pagename, templatename, context, doctree):
    """Audio to files played on demand, lazy images, phone layouts of figures, breaks in long names (item 5)."""
    body = context.get("body")
    if app.builder.format != "html" or not body:
        return
    up = "../" * pagename.count("/")

    def audio_file(match):
        data = base64.b64decode(match.group(3))
        name = hashlib.sha256(data).hexdigest()[:32] + EXTENSIONS.get(match.group(2), ".bin")
        target = Path(app.outdir) / "_audio" / name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        tag = re.sub(r'\spreload="[^"]*"', "", match.group(1))
        return f'{tag} preload="none" src="{up}_audio/{name}"'

    body = AUDIO.sub(audio_file, body)
    phones = phone_figures(app, pagename)

    def image(match):
        tag = match.group(0)
        if "loading=" not in tag:
            tag = tag.replace("<img", '<img loading="lazy" decoding="async"', 1)
        src = re.search(r'\ssrc="([^"]*)"', tag)
        phone = phones.get(src.group(1).rsplit("/", 1)[-1]) if src else None
        width = re.search(r"width:\s*([0-9.]+)px", tag)
        if not phone or not width:
            return tag
        # the narrowest window where the desktop figure's smallest text still shows READABLE_PX tall
        below = min(SIDEBAR_FROM_PX, math.ceil(float(width.group(1)) * READABLE_PX / SMALLEST_TEXT_PX)
                    + COLUMN_MARGIN_PX)
        name, w, h = phone
        folder = src.group(1).rsplit("/", 1)[0]
        return (f'<picture><source media="(max-width: {below - 0.02:.2f}px)" srcset="{folder}/{name}" '
                f'width="{w}" height="{h}">{tag}</picture>')

    body = IMAGE.sub(image, body)
    context["body"] = TABLE.sub(lambda m: TEXT.sub(lambda t: ">" + SOFT_BREAK.sub(r"\g<0><wbr>", t.group(1)) + "<",
                                                   m.group(0)), body)


def setup(app):
    mathjax_source()  # fail at the start of the build, with the fix, if the package is missing
    from tutorial_lib.book.web_runtime import runtime_folder

    runtime_folder()  # the same for onnxruntime-web (the note players' runtime)
    app.connect("env-get-updated", number_exercises_per_chapter, priority=900)  # after Sphinx's numbering
    app.connect("build-finished", copy_mathjax)
    app.connect("builder-inited", say_if_no_repository)
    app.connect("build-finished", write_note_player_assets)
    app.connect("html-page-context", drop_repeated_scripts)
    app.connect("html-page-context", light_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
