"""The entity list of follow-up visits (docs/pemutakhiran.md): the live entities of a wilayah,
one row each, with what an enumerator needs to recognise the usaha and nothing personal.

Two readers: the OpenRosa form `pemutakhiran_kumkm`, whose media file `usaha.csv` is the list of
the key's wilayah (ODK XForms Entities: `name` = id_kumkm, `label`, `__version` = the entity's
`versi`), and CAPI apps, which page the list of a desa or kabupaten/kota as JSON
(GET /api/v1/kumkm/daftar, with an ETag per page).

The row of an entity is its latest linked record (latest periode, then the latest decided, as
the linker files an entity's wilayah), kept in `kumkm_daftar` (migration 0014) by a trigger on
every change of the entity: a list is one index range of that table. Personal data (NIK, nama pemilik, alamat, telepon, the exact lokasi)
is never in it: an enumerator sees those only on records it made itself (app.security.personal),
and a list shared by every enumerator of a wilayah is nobody's own record.

The CSV is made by PostgreSQL itself (COPY ... TO STDOUT, CSV): no Python work per row, so a
kabupaten/kota of 100,000 entities is one index range read of a fraction of a second. It is cached per
wilayah under the scope's change key (how many entities the scope's kabupaten/kota hold and
their latest change: every link, release, merge or split moves kumkm.diperbarui_pada), so the
manifest's md5 costs one index-only read while nothing changed, and the download is the cached
bytes."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from app.core.errors import RETRY_AFTER_SECONDS, SERVER_BUSY
from app.infra import db

# The columns of a row, in the CSV's order. name, label and __version are the spec's; the
# rest are the entity's properties the form reads (its choice filter on `desa`, the defaults
# of nama usaha and kbli, `jenis` for the sections).
KOLOM = (
    "name",
    "label",
    "__version",
    "jenis",
    "desa",
    "kecamatan",
    "nama_usaha",
    "nama_koperasi",
    "nomor_badan_hukum",
    "kbli",
    "skala_usaha",
    "sektor",
    "periode_terakhir",
    "keadaan_terakhir",
)

_CODE = re.compile(r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$")

# The entities of a scope, from the list table (migration 0014: one row per live entity,
# refreshed with every change of the entity). {where} filters by kabupaten/kota (the index)
# and the desa; :after and :limit page the JSON list (the CSV takes every row).
_ROWS = """
    SELECT d.id_kumkm AS name,
           concat(COALESCE(d.nama_usaha, d.nama_koperasi),
                  CASE WHEN d.keadaan_terakhir IN ('tutup', 'pindah') THEN ' [' || d.keadaan_terakhir || ']' ELSE '' END,
                  ' (', d.id_kumkm, ')') AS label,
           d.versi AS __version, d.jenis, d.desa, d.kecamatan, d.nama_usaha, d.nama_koperasi, d.nomor_badan_hukum,
           d.kbli, d.skala_usaha, d.sektor, d.periode_terakhir, d.keadaan_terakhir
    FROM kumkm_daftar d
    WHERE true {where}
    ORDER BY d.kode_kabkota, d.id_kumkm
"""


def _where(scope: str | None) -> str:
    """The filter of a scope, as SQL with literal codes (COPY takes no parameters; the code
    is checked to be digits and dots first, so it is a literal and nothing else)."""
    if scope is None:
        return ""
    if not _CODE.match(scope):
        raise ValueError(f"not a wilayah code: {scope!r}")
    parts = scope.split(".")
    if len(parts) == 1:
        return f"AND d.kode_kabkota LIKE '{scope}.%'"
    kabkota = ".".join(parts[:2])
    out = f"AND d.kode_kabkota = '{kabkota}'"
    if len(parts) > 2:
        out += f" AND (d.desa = '{scope}' OR d.desa LIKE '{scope}.%')"
    return out


# The change key of a scope: its kabupaten/kota's (or provinsi's, or the nation's) entities,
# merged ones included (a merge moves its retired entity's diperbarui_pada too), counted with
# their latest change. Index-only on kumkm_berubah (migration 0014) for a kabupaten/kota.
_KUNCI = """
    SELECT count(*) AS n, max(diperbarui_pada) AS terakhir, max(versi) AS versi FROM kumkm k WHERE true {where}
"""


def _kunci_where(scope: str | None) -> str:
    if scope is None:
        return ""
    if not _CODE.match(scope):
        raise ValueError(f"not a wilayah code: {scope!r}")
    parts = scope.split(".")
    if len(parts) == 1:
        return f"AND k.kode_provinsi = '{scope}'"
    return f"AND k.kode_kabkota = '{'.'.join(parts[:2])}'"


async def kunci(conn: Any, scope: str | None) -> str:
    """The scope's change key: the same text while no entity of its kabupaten/kota changed."""
    row = (await conn.execute(text(_KUNCI.format(where=_kunci_where(scope))))).one()
    last = row.terakhir.isoformat() if isinstance(row.terakhir, dt.datetime) else "-"
    return f"{scope or 'nasional'}|{row.n}|{last}|{row.versi or 0}"


# ---------------------------------------------------------------- usaha.csv


@dataclass(frozen=True)
class Berkas:
    """A built list: its bytes (in the chunks COPY gave them), md5 and the key it was made under."""

    kunci: str
    chunks: tuple[bytes, ...]
    md5: str  # "md5:<hex>", as the manifest gives it
    size: int
    rows: int


# scope -> Berkas, least recently used first. Bounded in entries and bytes (a kabupaten/kota of
# 100,000 entities is about 12 MB); beyond either, the least recently used go.
_cache: OrderedDict[str | None, Berkas] = OrderedDict()
CACHE_ENTRIES = 64
CACHE_BYTES = 256 * 1024 * 1024
# Builds at once per process (each holds a connection of the streams' pool for about a second
# per 100,000 entities); a manifest waits for a slot up to BUILD_WAIT seconds, then is told
# 503 with Retry-After.
BUILDS = 2
BUILD_WAIT = 10.0
_builds: asyncio.Semaphore | None = None
_building: dict[str | None, asyncio.Lock] = {}


def _slots() -> asyncio.Semaphore:
    global _builds
    if _builds is None:
        _builds = asyncio.Semaphore(BUILDS)
    return _builds


async def usaha_csv(scope: str | None) -> Berkas:
    """usaha.csv of a key's wilayah: from the cache while its change key holds, else built."""
    async with db.connect() as conn:
        key = await kunci(conn, scope)
    hit = _cache.get(scope)
    if hit is not None and hit.kunci == key:
        _cache.move_to_end(scope)
        return hit
    lock = _building.setdefault(scope, asyncio.Lock())
    async with lock:  # one build per scope at a time: the others take its result
        hit = _cache.get(scope)
        if hit is not None and hit.kunci == key:
            return hit
        try:
            await asyncio.wait_for(_slots().acquire(), BUILD_WAIT)
        except TimeoutError:
            raise SERVER_BUSY(
                "daftar entitas sedang disusun untuk wilayah lain; coba lagi sebentar lagi",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None
        try:
            built = await _build(scope, key)
        finally:
            _slots().release()
    _keep(scope, built)
    return built


async def _build(scope: str | None, key: str) -> Berkas:
    chunks: list[bytes] = []
    digest = hashlib.md5()

    async def take(chunk: Any) -> None:
        data = bytes(chunk)  # asyncpg hands a buffer it may reuse
        chunks.append(data)
        digest.update(data)

    query = _ROWS.format(where=_where(scope))
    async with db.get_stream_engine().connect() as conn:
        raw: Any = (await conn.get_raw_connection()).driver_connection
        status = await raw.copy_from_query(query, output=take, format="csv", header=True)
    rows = int(status.split()[-1]) if status else 0
    size = sum(len(c) for c in chunks)
    return Berkas(key, tuple(chunks), "md5:" + digest.hexdigest(), size, rows)


def _keep(scope: str | None, built: Berkas) -> None:
    _cache[scope] = built
    _cache.move_to_end(scope)
    while len(_cache) > CACHE_ENTRIES or (len(_cache) > 1 and sum(b.size for b in _cache.values()) > CACHE_BYTES):
        _cache.popitem(last=False)


def clear_cache() -> None:
    _cache.clear()


# ---------------------------------------------------------------- the JSON list of CAPI apps


async def halaman(conn: Any, scope: str, after: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a scope's list by id_kumkm: the rows and the id of the last one when more follow."""
    sql = _ROWS.format(where=_where(scope) + " AND (CAST(:after AS text) IS NULL OR d.id_kumkm > :after)") + " LIMIT :limit"
    rows = (await conn.execute(text(sql), {"after": after, "limit": limit + 1})).mappings().all()
    items = [{"id_kumkm": r["name"], "versi": r["__version"], **{k: r[k] for k in KOLOM[3:]}, "label": r["label"]} for r in rows[:limit]]
    return items, (items[-1]["id_kumkm"] if len(rows) > limit else None)
