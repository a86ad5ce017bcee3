"""tutorial_lib.files: whole files or none, and safe names."""

import pytest
import torch


def test_atomic_saves_use_temporary_names_of_their_own(tmp_path, monkeypatch):
    """Two runs sharing a cache once collided on one `...-stats.pt.tmp` name; each save now has its own."""
    from tutorial_lib import files

    seen = []
    real_save = torch.save
    monkeypatch.setattr(files.torch, "save", lambda obj, f: (seen.append(f), real_save(obj, f)))
    for value in range(3):
        files.save_atomically({"value": value}, tmp_path / "stats.pt")
    assert len(set(seen)) == 3 and all(str(p).endswith(".tmp") for p in seen)
    assert torch.load(tmp_path / "stats.pt")["value"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["stats.pt"]  # no temporary file left behind


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    from tutorial_lib.files import write_atomically, write_text_atomically

    path = write_text_atomically(tmp_path / "examples.json", "old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, half_then_fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["examples.json"]


def test_safe_name_keeps_what_file_systems_allow():
    from tutorial_lib.files import safe_name

    assert safe_name("mel-sr16000 f30/4000:x") == "mel-sr16000_f30_4000_x" and len(safe_name("a" * 200)) == 80


def test_display_path_writes_the_home_folder_as_a_tilde(monkeypatch, tmp_path):
    from tutorial_lib.files import display_path

    monkeypatch.setenv("HOME", str(tmp_path))
    assert display_path(tmp_path / ".cache" / "run.pt") == "~/.cache/run.pt"
    assert display_path("/elsewhere/run.pt") == "/elsewhere/run.pt"
