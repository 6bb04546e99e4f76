"""Exact arithmetic for capaian and predikat, and the Indonesian number format of reports.

Values are `Decimal` from the request to the database (numeric) and back: a float would turn
0,03 into 0.0299999... and LKjIP tables already suffer from wrong arithmetic. Divisions run in
a context of 40 significant digits, far beyond anything printed; rounding happens only when a
number is shown (half-up, i.e. half away from zero, to 2 decimals)."""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_UP, Decimal

CONTEXT = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])
SERATUS = Decimal(100)
DUA_DESIMAL = Decimal("0.01")


def bagi(a: Decimal | int | None, b: Decimal | int | None) -> Decimal | None:
    """a / b; None when either is missing or b is 0 (a ratio to nothing is not 0 or infinity)."""
    if a is None or b is None or b == 0:
        return None
    return CONTEXT.divide(Decimal(a), Decimal(b))


def capaian(polaritas: str, target: Decimal | None, realisasi: Decimal | None) -> Decimal | None:
    """Capaian in percent. `naik`: realisasi / target; `turun`: (2 x target - realisasi) / target.
    Negative values and values above 100 are kept: they are what happened."""
    if target is None or realisasi is None or target == 0:
        return None
    if polaritas == "naik":
        r = bagi(realisasi, target)
    else:
        r = bagi(CONTEXT.subtract(CONTEXT.multiply(2, target), realisasi), target)
    return CONTEXT.multiply(r, SERATUS)


def rata_rata(values: list[Decimal | None]) -> Decimal | None:
    """The mean of the values that exist; None when none does."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    total = Decimal(0)
    for v in present:
        total = CONTEXT.add(total, v)
    return CONTEXT.divide(total, len(present))


def bulat(d: Decimal | None, places: Decimal = DUA_DESIMAL) -> Decimal | None:
    return None if d is None else d.quantize(places, rounding=ROUND_HALF_UP, context=CONTEXT)


def teks(d: Decimal | None, *, hasil: bool = False) -> str | None:
    """A Decimal as a plain decimal string for JSON, never in exponent form; the exactness of
    the value is kept (strings, not JSON numbers, so no client parses it into a float).
    Entered values keep their own scale ("5.40" stays "5.40"); computed ones (`hasil`) lose
    the trailing zeros that division leaves (150.0 -> "150")."""
    if d is None:
        return None
    s = format(d, "f")
    if hasil and "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def predikat(capaian_persen: Decimal | None, bands: list[tuple[Decimal | None, str]]) -> str | None:
    """The band of a capaian. Decided on the capaian rounded to 2 decimals, the number the
    table prints, so a reader can check every predikat against the printed capaian (90,996%
    prints as 91,00% and is `sangat tinggi` on the default scale)."""
    if capaian_persen is None:
        return None
    shown = bulat(capaian_persen)
    for batas, nama in bands:
        if batas is None or shown >= batas:
            return nama
    return None


def format_id(d: Decimal | int | None, places: int | None = None, *, persen: bool = False) -> str:
    """Indonesian number format: 2710.3550 -> "2.710,36" (places=2); "-" for a missing value.
    Without `places` a value keeps its own decimals up to 2 (more are rounded half-up)."""
    if d is None:
        return "-"
    d = Decimal(d)
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=CONTEXT)
    elif d.as_tuple().exponent < -2:
        d = d.quantize(DUA_DESIMAL, rounding=ROUND_HALF_UP, context=CONTEXT)
        # 12.50000 computed -> "12,5"; keep the digits that carry information
        d = d.normalize(CONTEXT) if d != d.to_integral_value() else d.quantize(Decimal(1))
    sign = "-" if d < 0 else ""
    s = format(abs(d), "f")
    whole, _, frac = s.partition(".")
    whole = f"{int(whole):,}".replace(",", ".")
    out = sign + whole + ("," + frac if frac else "")
    return out + "%" if persen else out
