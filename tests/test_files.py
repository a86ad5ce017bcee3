"""tutorial_lib.runtime.files: whole files or none, and safe names."""

import pytest
import torch


def test_atomic_saves_use_temporary_names_of_their_own(tmp_path, monkeypatch):
    """Two runs sharing a cache once collided on one `...-stats.pt.tmp` name; each save now has its own."""
    from tutorial_lib.runtime import files

    seen = []
    real_save = torch.save
    monkeypatch.setattr(files.torch, "save", lambda obj, f: (seen.append(f), real_save(obj, f)))
    for value in range(3):
        files.save_atomically({"value": value}, tmp_path / "stats.pt")
    assert len(set(seen)) == 3 and all(str(p).endswith(".tmp") for p in seen)
    assert torch.load(tmp_path / "stats.pt")["value"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["stats.pt"]  # no temporary file left behind


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    from tutorial_lib.runtime.files import write_atomically, write_text_atomically

    path = write_text_atomically(tmp_path / "examples.json", "old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, half_then_fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["examples.json"]


def test_safe_name_keeps_what_file_systems_allow():
    from tutorial_lib.runtime.files import safe_name

    assert safe_name("mel-sr16000 f30/4000:x") == "mel-sr16000_f30_4000_x" and len(safe_name("a" * 200)) == 80


def test_display_path_writes_the_home_folder_as_a_tilde(monkeypatch, tmp_path):
    from tutorial_lib.runtime.files import display_path

    monkeypatch.setenv("HOME", str(tmp_path))
    assert display_path(tmp_path / ".cache" / "run.pt") == "~/.cache/run.pt"
    assert display_path("/elsewhere/run.pt") == "/elsewhere/run.pt"


def test_fingerprint_tells_apart_what_made_a_file_and_keeps_the_names_caches_already_have(tmp_path):
    import hashlib

    import numpy as np

    from tutorial_lib.runtime.files import file_fingerprint, fingerprint

    values = np.arange(6, dtype=np.float32)
    assert fingerprint(values) == fingerprint(torch.arange(6, dtype=torch.float32))  # a tensor as its array
    assert fingerprint(values) != fingerprint(values.astype(np.float64))  # same numbers, other dtype
    assert fingerprint(values) != fingerprint(values.reshape(2, 3))  # and other shape
    assert fingerprint({"steps": 800, "lr": 3e-3}) == fingerprint({"lr": 3e-3, "steps": 800})  # keys sorted
    assert fingerprint({"steps": 800}) != fingerprint({"steps": 801}) and len(fingerprint("x", length=10)) == 10
    # the names the latent cache and checkpoints were given before this helper existed stay the same
    assert fingerprint(b"latents") == hashlib.sha1(b"latents").hexdigest()[:16]
    assert fingerprint("a\nb") == hashlib.sha1(b"a\nb").hexdigest()[:16]
    (tmp_path / "model.pt").write_bytes(b"weights" * 1000)
    assert file_fingerprint(tmp_path / "model.pt") == hashlib.sha1(b"weights" * 1000).hexdigest()[:8]
