"""Yearly targets and realisasi of an indikator for a wilayah, with their revisions. A write runs
in the caller's transaction (the route's unit of work)."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.errors import CONFLICT
from app.indicators import angka, formulas, queries
from app.indicators.schemas import (
    IndikatorTargetIn,
    RealisasiIn,
)
from app.indicators.service.definitions import indikator_for_values
from app.indicators.service.registry import hitung_registry
from app.infra import db
from app.record.reference import today_wib
from app.security.principal import Principal

# ---------------------------------------------------------------------------------------------
# Targets and realisasi


def _revisi(r) -> dict:
    d = dict(r)
    d["nilai"] = angka.teks(d["nilai"])
    return d


async def put_target(
    conn: AsyncConnection, principal: Principal, indikator_id: int, wilayah: str, tahun: int, body: IndikatorTargetIn
) -> dict:
    await indikator_for_values(conn, principal, indikator_id, wilayah, write=True)
    await conn.execute(
        queries.TARGET_INSERT,
        {
            "indikator_id": indikator_id,
            "wilayah": wilayah,
            "tahun": tahun,
            "nilai": body.nilai,
            "keterangan": body.keterangan,
            "oleh": principal.name,
            "oleh_key": principal.id,
        },
    )
    rows = (await conn.execute(queries.TARGET_HISTORY, {"indikator_id": indikator_id, "wilayah": wilayah, "tahun": tahun})).mappings().all()
    riwayat = [_revisi(r) for r in rows]
    return {"tahun": tahun, "nilai": riwayat[0]["nilai"], "riwayat": riwayat}


async def get_targets(principal: Principal, indikator_id: int, wilayah: str, tahun: int | None) -> dict:
    async with db.connect() as conn:
        await indikator_for_values(conn, principal, indikator_id, wilayah, write=False)
        rows = (
            (await conn.execute(queries.TARGET_HISTORY, {"indikator_id": indikator_id, "wilayah": wilayah, "tahun": tahun}))
            .mappings()
            .all()
        )
    per_tahun: OrderedDict[int, list[dict]] = OrderedDict()
    for r in rows:
        per_tahun.setdefault(r["tahun"], []).append(_revisi(r))
    return {
        "indikator_id": indikator_id,
        "kode_wilayah": wilayah,
        "items": [{"tahun": t, "nilai": rs[0]["nilai"], "riwayat": rs} for t, rs in per_tahun.items()],
    }


async def put_realisasi(
    conn: AsyncConnection, principal: Principal, indikator_id: int, wilayah: str, tahun: int, body: RealisasiIn
) -> dict:
    ind = await indikator_for_values(conn, principal, indikator_id, wilayah, write=True)
    if ind["sumber"] == "registry":
        message = f"nilai tidak dapat diisi: realisasi indikator {ind['kode']} dihitung dari registri (formula {ind['formula']})"
        raise CONFLICT(message, errors=[{"field": "nilai", "type": "conflict", "message": message}])
    await conn.execute(
        queries.REALISASI_INSERT,
        {
            "indikator_id": indikator_id,
            "wilayah": wilayah,
            "tahun": tahun,
            "nilai": body.nilai,
            "sumber": body.sumber,
            "catatan": body.catatan,
            "oleh": principal.name,
            "oleh_key": principal.id,
        },
    )
    rows = (
        (await conn.execute(queries.REALISASI_HISTORY, {"indikator_id": indikator_id, "wilayah": wilayah, "tahun": tahun})).mappings().all()
    )
    return _realisasi_manual(indikator_id, wilayah, tahun, rows)


def _realisasi_manual(indikator_id: int, wilayah: str, tahun: int, rows) -> dict:
    riwayat = [_revisi(r) for r in rows]
    return {
        "indikator_id": indikator_id,
        "kode_wilayah": wilayah,
        "tahun": tahun,
        "sumber": "manual",
        "nilai": riwayat[0]["nilai"] if riwayat else None,
        "nilai_sumber": riwayat[0]["sumber"] if riwayat else None,
        "riwayat": riwayat,
    }


async def get_realisasi(principal: Principal, indikator_id: int, wilayah: str, tahun: int, as_of: dt.date | None) -> dict:
    async with db.connect() as conn:
        ind = await indikator_for_values(conn, principal, indikator_id, wilayah, write=False)
        if ind["sumber"] == "manual":
            rows = (
                (await conn.execute(queries.REALISASI_HISTORY, {"indikator_id": indikator_id, "wilayah": wilayah, "tahun": tahun}))
                .mappings()
                .all()
            )
            return _realisasi_manual(indikator_id, wilayah, tahun, rows)
        resolved, _ = formulas.resolve(ind["formula"], ind["parameter"])
        hasil = await hitung_registry(conn, ind["level"], wilayah, {indikator_id: resolved}, [tahun], as_of or today_wib())
    nilai, komponen = hasil[(indikator_id, tahun)]
    return {
        "indikator_id": indikator_id,
        "kode_wilayah": wilayah,
        "tahun": tahun,
        "sumber": "registry",
        "nilai": angka.teks(nilai, hasil=True),
        "nilai_sumber": None,
        "komponen": komponen,
        "riwayat": [],
    }
