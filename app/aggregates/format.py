"""Numbers for reports: exact ratios, Indonesian number format and CSV downloads.

Counts are exact integers and ratios are computed from them as fractions, so a printed
percentage can never disagree with its own numerator and denominator (DESIGN section 1).
Shared by the capaian table (app/targets) and the ODS aggregates."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal, localcontext

import orjson
from fastapi.responses import Response

# Ratios in JSON: the fraction rounded half-up to this many decimal places. Eight places keep
# six decimals of a percentage, more than any report prints.
RATIO_PLACES = 8
_RATIO_Q = Decimal(1).scaleb(-RATIO_PLACES)
_PERSEN_Q = Decimal("0.01")

# Reports are dated in Western Indonesia Time, where the ministry and most dinas work.
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")


def today_wib() -> dt.date:
    return dt.datetime.now(WIB).date()


def _divide(num: int, den: int, quantum: Decimal, scale: int = 0) -> Decimal:
    # 60 significant digits: far beyond any count or rupiah sum, so quantizing the quotient
    # rounds the exact fraction, never an already rounded value.
    with localcontext() as ctx:
        ctx.prec = 60
        q = Decimal(num).scaleb(scale) / Decimal(den)
        return q.quantize(quantum, rounding=ROUND_HALF_UP)


def rasio(num: int | None, den: int | None) -> str | None:
    """num/den as a decimal string ("0.99439275"); None where the divisor is 0 or missing.
    Never capped: 62137/60300 is "1.03046434"."""
    if num is None or not den:
        return None
    return f"{_divide(num, den, _RATIO_Q):f}"


def persen(num: int | None, den: int | None) -> str | None:
    """num/den as an Indonesian percentage with 2 decimals ("99,44%"); None where den is 0."""
    if num is None or not den:
        return None
    return desimal_id(_divide(num, den, _PERSEN_Q, scale=2)) + "%"


def angka_id(n: int | None) -> str:
    """41675 -> "41.675"; None -> "-"."""
    if n is None:
        return "-"
    s = f"{abs(int(n)):,}".replace(",", ".")
    return "-" + s if n < 0 else s


def desimal_id(d: Decimal) -> str:
    """Decimal("1234.5") -> "1.234,5": `.` groups thousands, `,` separates decimals."""
    sign, digits = ("-", -d) if d < 0 else ("", d)
    whole, _, frac = f"{digits:f}".partition(".")
    return sign + angka_id(int(whole)) + ("," + frac if frac else "")


def csv_response(filename: str, header: list[str], rows: list[list]) -> Response:
    """An RFC 4180 CSV (comma separated, so cells holding a decimal comma are quoted by the
    csv module) served as a download."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def json_response(doc: dict) -> Response:
    """The report as JSON without a second validation pass: the documents are built here from
    typed rows, and re-validating a 514-row table through the response model costs more than
    the query. Dates serialise as ISO 8601, as pydantic would."""
    return Response(orjson.dumps(doc), media_type="application/json")
