"""The age of the verification backlog per kabupaten/kota (docs/kampanye.md, backlog): how
long records have waited in `masuk` (median, 90th percentile, oldest) and how many have
waited longer than the threshold the dinas sets (`ambang_hari`)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from app.infra import replicas
from app.kampanye.queries import antrian_umur as queries
from app.record import zona
from app.record.reference import LEVEL_KABKOTA, LEVEL_PROVINSI, check_periode, check_wilayah, get_index, invalid
from app.security.policy import authorize
from app.security.principal import Principal

DETIK_SEHARI = 86_400


def umur(pada: dt.datetime, sejak: dt.datetime | None) -> int | None:
    """Whole seconds waited from `sejak` to `pada` (rounded down); None without a record."""
    return None if sejak is None else (pada - sejak) // dt.timedelta(seconds=1)


def hari(detik: int | None) -> str | None:
    """Seconds as days with 2 decimals, rounded half-up ("1.52")."""
    if detik is None:
        return None
    scaled = (2 * detik * 100 + DETIK_SEHARI) // (2 * DETIK_SEHARI)
    return f"{scaled // 100}.{scaled % 100:02d}"


def _row(r: Any, pada: dt.datetime) -> dict[str, Any]:
    median, p90, terlama = umur(pada, r.t50), umur(pada, r.t90), umur(pada, r.t_min)
    return {
        "belum_diverifikasi": r.n,
        "median_detik": median,
        "p90_detik": p90,
        "terlama_detik": terlama,
        "median_hari": hari(median),
        "p90_hari": hari(p90),
        "terlama_hari": hari(terlama),
        "terlama_sejak": r.t_min,
        "lewat_ambang": r.lewat,
    }


# Ten years: a threshold beyond that waits longer than any record can have, and past the
# calendar PostgreSQL subtracts it from.
AMBANG_TERBESAR = 3653


async def antrian_umur(principal: Principal, periode: str, kode_wilayah: str | None, ambang_hari: int) -> dict[str, Any]:
    await check_periode(periode)
    level = 0 if kode_wilayah is None else await check_wilayah(kode_wilayah, "kode_wilayah")
    if level not in (0, LEVEL_PROVINSI, LEVEL_KABKOTA):
        raise invalid("kode_wilayah", f"{kode_wilayah} bukan provinsi atau kabupaten/kota; kosongkan untuk nasional")
    if not 1 <= ambang_hari <= AMBANG_TERBESAR:
        raise invalid("ambang_hari", f"harus bilangan bulat 1 sampai {AMBANG_TERBESAR} (hari), bukan {ambang_hari}")
    authorize(principal, "report.read", kode_wilayah, nation_if_none=True)
    pada = dt.datetime.now(dt.UTC)
    params = {"periode": periode, "area": kode_wilayah or "", "pada": pada, "ambang": ambang_hari}
    async with replicas.connect() as conn:
        rows = (await conn.execute(queries.UMUR[level], params)).all()
    index = await get_index()
    per_kabkota = [
        {"kode": r.kode, "nama": index.nama.get(r.kode, r.kode), "zona": zona.zona(r.kode), **_row(r, pada)} for r in rows if r.kode
    ]
    # the longest waits first: the most records over the threshold, then the oldest record
    per_kabkota.sort(key=lambda x: (-x["lewat_ambang"], -(x["terlama_detik"] or 0), x["kode"]))
    # the grand total's grouping set gives its row even over no record at all
    total = next((r for r in rows if r.kode is None), SimpleNamespace(n=0, t50=None, t90=None, t_min=None, lewat=0))
    jumlah = _row(total, pada)
    return {
        "periode": periode,
        "wilayah": None if kode_wilayah is None else {"kode": kode_wilayah, "nama": index.nama[kode_wilayah], "level": level},
        "pada": pada,
        "ambang_hari": ambang_hari,
        "rows": per_kabkota,
        "jumlah": jumlah,
    }
