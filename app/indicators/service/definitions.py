"""Tujuan, sasaran and indikator definitions under a dinas's Renstra. A write runs in the
caller's transaction (the route's unit of work), the reads on connections of their own."""

from __future__ import annotations

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.errors import INVALID, joined
from app.indicators import formulas, queries
from app.indicators.schemas import (
    IndikatorIn,
    IndikatorPatch,
    SasaranIn,
    SasaranPatch,
    TujuanIn,
    TujuanPatch,
)
from app.indicators.service.access import (
    LEVELS,
    conflict_kode,
    level_of,
    not_found,
    require_write,
    visibility,
    visible,
    within,
)
from app.infra import db
from app.security.policy import authorize, scope_problem
from app.security.principal import Principal

# ---------------------------------------------------------------------------------------------
# Tujuan and sasaran


async def _list_visible(principal: Principal, pemilik: str | None, query, **params) -> list:
    """Rows of `query` owned by `pemilik` (or by every wilayah the key may see)."""
    if pemilik is not None:
        await level_of(pemilik, "pemilik")
        if not visible(principal, pemilik):
            raise scope_problem(principal, "pemilik")
    async with db.connect() as conn:
        return (await conn.execute(query, {**visibility(principal, pemilik), **params})).mappings().all()


async def list_tujuan(principal: Principal, pemilik: str | None) -> list[dict]:
    return [dict(r) for r in await _list_visible(principal, pemilik, queries.TUJUAN_LIST)]


async def create_tujuan(conn: AsyncConnection, principal: Principal, body: TujuanIn) -> dict:
    await level_of(body.pemilik, "pemilik")
    require_write(principal, body.pemilik)
    row = (
        (
            await conn.execute(
                queries.TUJUAN_INSERT,
                {
                    "pemilik": body.pemilik,
                    "kode": body.kode,
                    "nama": body.nama,
                    "oleh": principal.name,
                },
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise conflict_kode("tujuan", body.kode, body.pemilik)
    return dict(row)


async def patch_tujuan(conn: AsyncConnection, principal: Principal, tujuan_id: int, body: TujuanPatch) -> dict:
    row = (await conn.execute(queries.TUJUAN_GET, {"id": tujuan_id})).mappings().first()
    if row is None:
        raise not_found("tujuan", tujuan_id)
    require_write(principal, row["pemilik"], hidden=not_found("tujuan", tujuan_id))
    try:
        async with conn.begin_nested():
            out = (await conn.execute(queries.TUJUAN_UPDATE, {"id": tujuan_id, "kode": body.kode, "nama": body.nama})).mappings().one()
    except IntegrityError:
        raise conflict_kode("tujuan", body.kode, row["pemilik"]) from None
    return dict(out)


async def _check_tujuan(conn, tujuan_id: int | None, pemilik: str) -> None:
    if tujuan_id is None:
        return
    t = (await conn.execute(queries.TUJUAN_GET, {"id": tujuan_id})).mappings().first()
    if t is None or t["pemilik"] != pemilik:
        message = f"tujuan_id {tujuan_id} bukan tujuan milik pemilik {pemilik}"
        raise INVALID(message, errors=[{"field": "tujuan_id", "type": "value_error", "message": message}])


async def list_sasaran(principal: Principal, pemilik: str | None) -> list[dict]:
    return [dict(r) for r in await _list_visible(principal, pemilik, queries.SASARAN_LIST)]


async def create_sasaran(conn: AsyncConnection, principal: Principal, body: SasaranIn) -> dict:
    await level_of(body.pemilik, "pemilik")
    require_write(principal, body.pemilik)
    await _check_tujuan(conn, body.tujuan_id, body.pemilik)
    row = (
        (
            await conn.execute(
                queries.SASARAN_INSERT,
                {
                    "pemilik": body.pemilik,
                    "tujuan_id": body.tujuan_id,
                    "kode": body.kode,
                    "nama": body.nama,
                    "oleh": principal.name,
                },
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise conflict_kode("sasaran", body.kode, body.pemilik)
    return dict(row)


async def patch_sasaran(conn: AsyncConnection, principal: Principal, sasaran_id: int, body: SasaranPatch) -> dict:
    row = (await conn.execute(queries.SASARAN_GET, {"id": sasaran_id})).mappings().first()
    if row is None:
        raise not_found("sasaran", sasaran_id)
    require_write(principal, row["pemilik"], hidden=not_found("sasaran", sasaran_id))
    ganti = "tujuan_id" in body.model_fields_set
    if ganti:
        await _check_tujuan(conn, body.tujuan_id, row["pemilik"])
    try:
        async with conn.begin_nested():
            out = (
                (
                    await conn.execute(
                        queries.SASARAN_UPDATE,
                        {"id": sasaran_id, "kode": body.kode, "nama": body.nama, "ganti_tujuan": ganti, "tujuan_id": body.tujuan_id},
                    )
                )
                .mappings()
                .one()
            )
    except IntegrityError:
        raise conflict_kode("sasaran", body.kode, row["pemilik"]) from None
    return dict(out)


# ---------------------------------------------------------------------------------------------
# Indikator definitions


def _indikator_out(row) -> dict:
    d = dict(row)
    if isinstance(d.get("parameter"), str):
        d["parameter"] = orjson.loads(d["parameter"])
    return d


async def _validate_definition(conn, d: dict) -> dict:
    """Check a whole definition (after a create or a patch); returns the columns to store."""
    errors: list[dict] = []
    pemilik = d["pemilik"]
    pemilik_level = await level_of(pemilik, "pemilik")
    s = (await conn.execute(queries.SASARAN_GET, {"id": d["sasaran_id"]})).mappings().first()
    if s is None or s["pemilik"] != pemilik:
        errors.append({"field": "sasaran_id", "message": f"sasaran_id bukan sasaran milik pemilik {pemilik}"})
    if LEVELS[d["level"]] < LEVELS[pemilik_level]:
        errors.append(
            {
                "field": "level",
                "message": f"level harus {pemilik_level} atau di bawahnya: indikator pemilik "
                f"{pemilik_level} dilaporkan di tingkatnya sendiri atau di bawahnya",
            }
        )
    if d["renstra_akhir"] < d["renstra_mulai"] or d["renstra_akhir"] - d["renstra_mulai"] > 10:
        errors.append({"field": "renstra_akhir", "message": "renstra_akhir harus dari renstra_mulai sampai renstra_mulai + 10"})
    if d["sumber"] == "manual":
        if d.get("formula") is not None:
            errors.append({"field": "formula", "message": "formula hanya untuk sumber registry"})
        if d.get("parameter"):
            errors.append({"field": "parameter", "message": "parameter hanya untuk sumber registry"})
        if d.get("satuan") is None:
            errors.append({"field": "satuan", "message": "satuan wajib diisi untuk indikator manual"})
    else:
        if d.get("formula") is None:
            errors.append({"field": "formula", "message": "formula wajib diisi untuk sumber registry"})
        else:
            resolved, ferr = formulas.resolve(d["formula"], d.get("parameter"))
            errors.extend(ferr)
            if resolved is not None:
                if d.get("satuan") is None:
                    d["satuan"] = resolved.satuan
                elif d["satuan"] != resolved.satuan:
                    errors.append(
                        {"field": "satuan", "message": f"satuan harus {resolved.satuan}: itu satuan hasil formula {d['formula']}"}
                    )
    if errors:
        raise INVALID(joined(errors), errors=errors)
    d["parameter"] = orjson.dumps(d.get("parameter") or {}).decode()
    return d


async def create_indikator(conn: AsyncConnection, principal: Principal, body: IndikatorIn) -> dict:
    pemilik_level = await level_of(body.pemilik, "pemilik")
    require_write(principal, body.pemilik)
    d = body.model_dump()
    d["level"] = d["level"] or pemilik_level
    d = await _validate_definition(conn, d)
    row = (await conn.execute(queries.INDIKATOR_INSERT, {**d, "oleh": principal.name})).mappings().first()
    if row is None:
        raise conflict_kode("indikator", body.kode, body.pemilik)
    return _indikator_out(row)


async def get_indikator(principal: Principal, indikator_id: int) -> dict:
    async with db.connect() as conn:
        row = (await conn.execute(queries.INDIKATOR_GET, {"id": indikator_id})).mappings().first()
    if row is None or not visible(principal, row["pemilik"]):
        raise not_found("indikator", indikator_id)
    return _indikator_out(row)


async def list_indikator(principal: Principal, pemilik: str | None, sasaran_id: int | None) -> list[dict]:
    rows = await _list_visible(principal, pemilik, queries.INDIKATOR_LIST, sasaran_id=sasaran_id)
    return [_indikator_out(r) for r in rows]


async def patch_indikator(conn: AsyncConnection, principal: Principal, indikator_id: int, body: IndikatorPatch) -> dict:
    row = (await conn.execute(queries.INDIKATOR_GET_FOR_UPDATE, {"id": indikator_id})).mappings().first()
    if row is None:
        raise not_found("indikator", indikator_id)
    require_write(principal, row["pemilik"], hidden=not_found("indikator", indikator_id))
    d = _indikator_out(row)
    changes = body.model_dump(exclude_unset=True)
    nulls = [k for k, v in changes.items() if v is None and k not in ("formula",)]
    if nulls:
        errors = [{"field": k, "type": "value_error", "message": f"{k} tidak boleh null"} for k in nulls]
        raise INVALID(joined(errors), errors=errors)
    d.update(changes)
    d = await _validate_definition(conn, d)
    try:
        async with conn.begin_nested():
            out = (await conn.execute(queries.INDIKATOR_UPDATE, d)).mappings().one()
    except IntegrityError:
        raise conflict_kode("indikator", d["kode"], d["pemilik"]) from None
    return _indikator_out(out)


async def indikator_for_values(conn, principal: Principal, indikator_id: int, wilayah: str, *, write: bool) -> dict:
    """The indicator, after checking the key may read or write values of `wilayah` for it and
    that `wilayah` is one the indicator is reported for."""
    row = (await conn.execute(queries.INDIKATOR_GET, {"id": indikator_id})).mappings().first()
    if row is None or not visible(principal, row["pemilik"]):
        raise not_found("indikator", indikator_id)
    lvl = await level_of(wilayah, "kode_wilayah")
    if write:
        require_write(principal, row["pemilik"])
    else:
        authorize(principal, "indikator.read", wilayah)
    if lvl != row["level"] or not within(wilayah, row["pemilik"]):
        message = (
            f"kode_wilayah harus wilayah tingkat {row['level']} di dalam {row['pemilik']}: di situlah indikator {row['kode']} dilaporkan"
        )
        raise INVALID(message, errors=[{"field": "kode_wilayah", "type": "value_error", "message": message}])
    return _indikator_out(row)
