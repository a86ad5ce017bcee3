"""The phone layouts of the book's figures (tutorial_lib.book.plots.phone_layout, diagrams' own)."""

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tutorial_lib.book import diagrams, plots  # noqa: E402
from tutorial_lib.codec import MelCodec  # noqa: E402
from tutorial_lib.unet import PlainUNet, UNet  # noqa: E402


def grid(ax) -> tuple[int, int]:
    spec = ax.get_subplotspec()
    return spec.get_gridspec().nrows, spec.get_gridspec().ncols


def test_a_row_of_panels_becomes_a_column_and_the_figure_itself_is_untouched():
    fig, axes = plt.subplots(1, 4, figsize=(10.5, 2.8), layout="constrained", sharey=True)
    for i, ax in enumerate(axes):
        plots.latents_image(np.zeros((64, 32)), 8.0, f"t = {i}", ax=ax, colorbar=False, vmin=-3, vmax=3)
    fig.colorbar(axes[0].images[0], ax=axes, label="value")
    open_before = len(plt.get_fignums())
    phone = plots.phone_layout(fig)
    panels = [ax for ax in phone.axes if ax.get_subplotspec() is not None]
    assert [grid(ax) for ax in panels] == [(4, 1)] * 4 and len(phone.axes) == 5  # and the colour bar
    assert [ax.get_title() for ax in panels] == [f"t = {i}" for i in range(4)]
    assert all(ax.yaxis.get_tick_params()["labelleft"] for ax in panels)  # shared: each row shows its ticks
    assert phone.get_figwidth() == plots.PHONE_WIDTH_IN and abs(phone.get_figheight() - 4 * 2.8) < 1e-9
    assert [grid(ax) for ax in axes] == [(1, 4)] * 4 and fig.get_figwidth() == 10.5  # the desktop figure
    assert len(plt.get_fignums()) == open_before  # the copy would be shown at the end of a cell
    png = Image.open(io.BytesIO(base64.b64decode(plots.phone_png(fig))))
    assert png.width / png.info["dpi"][0] <= plots.PHONE_WIDTH_IN * 1.15  # 9 pt text >= 8.5 px in 358 px
    plt.close("all")


def test_a_narrow_figure_needs_no_phone_layout():
    fig, _ = plt.subplots(figsize=(4, 3))
    assert plots.phone_layout(fig) is None and plots.phone_png(fig) is None
    plt.close("all")


def test_diagrams_draw_their_own_phone_layout_one_column_per_stage_or_level():
    figures = [diagrams.pipeline(codec=MelCodec(), frames=32).figure,
               *(diagrams.draw_unet(diagrams.unet_layout(m, frames=32)).figure for m in (UNet(), PlainUNet()))]
    for fig in figures:
        phone = plots.phone_layout(fig)
        assert phone is not fig and phone.get_figwidth() == plots.PHONE_WIDTH_IN
        texts = {t.get_text() for t in fig.axes[0].texts}
        assert texts - {t.get_text() for t in phone.axes[0].texts} <= {"training", "generation"}  # same boxes
        png = Image.open(io.BytesIO(base64.b64decode(plots.phone_png(fig))))
        assert png.width / png.info["dpi"][0] <= plots.PHONE_WIDTH_IN * 1.15
    plt.close("all")
