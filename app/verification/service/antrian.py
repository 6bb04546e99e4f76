"""The verifikator's antrian (queue) of one kabupaten/kota, and the rekap: its counts per status."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core import pagination
from app.core.errors import INVALID
from app.infra import citus
from app.record.reference import LEVEL_DESA, LEVEL_KABKOTA, LEVEL_KECAMATAN, WIB, get_index
from app.security.policy import authorize
from app.security.principal import Principal
from app.verification import queries

_KABKOTA_PATTERN = re.compile(r"^[0-9]{2}\.[0-9]{2}$")
# captured_at lies after 2000 (app.record.model); a filter date far outside the round
# is a typo, and dates beyond these cannot be turned into instants safely.
_DATE_MIN, _DATE_MAX = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


async def kabkota_of(principal: Principal, kabkota: str | None) -> str:
    """The kabupaten/kota a queue is read for: the one asked (inside the key's wilayah), or
    the key's own when it is scoped to one."""
    index = await get_index()
    if kabkota is None:
        own = principal.kode_wilayah
        if own is not None and index.level.get(own) == LEVEL_KABKOTA:
            return own
        where = f"provinsi {own}" if own else "seluruh Indonesia"
        message = f"kabkota wajib diisi untuk kunci yang mencakup {where}: sebutkan kabupaten/kotanya, mis. 16.07"
        raise INVALID(message, errors=[{"field": "kabkota", "type": "missing", "message": message}])
    if not _KABKOTA_PATTERN.match(kabkota) or not index.exists(kabkota, LEVEL_KABKOTA):
        message = f"kabkota {kabkota} bukan kode kabupaten/kota yang ada (mis. 16.07)"
        raise INVALID(message, errors=[{"field": "kabkota", "type": "value_error", "message": message}])
    authorize(principal, "record.decide", kabkota, field="kabkota", kabkota=kabkota, scope=principal.kode_wilayah)
    return kabkota


async def rekap(conn: AsyncConnection, principal: Principal, periode: str, kabkota: str | None) -> dict:
    """Counts per status of the kabupaten/kota asked, or of every one the key covers."""
    index = await get_index()
    if kabkota is not None:
        codes = [await kabkota_of(principal, kabkota)]
    else:
        scope = principal.kode_wilayah
        codes = sorted(k for k, level in index.level.items() if level == LEVEL_KABKOTA and principal.covers(k))
        if scope is not None and index.level.get(scope) == LEVEL_KABKOTA:
            kabkota = scope
    provinsi = None
    if kabkota is None and principal.kode_wilayah is not None:
        provinsi = principal.kode_wilayah[:2]
    rows = (await conn.execute(queries.REKAP, {"periode": periode, "kabkota": kabkota, "provinsi": provinsi})).all()
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r.kode_kabkota, {})[r.status] = r.n
    return {"periode": periode, "items": [_rekap_row(k, index.nama.get(k, k), counts.get(k, {})) for k in codes]}


def _rekap_row(kode: str, nama: str, c: dict[str, int]) -> dict:
    belum, diterima, ditolak = c.get("masuk", 0), c.get("diterima", 0), c.get("ditolak", 0)
    # `masuk` beside it is the deprecated old name of the same count (schemas.RekapKabkota)
    return {
        "kode_kabkota": kode,
        "nama": nama,
        "belum_diverifikasi": belum,
        "diterima": diterima,
        "ditolak": ditolak,
        "total": belum + diterima + ditolak,
        "masuk": belum,
    }


def _older_cursor(text: str) -> tuple[dt.datetime, uuid.UUID] | None:
    """A cursor of the queue from before it had a tag (app.core.pagination): base64 of
    `<captured_at>|<submission_id>`, which begins with the year's digit where a tag begins
    with a letter."""
    try:
        raw = pagination.decode(text)
    except pagination.CursorError:
        return None
    if not raw[:1].isdigit():
        return None
    at, sid = raw.split("|")
    return pagination.INSTANT.read(at), uuid.UUID(sid)


# The queue's keyset: the last row's (captured_at, submission_id), oldest capture first.
CURSOR = pagination.Keyset("antrian.1", pagination.INSTANT, pagination.UUID, older=_older_cursor)
# The same for `urut=terlama`, the last row's (diperbarui_pada, submission_id): a tag of its
# own, so a cursor of one order is never read as a place in the other (bad_cursor instead).
CURSOR_TERLAMA = pagination.Keyset("antrian.terlama.1", pagination.INSTANT, pagination.UUID)


def _day_start(day: dt.date, name: str) -> dt.datetime:
    if not _DATE_MIN <= day <= _DATE_MAX:
        message = f"{name} harus tanggal antara {_DATE_MIN} dan {_DATE_MAX}, bukan {day}"
        raise INVALID(message, errors=[{"field": name, "type": "value_error", "message": message}])
    return dt.datetime.combine(day, dt.time(), WIB)


@dataclass
class Filter:
    """What the verifikator narrowed the queue to; captured dates are WIB days, both ends
    included."""

    periode: str
    status: str = "masuk"
    wilayah: str | None = None
    enumerator_id: str | None = None
    jenis: str | None = None
    captured_dari: dt.date | None = None
    captured_sampai: dt.date | None = None
    duplikat: bool | None = None
    konflik: bool | None = None
    urut: str = "tangkap"


def _pemutakhiran(r: Any, index: Any) -> dict | None:
    """A follow-up visit's entity and conflict, with the entity's side as it is now and the
    record's beside it (docs/pemutakhiran.md); None for a census record."""
    m = r._mapping
    if m.get("pm_id_kumkm") is None:
        return None
    return {
        "id_kumkm": r.pm_id_kumkm,
        "versi_dasar": r.pm_versi_dasar,
        "versi_entitas": r.pm_versi_entitas,
        "versi_sekarang": r.pm_versi_sekarang,
        "konflik": r.pm_konflik,
        "catatan": {
            "nama": r.nama,
            "skala_usaha": r.skala_usaha,
            "kode_wilayah": r.kode_wilayah,
            "keadaan_usaha": r.pm_keadaan,
        },
        "entitas": None
        if r.pm_submission_id is None
        else {
            "submission_id": str(r.pm_submission_id),
            "nama": r.pm_nama,
            "skala_usaha": r.pm_skala,
            "kode_wilayah": r.pm_wilayah,
            "nama_wilayah": index.nama.get(r.pm_wilayah),
            "periode": r.pm_periode,
            "keadaan_usaha": r.pm_keadaan_entitas,
        },
    }


async def antrian_page(conn: AsyncConnection, principal: Principal, kabkota: str | None, f: Filter, cursor: str | None, limit: int) -> dict:
    """One page of the queue, oldest capture first (or longest waiting first, `urut=terlama`),
    from the keyset cursor (schemas.AntrianPage)."""
    kabkota = await kabkota_of(principal, kabkota)
    index = await get_index()
    params: dict = {"periode": f.periode, "status": f.status, "kabkota": kabkota}
    drive = "kabkota"
    residual: list[str] = []
    if f.wilayah is not None:
        level = index.level.get(f.wilayah)
        if level not in (LEVEL_KECAMATAN, LEVEL_DESA) or not f.wilayah.startswith(kabkota + "."):
            message = f"wilayah {f.wilayah} bukan kecamatan atau desa/kelurahan di {kabkota}"
            raise INVALID(message, errors=[{"field": "wilayah", "type": "value_error", "message": message}])
        if f.urut == "terlama":
            residual.append("kecamatan")
        else:
            drive = "kecamatan"
        params["kecamatan"] = f.wilayah[:8]
        if level == LEVEL_DESA:
            residual.append("desa")
            params["desa"] = f.wilayah
    for name in ("jenis", "enumerator_id", "duplikat", "konflik"):
        value = getattr(f, name)
        if value is not None:
            residual.append(name)
            params[name] = value
    dari = sampai = None
    if f.captured_dari is not None:
        params["dari"] = dari = _day_start(f.captured_dari, "captured_dari")
    if f.captured_sampai is not None:
        params["sampai"] = sampai = _day_start(f.captured_sampai, "captured_sampai") + dt.timedelta(days=1)
    if dari is not None and sampai is not None and dari >= sampai:
        message = "captured_sampai harus sama dengan atau sesudah captured_dari"
        raise INVALID(message, errors=[{"field": "captured_sampai", "type": "value_error", "message": message}])
    codec = CURSOR_TERLAMA if f.urut == "terlama" else CURSOR
    after = codec.decode(cursor)
    if after is not None:
        params["after_at"], params["after_id"] = after[0], str(after[1])
    # Without a filter to check, the page is the first `limit` rows walked.
    scan = max(queries.SCAN_MAX, limit) if residual else limit
    stmt = queries.antrian(
        drive, tuple(residual), after is not None, dari is not None, sampai is not None, scan, limit, citus.enabled(), f.urut, f.status
    )
    params["provinsi"] = kabkota.split(".")[0]
    rows = (await conn.execute(stmt, params)).all()
    counts = {r.status: r.n for r in await conn.execute(queries.REKAP, {"periode": f.periode, "kabkota": kabkota, "provinsi": None})}
    items = [
        {
            "submission_id": str(r.submission_id),
            "status": r.status,
            "version": r.version,
            "jenis": r.jenis,
            "nama": r.nama,
            "kode_wilayah": r.kode_wilayah,
            "nama_wilayah": index.nama.get(r.kode_wilayah),
            "enumerator_id": r.enumerator_id,
            "captured_at": r.captured_at,
            "skala_usaha": r.skala_usaha,
            "kemungkinan_duplikat": r.kemungkinan_duplikat,
            "diperbarui_pada": r.diperbarui_pada,
            "pemutakhiran": _pemutakhiran(r, index),
        }
        for r in rows
        if r.hit
    ]
    next_cursor = None
    if rows and (rows[-1].rn == scan or (len(rows) == limit and rows[-1].hit)):
        # The page is full, or the walk reached its bound: the queue may go on after that row.
        next_cursor = codec.encode(rows[-1].k, rows[-1].submission_id)
    return {
        "periode": f.periode,
        "status": f.status,
        "jumlah": _rekap_row(kabkota, index.nama.get(kabkota, kabkota), counts),
        "items": items,
        "next_cursor": next_cursor,
        "dipindai": rows[-1].rn if rows else 0,
    }
