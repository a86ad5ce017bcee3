"""_ext/results_tables.py: the appendix's tables are the results files' own, and a lost row is an error."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
from results_tables import results_table  # noqa: E402

PAGE = ROOT / "notebooks" / "appendix_results.md"
DIRECTIVE = re.compile(r"```\{results-table\} (\S+)\n((?::.*\n)*)```")


def page_tables(text: str):
    for match in DIRECTIVE.finditer(text):
        options = dict(line[1:].split(":", 1) for line in match.group(2).splitlines())
        options = {k.strip(): v.strip() for k, v in options.items()}
        yield match.group(1), {"rows": options.get("rows"), "columns": options.get("columns"),
                               "table": int(options.get("table", 1)), "where": options.get("where"),
                               "transpose": "transpose" in options}


@pytest.mark.parametrize("name, options", list(page_tables(PAGE.read_text())), ids=lambda x: str(x)[:30])
def test_every_table_of_the_appendix_reads_from_its_file(name, options):
    table = results_table(name, **options).splitlines()
    assert len(table) >= 3 and all(line.startswith("| ") for line in table)
    source = (ROOT / "benchmarks" / "results" / f"{name}.md").read_text()
    for line in table[2:]:  # every figure shown is one of the file's (bold marks one that fails its check)
        for cell in line.strip("|").split(" | ")[1:]:
            value = cell.strip().strip("*")
            assert value in source, (name, value)


def test_the_page_names_every_file_it_shows():
    names = {name for name, _ in page_tables(PAGE.read_text())}
    assert {"evaluation_sanity_cpu", "models_cpu", "recipe_cpu", "reflow_cpu", "throughput_cuda"} <= names
    for name in names:
        assert f"benchmarks/results/{name}.md" in PAGE.read_text(), name


def test_a_row_or_column_that_is_gone_fails_naming_the_file(tmp_path):
    (tmp_path / "x_cpu.md").write_text("# x\n\n| model | loss | fd |\n| --- | --- | --- |\n| ours | 0.41 +- 0 **FAILS** | 4.2 |\n"
                                       "| seed | 1.0 | 17.7 |\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n")
    assert results_table("x_cpu", rows="ours = our U-Net", columns="model; loss", folder=tmp_path).splitlines() == [
        "| model | loss |", "| --- | --- |", "| our U-Net | **0.41** |"]
    assert results_table("x_cpu", table=2, folder=tmp_path).splitlines()[-1] == "| 1 | 2 |"
    assert results_table("x_cpu", transpose=True, rows="fd", folder=tmp_path).splitlines()[-1] == "| fd | 4.2 | 17.7 |"
    with pytest.raises(ValueError, match=r"x_cpu\.md: no row starts with 'wide'"):
        results_table("x_cpu", rows="ours; wide", folder=tmp_path)
    with pytest.raises(ValueError, match="no column starts with 'ms'"):
        results_table("x_cpu", columns="model; ms", folder=tmp_path)
    with pytest.raises(FileNotFoundError, match="y_cpu.md is missing"):
        results_table("y_cpu", folder=tmp_path)
