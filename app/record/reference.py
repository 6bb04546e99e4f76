"""The reference every domain checks against: wilayah (Kemendagri codes), PL-KUMKM periode,
and the registry's clock.

The wilayah table is small (about 92,000 rows) and changes only with a new Kemendagri decree,
so validation reads it from memory instead of asking the database for every record. The
periode list changes once a year: a 30-second cache is enough. Reports are dated in Western
Indonesia Time, where the ministry and most dinas work."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time

from sqlalchemy import text

from app.core.errors import Problem, invalid_field
from app.infra import db

LEVEL_PROVINSI, LEVEL_KABKOTA, LEVEL_KECAMATAN, LEVEL_DESA = 1, 2, 3, 4
KODE_PATTERN = re.compile(r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$")
PERIODE_PATTERN = re.compile(r"^[0-9]{4}$")

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")

_ALL_WILAYAH = text("SELECT kode, nama, level FROM wilayah")
_KNOWN_PERIODE = text("SELECT kode FROM periode")


def today_wib() -> dt.date:
    return dt.datetime.now(WIB).date()


class WilayahIndex:
    def __init__(self, rows: list[tuple[str, str, int]]):
        self.nama: dict[str, str] = {}
        self.level: dict[str, int] = {}
        for kode, nama, level in rows:
            self.nama[kode] = nama
            self.level[kode] = level

    def exists(self, kode: str, *levels: int) -> bool:
        level = self.level.get(kode)
        return level is not None and (not levels or level in levels)


_index: WilayahIndex | None = None
_lock = asyncio.Lock()


async def get_index() -> WilayahIndex:
    global _index
    if _index is None:
        async with _lock:
            if _index is None:
                async with db.connect() as conn:
                    rows = (await conn.execute(_ALL_WILAYAH)).all()
                _index = WilayahIndex([tuple(r) for r in rows])
    return _index


def reset_index() -> None:
    global _index
    _index = None


def split_kode(kode: str) -> dict[str, str | None]:
    """The provinsi, kabkota and kecamatan a code belongs to (None above its own level)."""
    parts = kode.split(".")
    return {
        "kode_provinsi": parts[0],
        "kode_kabkota": ".".join(parts[:2]) if len(parts) >= 2 else None,
        "kode_kecamatan": ".".join(parts[:3]) if len(parts) >= 3 else None,
    }


def within(kode: str, scope: str | None) -> bool:
    """True when `kode` is `scope` or lies inside it. No scope means national."""
    return scope is None or kode == scope or kode.startswith(scope + ".")


_periode_cache: tuple[float, frozenset[str]] = (0.0, frozenset())


async def known_periode() -> frozenset[str]:
    global _periode_cache
    now = time.monotonic()
    if now - _periode_cache[0] > 30:
        async with db.connect() as conn:
            kodes = frozenset(r[0] for r in (await conn.execute(_KNOWN_PERIODE)).all())
        _periode_cache = (now, kodes)
    return _periode_cache[1]


def invalid(field: str, message: str) -> Problem:
    return invalid_field(field, message)


async def check_periode(periode: str, field: str = "periode") -> None:
    if not PERIODE_PATTERN.match(periode):
        raise invalid(field, "harus tahun 4 angka, mis. 2022")
    if periode not in await known_periode():
        raise invalid(field, f"{periode} tidak dikenal; yang dikenal: {', '.join(sorted(await known_periode()))}")


async def check_wilayah(kode: str, field: str) -> int:
    """The level of an existing wilayah code, else a 422 naming the field."""
    if not KODE_PATTERN.match(kode) or not (index := await get_index()).exists(kode):
        raise invalid(field, f"{kode} bukan kode wilayah yang ada")
    return index.level[kode]
