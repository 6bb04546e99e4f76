"""Wilayah lookups. The reference table is small (about 92,000 rows) and changes only with a
new Kemendagri decree, so validation reads it from memory instead of asking the database for
every record."""
from __future__ import annotations

import asyncio
import re

from app import db
from app.wilayah import queries

LEVEL_PROVINSI, LEVEL_KABKOTA, LEVEL_KECAMATAN, LEVEL_DESA = 1, 2, 3, 4
KODE_PATTERN = re.compile(r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$")


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
                    rows = (await conn.execute(queries.ALL_FOR_INDEX)).all()
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


async def children(parent: str | None) -> list[dict]:
    async with db.connect() as conn:
        rows = (await conn.execute(queries.CHILDREN, {"parent": parent})).mappings().all()
    return [dict(r) for r in rows]


async def get(kode: str) -> dict | None:
    async with db.connect() as conn:
        row = (await conn.execute(queries.ONE, {"kode": kode})).mappings().first()
    return dict(row) if row else None
