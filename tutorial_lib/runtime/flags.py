"""Errors in the library's words, said in a command line's (``python -m tutorial_lib``, the book build).

A library message names what its caller can change as Python writes it, between backticks: `out`,
`restart=True`, `precision="fp32"`. A notebook reader never typed a flag, so the library never names one.
A command line that catches the message says the same arguments as the options it has (:func:`as_flags`):
``--out``, ``--restart``, ``--precision fp32``. tests/test_flags.py keeps flags out of the library's errors.
"""

from __future__ import annotations

import argparse
import re

#: An argument between backticks: `name` or `name=value`.
ARGUMENT = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)(?:=([^`]*))?`")


def as_flags(message: str, parser: argparse.ArgumentParser, aliases: dict[str, str] | None = None) -> str:
    """``message`` with each argument between backticks that ``parser`` has as an option said as that option
    (`restart=True` -> ``--restart``, `data="x"` -> ``--data x``); other text between backticks is kept.

    ``aliases`` maps a library argument to the option's ``dest`` where the command line names it otherwise
    (``{"checkpoint_path": "out"}``: a command's checkpoint is ``OUT/checkpoint.pt``).
    """
    options = {action.dest: action for action in parser._actions if action.option_strings}

    def said(match: re.Match) -> str:
        name, value = match.group(1), match.group(2)
        action = options.get((aliases or {}).get(name, name))
        if action is None:
            return match.group(0)
        flag = action.option_strings[0]
        if value is None or (action.nargs == 0 and value == "True"):  # a switch such as --restart
            return flag
        return f"{flag} {value.strip(chr(34) + chr(39))}"

    return ARGUMENT.sub(said, message)
