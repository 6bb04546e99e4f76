"""Numbers for reports: exact ratios, Indonesian number format and CSV downloads (the Excel
workbooks are app/reporting/xlsx.py).

Counts are exact integers and ratios are computed from them as fractions, so a printed
percentage can never disagree with its own numerator and denominator (docs/domain.md).
Shared by the capaian table (app/targets), the ODS aggregates and the dashboard."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Literal

from fastapi.responses import Response

from app.core import csvcell, timefmt

# Ratios in JSON: the fraction rounded half-up to this many decimal places. Eight places keep
# six decimals of a percentage, more than any report prints.
RATIO_PLACES = 8


def _round_half_up(num: int, den: int, places: int) -> tuple[str, int, int]:
    """num/den scaled by 10^places and rounded half-up, in integers only (exact, and much
    cheaper than decimal contexts on a 514-row table): (sign, whole part, fraction digits)."""
    sign = "-" if (num < 0) != (den < 0) and num != 0 else ""
    num, den = abs(num), abs(den)
    scaled = (2 * num * 10**places + den) // (2 * den)
    whole, frac = divmod(scaled, 10**places)
    return sign, whole, frac


def rasio(num: int | None, den: int | None) -> str | None:
    """num/den as a decimal string ("0.99439275"); None where the divisor is 0 or missing.
    Never capped: 62137/60300 is "1.03046434"."""
    if num is None or not den:
        return None
    sign, whole, frac = _round_half_up(num, den, RATIO_PLACES)
    return f"{sign}{whole}.{frac:0{RATIO_PLACES}d}"


def persen(num: int | None, den: int | None) -> str | None:
    """num/den as an Indonesian percentage with 2 decimals ("99,44%"); None where den is 0."""
    if num is None or not den:
        return None
    sign, whole, frac = _round_half_up(num * 100, den, 2)
    return f"{sign}{angka_id(whole)},{frac:02d}%"


def angka_id(n: int | None) -> str:
    """41675 -> "41.675"; None -> "-"."""
    if n is None:
        return "-"
    s = f"{abs(int(n)):,}".replace(",", ".")
    return "-" + s if n < 0 else s


# ---------------------------------------------------------------- the two report CSVs

# `format` of every report: the JSON document, two CSVs of the same table, or a workbook. A
# display CSV with `12.500` reads as 12.5 in any program, so programs get their own:
# `csv` stays what people (and the dashboard's download) always got, `csv-data` is new.
ReportFormat = Literal["json", "csv", "csv-data", "xlsx"]
CSV_FORMATS = ("csv", "csv-data")
FORMAT_DESCRIPTION = (
    "`json` (default): the document. `csv`: the table for people, as the printed tables write it: "
    "Indonesian headers and numbers (`12.500`, `99,44%`; `-` for none), UTF-8 with a byte order "
    "mark for spreadsheets. `csv-data`: the same table, same columns, for programs: every number "
    "as the JSON has it (`12500`; ratios as the JSON's fractions, `0.99439275`; decimal strings "
    "with a `.`), empty for none, `true`/`false`, plain UTF-8. `xlsx`: an Excel workbook. "
    "See docs/capaian.md, CSV."
)


@dataclass(frozen=True)
class CsvCells:
    """How one of the two report CSVs writes a table's values: `data` False for the display
    CSV (`format=csv`), True for the one for programs (`format=csv-data`). A report's CSV
    builder gives every value twice, as the JSON has it and as a reader writes it, and this
    picks one, so the two CSVs cannot differ in anything but the writing of their values."""

    data: bool

    def nilai(self, value: Any, shown: str) -> Any:
        """A value: as the JSON has it (None an empty cell), or as shown to a reader."""
        if self.data:
            return "" if value is None else value
        return shown

    def angka(self, n: int | None) -> Any:
        """A count or an amount: 12500, or "12.500" ("-" for none)."""
        return self.nilai(None if n is None else int(n), angka_id(n))

    def rasio(self, fraction: str | None, shown: str | None) -> str:
        """A ratio: the JSON's fraction ("0.99439275"), or its percentage ("99,44%"; "-")."""
        return str(self.nilai(fraction, shown or "-"))

    def ya_tidak(self, v: bool) -> str:
        return ("true" if v else "false") if self.data else ("ya" if v else "tidak")

    @property
    def suffix(self) -> str:
        """What the file name says: `capaian-pendataan-2022-16-data.csv` is the one for programs."""
        return "-data" if self.data else ""


DISPLAY = CsvCells(data=False)
DATA = CsvCells(data=True)


def csv_cells(fmt: str) -> CsvCells:
    """The cells of `format=csv` or `format=csv-data`."""
    return DATA if fmt == "csv-data" else DISPLAY


def csv_response(name: str, header: list[str], rows: list[list[Any]], cells: CsvCells = DISPLAY) -> Response:
    """An RFC 4180 CSV (comma separated, so cells holding a decimal comma are quoted by the
    csv module) served as a download named `<name>.csv` (`<name>-data.csv` for programs)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(csvcell.row(header))
    w.writerows(csvcell.row(r) for r in rows)
    return csv_download(f"{name}{cells.suffix}.csv", buf.getvalue(), cells)


def csv_download(filename: str, text: str, cells: CsvCells = DISPLAY) -> Response:
    """A report CSV as a download. The display CSV starts with a UTF-8 byte order mark:
    without it Excel reads the file in the computer's legacy code page and garbles every
    character outside ASCII in a name (an apostrophe of a typed sasaran, an en dash, an é).
    The one for programs is plain UTF-8, like the walidata snapshot and `kumkm export` (a BOM
    would end up in the first column's name)."""
    return Response(
        text if cells.data else "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def json_response(doc: dict[str, Any]) -> Response:
    """The report as JSON without a second validation pass: the documents are built here from
    typed rows, and re-validating a 514-row table through the response model costs more than
    the query. Dates serialise as ISO 8601, as pydantic would; instants (a target revision's
    dibuat_pada) as the one text of app.core.timefmt."""
    return Response(timefmt.dumps(doc), media_type="application/json")
