"""Draws the README's picture, _static/pipeline.svg: the book's pipeline with Music2Latent's sizes
(tutorial_lib.book.diagrams.pipeline, as chapter 1 draws it with the codec in use). Needs no weights.

    python scripts/draw_pipeline.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tutorial_lib.book.diagrams import pipeline  # noqa: E402
from tutorial_lib.codec import Music2LatentCodec  # noqa: E402
from tutorial_lib.profiles import get_profile  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "_static" / "pipeline.svg"

if __name__ == "__main__":
    codec = Music2LatentCodec.__new__(Music2LatentCodec)  # its sizes only: no weights are loaded
    ax = pipeline(codec=codec, frames=get_profile("gpu").num_frames)
    plt.rcParams["svg.hashsalt"] = "pipeline"  # the same ids on every run
    ax.figure.savefig(OUT, metadata={"Date": None})
    print(f"wrote {OUT}")
