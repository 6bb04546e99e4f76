"""Numbers for reports: exact ratios, Indonesian number format and CSV downloads (the Excel
workbooks are app/core/xlsx.py).

Counts are exact integers and ratios are computed from them as fractions, so a printed
percentage can never disagree with its own numerator and denominator (docs/domain.md).
Shared by the capaian table (app/targets), the ODS aggregates and the dashboard."""
from __future__ import annotations

import csv
import io

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


def csv_response(filename: str, header: list[str], rows: list[list]) -> Response:
    """An RFC 4180 CSV (comma separated, so cells holding a decimal comma are quoted by the
    csv module) served as a download."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(csvcell.row(header))
    w.writerows(csvcell.row(r) for r in rows)
    return csv_download(filename, buf.getvalue())


def csv_download(filename: str, text: str) -> Response:
    """A report CSV as a download, starting with a UTF-8 byte order mark: without it Excel
    reads the file in the computer's legacy code page and garbles every character outside
    ASCII in a name (an apostrophe of a typed sasaran, an en dash, an é). Report CSVs are for
    spreadsheets; the walidata snapshot and `kumkm export` write plain UTF-8 for programs."""
    return Response("\ufeff" + text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def json_response(doc: dict) -> Response:
    """The report as JSON without a second validation pass: the documents are built here from
    typed rows, and re-validating a 514-row table through the response model costs more than
    the query. Dates serialise as ISO 8601, as pydantic would; instants (a target revision's
    dibuat_pada) as the one text of app.core.timefmt."""
    return Response(timefmt.dumps(doc), media_type="application/json")
