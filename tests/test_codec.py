import time

import numpy as np
import pytest
import torch

from tutorial_lib.codec import (M2L_WEIGHTS_ENV, MelCodec, Music2LatentCodec, find_m2l_weights, load_codec,
                                mel_filter_bank)
from tutorial_lib.data.labels import SOURCES
from tutorial_lib.data.synth import pluck, random_guitar
from tutorial_lib.evaluation.note_measures import note_pitch


def test_mel_codec_shapes_rates_and_resampling():
    codec = MelCodec()
    assert abs(codec.frame_rate - 10.67) < 0.01 and 10.77 / 2 < codec.frame_rate < 10.77 * 2
    note = pluck(random_guitar("g", "acoustic", np.random.default_rng(0)), 60, 100, np.random.default_rng(0))
    z = codec.encode(note, 16000)
    assert z.shape == (64, 43) and z.dtype == torch.float32
    z44 = codec.encode(np.interp(np.arange(176400) / 44100, np.arange(64000) / 16000, note), 44100)
    assert z44.shape == z.shape and torch.corrcoef(torch.stack([z.flatten(), z44.flatten()]))[0, 1] > 0.95
    audio = codec.decode(z[:, :32])
    assert audio.dtype == np.float32 and abs(len(audio) - 32 * 1500) <= 1500 and np.isfinite(audio).all()
    assert np.array_equal(audio, codec.decode(z[:, :32]))  # Griffin-Lim is seeded
    with pytest.raises(ValueError, match="mono"):
        codec.encode(np.zeros((2, 16000)), 16000)


def test_mel_codec_keeps_the_pitch_of_at_least_90_percent_of_notes():
    """Encode, decode, and ask pYIN: within 50 cents of the written pitch (MIDI 40-88, all sources).

    A second, independent pitch tracker beside CREPE (the codec benchmark measures CREPE on 147 notes); here
    13 notes spread over the range."""
    rng = np.random.default_rng(3)
    guitars = [random_guitar(f"g{s}", s, rng) for s in SOURCES]
    codec = MelCodec()
    hits = []
    for i, pitch in enumerate(range(40, 89, 4)):
        note = pluck(guitars[i % 3], pitch, 100, rng)
        decoded = codec.decode(codec.encode(note, 16000))
        hits.append(abs(note_pitch(decoded, 16000, method="pyin") - pitch) <= 0.5)
    assert np.mean(hits) >= 0.9, hits


def test_mel_decoder_gives_each_note_what_librosa_gives_it_alone_in_a_batch_or_not():
    import librosa

    codec = MelCodec()
    rng = np.random.default_rng(0)
    guitar = random_guitar("g", SOURCES[0], rng)
    notes = [pluck(guitar, pitch, 100, rng) for pitch in (45, 60, 72)]
    latents = torch.stack([codec.encode(x, 16_000) for x in notes])
    batch = codec.decode_batch(latents, chunk=2)  # a chunk of two, then one
    for z, audio in zip(latents, batch):
        mel = np.maximum(np.exp(z.double().numpy()) - codec.eps, 0.0)
        alone = librosa.griffinlim(codec.mel_to_magnitude(mel), n_iter=codec.griffin_lim_iters,
                                   hop_length=codec.hop_length, n_fft=codec.n_fft, random_state=0)
        np.testing.assert_allclose(audio, alone, atol=1e-6)
        np.testing.assert_allclose(codec.decode(z), audio, atol=1e-6)
    assert np.abs(batch[0] - batch[1][: len(batch[0])]).max() > 1e-2  # different notes stay different


def test_mel_filter_bank_with_a_700_hz_break_is_htks_mel_and_a_lower_break_narrows_the_low_bands():
    import librosa

    htk = librosa.filters.mel(sr=16000, n_fft=4096, n_mels=64, fmin=30.0, fmax=4000.0, htk=True)
    assert np.allclose(mel_filter_bank(16000, 4096, 64, 30.0, 4000.0, break_hz=700.0), htk, atol=1e-7)
    freqs = np.arange(2049) * 16000 / 4096

    def bands_below(basis, hz):  # bands whose peak lies below hz
        return int((freqs[basis.argmax(axis=1)] < hz).sum())

    assert bands_below(MelCodec().basis, 200) > bands_below(htk, 200) + 3
    # other bands, other latents: the cache must not mix them
    assert MelCodec().cache_id != MelCodec(break_hz=700.0).cache_id and "break 200 Hz" in MelCodec().describe()


def test_mel_codec_keeps_the_fundamental_of_low_notes():
    """CREPE (the evaluation's pitch tracker) on low notes (MIDI 40-57), before and after the codec: a
    wide low band once made decoded low notes sound an octave or a twelfth up (codec benchmark)."""
    from tutorial_lib.evaluation.note_measures import note_pitch

    rng = np.random.default_rng(4)
    guitars = [random_guitar(f"g{s}", s, rng) for s in SOURCES]
    codec = MelCodec()
    raw_hits, decoded_hits = 0, 0
    for i, pitch in enumerate(range(40, 58)):
        note = pluck(guitars[i % 3], pitch, 100, rng)
        raw_hits += abs(note_pitch(note, 16000, method="crepe") - pitch) <= 0.5
        decoded_hits += abs(note_pitch(codec.decode(codec.encode(note, 16000)), 16000, method="crepe") - pitch) <= 0.5
    # Measured: 14 of 18 undecoded; decoded 17 here, 14 with librosa's Slaney mel or HTK's (the codec until Nov 2026)
    assert raw_hits >= 13 and decoded_hits >= 16, (raw_hits, decoded_hits)


def test_unknown_codec_name_is_refused():
    with pytest.raises(ValueError, match="Unknown codec 'mp3'.*auto, m2l, mel"):
        load_codec("mp3")


def test_auto_falls_back_to_mel_offline_and_says_so(monkeypatch, capsys):
    monkeypatch.setattr("tutorial_lib.codec.find_m2l_weights", lambda checkpoint=None: None)
    codec = load_codec("auto")
    assert isinstance(codec, MelCodec)
    assert "offline mel codec" in capsys.readouterr().out


def test_m2l_without_weights_offline_fails_fast_and_says_how_to_get_them(monkeypatch):
    monkeypatch.setattr("tutorial_lib.codec.find_m2l_weights", lambda checkpoint=None: None)
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="huggingface-cli download SonyCSLParis/music2latent"):
        Music2LatentCodec()
    assert time.perf_counter() - start < 1.5
    with pytest.raises(FileNotFoundError, match="No Music2Latent checkpoint at /nowhere.pt"):
        Music2LatentCodec(checkpoint="/nowhere.pt")


def test_m2l_loads_a_local_checkpoint_and_encodes_decodes_with_the_right_shapes(m2l_weights, monkeypatch):
    codec = Music2LatentCodec(checkpoint=m2l_weights, device="cpu")
    assert codec.sample_rate == 44100 and abs(codec.frame_rate - 10.77) < 0.01
    one_second = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    z = codec.encode(one_second, 16000)  # resampled to 44.1 kHz inside
    assert z.shape == (64, ((44100 - 1536) // 4096))  # the package crops to whole latent frames
    audio = codec.decode(z)
    assert audio.ndim == 1 and len(audio) == z.shape[-1] * 4096 + 1536 and np.isfinite(audio).all()
    monkeypatch.setenv(M2L_WEIGHTS_ENV, str(m2l_weights))
    assert find_m2l_weights() == m2l_weights
    assert isinstance(load_codec("auto", verbose=False), Music2LatentCodec)


def test_m2l_rejects_a_file_that_is_not_its_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(ValueError, match="not a Music2Latent checkpoint"):
        Music2LatentCodec(checkpoint=path)


def test_a_checkpoints_recorded_codec_name_loads_that_codec(monkeypatch, m2l_weights):
    """Checkpoints record ``codec.name`` ("music2latent", "mel"): generate must accept what train wrote."""
    mel = MelCodec()
    assert load_codec(mel.name, verbose=False).cache_id == mel.cache_id
    m2l = Music2LatentCodec(checkpoint=m2l_weights, device="cpu")
    again = load_codec(m2l.name, checkpoint=m2l_weights, device="cpu", verbose=False)
    assert isinstance(again, Music2LatentCodec) and again.cache_id == m2l.cache_id
    monkeypatch.setattr("tutorial_lib.codec.find_m2l_weights", lambda checkpoint=None: None)
    with pytest.raises(FileNotFoundError, match="huggingface-cli download SonyCSLParis/music2latent"):
        load_codec("music2latent", verbose=False)  # recognised: what is missing is the weights, offline


def test_latents_of_random_m2l_weights_are_refused_by_name():
    random_name = "music2latent (random weights, cannot make sound)"
    with pytest.raises(ValueError, match="random weights.*decode to near-silence"):
        load_codec(random_name, verbose=False)


def _saved_with(m2l_weights, path, change):
    """A copy of the random-weight music2latent.pt with ``change(gen_state_dict)`` applied."""
    state = torch.load(m2l_weights, map_location="cpu", weights_only=False)
    change(state["gen_state_dict"])
    torch.save(state, path)
    return path


def test_m2l_loads_a_file_with_an_extra_entry_as_the_package_does_and_names_it(m2l_weights, tmp_path, capsys):
    path = _saved_with(m2l_weights, tmp_path / "extra.pt",
                       lambda sd: sd.__setitem__("discriminator.head.weight", torch.zeros(3)))
    codec = Music2LatentCodec(checkpoint=path, device="cpu")
    assert codec.unexpected_keys == ["discriminator.head.weight"]
    out = capsys.readouterr().out
    assert "discriminator.head.weight" in out and str(path) in out and "does not use" in out
    reference = torch.load(m2l_weights, map_location="cpu", weights_only=False)["gen_state_dict"]
    loaded = codec.gen.state_dict()
    assert all(torch.equal(loaded[k], reference[k]) for k in list(reference)[:: len(reference) // 20])


def test_m2l_refuses_a_file_with_a_renamed_weight_naming_both(m2l_weights, tmp_path):
    """A weight the network lacks would stay random (the package would run it so): refused, by name."""
    key = "encoder.conv_out.weight"

    def rename(sd):
        assert key in sd
        sd["encoder.conv_output.weight"] = sd.pop(key)

    path = _saved_with(m2l_weights, tmp_path / "renamed.pt", rename)
    with pytest.raises(ValueError) as error:
        Music2LatentCodec(checkpoint=path, device="cpu")
    message = str(error.value)
    assert str(path) in message and "lacks 1 of the 583 weights" in message and key in message
    assert "encoder.conv_output.weight" in message and "huggingface-cli download" in message


def test_m2l_refuses_a_weight_of_another_shape_by_name(m2l_weights, tmp_path):
    key = "encoder.conv_out.bias"
    path = _saved_with(m2l_weights, tmp_path / "reshaped.pt", lambda sd: sd.__setitem__(key, torch.zeros(7)))
    with pytest.raises(ValueError, match=f"another shape.*{key} \\(7,\\)"):
        Music2LatentCodec(checkpoint=path, device="cpu")


class _Recorder:
    """A local HTTP server standing in for the hub; ``paths`` lists the requests it answered."""

    def __init__(self):
        import http.server
        import threading

        paths = self.paths = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self):
                paths.append(self.path)
                self.send_response(404)
                self.end_headers()

            do_GET = do_HEAD

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def _hub_reachable_in_a_fresh_process(**env):
    """``hub_reachable()`` in a new Python, whose hub client reads ``env`` as it starts (as in Colab)."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "from tutorial_lib.codec import hub_reachable; print(hub_reachable())"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] == "True"


def test_hub_probe_asks_the_hub_clients_endpoint_and_honours_its_offline_mode():
    server = _Recorder()
    try:
        assert _hub_reachable_in_a_fresh_process(HF_ENDPOINT=server.url, HF_HUB_OFFLINE="0")
        assert server.paths == ["/SonyCSLParis/music2latent/resolve/main/music2latent.pt"]  # any answer counts
        assert not _hub_reachable_in_a_fresh_process(HF_ENDPOINT=server.url, HF_HUB_OFFLINE="1")
        assert len(server.paths) == 1  # offline: not even asked
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    # Known-bad: the same endpoint with nobody answering is not reachable.
    assert not _hub_reachable_in_a_fresh_process(HF_ENDPOINT=server.url, HF_HUB_OFFLINE="0")


@pytest.mark.parametrize("damage", ["html", "empty", "zeroed", "truncated"])
def test_unreadable_m2l_weights_are_named_not_a_traceback(tmp_path, capsys, damage):
    import torch

    from tutorial_lib.__main__ import main

    path = tmp_path / "music2latent.pt"
    if damage == "truncated":
        torch.save({"gen_state_dict": {"w": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:2000])
    else:
        path.write_bytes({"html": b"<html><body>404 Not Found</body></html>", "empty": b"",
                          "zeroed": bytes(4096)}[damage])
    assert main(["run", "--out", str(tmp_path / "run"), "--codec", "m2l", "--m2l-weights", str(path),
                 "--cache", str(tmp_path / "cache")]) == 1
    err = capsys.readouterr().err
    assert f"{path} cannot be read as Music2Latent's weights" in err and "Download it again" in err
