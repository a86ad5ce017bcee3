"""One writer per folder (tutorial_lib.runtime.lock): a second command on a busy --out is refused, naming the
process; a lock whose process is gone is taken over, saying so."""

import subprocess
import sys

import pytest

from tutorial_lib.__main__ import main

LOCK = ".tutorial_lib.lock"
HOLD = ("import sys, time\nfrom tutorial_lib.runtime.lock import folder_lock\n"
        "with folder_lock(sys.argv[1], 'python -m tutorial_lib run --out ' + sys.argv[1]):\n"
        "    print('held', flush=True)\n    time.sleep(60)\n")


@pytest.fixture
def busy(tmp_path):
    """A folder whose lock another live process holds; yields (folder, that process's id)."""
    folder = tmp_path / "busy"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield folder, holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("command", [
    ["run", "--codec", "mel", "--steps", "2"],
    ["generate", "--checkpoint", "tutorial_lib/pretrained/cpu-long.pt"],
    ["reflow", "--checkpoint", "tutorial_lib/pretrained/cpu-long.pt"],
    ["synth", "--profile", "ci"],
    ["download"],
])
def test_a_second_writer_on_a_busy_folder_is_refused_naming_the_process(busy, tmp_path, capsys, command):
    folder, pid = busy
    (folder / "mine.txt").write_text("the first command's work")
    assert main([*command, "--out", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"in use by process {pid}" in err and "python -m tutorial_lib run --out" in err
    assert sorted(p.name for p in folder.iterdir()) == [LOCK, "mine.txt"]  # nothing written, the lock kept


def test_a_lock_left_by_a_process_that_is_gone_is_taken_over_and_said(tmp_path, capsys):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(gone.stdout)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / LOCK).write_text(f'{{"pid": {pid}, "command": "python -m tutorial_lib generate"}}')  # kill -9 left it
    assert main(["generate", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(folder)]) == 1
    captured = capsys.readouterr()
    assert f"Taking over the lock of {folder}: process {pid}" in captured.out and "is gone" in captured.out
    assert "No checkpoint" in captured.err  # it went on to do (here: refuse) the work itself
    assert not (folder / LOCK).exists()  # let go at the end


def test_the_lock_is_let_go_after_a_command_and_a_refusal_leaves_no_new_folder(tmp_path, capsys):
    from tutorial_lib.runtime.lock import FolderLocked, folder_lock

    out = tmp_path / "new"
    assert main(["generate", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(out)]) == 1
    assert not out.exists()
    with folder_lock(out, "first"):
        with pytest.raises(FolderLocked, match="in use by process"):
            with folder_lock(out, "second"):
                pass
    with folder_lock(out, "third"):  # free again
        pass
