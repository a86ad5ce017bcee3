"""Generate-and-listen widgets for chapters 5 ("ODE sampling") and 6 ("Control"). A leaf module.

The widgets only collect choices; :func:`generate_audio` and :meth:`NoteGenerator.generate` do the work and
are tested on their own. A static web page has no kernel to run a callback, so each widget's plain-text form
(what a static page shows instead of it) says so, and the chapters show the same function's results as
plain players: chapter 6 as a grid of pre-rendered notes (:func:`note_grid`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from ..data.labels import SOURCES, VELOCITIES
from .display import audio_html
from ..generation import NoteGenerator
from ..sampling import SOLVERS


def generate_audio(generator: NoteGenerator, *, seed: int = 0, num_steps: int = 50,
                   solver: str = "euler") -> np.ndarray:
    """One note from seeded noise, no labels: sample (the generator's flow undoes ``sigma_data``), then
    ``to_audio`` undoes the standardisation and decodes. Returns ``[samples]``."""
    _, audio = generator.generate(1, seed=seed, num_steps=num_steps, solver=solver)
    return audio[0]


def player_html(kind: str) -> str:
    """The book page's stand-in for a widget: ``<div data-note-player="kind">`` (``"sampler"``, ``"control"`` or
    ``"reflow"``), which the page's JavaScript (``_static/note_player/``) turns into controls that run the
    exported model in the browser (:mod:`tutorial_lib.book.web_model`). Outside the book it says where to look."""
    return (f'<div class="note-player" data-note-player="{html.escape(kind)}"><p>This player makes notes in the '
            "book's web page, in your browser. In Jupyter or Colab, the cells here play the same models.</p></div>")


class _PlayerInPage:
    """A widget box whose static form (a built page: no kernel, no widget) is the in-page player."""

    player = "sampler"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = player_html(self.player)
        return bundle


class GeneratorBox(_PlayerInPage, widgets.VBox):
    """The widget's box; a static page shows the in-page player (:func:`player_html`) in its place."""

    player = "sampler"

    def __repr__(self):  # ipywidgets cuts a widget's text form at 110 characters: keep it shorter
        return "[Generate-and-listen widget: it needs a running Python kernel.]"


def generator_widget(generator: NoteGenerator) -> GeneratorBox:
    """Seed, steps and solver controls, a button, and the resulting player."""
    from IPython.display import HTML

    seed = widgets.IntSlider(value=0, min=0, max=99, description="seed")
    steps = widgets.Dropdown(options=[1, 2, 4, 8, 16, 32, 64], value=16, description="steps")
    solver = widgets.Dropdown(options=list(SOLVERS), value="euler", description="solver")
    button = widgets.Button(description="Generate", button_style="primary")
    output = widgets.Output()

    def on_click(_):
        audio = generate_audio(generator, seed=seed.value, num_steps=steps.value, solver=solver.value)
        output.outputs = ()
        output.append_stdout(f"seed {seed.value}, {steps.value} {solver.value} steps\n")
        output.append_display_data(HTML(audio_html(audio, generator.space.codec.sample_rate)))

    button.on_click(on_click)
    box = GeneratorBox([widgets.HBox([seed, steps, solver, button]), output])
    box.on_click = on_click  # lets tests (and curious readers) press the button from code
    return box


# Chapter 6: labels and guidance -------------------------------------------------------------------------

class ControlBox(_PlayerInPage, widgets.VBox):
    """Chapter 6's widget box; a static page shows the in-page player (:func:`player_html`) in its place."""

    player = "control"

    def __repr__(self):  # at most 110 characters (ipywidgets cuts a widget's text form there)
        return "[Widget with pitch, source, velocity, guidance: it needs a Python kernel.]"


def control_widget(generator: NoteGenerator, *, pitches: tuple[int, int] = (40, 88), pitch: int = 60,
                   velocity: int = 127, guidance: float = 2.0, num_steps: int = 32) -> ControlBox:
    """Pitch, source, velocity, guidance and seed controls, a button, and the resulting player.

    The button calls ``generator.generate(1, seed=..., pitch=..., source=..., velocity=..., guidance=...)``
    (labels through the conditioned U-Net, classifier-free guidance, the ODE sampler and ``to_audio``).
    ``pitches``: the slider's MIDI range (the training data's, by default the cpu profile's).
    """
    from IPython.display import HTML

    low, high = pitches
    controls = {
        "pitch": widgets.IntSlider(value=min(max(pitch, low), high), min=low, max=high, description="pitch (MIDI)"),
        "source": widgets.Dropdown(options=[*SOURCES, "any"], value=SOURCES[0], description="source"),
        "velocity": widgets.Dropdown(options=list(VELOCITIES), value=velocity, description="velocity"),
        "guidance": widgets.FloatSlider(value=guidance, min=0.0, max=5.0, step=0.5, description="guidance w"),
        "seed": widgets.IntSlider(value=0, min=0, max=99, description="seed"),
    }
    button = widgets.Button(description="Generate", button_style="primary")
    output = widgets.Output()

    def on_click(_):
        c = {name: w.value for name, w in controls.items()}
        source = None if c["source"] == "any" else c["source"]
        _, audio = generator.generate(1, seed=c["seed"], pitch=c["pitch"], source=source, velocity=c["velocity"],
                                      guidance=c["guidance"], num_steps=num_steps)
        output.outputs = ()
        output.append_stdout(f"pitch {c['pitch']}, {c['source']}, velocity {c['velocity']}, guidance "
                             f"{c['guidance']:g}, seed {c['seed']} ({num_steps} Euler steps)\n")
        output.append_display_data(HTML(audio_html(audio[0], generator.space.codec.sample_rate)))

    button.on_click(on_click)
    names = list(controls)
    box = ControlBox([widgets.HBox([controls[n] for n in names[:3]]),
                      widgets.HBox([*(controls[n] for n in names[3:]), button]), output])
    box.controls, box.on_click = controls, on_click  # lets tests (and curious readers) press the button from code
    return box


@dataclass
class NoteGrid:
    """Pre-rendered notes: ``labels[i]`` (what was asked) and ``waveforms[i] [samples]`` at ``sample_rate``.

    In a notebook (and on a built page) it shows as a wrapping grid of labelled players: the static stand-in
    for :func:`control_widget`.
    """

    labels: list[str]
    waveforms: list[np.ndarray]
    sample_rate: int
    title: str = ""

    def _repr_html_(self) -> str:
        cells = "".join(
            f'<div style="flex: 1 1 260px; max-width: 320px"><div style="font-size: 0.85em">{html.escape(label)}'
            f'</div>{audio_html(w, self.sample_rate, style="width: 100%")}</div>'
            for label, w in zip(self.labels, self.waveforms))
        title = f"<p><strong>{html.escape(self.title)}</strong></p>" if self.title else ""
        return f'{title}<div style="display: flex; flex-wrap: wrap; gap: 0.75em 1.5em">{cells}</div>'

    def __repr__(self) -> str:
        return f"NoteGrid of {len(self.labels)} notes: " + "; ".join(self.labels)


def note_grid(generator: NoteGenerator, *, pitches=(48, 60, 72), sources=("acoustic", "electronic"),
              velocity: int = 127, guidance: float = 2.0, seed: int = 0, num_steps: int = 32) -> NoteGrid:
    """One note for every pitch and source, each what :func:`control_widget` plays for those choices and
    ``seed`` (the same starting noise for all): ``len(pitches) * len(sources)`` players, sampled in one batch."""
    from ..conditioning import Conditions
    from ..sampling import seeded_noise

    asked = [(p, s) for s in sources for p in pitches]
    conditions = Conditions.make(len(asked), pitch=[p for p, _ in asked], source=[SOURCES.index(s) for _, s in asked],
                                 velocity=velocity)
    noise = seeded_noise(1, generator.space.num_frames, seed=seed).expand(len(asked), -1, -1)
    latents = generator.sample_latents(len(asked), noise=noise, conditions=conditions, guidance=guidance,
                                       num_steps=num_steps)
    labels = [f"pitch {p}, {s}, velocity {velocity}" for p, s in asked]
    return NoteGrid(labels, generator.space.to_audio(latents), generator.space.codec.sample_rate,
                    title=f"Guidance {guidance:g}, {num_steps} Euler steps, seed {seed}")
