"""Tables for notebooks: a pipe table that Markdown renderers (Jupyter, the book's MyST) turn into a table."""

from tutorial_lib.display import markdown_table


def test_markdown_table_aligns_numbers_and_escapes_pipes():
    text = markdown_table(["layer", "parameters"], [("`downs.0`", 32896), ("a|b", 5)])
    assert text.splitlines() == ["| layer | parameters |", "| --- | ---: |",
                                 "| `downs.0` | 32,896 |", "| a\\|b | 5 |"]


def test_an_empty_table_has_its_header():
    assert markdown_table(["a", "b"], []).splitlines() == ["| a | b |", "| --- | --- |"]
