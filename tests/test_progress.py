"""Text progress for static pages: one summary line at the end, nothing for quick work."""

from tutorial_lib.runtime import progress
from tutorial_lib.runtime.progress import TextProgress, progress_bar


def test_text_mode_prints_one_line_when_the_work_ends(monkeypatch, capsys):
    monkeypatch.setenv("TUTORIAL_LIB_PROGRESS", "text")
    bar = progress_bar(range(10, 500), desc="Training UNet", initial=10, total=500, min_seconds=0)
    assert isinstance(bar, TextProgress)
    for step in bar:
        if step % 7 == 0:
            bar.set_postfix(loss=f"{step / 1000:.3f}")
        assert capsys.readouterr().out == ""  # nothing while it runs
    bar.close()  # a second close prints nothing more
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Training UNet: 500/500 it in 00:00 (resumed at 10) (loss=0.497)"]


def test_quick_work_and_disabled_bars_print_nothing(capsys):
    for _ in TextProgress(range(1000), desc="fast"):
        pass
    with TextProgress(total=3, desc="off", disable=True, min_seconds=0) as bar:
        bar.update(3)
    assert capsys.readouterr().out == ""


def test_byte_counts_are_scaled(capsys):
    with TextProgress(total=3_500_000, desc="notes.tar", unit="B", unit_scale=True, min_seconds=0) as bar:
        bar.update(3_500_000)
    assert capsys.readouterr().out.startswith("notes.tar: 3.50M/3.50M B in ")


def test_without_text_mode_it_is_tqdm(monkeypatch):
    monkeypatch.delenv("TUTORIAL_LIB_PROGRESS", raising=False)
    assert not isinstance(progress.progress_bar(range(3), disable=True), TextProgress)
