"""Cells of every CSV this service writes (report downloads, the walidata snapshot, `kumkm
export`). A spreadsheet program runs a cell that starts with `=`, `+`, `-` or `@` (and, in some,
a tab or carriage return) as a formula: a record named `=HYPERLINK("http://evil","x")` would
become a live link, or worse, on a dinas computer. Such text cells are written with a leading
apostrophe, which spreadsheets show as plain text and `kumkm import` takes off again. Numbers
stay numbers: a negative amount in Indonesian format (`-1.234.567`, `-12,5%`) is left as it is,
and typed numbers never pass through here."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Negative numbers as this service formats them: Indonesian (-1.234.567, -12,50%) or plain (-0.25).
_NEGATIVE_NUMBER = re.compile(r"-(?:\d{1,3}(?:\.\d{3})*(?:,\d+)?%?|\d+(?:\.\d+)?)")


def text_cell(value: str) -> str:
    """A text cell as written to CSV: neutralised when a spreadsheet would run it."""
    if value and value[0] in FORMULA_START and value != "-" and not _NEGATIVE_NUMBER.fullmatch(value):
        return "'" + value
    return value


def read_cell(value: str) -> str:
    """A cell as read back from a CSV this service wrote: the neutralising apostrophe removed."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value


def row(cells: Iterable[Any]) -> list[Any]:
    """A row of cells with every text cell neutralised (other values as they are)."""
    return [text_cell(c) if isinstance(c, str) else c for c in cells]
