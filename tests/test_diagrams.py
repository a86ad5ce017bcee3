"""The diagrams are drawn from the code: their labels follow the codec and the model they are given."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from torch import nn  # noqa: E402

from tutorial_lib.book import diagrams  # noqa: E402
from tutorial_lib.unet import ResBlock, PlainUNet, UNet  # noqa: E402


def texts(ax):
    return " | ".join(t.get_text() for t in ax.texts)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_pipeline_shows_the_codec_and_latent_shape_it_is_given():
    codec = SimpleNamespace(name="fakecodec", sample_rate=22_050, frame_rate=5.0, channels=48)
    text = texts(diagrams.pipeline(codec=codec, frames=20))
    assert "[48 × 20]" in text and "22,050 Hz" in text and "5.00 frames/s" in text and "4.0 s" in text
    assert text.count("fakecodec") == 2  # encoder and decoder
    for stage in ("encoder", "decoder", "rectified flow", "ODE sampler", "noise"):
        assert stage in text
    assert "[64 × 20]" not in text


def test_plain_unet_layout_is_measured_from_the_model():
    model = PlainUNet(channels=(8, 16, 32))
    layout = diagrams.unet_layout(model, frames=16)
    downs = [b for b in layout.blocks if b.name.startswith("downs.")]
    assert [(b.channels, b.frames, b.level) for b in downs] == [(8, 8, 1), (16, 4, 2), (32, 2, 3)]
    assert [b.name for b in layout.blocks if b.time] == ["bottleneck"]
    assert [(s.source, s.target, s.mode) for s in layout.skips] == [
        ("downs.2", "ups.0", "add"), ("downs.1", "ups.1", "add"), ("downs.0", "ups.2", "add")]
    last = layout.blocks[-1]
    assert (last.channels, last.frames) == (64, 16)  # back to the input's shape
    assert "Linear 1→128" in layout.time_mlp and "Linear 128→32" in layout.time_mlp
    assert layout.parameters == sum(p.numel() for p in model.parameters())
    # Every module that holds weights (other than the time MLP) is a box.
    weighted = {n.split(".")[0] for n, p in model.named_parameters() if not n.startswith("time_mlp")}
    assert weighted == {b.name.split(".")[0] for b in layout.blocks}


def test_unet_layout_concatenates_skips_and_takes_time_in_every_resblock():
    model = UNet(channels=(16, 32), emb_dim=32)
    layout = diagrams.unet_layout(model, frames=8)
    resblocks = [n for n, m in model.named_modules() if isinstance(m, ResBlock)]
    assert sorted(b.name for b in layout.blocks if b.time) == sorted(resblocks)
    assert {s.mode for s in layout.skips} == {"concat"} and len(layout.skips) == 2
    assert {b.channels for b in layout.blocks} == {16, 32, 64}
    assert "sin/cos" in layout.time_mlp and "Linear 32→32" in layout.time_mlp


def test_drawing_labels_every_block_skip_and_time_entry():
    layout = diagrams.unet_layout(PlainUNet(channels=(8, 16, 32)), frames=16)
    ax = diagrams.draw_unet(layout)
    text = texts(ax)
    for b in layout.blocks:
        op = b.op.replace(" ", "\n", 1)  # drawn on two lines: "Conv1d\nk4 s2"
        assert f"{op}\n{b.channels} × {b.frames}" in text
    assert text.count("+") == len(layout.skips)
    assert layout.time_mlp in text and "bottleneck" in ax.get_title()
    orange = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None
              and a.arrow_patch.get_edgecolor()[:3] == matplotlib.colors.to_rgb("tab:orange")]
    assert len(orange) == 1


def test_a_model_that_is_not_a_unet_is_refused():
    with pytest.raises(TypeError, match="PlainUNet or UNet"):
        diagrams.unet_layout(nn.Conv1d(64, 64, 3))


def test_a_conditioned_unet_is_drawn_with_its_labels():
    """The book's U-Net learns pitch, source and velocity too (chapter 6): its drawing says so."""
    plain = diagrams.unet_layout(UNet(channels=(16, 32), emb_dim=32), frames=8)
    layout = diagrams.unet_layout(UNet(channels=(16, 32), emb_dim=32, conditioned=True), frames=8)
    assert [b.name for b in layout.blocks] == [b.name for b in plain.blocks]
    assert "time and labels enter" in layout.title and "time and labels" not in plain.title
