"""The batch file of a partner's look-ups (docs/mitra.md, "Batch"): a CSV in, its rows' values
out, or a 422 naming the row and column of what makes it unreadable. Pure functions.

A file's structure is the file's fault (422 for the whole file: an unknown or repeated column,
a row with more or fewer cells than the header, a broken quote, bytes that are not UTF-8); a
row's values are the row's (refused in the answer, the other rows answered). Rows are counted
as they are read, and reading stops at the first row past the limit (413)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from app.core.errors import INVALID, TOO_LARGE, Problem
from app.mitra.rules import FIELDS, PENGENAL

MAX_ROWS = 10_000
# The bytes a file of MAX_ROWS rows may take: a full row (every column at its longest a
# partner would send) is under 300 bytes; the body is read up to this and refused past it.
MAX_BYTES = 4 * 1024 * 1024


def _invalid(baris: int, kolom: int | None, nama: str | None, message: str) -> Problem:
    where = f"baris {baris}" + (f", kolom {kolom}" + (f" ({nama})" if nama else "") if kolom is not None else "")
    text = f"berkas: {where}: {message}"
    return INVALID(text, errors=[{"field": "berkas", "message": text, "type": "csv", "baris": baris, "kolom": kolom}])


@dataclass(frozen=True)
class Berkas:
    columns: tuple[str, ...]
    rows: list[dict[str, str]]
    baris: list[int]  # each row's line in the file (the header is line 1)


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        baris = data.count(b"\n", 0, exc.start) + 1
        raise _invalid(baris, None, None, "bukan teks UTF-8 (simpan berkas sebagai CSV UTF-8)") from None
    return text.removeprefix("\ufeff")


def _delimiter(first_line: str) -> str:
    """Comma (RFC 4180); a semicolon when the header has semicolons and no comma, as a
    spreadsheet in the Indonesian locale saves a CSV."""
    return ";" if ";" in first_line and "," not in first_line else ","


def read(data: bytes) -> Berkas:
    """The file's rows as {column: value}, in order (blank lines skipped). Raises the 422 of an
    unreadable file (naming row and column) or the 413 of one over MAX_ROWS rows."""
    text = _decode(data)
    if "\x00" in text:
        raise _invalid(text.count("\n", 0, text.index("\x00")) + 1, None, None, "memuat karakter NUL")
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    rows: list[dict[str, str]] = []
    baris: list[int] = []
    try:
        header = _header(reader)
        for cells in _rows(reader):
            if len(cells) != len(header):
                raise _invalid(
                    reader.line_num,
                    min(len(cells), len(header)) + 1,
                    header[len(cells)] if len(cells) < len(header) else None,
                    f"{len(cells)} kolom, sedangkan header punya {len(header)} (periksa koma dan tanda kutip)",
                )
            if len(rows) == MAX_ROWS:
                raise TOO_LARGE(f"berkas paling banyak {MAX_ROWS:,} baris data".replace(",", "."))
            rows.append(dict(zip(header, cells, strict=True)))
            baris.append(reader.line_num)
    except csv.Error as exc:
        raise _invalid(reader.line_num, None, None, f"CSV tidak sah ({exc})") from None
    return Berkas(header, rows, baris)


def _header(reader: Iterator[list[str]]) -> tuple[str, ...]:
    try:
        cells = next(reader)
    except StopIteration:
        raise _invalid(1, None, None, "berkas kosong: baris pertama harus header, mis. tujuan,nib") from None
    header = tuple(c.strip().lower() for c in cells)
    seen: set[str] = set()
    for i, name in enumerate(header, start=1):
        if name not in FIELDS:
            # the cell is named back only when it looks like a column name: a file without its
            # header line starts with a question, and a NIK is never sent back
            shown = name if re.fullmatch(r"[a-z_]{1,40}", name) else ("kosong" if not name else "bukan nama kolom")
            raise _invalid(1, i, shown, f"kolom tidak dikenal; yang dikenal: {', '.join(FIELDS)}")
        if name in seen:
            raise _invalid(1, i, name, "kolom muncul dua kali")
        seen.add(name)
    if not seen & set(PENGENAL):
        raise _invalid(1, None, None, f"header tidak memuat kolom pengenal ({', '.join(PENGENAL)})")
    return header


def _rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    for cells in reader:
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line (the last line's newline, an empty line left by a spreadsheet)
        yield cells
