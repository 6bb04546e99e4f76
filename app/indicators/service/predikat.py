"""Predikat scales (bands of capaian), the national default and a wilayah's own. A write runs in
the caller's transaction (the route's unit of work)."""

from __future__ import annotations

from decimal import Decimal

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.errors import INVALID, NOT_FOUND, joined
from app.indicators import angka, queries
from app.indicators.schemas import (
    PredikatIn,
)
from app.indicators.service.access import ancestors, level_of, require_write
from app.infra import db
from app.security.policy import authorize
from app.security.principal import Principal

# ---------------------------------------------------------------------------------------------
# Predikat scales


async def skala_of(conn, wilayah: str) -> tuple[str, str | None, list[tuple[Decimal | None, str]]]:
    """The scale in force for a wilayah: its own, else its nearest ancestor's, else the default."""
    anc = ancestors(wilayah)
    rows = {r["kode_wilayah"]: r for r in (await conn.execute(queries.PREDIKAT_SKALA_TERBARU, {"wilayah": anc})).mappings().all()}
    for kode in reversed(anc):
        r = rows.get(kode)
        if r is not None and not r["dihapus"]:
            bands = (await conn.execute(queries.PREDIKAT_BAND, {"id": r["id"]})).all()
            return kode, r["nama"], [(b, p) for b, p in bands]
    bands = (await conn.execute(queries.PREDIKAT_BAWAAN)).all()
    return "bawaan", "Permendagri 86/2017", [(b, p) for b, p in bands]


def skala_out(wilayah: str, skala: tuple) -> dict:
    dari, nama, bands = skala
    return {
        "kode_wilayah": wilayah,
        "berlaku_dari": dari,
        "nama": nama,
        "bands": [{"batas_bawah": angka.teks(b), "predikat": p} for b, p in bands],
    }


async def get_predikat(principal: Principal, wilayah: str) -> dict:
    await level_of(wilayah, "kode_wilayah")
    authorize(principal, "indikator.read", wilayah)
    async with db.connect() as conn:
        return skala_out(wilayah, await skala_of(conn, wilayah))


async def put_predikat(conn: AsyncConnection, principal: Principal, wilayah: str, body: PredikatIn) -> dict:
    await level_of(wilayah, "kode_wilayah")
    require_write(principal, wilayah, field="kode_wilayah")
    catch_all = [i for i, b in enumerate(body.bands) if b.batas_bawah is None]
    errors = []
    if len(catch_all) != 1:
        errors.append(
            {
                "field": "bands",
                "message": "bands harus punya tepat satu pita dengan batas_bawah null: "
                "yang terendah, untuk setiap capaian di bawah pita lain",
            }
        )
    seen: set[Decimal] = set()
    for i, b in enumerate(body.bands):
        if b.batas_bawah is not None:
            if b.batas_bawah in seen:
                errors.append({"field": f"bands.{i}.batas_bawah", "message": f"bands.{i}.batas_bawah sama dengan batas pita lain"})
            seen.add(b.batas_bawah)
    if errors:
        raise INVALID(joined(errors), errors=errors)
    # Highest bound first, the catch-all last: evaluation takes the first band reached.
    ordered = sorted(body.bands, key=lambda b: (b.batas_bawah is None, -(b.batas_bawah or 0)))
    bands = [
        {"urutan": i + 1, "batas_bawah": None if b.batas_bawah is None else str(b.batas_bawah), "predikat": b.predikat}
        for i, b in enumerate(ordered)
    ]
    row = (
        (
            await conn.execute(
                queries.PREDIKAT_SKALA_INSERT, {"wilayah": wilayah, "nama": body.nama, "dihapus": False, "oleh": principal.name}
            )
        )
        .mappings()
        .one()
    )
    await conn.execute(queries.PREDIKAT_BAND_INSERT, {"id": row["id"], "bands": orjson.dumps(bands).decode()})
    return skala_out(wilayah, await skala_of(conn, wilayah))


async def delete_predikat(conn: AsyncConnection, principal: Principal, wilayah: str) -> dict:
    await level_of(wilayah, "kode_wilayah")
    require_write(principal, wilayah, field="kode_wilayah")
    if (await skala_of(conn, wilayah))[0] != wilayah:
        raise NOT_FOUND(f"kode_wilayah {wilayah} tidak punya skala predikat sendiri")
    await conn.execute(queries.PREDIKAT_SKALA_INSERT, {"wilayah": wilayah, "nama": None, "dihapus": True, "oleh": principal.name})
    return skala_out(wilayah, await skala_of(conn, wilayah))
