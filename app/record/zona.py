"""A record's day: the local date in its provinsi's time zone (issue 31, docs/kampanye.md).

Indonesia has three zones and no daylight saving, so each is a fixed offset from UTC: WIB
(UTC+7), WITA (UTC+8), WIT (UTC+9). A day counted in Makassar is Makassar's day, not
Jakarta's, and a national day is the sum of the provinsi's own days. The zone of a provinsi
follows Undang-Undang (Keppres 41/1987): WITA for Bali, Nusa Tenggara, South, East and North
Kalimantan and every Sulawesi; WIT for Maluku, Maluku Utara and every Papua; WIB elsewhere.

The same mapping exists once in SQL, `kumkm_zona_jam(kode_provinsi)` (migration
0016_kampanye), for the per-day counters the rekap triggers keep; tests/unit/test_zona.py
and tests/api compare the two."""

from __future__ import annotations

import datetime as dt
from typing import Literal

Zona = Literal["WIB", "WITA", "WIT"]

WITA_PROVINSI = frozenset({"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"})
WIT_PROVINSI = frozenset({"81", "82", "91", "92", "93", "94", "95", "96", "97"})

OFFSET_JAM: dict[str, int] = {"WIB": 7, "WITA": 8, "WIT": 9}
TZ: dict[str, dt.timezone] = {name: dt.timezone(dt.timedelta(hours=h), name) for name, h in OFFSET_JAM.items()}


def zona(kode_provinsi: str) -> Zona:
    """The time zone of a provinsi (its two-digit Kemendagri code, or any code under it)."""
    prov = kode_provinsi[:2]
    if prov in WITA_PROVINSI:
        return "WITA"
    if prov in WIT_PROVINSI:
        return "WIT"
    return "WIB"


def tz(kode_provinsi: str) -> dt.timezone:
    """The fixed-offset tzinfo of a provinsi's zone."""
    return TZ[zona(kode_provinsi)]


def hari_lokal(instant: dt.datetime, kode_provinsi: str) -> dt.date:
    """The local date of an aware instant in the provinsi's zone: the record's day."""
    return instant.astimezone(tz(kode_provinsi)).date()


def hari_ini(kode_provinsi: str, now: dt.datetime | None = None) -> dt.date:
    """Today in the provinsi's zone."""
    return hari_lokal(now or dt.datetime.now(dt.UTC), kode_provinsi)


def sql_hari_lokal(ts: str, kode_provinsi: str) -> str:
    """SQL for the local date of the timestamptz expression `ts` in the zone of the provinsi
    expression `kode_provinsi`, whatever the session's TimeZone; the same as hari_lokal and
    as the function the migration defines."""
    return f"(({ts} AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam({kode_provinsi})))::date"
