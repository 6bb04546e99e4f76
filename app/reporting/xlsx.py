"""Excel workbooks of the report tables (`format=xlsx` on capaian pendataan, keragaan koperasi,
UMKM, agregat and the LKjIP table), written once here so every report looks the same.

- **Numbers are numbers**: counts and rupiah are integer cells, ratios are fractions with a
  percentage format, so a dinas can sum and chart them. The display formats carry the
  Indonesian locale (`[$-421]`): `#,##0` shows 41.675, `0.00%` shows 99,44% in LibreOffice
  whatever its own language, and in Excel with the separators of the computer's regional
  settings (those of an Indonesian installation are these).
- **Exact**: Excel keeps 15 significant digits, so an amount of 10^15 rupiah or more (a national
  sum can be) would be rounded silently; such a cell is written as text in Indonesian format,
  right-aligned, and the sheet says so in a note. Ratios are written from the exact fraction
  to 15 decimal places, so the displayed percentage rounds like the API's `persen`.
- **Never a formula**: a text cell is always a string cell, whatever it starts with (openpyxl
  would make `=...` a formula), and one that a spreadsheet would run if retyped carries the
  quote prefix, Excel's own mark for "typed with a leading apostrophe" (as app/core/csvcell.py
  does for CSV). Characters XML cannot carry are replaced, so a hostile name cannot fail the
  download either.
- **Bounded**: openpyxl's write-only mode streams rows to a temporary file instead of keeping
  a cell object per value; one workbook is built at a time in a process, a few requests wait
  for their turn and more get 429 with Retry-After; the build runs in a worker thread so the
  event loop keeps serving. A workbook of the largest table (10,000 agregat groups, 23
  columns) is 2.3 MB and takes a few seconds (bench/xlsx.py); capaian of 514 rows ~0.2 s.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import time
from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from app.core import csvcell
from app.core.errors import TOO_MANY
from app.reporting.reports import angka_id

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The 200 answer of every report endpoint besides its JSON: the same table as CSV or workbook.
DOWNLOADS = {
    "content": {"text/csv": {"schema": {"type": "string"}}, MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    "description": "with format=csv, csv-data or xlsx: the same table as a download. csv is for "
    "people (Indonesian headers and numbers, 12.500), csv-data for programs (the "
    "same columns, numbers as the JSON has them, 12500), xlsx a workbook "
    "(docs/capaian.md)",
}

# Indonesian locale on every number format: LibreOffice then shows `.` for thousands and `,`
# for decimals; Excel uses the regional settings of the computer.
FORMAT_ANGKA = "[$-421]#,##0"
FORMAT_PERSEN = "[$-421]0.00%"
_FORMAT_DESIMAL = {1: "[$-421]#,##0.0", 2: "[$-421]#,##0.00", 3: "[$-421]#,##0.000", 4: "[$-421]#,##0.0000"}

# Above this an amount is not kept exactly by a spreadsheet (15 significant digits).
EXACT_LIMIT = 10**15
RATIO_PLACES = 15
MAX_TEXT = 32_767  # the most characters an Excel cell holds
# Workbooks built at once per process. A build is pure Python holding the GIL (up to ~6 s for
# the 10,000-group agregat, bench/xlsx.py): one at a time leaves the event loop its share.
MAX_BUILDS = 1

Kind = Literal["text", "angka", "rupiah", "rasio", "desimal"]


@dataclass(frozen=True)
class Column:
    """One column. `kind`: text; angka (a count); rupiah (an amount, exact); rasio (a fraction,
    shown as a percentage); desimal (a Decimal shown with its own decimals, up to 4).
    Consecutive columns with the same `group` get one header above them (Anggota: Jumlah, L, P)."""

    header: str
    kind: Kind = "angka"
    group: str | None = None
    width: float | None = None


@dataclass
class Table:
    """A report as one sheet: a title, lines under it (wilayah, periode, as-of date), the
    grouped header, the rows, then the total rows (bold) and notes."""

    title: str
    lines: Sequence[str]
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    totals: Sequence[Sequence[Any]] = ()
    notes: Sequence[str] = ()
    sheet: str = "Tabel"
    bold_rows: set[int] = field(default_factory=set)  # indexes into rows shown bold (e.g. sasaran rows)


def fraction(num: int | None, den: int | None) -> Fraction | None:
    """num/den for a `rasio` cell; None (an empty cell) where the divisor is 0 or missing."""
    if num is None or not den:
        return None
    return Fraction(num, den)


def tanggal(d: dt.date) -> str:
    """31/12/2022: the date as Indonesian readers write it."""
    return d.strftime("%d/%m/%Y")


def waktu(t: dt.datetime) -> str:
    """31/12/2022 14:05 WIB (the time given in WIB, UTC+7)."""
    return t.strftime("%d/%m/%Y %H:%M") + " WIB"


# ------------------------------------------------------------------ cells

# characters an XML document cannot hold (control characters, lone surrogates, U+FFFE/U+FFFF)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_THIN = Side(style="thin", color="A6A6A6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_BOLD = Font(name="Calibri", size=11, bold=True)  # the workbook's default face, only bold
_TITLE = Font(name="Calibri", size=13, bold=True)
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
_RIGHT = Alignment(horizontal="right")


def _decimal_places(d: Decimal) -> int:
    """The value's own decimals, up to 4: an entered "5.40" shows 5,40, as the API keeps it."""
    exponent = d.as_tuple().exponent
    return min(max(-exponent, 0), 4) if isinstance(exponent, int) else 0


def _rasio(v: Fraction | Decimal | str) -> Decimal:
    """The fraction rounded half-up to 15 places, in integers (no binary float on the way)."""
    f = Fraction(Decimal(v)) if isinstance(v, str) else Fraction(v)
    scale = 10**RATIO_PLACES
    n = abs(f.numerator) * scale * 2 + f.denominator
    scaled = n // (2 * f.denominator)
    return Decimal(-scaled if f < 0 else scaled).scaleb(-RATIO_PLACES)


class _Cells:
    """Makes the cells of one sheet and remembers whether an amount had to become text.

    Styles are cached: setting a border or font on an openpyxl cell hashes the style object to
    find it in the workbook's list, which cost more than the rest of the build. A cell's style is
    a small array of indexes (`_style`), so the array of each combination is made once and copied
    to the next cell with it."""

    def __init__(self, ws: WriteOnlyWorksheet):
        self.ws = ws
        self.amount_as_text = False
        self._styles: dict[tuple[Any, ...], Any] = {}

    def styled(
        self,
        value: Any,
        *,
        number_format: str | None = None,
        bold: bool = False,
        border: bool = True,
        right: bool = False,
        header: bool = False,
        title: bool = False,
        quote: bool = False,
        text: bool = False,
    ) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=value)
        if text:
            cell.data_type = "s"  # never a formula, whatever the text starts with
        key = (number_format, bold, border, right, header, title, quote)
        style = self._styles.get(key)
        if style is not None:
            cell._style = copy(style)
            return cell
        if number_format:
            cell.number_format = number_format
        if bold or header:
            cell.font = _BOLD
        if title:
            cell.font = _TITLE
        if border:
            cell.border = _BORDER
        if right:
            cell.alignment = _RIGHT
        if header:
            cell.alignment = _CENTRE
            cell.fill = _HEADER_FILL
        if quote:
            cell.quotePrefix = True
        self._styles[key] = copy(cell._style)
        return cell

    def text(
        self, value: str, *, bold: bool = False, border: bool = True, right: bool = False, header: bool = False, title: bool = False
    ) -> WriteOnlyCell:
        value = _ILLEGAL.sub("\ufffd", value)[:MAX_TEXT]
        # one a spreadsheet would run if retyped carries Excel's "typed with an apostrophe" mark
        quote = value != csvcell.text_cell(value)
        return self.styled(value, text=True, bold=bold, border=border, right=right, header=header, title=title, quote=quote)

    def cell(self, col: Column, value: Any, bold: bool) -> WriteOnlyCell:
        if value is None or value == "":
            return self.styled(None, bold=bold)
        if col.kind == "text":
            return self.text(str(value), bold=bold)
        if col.kind in ("angka", "rupiah"):
            n = int(value)
            if abs(n) >= EXACT_LIMIT:
                self.amount_as_text = True
                return self.text(angka_id(n), bold=bold, right=True)
            return self.styled(n, number_format=FORMAT_ANGKA, bold=bold)
        if col.kind == "rasio":
            return self.styled(_rasio(value), number_format=FORMAT_PERSEN, bold=bold)
        d = Decimal(value)  # desimal
        return self.styled(d, number_format=_FORMAT_DESIMAL.get(_decimal_places(d), FORMAT_ANGKA), bold=bold)

    def row(self, columns: Sequence[Column], values: Sequence[Any], bold: bool) -> list[WriteOnlyCell]:
        return [self.cell(c, v, bold) for c, v in zip(columns, values, strict=True)]


# ------------------------------------------------------------------ the sheet


def _header_rows(cells: _Cells, columns: Sequence[Column], first_row: int) -> list[list[WriteOnlyCell]]:
    """Two header rows when any column has a group (the group over its columns, merged; an
    ungrouped column merged down both rows), else one."""
    ws = cells.ws
    if not any(c.group for c in columns):
        return [[cells.text(c.header, header=True) for c in columns]]
    top: list[WriteOnlyCell] = []
    bottom: list[WriteOnlyCell] = []
    i = 0
    while i < len(columns):
        c = columns[i]
        col = i + 1
        if c.group is None:
            top.append(cells.text(c.header, header=True))
            bottom.append(cells.text("", header=True))
            # merged cells are written at the end of the sheet, so write-only mode keeps them
            ws.merged_cells.add(f"{get_column_letter(col)}{first_row}:{get_column_letter(col)}{first_row + 1}")
            i += 1
            continue
        j = i
        while j < len(columns) and columns[j].group == c.group:
            top.append(cells.text(c.group if j == i else "", header=True))
            bottom.append(cells.text(columns[j].header, header=True))
            j += 1
        if j - i > 1:
            ws.merged_cells.add(f"{get_column_letter(col)}{first_row}:{get_column_letter(j)}{first_row}")
        i = j
    return [top, bottom]


def _width(col: Column) -> float:
    if col.width:
        return col.width
    if col.kind == "text":
        return max(12.0, min(40.0, len(col.header) + 4.0))
    return max(10.0, min(22.0, len(col.header) + 2.0))


def build(table: Table) -> bytes:
    """The workbook as bytes (synchronous, CPU-bound: call through `response`)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=table.sheet[:31])
    for i, col in enumerate(table.columns, 1):
        ws.column_dimensions[get_column_letter(i)].width = _width(col)
    cells = _Cells(ws)
    header_row = 1 + 1 + len(table.lines) + 1  # title, lines, a blank row
    headers = _header_rows(cells, table.columns, header_row)
    # keep the title, the header and the wilayah names in view while scrolling
    name_col = next((i for i, c in enumerate(table.columns) if c.kind == "text"), 0)
    ws.freeze_panes = f"{get_column_letter(name_col + 2)}{header_row + len(headers)}"
    # printed as the dinas print them: landscape, every column on the page width
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = f"{header_row}:{header_row + len(headers) - 1}"
    for r in range(header_row, header_row + len(headers)):
        ws.row_dimensions[r].height = 30  # two lines of a wrapped header ("Total Terverifikasi")

    ws.append([cells.text(table.title, border=False, title=True)])
    for line in table.lines:
        ws.append([cells.text(line, border=False)])
    ws.append([])
    for h in headers:
        ws.append(h)
    for n, row in enumerate(table.rows):
        ws.append(cells.row(table.columns, row, n in table.bold_rows))
    for row in table.totals:
        ws.append(cells.row(table.columns, row, True))
    notes = list(table.notes)
    if cells.amount_as_text:
        notes.append(
            "Jumlah rupiah 1.000.000.000.000.000 ke atas ditulis sebagai teks agar tetap tepat "
            "(spreadsheet hanya menyimpan 15 digit angka)."
        )
    if notes:
        ws.append([])
        for note in notes:
            ws.append([cells.text(note, border=False)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ------------------------------------------------------------------ the response

_building = 0
_waiting = 0
# Requests that may wait for the build slot, and for how long, before being asked to come back.
MAX_WAITING = 8
WAIT_SECONDS = 10.0


async def response(filename: str, table: Table) -> Response:
    """The workbook as a download, built in a worker thread. One build at a time per process;
    a few requests wait for their turn (a dinas clicking "Unduh Excel" while another does),
    and beyond MAX_WAITING, or after WAIT_SECONDS, the answer is 429 with Retry-After instead
    of a queue without a bound."""
    global _building, _waiting
    if _building >= MAX_BUILDS:
        if _waiting >= MAX_WAITING:
            raise _busy()
        _waiting += 1
        try:
            # polling rather than an asyncio primitive: nothing here is tied to one event loop
            deadline = time.monotonic() + WAIT_SECONDS
            while _building >= MAX_BUILDS:
                if time.monotonic() > deadline:
                    raise _busy()
                await asyncio.sleep(0.05)
        finally:
            _waiting -= 1
    _building += 1
    try:
        data = await asyncio.to_thread(build, table)
    finally:
        _building -= 1
    return Response(data, media_type=MEDIA_TYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _busy() -> Exception:
    return TOO_MANY("berkas Excel lain sedang dibuat; coba lagi dalam beberapa detik", headers={"Retry-After": "5"})
