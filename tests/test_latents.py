import pytest
import torch

from tutorial_lib.codec import MelCodec
from tutorial_lib.data import LatentDataset, encode_notes, list_notes, prepare_latents
from tutorial_lib.generation import LatentSpace


class CountingCodec(MelCodec):
    """The mel codec, counting how often it encodes."""

    calls = 0

    def encode(self, waveform, sample_rate):
        CountingCodec.calls += 1
        return super().encode(waveform, sample_rate)


def test_second_run_comes_from_the_cache(tiny_nsynth, tmp_path):
    notes = list_notes(tiny_nsynth, "train").notes
    codec = CountingCodec()
    CountingCodec.calls = 0
    first, kept, report = encode_notes(notes, codec, tmp_path, progress=False)
    assert CountingCodec.calls == len(notes) == report.encoded and report.cached == 0
    assert first.shape == (len(notes), 64, 43)  # 4 s at 16 kHz, hop 1500
    second, _, report = encode_notes(notes, codec, tmp_path, progress=False)
    assert CountingCodec.calls == len(notes) and report.cached == len(notes)
    assert torch.equal(first, second)


def test_changed_file_or_codec_settings_are_encoded_again(tiny_nsynth, tmp_path):
    notes = list_notes(tiny_nsynth, "train").notes[:3]
    encode_notes(notes, CountingCodec(), tmp_path, progress=False)
    notes[0].path.touch()  # a new modification time: the file may have changed
    _, _, report = encode_notes(notes, CountingCodec(), tmp_path, progress=False)
    assert (report.encoded, report.cached) == (1, 2)
    _, _, report = encode_notes(notes, CountingCodec(fmax=3000.0), tmp_path, progress=False)
    assert report.encoded == 3


def test_bad_files_are_skipped_and_reported_not_fatal(tiny_nsynth, tmp_path):
    notes = list_notes(tiny_nsynth, "valid").notes[:2]
    bad_folder = tmp_path / "bad"
    bad_folder.mkdir()
    corrupt = bad_folder / "guitar_acoustic_999-060-075.wav"
    corrupt.write_bytes(b"garbage")
    from tutorial_lib.data import Note

    bad = Note(corrupt, corrupt.stem, "guitar_acoustic_999", "acoustic", 60, 75, "valid")
    latents, kept, report = encode_notes(notes + [bad], MelCodec(), tmp_path / "cache", progress=False)
    assert len(kept) == 2 and latents.shape[0] == 2
    assert report.skipped[0][0] == str(corrupt) and "cannot be read" in report.skipped[0][1]
    assert "1 skipped" in report.summary()
    with pytest.raises(ValueError, match="No usable notes"):
        encode_notes([bad], MelCodec(), tmp_path / "cache", progress=False)


def test_interrupted_encoding_keeps_what_was_saved(tiny_nsynth, tmp_path):
    notes = list_notes(tiny_nsynth, "train").notes[:5]

    class Failing(CountingCodec):
        def encode(self, waveform, sample_rate):
            if CountingCodec.calls == 3:
                raise KeyboardInterrupt
            return super().encode(waveform, sample_rate)

    CountingCodec.calls = 0
    with pytest.raises(KeyboardInterrupt):
        encode_notes(notes, Failing(), tmp_path, save_every=2, progress=False)
    _, _, report = encode_notes(notes, CountingCodec(), tmp_path, progress=False)
    assert report.cached == 2 and report.encoded == 3


def test_standardisation_uses_training_statistics_and_undoes_exactly():
    raw = torch.randn(10, 64, 40) * 3 + torch.linspace(-5, 5, 64)[None, :, None]
    notes = [None] * 10
    train = LatentDataset(raw, notes, num_frames=32)
    assert train.latents.shape == (10, 64, 32)
    assert torch.allclose(train.latents.mean(dim=(0, 2)), torch.zeros(64), atol=1e-5)
    assert torch.allclose(train.latents.std(dim=(0, 2)), torch.ones(64), atol=1e-4)
    assert torch.allclose(LatentSpace(None, train.mean, train.std, 32).destandardise(train.latents), raw[..., :32], atol=1e-4)
    other = LatentDataset(raw + 1, notes, 32, mean=train.mean, std=train.std)
    assert torch.allclose(other.latents, train.latents + 1 / train.std[:, None], atol=1e-4)
    with pytest.raises(ValueError, match="lower num_frames"):
        LatentDataset(raw, notes, num_frames=64)


def test_prepare_latents_gives_datasets_with_labels(tiny_nsynth, tmp_path):
    data = prepare_latents(tiny_nsynth, MelCodec(), tmp_path, num_frames=32, progress=False)
    x, labels = data.train[0]
    assert x.shape == (64, 32)
    assert set(labels) == {"pitch", "velocity", "source", "instrument"} and 40 <= labels["pitch"] <= 88
    assert torch.equal(data.valid.mean, data.train.mean)
    stats = torch.load(data.stats_path)
    assert torch.equal(stats["mean"], data.train.mean) and stats["num_frames"] == 32
    batch, batch_labels = next(iter(torch.utils.data.DataLoader(data.train, batch_size=4)))
    assert batch.shape == (4, 64, 32) and batch_labels["pitch"].shape == (4,)


def test_a_cache_shard_poisoned_with_nan_names_the_file_to_delete(tiny_nsynth, tmp_path):
    from tutorial_lib.data.latents import DamagedCacheError

    notes = list_notes(tiny_nsynth, "train").notes[:3]
    encode_notes(notes, MelCodec(), tmp_path, progress=False)
    (shard_path,) = tmp_path.rglob("*.pt")
    shard = torch.load(shard_path)
    shard["latents"][1, 5, 7] = float("nan")
    torch.save(shard, shard_path)
    with pytest.raises(DamagedCacheError, match="1 of its 3 notes.*Delete that file") as error:
        encode_notes(notes, MelCodec(), tmp_path, progress=False)
    assert str(shard_path) in str(error.value)
    shard_path.unlink()  # what the message says to do
    latents, _, report = encode_notes(notes, MelCodec(), tmp_path, progress=False)
    assert report.encoded == 3 and torch.isfinite(latents).all()


def test_a_codec_that_gives_nan_skips_the_note(tiny_nsynth, tmp_path):
    class NaNCodec(MelCodec):
        def encode(self, waveform, sample_rate):
            return torch.full((64, 43), float("nan"))

    notes = list_notes(tiny_nsynth, "train").notes[:2]
    with pytest.raises(ValueError, match="No usable notes.*NaN or infinite latents"):
        encode_notes(notes, NaNCodec(), tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.pt"))  # nothing poisoned was cached


def test_concurrent_preparations_sharing_a_cache_both_finish(tiny_nsynth, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    def prepare(_):
        return prepare_latents(tiny_nsynth, MelCodec(), tmp_path, num_frames=32, progress=False)

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(prepare, range(2))
    assert torch.equal(first.train.latents, second.train.latents)
    assert not list(tmp_path.rglob("*.tmp"))


def test_fixes_are_reported_also_when_notes_come_from_the_cache(tmp_path):
    import numpy as np
    import soundfile as sf

    folder = tmp_path / "notes" / "train"
    folder.mkdir(parents=True)
    t = np.arange(16000 * 60) / 16000
    sf.write(folder / "guitar_acoustic_001-060-100.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 16000)
    notes = list_notes(tmp_path / "notes", "train").notes
    for expected in ("encoded", "cached"):
        _, _, report = encode_notes(notes, MelCodec(), tmp_path / "cache", progress=False)
        assert getattr(report, expected) == 1
        assert "1 cut to 4.00 s (e.g. guitar_acoustic_001-060-100.wav)" in report.summary()


def test_all_silent_data_is_refused_and_too_few_notes_blame_the_split(tmp_path):
    import numpy as np
    import soundfile as sf

    silent = tmp_path / "silent"
    silent.mkdir()
    for i in range(3):
        for pitch in (50, 60):
            sf.write(silent / f"guitar_acoustic_{i:03d}-{pitch:03d}-100.wav", np.zeros(64000), 16000)
    with pytest.raises(ValueError, match="all 6 are silent"):
        prepare_latents(silent, MelCodec(), tmp_path / "cache", progress=False)
    one = tmp_path / "one"
    one.mkdir()
    sf.write(one / "guitar_acoustic_000-060-100.wav", 0.3 * np.sin(np.arange(64000) / 10), 16000)
    with pytest.raises(ValueError, match="1 usable note\\(s\\) of 1 instrument\\(s\\): too few to split"):
        prepare_latents(one, MelCodec(), tmp_path / "cache", progress=False)


class _StandInEncoder(torch.nn.Module):
    """Music2Latent's encoder, stood in: NaN latents on the package's fp16 path (its ``mixed_precision``
    switch, which turns on its CUDA autocast), finite ones in fp32; ``always_nan`` fails in both."""

    def __init__(self, always_nan=False):
        super().__init__()
        self.always_nan, self.calls = always_nan, []

    def forward(self, representation, extract_features=False):
        import music2latent.inference as m2l

        self.calls.append(m2l.mixed_precision)
        out = torch.ones(representation.shape[0], 64, 5)
        return out * float("nan") if m2l.mixed_precision or self.always_nan else out


def _half_precision_codec(encoder):
    from tutorial_lib.codec import Music2LatentCodec

    gen = torch.nn.Module()
    gen.encoder = encoder
    codec = Music2LatentCodec.__new__(Music2LatentCodec)
    codec._use(gen, "cpu", 1, None)
    assert not codec.half_precision  # on the CPU the package runs fp32 ...
    codec.half_precision = True  # ... on CUDA it runs fp16 autocast: as there
    return codec


def test_a_note_that_half_precision_spoils_is_encoded_again_in_fp32_and_counted(tiny_nsynth, tmp_path, capsys):
    encoder = _StandInEncoder()
    notes = list_notes(tiny_nsynth, "train").notes[:3]
    latents, kept, report = encode_notes(notes, _half_precision_codec(encoder), tmp_path, duration=1.0,
                                         progress=False)
    assert len(kept) == 3 and torch.isfinite(latents).all() and encoder.calls == [True, False] * 3
    assert report.fixes["re-encoded in fp32 (half precision gave NaN or infinite latents)"] == 3
    assert "3 of 3 notes: 3 re-encoded in fp32 and kept, 0 skipped" in capsys.readouterr().out
    # From the cache next time, still counted (the fix is stored with the note).
    _, _, again = encode_notes(notes, _half_precision_codec(encoder), tmp_path, duration=1.0, progress=False)
    assert again.cached == 3 and "3 re-encoded in fp32" in again.precision_sentence()


def test_a_note_nan_in_fp32_too_is_skipped_and_counted(tiny_nsynth, tmp_path, capsys):
    notes = list_notes(tiny_nsynth, "train").notes[:2]
    codec = _half_precision_codec(_StandInEncoder(always_nan=True))
    with pytest.raises(ValueError, match="No usable notes.*NaN or infinite latents"):
        encode_notes(notes, codec, tmp_path, duration=1.0, progress=False)
    assert "for 2 of 2 notes: 0 re-encoded in fp32 and kept, 2 skipped" in capsys.readouterr().out


def test_a_cache_shard_of_cut_notes_is_named_not_blamed_on_num_frames(tiny_nsynth, tmp_path):
    """A cache file holding 10-frame latents once said "lower num_frames" instead of naming the file."""
    from tutorial_lib.data.latents import DamagedCacheError

    cache = tmp_path / "cache"
    prepare_latents(tiny_nsynth, MelCodec(), cache, num_frames=32, progress=False)
    shards = [p for p in cache.rglob("*.pt") if "stats" not in p.name]
    for path in shards:  # every note cut to 10 frames
        shard = torch.load(path)
        shard["latents"] = shard["latents"][..., :10].clone()
        torch.save(shard, path)
    with pytest.raises(ValueError, match="fewer than num_frames=32: if they last the usual 4 s, the latent cache") as error:
        prepare_latents(tiny_nsynth, MelCodec(), cache, num_frames=32, progress=False)
    assert str(shards[0]) in str(error.value) or str(shards[-1]) in str(error.value)
    notes = list_notes(tiny_nsynth, "train").notes  # cut notes from the cache beside a note encoded now
    encode_notes(notes[:3], MelCodec(), tmp_path / "mixed", progress=False)
    (path,) = (tmp_path / "mixed").rglob("*.pt")
    shard = torch.load(path)
    shard["latents"] = shard["latents"][..., :10].clone()
    torch.save(shard, path)
    with pytest.raises(DamagedCacheError, match="holds notes of 10 frames beside notes of .*Delete that file") as error:
        encode_notes(notes[:4], MelCodec(), tmp_path / "mixed", progress=False)
    assert str(path) in str(error.value)
