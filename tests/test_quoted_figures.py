"""Every figure a chapter's prose quotes is one the page computes or one it cites with its file.

Code cells compute and print; the prose around them may quote a figure only from a file it names
(``benchmarks/results/<name>.md``, ``tutorial_lib/pretrained/README.md``), and the figure must be in that file.
Decimals (``0.84``, ``2.4 dB``) and percentages (``96 %``) are checked; a paragraph naming no file may hold only
the definitions listed in :data:`DEFINITIONS`. The Colab note under each title is generated from the estimates
and checked by tests/test_estimates.py.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks").glob("*.md"))
CITED = re.compile(r"(benchmarks/results/[\w.-]+\.md|tutorial_lib/pretrained/README\.md)")
FIGURE = re.compile(r"(?<![\w.])(\d+\.\d+|\d+(?:\.\d+)? ?%)(?!\w|\.\d)")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
# Figures that define rather than report (a sample rate, a setting of the library): page -> {figure: why}.
DEFINITIONS = {
    "01_codec": {"44.1": "Music2Latent's sample rate (kHz)", "4.0": "a package version",
                 "10.67": "the mel codec's frame rate, 16000 / 1500"},
    "04_training": {t: "a time t at which the listening exercise mixes noise in" for t in ("0.25", "0.5", "0.75")},
    "04a_toy_flow": {"2.5": "the radius of the toy data's circle, a setting of toy_flow.GaussianMixture"},
    "06_control": {"0.2": "TrainConfig.label_dropout", "0.1": "TrainConfig.label_dropout_each"},
}


def paragraphs(page: Path):
    """``(text to scan, the files it cites)`` for each prose paragraph; a table cites what the paragraphs
    around it cite."""
    cells = ([page.read_text()] if page.suffix == ".md" else
             ["".join(c["source"]) for c in json.loads(page.read_text())["cells"] if c["cell_type"] == "markdown"])
    for cell in cells:
        parts = [p for p in cell.split("\n\n") if not p.startswith("**In Colab.**")]
        for i, paragraph in enumerate(parts):
            cited = CITED.findall(paragraph)
            if paragraph.lstrip().startswith("|"):
                cited += [f for p in parts[max(0, i - 1):i + 2] for f in CITED.findall(p)]
            text = re.sub(r"\$[^$]*\$|`[^`]*`(?!\w)", " ", paragraph).replace("5-95 %", " ")
            yield text, paragraph, cited


def held_in(figure: str, numbers: list[float]) -> bool:
    """Whether a number of the cited files, rounded as ``figure`` is written, is ``figure``; a percentage
    may be written there as a share (``96 %`` as ``0.96`` or ``0.958``)."""
    text = figure.rstrip("% ")
    digits = len(text.partition(".")[2])
    value = float(text)
    scales = (1, 100) if figure.endswith("%") else (1,)
    return any(round(n * k, digits) == value for n in numbers for k in scales)


def unsupported(page: Path) -> list[str]:
    problems = []
    allowed = DEFINITIONS.get(page.stem, {})
    for text, raw, cited in paragraphs(page):
        files = [ROOT / name for name in dict.fromkeys(cited)]
        numbers = [float(n) for f in files if f.is_file() for n in NUMBER.findall(f.read_text())]
        for figure in FIGURE.findall(text):
            if figure in allowed or held_in(figure, numbers):
                continue
            where = ", ".join(f.name for f in files) or "no file named"
            problems.append(f"{page.name}: {figure!r} ({where}): {' '.join(raw.split())[:160]}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_quoted_figures_are_in_the_files_the_page_cites(page):
    assert unsupported(page) == []


def test_the_check_fails_on_a_figure_its_file_does_not_hold(tmp_path):
    cited = "benchmarks/results/models_cpu.md"
    page = tmp_path / "05_sampling.md"
    page.write_text(f"Measured (`{cited}`): 123.45 % of notes in tune.")
    assert len(unsupported(page)) == 1 and "123.45" in unsupported(page)[0]
    held = re.search(r"\d+\.\d\d", (ROOT / cited).read_text()).group()
    page.write_text(f"Measured (`{cited}`): {held} of notes in tune.")
    assert unsupported(page) == []
    page.write_text("Measured: 0.97 of notes in tune.")  # no file named
    assert len(unsupported(page)) == 1
