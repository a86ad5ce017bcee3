"""Click-to-sound of the book's note player (chapters 5, 6, 6a) in headless Chromium, at 1, 2 and 50 model calls.

A page holding chapter 6's player (the same files the book build writes: `_static/note_player/`, the ONNX graphs,
onnxruntime-web) is served over local HTTP. For each setting the benchmark presses Generate and times, in the
page, from the press to the moment the <audio> element has its WAV loaded, with the network's and the
decoder's shares (both run in the player's Web Worker, one WebAssembly thread). The first press after the page
loads is reported apart (the engine compiles its code then). Not a test: timings depend on the machine's load.

    python benchmarks/bench_web.py            # writes to benchmarks/results/scratch/
    python benchmarks/bench_web.py --write    # replaces benchmarks/results/web_cpu.{json,md}
"""

import argparse
import functools
import http.server
import os
import shutil
import statistics
import tempfile
import threading
import time
import warnings
from pathlib import Path

from common import write
from tutorial_lib.book.web_model import ASSETS, build_web_assets

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]
PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="_static/note_player.js"></script></head>
<body><main><div data-note-player="control"></div></main></body></html>"""

parser = argparse.ArgumentParser()
parser.add_argument("--repeats", type=int, default=7, help="presses per setting (50 calls: a third as many)")
parser.add_argument("--chromium", default="/usr/bin/chromium")
parser.add_argument("--write", action="store_true", help="replace the committed results")
args = parser.parse_args()

site = Path(tempfile.mkdtemp(prefix="bench_web_"))
shutil.copytree(ROOT / "_static", site / "_static")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    sizes = build_web_assets(site / ASSETS)
(site / "index.html").write_text(PAGE)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
threading.Thread(target=httpd.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{httpd.server_address[1]}/index.html"

from playwright.sync_api import sync_playwright  # noqa: E402

rows, raw = [], {}
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=args.chromium, args=ARGS, headless=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    clock = time.perf_counter()
    page.goto(url)
    root = page.locator("[data-note-player]")
    root.locator("button").wait_for(timeout=120_000)
    ready_s = time.perf_counter() - clock

    def press(model: str, calls: int, seed: int) -> dict:
        root.get_by_label("model", exact=True).select_option(model)
        root.get_by_label("model calls", exact=True).fill(str(calls))
        root.get_by_label("seed", exact=True).fill(str(seed))
        root.evaluate("e => { delete e.lastResult; }")
        root.get_by_role("button", name="Generate").click()
        page.wait_for_function("e => e.lastResult", arg=root.element_handle(), timeout=120_000)
        r = root.evaluate("e => ({ms: e.lastResult.clickToSoundMs, model: e.lastResult.results[0].modelMs,"
                          " decode: e.lastResult.results[0].decodeMs})")
        return r

    first_press = press("reflowed", 1, 0)
    for model in ("reflowed", "first"):
        for calls in (1, 2, 50):
            n = args.repeats if calls < 50 else max(2, args.repeats // 3)
            runs = [press(model, calls, seed) for seed in range(1, n + 1)]
            raw[f"{model}-{calls}"] = runs
            ms = [r["ms"] for r in runs]
            model_ms = statistics.median(r["model"] for r in runs)
            decode_ms = statistics.median(r["decode"] for r in runs)
            rows.append([model, calls, f"{statistics.median(ms):.0f}", f"{min(ms):.0f}-{max(ms):.0f}",
                         f"{model_ms:.0f}", f"{decode_ms:.0f}", f"{decode_ms / statistics.median(ms):.0%}"])
    browser.close()
httpd.shutdown()
shutil.rmtree(site)

runtime = sum(v for k, v in sizes.items() if k.startswith("ort/"))
models = sum(v for k, v in sizes.items() if k.endswith(".onnx"))
notes = (f"Medians over {args.repeats} presses (50 calls: {max(2, args.repeats // 3)}), each from another seed, "
         f"pitch 60, acoustic, velocity 127, guidance 1, Euler. Page load to a ready player: {ready_s:.1f} s "
         f"(onnxruntime-web {runtime / 1e6:.1f} MB and two models {models / 1e6:.1f} MB, from this machine; "
         f"cached by the browser after the first page). The first press after loading: "
         f"{first_press['ms']:.0f} ms (network {first_press['model']:.0f} ms, decoder {first_press['decode']:.0f} ms), "
         "while the JavaScript engine compiles the decoder. Every model call runs the guided network on a batch "
         "of two (with and without labels), so a note costs the same whatever its guidance. Times are wall-clock on a shared "
         "2-core machine: other work running at the same time shows as spread.")
load = os.getloadavg()
notes += f" Load average of the machine (1, 5, 15 min) when it ended: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}."
write("web_cpu", {"load_average": load, "page_ready_s": ready_s, "first_press": first_press, "runs": raw, "asset_bytes": sizes},
      ["model", "model calls", "click to sound (ms, median)", "range (ms)", "network (ms)", "decoder (ms)",
       "decoder's share"], rows, notes)
