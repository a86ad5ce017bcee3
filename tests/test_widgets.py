import numpy as np
import torch

from tutorial_lib.codec import MelCodec
from tutorial_lib.data import LatentDataset
from tutorial_lib.unet import UNet
from tutorial_lib.book.widgets import generate_audio, generator_widget


def small_setup(sigma_data=1.0):
    from tutorial_lib.flow import RectifiedFlow
    from tutorial_lib.generation import LatentSpace, NoteGenerator

    torch.manual_seed(0)
    dataset = LatentDataset(torch.randn(4, 64, 40) - 4, [None] * 4, num_frames=16)
    space = LatentSpace(MelCodec(), dataset.mean, dataset.std, num_frames=16)
    return NoteGenerator(UNet(channels=(8, 8)), RectifiedFlow(sigma_data=sigma_data), space)


def test_generate_audio_is_deterministic_and_decodes_to_the_codec_rate():
    generator = small_setup()
    codec = generator.space.codec
    a = generate_audio(generator, seed=1, num_steps=2)
    b = generate_audio(generator, seed=1, num_steps=2)
    c = generate_audio(generator, seed=2, num_steps=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert abs(len(a) - 16 * codec.hop_length) <= codec.hop_length and np.isfinite(a).all()


def test_widget_audio_undoes_sigma_data_like_every_other_path():
    """The widget decodes through the generator's flow and latent space: sigma_data != 1 is undone."""
    from tutorial_lib.sampling import sample_seeded

    generator = small_setup(sigma_data=0.5)
    latents = sample_seeded(generator.model, 1, 16, seed=1, num_steps=2, flow=generator.flow).samples
    expected = generator.space.to_audio(latents)[0]
    assert np.allclose(generate_audio(generator, seed=1, num_steps=2), expected)
    wrong = generator.space.to_audio(latents * 0.5)[0]  # sigma_data not undone
    assert not np.allclose(expected, wrong)


def test_widget_button_plays_the_tested_function_and_static_text_explains():
    generator = small_setup()
    box = generator_widget(generator)
    assert "needs a running Python kernel" in repr(box)
    assert box._repr_mimebundle_()["text/plain"] == repr(box)  # not cut short by ipywidgets (110 characters)
    # a built page (no widget views) shows the in-page player instead (browser_tests/test_note_player.py)
    assert 'data-note-player="sampler"' in box._repr_mimebundle_()["text/html"]
    controls, output = box.children
    seed, steps, solver, button = controls.children
    seed.value, steps.value, solver.value = 3, 2, "heun"
    box.on_click(button)
    shown = [o for o in output.outputs if "text/html" in o.get("data", {})]
    assert any("<audio" in o["data"]["text/html"] for o in shown)


def small_generator():
    from tutorial_lib.flow import RectifiedFlow
    from tutorial_lib.generation import LatentSpace, NoteGenerator

    torch.manual_seed(0)
    space = LatentSpace(MelCodec(), torch.full((64,), -4.0), torch.ones(64), num_frames=16)
    model = UNet(channels=(16, 16), conditioned=True, groups=4).eval()  # 4 channels a group: see ResBlock
    with torch.no_grad():  # random weights everywhere (the output layer starts at zero): labels matter
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.1)
    return NoteGenerator(model, RectifiedFlow(), space)


def test_control_widget_sends_the_chosen_labels_and_guidance_to_the_generator(monkeypatch):
    from tutorial_lib.book.widgets import control_widget

    generator = small_generator()
    box = control_widget(generator, pitches=(40, 88), num_steps=2)
    assert "needs a Python kernel" in repr(box) and box._repr_mimebundle_()["text/plain"] == repr(box)
    assert 'data-note-player="control"' in box._repr_mimebundle_()["text/html"]
    asked = []
    real = generator.generate
    monkeypatch.setattr(generator, "generate", lambda num, **kw: asked.append(kw) or real(num, **kw))
    c = box.controls
    c["pitch"].value, c["source"].value, c["velocity"].value, c["guidance"].value, c["seed"].value = \
        64, "electronic", 25, 3.0, 7
    box.on_click(None)
    assert asked[-1] == {"seed": 7, "pitch": 64, "source": "electronic", "velocity": 25, "guidance": 3.0,
                         "num_steps": 2}
    output = box.children[-1]
    assert any("<audio" in o["data"]["text/html"] for o in output.outputs if "text/html" in o.get("data", {}))
    c["source"].value = "any"  # no source label: the model's "unknown" source
    box.on_click(None)
    assert asked[-1]["source"] is None


def test_note_grid_is_what_the_widget_plays_and_renders_players():
    from tutorial_lib.book.widgets import note_grid

    generator = small_generator()
    grid = note_grid(generator, pitches=(50, 70), sources=("acoustic", "synthetic"), velocity=75, guidance=2.0,
                     seed=3, num_steps=2)
    assert grid.labels == ["pitch 50, acoustic, velocity 75", "pitch 70, acoustic, velocity 75",
                           "pitch 50, synthetic, velocity 75", "pitch 70, synthetic, velocity 75"]
    _, one = generator.generate(1, seed=3, pitch=70, source="synthetic", velocity=75, guidance=2.0, num_steps=2)
    assert np.allclose(grid.waveforms[3], one[0], atol=1e-4)  # the widget's note for those choices
    assert not np.allclose(grid.waveforms[0], grid.waveforms[1], atol=1e-4)  # the labels change the note
    page = grid._repr_html_()
    assert page.count("<audio") == 4 and page.count("data:audio/mpeg;base64,") == 4 and "flex-wrap" in page
    assert "pitch 70, synthetic" in page and "4 notes" in repr(grid)
