"""The Colab route's Drive cache: a new session unpacks the notes again, yet reuses latents and checkpoints."""

import shutil
import time
import zipfile

from tutorial_lib.data.download import keep_archive_times
from tutorial_lib.pipeline import prepare, train_model
from tutorial_lib.profiles import get_profile


def test_a_new_session_reuses_the_latents_and_the_trained_model(tiny_nsynth, tmp_path):
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(tiny_nsynth.rglob("*.wav")):
            zf.write(path, path.relative_to(tiny_nsynth.parent))
    data, drive = tmp_path / "content" / "data", tmp_path / "drive"  # the machine's disk; Google Drive
    profile = get_profile("ci", steps=3, eval_every=3, checkpoint_every=3)

    def session(keep_times=True):
        shutil.rmtree(data, ignore_errors=True)
        time.sleep(0.02)  # a later session: files unpacked now get other times
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(data)
            if keep_times:
                keep_archive_times(zf, data)
        prepared = prepare(profile, data=data / tiny_nsynth.name, codec="mel", cache_dir=drive, progress=False)
        return prepared, train_model(prepared, progress=False)

    first, trained = session()
    assert first.data.reports["train"].encoded > 0
    written = trained.checkpoint_path.stat().st_mtime_ns
    again, reloaded = session()
    assert again.data.reports["train"].encoded == 0 and again.data.reports["train"].cached > 0
    assert reloaded.checkpoint_path == trained.checkpoint_path and drive in trained.checkpoint_path.parents
    assert reloaded.history.train_loss == trained.history.train_loss
    assert trained.checkpoint_path.stat().st_mtime_ns == written  # reloaded, not trained (or written) again
    # Known-bad: unpacked without the archive's times, every note looks new and is encoded again.
    fresh, _ = session(keep_times=False)
    assert fresh.data.reports["train"].cached == 0
