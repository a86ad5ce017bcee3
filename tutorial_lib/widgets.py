"""Generate-and-listen widget for the sampling chapter. A leaf module.

The widget only collects choices; :func:`generate_audio` does the work and is tested on its own. A static
web page has no kernel to run the callback, so the chapter also shows the same results as plain players,
and the widget's plain-text form (what a static page shows instead of it) says so.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch

from .codec import Codec
from .data import LatentDataset
from .sampling import SOLVERS, generate


def generate_audio(model: torch.nn.Module, codec: Codec, dataset: LatentDataset, seed: int = 0,
                   num_steps: int = 50, solver: str = "euler", num_frames: int = 32) -> np.ndarray:
    """One note from seeded noise: sample, undo the standardisation, decode. Returns ``[samples]``."""
    latents = generate(model, 1, num_frames, seed=seed, num_steps=num_steps, solver=solver).samples
    return codec.decode(dataset.destandardise(latents.cpu())[0])


class GeneratorBox(widgets.VBox):
    """The widget's box; its plain-text form tells a static page's reader what it needs."""

    def __repr__(self):  # ipywidgets cuts a widget's text form at 110 characters: keep it shorter
        return "[Generate-and-listen widget: it needs a running Python kernel. Here, the players below.]"


def generator_widget(model: torch.nn.Module, codec: Codec, dataset: LatentDataset, num_frames: int = 32) -> GeneratorBox:
    """Seed, steps and solver controls, a button, and the resulting player."""
    from IPython.display import Audio

    seed = widgets.IntSlider(value=0, min=0, max=99, description="seed")
    steps = widgets.Dropdown(options=[1, 2, 4, 8, 16, 32, 64], value=16, description="steps")
    solver = widgets.Dropdown(options=list(SOLVERS), value="euler", description="solver")
    button = widgets.Button(description="Generate", button_style="primary")
    output = widgets.Output()

    def on_click(_):
        audio = generate_audio(model, codec, dataset, seed.value, steps.value, solver.value, num_frames)
        output.outputs = ()
        output.append_stdout(f"seed {seed.value}, {steps.value} {solver.value} steps\n")
        output.append_display_data(Audio(audio, rate=codec.sample_rate, normalize=True))

    button.on_click(on_click)
    box = GeneratorBox([widgets.HBox([seed, steps, solver, button]), output])
    box.on_click = on_click  # lets tests (and curious readers) press the button from code
    return box
