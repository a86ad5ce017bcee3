"""The note players of the built book (chapters 5, 6, 6a), driven in headless Chromium as a reader would.

The player runs the shipped models in the page (onnxruntime-web, WebAssembly) and decodes in JavaScript; the
note it plays is scored with the project's evaluation (CREPE pitch, decay against the training notes of the
same pitch region), its latents are held to the library's for the same seed (tests/test_web_model.py holds
the exported graph itself), and an untrained model swapped in for the shipped one must fail the same check.
"""

import io
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
BUILT = HTML / "_static" / "note_player_assets" / "spec.json"  # the note players' files (conftest.py serves the book)
ASKED = {"pitch": 60, "source": "acoustic", "velocity": 100, "model calls": 1}
MORE_LABELS = [{"pitch": 48, "source": "electronic", "velocity": 127, "model calls": 1},
               {"pitch": 72, "source": "synthetic", "velocity": 75, "model calls": 2}]
SOURCE_VALUES = {"acoustic": "0", "electronic": "1", "synthetic": "2", "any": "-1"}
CENTS, LATENT_TOLERANCE = 50.0, 1e-4


@pytest.fixture(scope="module")
def library():
    from tutorial_lib.generation import load_pretrained

    return {"first": load_pretrained("cpu-long"), "reflowed": load_pretrained("cpu-long-reflow")}


@pytest.fixture(scope="module")
def training_decays(library):
    """``(decay_s, pitch)`` of training notes (decoded by the codec, as the evaluation's reference is) in the
    pitch regions the tests ask for: 12 notes a region, the evaluation's minimum."""
    from tutorial_lib.evaluation.note_measures import PITCH_REGION_SEMITONES, REGION_MIN_NOTES, note_shapes
    from tutorial_lib.pipeline import prepare

    prepared = prepare("cpu", progress=False)
    labels = prepared.conditions("train")
    chosen = []
    for p in sorted({ASKED["pitch"], *(m["pitch"] for m in MORE_LABELS)}):
        near = torch.nonzero((labels.pitch - p).abs() <= PITCH_REGION_SEMITONES).flatten()
        chosen += near[torch.randperm(len(near), generator=torch.Generator().manual_seed(p))[:REGION_MIN_NOTES]].tolist()
    audio = prepared.to_audio(prepared.data.train.latents[chosen])
    return note_shapes(audio, prepared.codec.sample_rate)["decay_s"], labels.pitch[chosen].numpy()


class Player:
    """A chapter page opened at one width, its player ready; every request recorded."""

    def __init__(self, browser, url: str, width: int, *, swap_first: bytes | None = None):
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        if swap_first is not None:  # the known-bad page: another file served as the first model
            self.page.route("**/note_player_assets/first.onnx",
                            lambda route: route.fulfill(body=swap_first, content_type="application/octet-stream"))
        self.page.goto(url, wait_until="load")
        self.root = self.page.locator("[data-note-player]").first
        self.root.scroll_into_view_if_needed()  # the player loads its models when the reader nears it
        self.root.locator("button").wait_for(timeout=60_000)

    def generate(self, **asked) -> dict:
        for name, value in asked.items():
            control = self.root.get_by_label(name.replace("_", " "), exact=True)
            if control.evaluate("e => e.tagName") == "SELECT":
                control.select_option(SOURCE_VALUES.get(value, str(value)))
            else:
                control.fill(str(value))
        self.root.evaluate("e => { delete e.lastResult; }")
        self.root.get_by_role("button", name="Generate").click()
        self.page.wait_for_function("e => e.lastResult || e.querySelector('.np-status').textContent.includes('could not')",
                                    arg=self.root.element_handle(), timeout=60_000)
        result = self.root.evaluate("e => e.lastResult")
        assert result, self.root.locator(".np-status").inner_text()
        return result

    def wav(self, index: int = 0) -> tuple[np.ndarray, int]:
        """The WAV the page's ``index``-th <audio> element plays."""
        import soundfile as sf

        data = self.root.locator("audio").nth(index).evaluate(
            "a => fetch(a.src).then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b)))")
        audio, rate = sf.read(io.BytesIO(bytes(data)), dtype="float32")
        return audio, rate

    def outside_requests(self) -> list[str]:
        return [u for u in self.requests if urlparse(u).scheme not in ("data", "blob", "about")
                and urlparse(u).hostname not in ("127.0.0.1", "localhost")]


def heard_like_the_data(audio, rate, pitch, training_decays) -> tuple[bool, str]:
    """CREPE hears ``pitch`` within CENTS, and the decay lies inside the training notes' range of its region."""
    from tutorial_lib.evaluation.note_measures import decay_inside_by_pitch, note_pitch, note_shapes

    heard = note_pitch(audio, rate)
    decay = note_shapes([audio], rate)["decay_s"][0]
    rings = decay_inside_by_pitch([decay], [pitch], *training_decays) == 1.0
    on_pitch = bool(np.isfinite(heard) and abs(heard - pitch) * 100 <= CENTS)
    why = f"asked MIDI {pitch}, heard {heard:.2f}, decay {decay:.2f} s (inside its region's range: {rings})"
    print(why)  # pytest -s shows the figures
    return on_pitch and rings, why


def chapter(server, stem):
    return f"{server}/notebooks/{stem}.html"


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_chapter_6_player_plays_the_asked_note(server, browser, training_decays, width):
    player = Player(browser, chapter(server, "06_control"), width)
    for name in ("pitch", "source", "velocity", "guidance", "model calls", "seed"):
        assert player.root.get_by_label(name, exact=True).count() == 1, name
    player.root.get_by_label("pitch", exact=True).focus()  # reachable from the keyboard: Tab walks to the button
    for _ in range(12):
        if player.page.evaluate("document.activeElement.textContent") == "Generate":
            break
        player.page.keyboard.press("Tab")
    assert player.page.evaluate("document.activeElement.tagName") == "BUTTON"
    player.generate(**ASKED)
    audio, rate = player.wav()
    assert len(audio) / rate > 2.5
    good, why = heard_like_the_data(audio, rate, ASKED["pitch"], training_decays)
    assert good, why
    assert player.page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
    assert not player.outside_requests(), player.outside_requests()
    player.page.close()


def test_chapter_6_player_at_other_labels(server, browser, training_decays):
    player = Player(browser, chapter(server, "06_control"), 1280)
    for asked in MORE_LABELS:
        player.generate(**asked)
        good, why = heard_like_the_data(*player.wav(), asked["pitch"], training_decays)
        assert good, why
    player.page.close()


def test_an_untrained_model_fails_the_same_check(server, browser, training_decays, library, tmp_path):
    from tutorial_lib.book.web_model import export_onnx
    from tutorial_lib.unet import build_model

    torch.manual_seed(0)
    untrained = build_model("unet", **library["first"].model.config)
    bad = export_onnx(untrained, tmp_path / "untrained.onnx").read_bytes()
    player = Player(browser, chapter(server, "06_control"), 1280, swap_first=bad)
    player.generate(**ASKED)
    good, why = heard_like_the_data(*player.wav(), ASKED["pitch"], training_decays)
    assert not good, why
    player.page.close()


def test_the_pages_latents_are_the_librarys(server, browser, library):
    """The page's noise, solvers and network against NoteGenerator with web_noise for the same seed."""
    from tutorial_lib.book.web_model import web_noise

    def library_latents(model, seed, calls, solver="euler", guidance=1.0, **labels):
        steps = calls if solver == "euler" else calls // 2
        return library[model].sample_latents(1, noise=web_noise(seed), num_steps=steps, solver=solver,
                                             guidance=guidance, **labels)[0]

    player = Player(browser, chapter(server, "05_sampling"), 1280)
    result = player.generate(**{"model calls": 4, "solver": "heun", "seed": 7})["results"][0]
    page = torch.tensor(result["latents"]).reshape(64, 32)
    assert float((page - library_latents("first", 7, 4, "heun")).abs().max()) < LATENT_TOLERANCE
    strip = player.root.locator(".np-path canvas").count()
    assert strip == 3  # the noise, after one Heun step, after two
    # the page's note is the library's decode of those latents (the JavaScript decoder against librosa)
    library_audio = library["first"].space.to_audio(page[None])[0]
    assert np.abs(np.array(result["audio"]) - library_audio).max() < 1e-4
    player.page.close()

    player = Player(browser, chapter(server, "06a_straight_fast"), 390)
    results = player.generate(pitch=52, source="electronic", velocity=75, seed=11)["results"]
    assert [(r["ask"]["model"], r["calls"]) for r in results] == [
        (m, c) for m in ("first", "reflowed") for c in (1, 2, 50)]
    for r in results[:2] + results[3:5]:  # 1 and 2 calls of each (50 calls: the same code, 25 times longer)
        expected = library_latents(r["ask"]["model"], 11, r["calls"], pitch=52, source="electronic", velocity=75)
        gap = float((torch.tensor(r["latents"]).reshape(64, 32) - expected).abs().max())
        assert gap < LATENT_TOLERANCE, (r["ask"], gap)
    assert player.root.locator("audio").count() == 6 and player.root.locator("canvas").count() == 6
    assert player.page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
    assert not player.outside_requests(), player.outside_requests()
    player.page.close()


def test_the_player_loads_its_models_only_when_a_reader_nears_it(server, browser):
    """Chapter 5 opened at its top fetches none of the player's files (about 20 MB: the runtime and the models);
    scrolled to the player, it fetches them and the player starts (_static/note_player.js)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{server}/notebooks/05_sampling.html", wait_until="load")
    page.wait_for_load_state("networkidle")
    assert not [u for u in requests if "note_player_assets" in u], "the player's files load with the page"
    root = page.locator("[data-note-player]").first
    root.scroll_into_view_if_needed()
    root.locator("button").wait_for(timeout=60_000)
    assert [u for u in requests if u.endswith(".onnx")], requests[-5:]
    page.close()
