import numpy as np
import torch

from tutorial_lib.codec import MelCodec
from tutorial_lib.data import LatentDataset
from tutorial_lib.unet import UNet
from tutorial_lib.widgets import generate_audio, generator_widget


def small_setup():
    torch.manual_seed(0)
    dataset = LatentDataset(torch.randn(4, 64, 40) - 4, [None] * 4, num_frames=16)
    return UNet(channels=(8, 8)), MelCodec(), dataset


def test_generate_audio_is_deterministic_and_decodes_to_the_codec_rate():
    model, codec, dataset = small_setup()
    a = generate_audio(model, codec, dataset, seed=1, num_steps=2, num_frames=16)
    b = generate_audio(model, codec, dataset, seed=1, num_steps=2, num_frames=16)
    c = generate_audio(model, codec, dataset, seed=2, num_steps=2, num_frames=16)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert abs(len(a) - 16 * codec.hop_length) <= codec.hop_length and np.isfinite(a).all()


def test_widget_button_plays_the_tested_function_and_static_text_explains():
    model, codec, dataset = small_setup()
    box = generator_widget(model, codec, dataset, num_frames=16)
    assert "needs a running Python kernel" in repr(box)
    assert box._repr_mimebundle_()["text/plain"] == repr(box)  # not cut short by ipywidgets (110 characters)
    controls, output = box.children
    seed, steps, solver, button = controls.children
    seed.value, steps.value, solver.value = 3, 2, "heun"
    box.on_click(button)
    shown = [o for o in output.outputs if "text/html" in o.get("data", {})]
    assert any("<audio" in o["data"]["text/html"] for o in shown)
