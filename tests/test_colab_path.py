"""The Colab reader's path, run offline at a tiny scale: the colab profile end to end with Music2Latent's own
network (random weights, written here: no download) and the NSynth archive served from a local HTTP server in
its own layout. Everything else is the real code: download and checksum, encode, train, sample, decode, and
``generate`` on the resulting checkpoint."""

import functools
import hashlib
import zipfile

import numpy as np
import pytest

from tutorial_lib import pipeline
from tutorial_lib.__main__ import main
from tutorial_lib.book.colab_offline import serve
from tutorial_lib.codec import Music2LatentCodec, load_codec
from tutorial_lib.data.download import download_nsynth_guitar
from tutorial_lib.generation import NoteGenerator, load_pretrained
from tutorial_lib.pipeline import prepare, train_model
from tutorial_lib.profiles import get_profile

from .test_nsynth import write_note

NOTES = {"train": [("acoustic", 0, 48), ("electronic", 1, 55), ("synthetic", 2, 62)],
         "valid": [("acoustic", 5, 50), ("electronic", 6, 57)]}


@pytest.fixture(scope="module")
def nsynth_server(tmp_path_factory):
    """NSYNTH_GUITAR_MP3.zip and its parts list, served over HTTP as the original tutorial's host serves them."""
    root = tmp_path_factory.mktemp("served")
    dataset = root / "build" / "NSYNTH_GUITAR_MP3"
    for split, notes in NOTES.items():
        for source, instrument, pitch in notes:
            write_note(dataset / f"nsynth-guitar-{split}" / f"guitar_{source}_{instrument:03d}-{pitch:03d}-075.mp3",
                       seconds=2.0, fmt="MP3")  # the shortest note the data code keeps
    served = root / "served"
    served.mkdir()
    with zipfile.ZipFile(served / "NSYNTH_GUITAR_MP3.zip", "w") as zf:
        for f in sorted(dataset.rglob("*.mp3")):
            zf.write(f, f.relative_to(dataset.parent))
    (served / "NSYNTH_GUITAR_MP3.txt").write_text("NSYNTH_GUITAR_MP3.zip\n")
    sha256 = {"NSYNTH_GUITAR_MP3.zip": hashlib.sha256((served / "NSYNTH_GUITAR_MP3.zip").read_bytes()).hexdigest()}
    httpd, url = serve(served)
    yield url, sha256
    httpd.shutdown()


def test_the_colab_profile_runs_end_to_end_on_music2latent(m2l_weights, nsynth_server, tmp_path, monkeypatch, capsys):
    url, sha256 = nsynth_server
    # The download's hosts are this test's server; its checksum is the served archive's (the real one is published).
    monkeypatch.setattr(pipeline, "download_nsynth_guitar",
                        functools.partial(download_nsynth_guitar, raw_url=url, media_url=url, sha256=sha256))
    monkeypatch.setenv("M2L_WEIGHTS", str(m2l_weights))
    colab = get_profile("colab", num_frames=4, max_notes={"train": 3, "valid": 2}, steps=4, batch_size=2,
                        eval_every=2, checkpoint_every=2, warmup_steps=1)
    assert colab.real_data and colab.codec == "m2l"
    prepared = prepare(colab, cache_dir=tmp_path / "cache", progress=False)

    # Downloaded from the server, encoded by Music2Latent (the file's weights), every note of the archive used.
    assert isinstance(prepared.codec, Music2LatentCodec) and prepared.codec.checkpoint == m2l_weights
    assert "downloaded" in prepared.data_source
    assert prepared.data.train.latents.shape == (3, 64, 4) and prepared.data.valid.latents.shape == (2, 64, 4)

    trained = train_model(prepared, progress=False)
    assert trained.history.train_steps[-1] == 4 and trained.checkpoint_path.is_file()

    # Sampling and decoding the chapter's way: noise drawn on the CPU, the model wherever training left it.
    generator = NoteGenerator.from_checkpoint(trained.checkpoint_path, m2l_weights=str(m2l_weights))
    assert generator.space.codec.name == "music2latent" and generator.decodes_with(prepared.codec)
    latents, audio = generator.generate(1, pitch=55, source="electronic", velocity=75, num_steps=2)
    assert latents.shape == (1, 64, 4) and audio[0].ndim == 1 and np.isfinite(audio[0]).all()
    assert len(audio[0]) > 0.3 * Music2LatentCodec.sample_rate  # 4 frames of 4096 samples at 44.1 kHz

    # `generate` on the Music2Latent checkpoint (it once refused: "Unknown codec 'music2latent'").
    out = tmp_path / "notes"
    assert main(["generate", "--checkpoint", str(trained.checkpoint_path), "--out", str(out), "--num", "1",
                 "--pitch", "55", "--num-steps", "2", "--m2l-weights", str(m2l_weights)]) == 0
    written = sorted(out.glob("*.wav"))
    assert len(written) == 1 and written[0].name.startswith(trained.checkpoint_path.stem + "-")

    # The chapters' Colab branch: the shipped model plays with its own codec, and says it is of other data.
    shipped = load_pretrained("cpu-long", codec=prepared.codec)
    assert not shipped.decodes_with(prepared.codec) and "not of this chapter's notes" in capsys.readouterr().out
    _, its_audio = shipped.generate(1, pitch=57, source="acoustic", velocity=100, num_steps=2)
    assert np.isfinite(its_audio[0]).all() and shipped.space.codec.sample_rate == 16_000


def test_checkpoints_record_the_codec_by_a_name_load_codec_takes(m2l_weights):
    """The bug behind generate's refusal: a recorded codec name must load again (with the weights given)."""
    codec = Music2LatentCodec(m2l_weights, device="cpu")
    again = load_codec(codec.name, checkpoint=m2l_weights, verbose=False)
    assert isinstance(again, Music2LatentCodec) and again.cache_id == codec.cache_id
