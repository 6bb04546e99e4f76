"""Performance indicators (IKU/IKK): definitions under a dinas's Renstra, yearly targets and
realisasi with history, realisasi computed from the registry, capaian, predikat and the
LKjIP table.

Scope rules (roles: docs/domain.md):
- Writes (definitions, targets, realisasi, predikat scales): `dinas` and `admin` keys whose
  scope covers the indicator's owner (`pemilik`); `nasional` needs a key without a scope.
- Reads: `dinas`, `verifikator`, `walidata` and `admin`. Definitions are visible when their
  owner is the key's wilayah, one of its ancestors (a kabkota dinas reports on indicators set
  by its provinsi or the ministry) or inside it; values of a wilayah (targets, realisasi,
  capaian) only when the key covers that wilayah. Enumerators have no use for them: 403.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from app.core import csvcell, db, replicas
from app.core.access import Principal, roles
from app.core.errors import Problem
from app.core.reference import KODE_PATTERN, get_index, today_wib
from app.indicators import angka, formulas, queries
from app.indicators.schemas import (
    IndikatorIn,
    IndikatorPatch,
    IndikatorTargetIn,
    PredikatIn,
    RealisasiIn,
    SasaranIn,
    SasaranPatch,
    TujuanIn,
    TujuanPatch,
)

WRITERS = roles("indikator.write")
READERS = roles("indikator.read")
NASIONAL = "nasional"
_LEVELS = {NASIONAL: 0, "provinsi": 1, "kabkota": 2}
_LEVEL_OF_INDEX = {1: "provinsi", 2: "kabkota"}


# ---------------------------------------------------------------------------------------------
# Wilayah and scope


async def level_of(kode: str | None, fld: str) -> str:
    """The reporting level of a wilayah code: nasional, provinsi or kabkota (422 otherwise)."""
    if kode == NASIONAL:
        return NASIONAL
    if not isinstance(kode, str) or not KODE_PATTERN.match(kode) or not (await get_index()).exists(kode):
        raise Problem(422, "Invalid input", f"unknown wilayah {kode!r}",
                      errors=[{"field": fld, "message": "not an existing wilayah code (or `nasional`)"}])
    lvl = (await get_index()).level[kode]
    if lvl not in _LEVEL_OF_INDEX:
        raise Problem(422, "Invalid input", "indicators are kept for nasional, provinsi and kabupaten/kota",
                      errors=[{"field": fld, "message": "must be `nasional`, a provinsi or a kabupaten/kota"}])
    return _LEVEL_OF_INDEX[lvl]


def ancestors(kode: str) -> list[str]:
    """`16.07` -> [nasional, 16, 16.07]: the owners whose indicators may apply to it."""
    if kode == NASIONAL:
        return [NASIONAL]
    parts = kode.split(".")
    return [NASIONAL] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def within(kode: str, pemilik: str) -> bool:
    return pemilik == NASIONAL or kode == pemilik or kode.startswith(pemilik + ".")


def covers(principal: Principal, kode: str) -> bool:
    if kode == NASIONAL:
        return principal.kode_wilayah is None
    return principal.covers(kode)


def _forbid(principal: Principal, kode: str) -> Problem:
    return Problem(403, "Forbidden", f"wilayah {kode} is outside this key's scope "
                                     f"({principal.kode_wilayah or NASIONAL})")


def require_write(principal: Principal, pemilik: str, *, hidden: Problem | None = None) -> None:
    """`hidden`: what to answer when the key cannot even see `pemilik`'s definitions (editing an
    existing one answers 404 as GET does, so a 403 never confirms that an id exists)."""
    if principal.role not in WRITERS:
        raise Problem(403, "Forbidden", f"role {principal.role!r} may not change indicators; "
                                        f"allowed: {', '.join(WRITERS)}")
    if hidden is not None and not visible(principal, pemilik):
        raise hidden
    if not covers(principal, pemilik):
        raise _forbid(principal, pemilik)


def require_read(principal: Principal, kode: str | None = None) -> None:
    if principal.role not in READERS:
        raise Problem(403, "Forbidden", f"role {principal.role!r} may not read indicators; "
                                        f"allowed: {', '.join(READERS)}")
    if kode is not None and not covers(principal, kode):
        raise _forbid(principal, kode)


def visible(principal: Principal, pemilik: str) -> bool:
    s = principal.kode_wilayah
    return s is None or pemilik in ancestors(s) or pemilik.startswith(s + ".")


def _visibility(principal: Principal, pemilik: str | None) -> dict:
    if pemilik is not None:
        return {"semua": False, "pemilik": [pemilik], "dalam": None}
    s = principal.kode_wilayah
    if s is None:
        return {"semua": True, "pemilik": [], "dalam": None}
    return {"semua": False, "pemilik": ancestors(s), "dalam": s}


def _not_found(what: str, ident: Any) -> Problem:
    return Problem(404, "Not Found", f"no {what} with id {ident}")


def _conflict_kode(what: str, kode: str, pemilik: str) -> Problem:
    return Problem(409, "Conflict", f"{what} {kode!r} already exists for pemilik {pemilik}",
                   errors=[{"field": "kode", "message": "already used by this pemilik"}])


# ---------------------------------------------------------------------------------------------
# Tujuan and sasaran


async def _list_visible(principal: Principal, pemilik: str | None, query, **params) -> list:
    """Rows of `query` owned by `pemilik` (or by every wilayah the key may see)."""
    require_read(principal)
    if pemilik is not None:
        await level_of(pemilik, "pemilik")
        if not visible(principal, pemilik):
            raise _forbid(principal, pemilik)
    async with db.connect() as conn:
        return (await conn.execute(query, {**_visibility(principal, pemilik), **params})).mappings().all()


async def list_tujuan(principal: Principal, pemilik: str | None) -> list[dict]:
    return [dict(r) for r in await _list_visible(principal, pemilik, queries.TUJUAN_LIST)]


async def create_tujuan(principal: Principal, body: TujuanIn) -> dict:
    await level_of(body.pemilik, "pemilik")
    require_write(principal, body.pemilik)
    async with db.transaction() as conn:
        row = (await conn.execute(queries.TUJUAN_INSERT, {
            "pemilik": body.pemilik, "kode": body.kode, "nama": body.nama, "oleh": principal.name,
        })).mappings().first()
    if row is None:
        raise _conflict_kode("tujuan", body.kode, body.pemilik)
    return dict(row)


async def patch_tujuan(principal: Principal, tujuan_id: int, body: TujuanPatch) -> dict:
    async with db.transaction() as conn:
        row = (await conn.execute(queries.TUJUAN_GET, {"id": tujuan_id})).mappings().first()
        if row is None:
            raise _not_found("tujuan", tujuan_id)
        require_write(principal, row["pemilik"], hidden=_not_found("tujuan", tujuan_id))
        try:
            async with conn.begin_nested():
                out = (await conn.execute(queries.TUJUAN_UPDATE, {
                    "id": tujuan_id, "kode": body.kode, "nama": body.nama})).mappings().one()
        except IntegrityError:
            raise _conflict_kode("tujuan", body.kode, row["pemilik"]) from None
    return dict(out)


async def _check_tujuan(conn, tujuan_id: int | None, pemilik: str) -> None:
    if tujuan_id is None:
        return
    t = (await conn.execute(queries.TUJUAN_GET, {"id": tujuan_id})).mappings().first()
    if t is None or t["pemilik"] != pemilik:
        raise Problem(422, "Invalid input", f"no tujuan {tujuan_id} of pemilik {pemilik}",
                      errors=[{"field": "tujuan_id", "message": "not a tujuan of the same pemilik"}])


async def list_sasaran(principal: Principal, pemilik: str | None) -> list[dict]:
    return [dict(r) for r in await _list_visible(principal, pemilik, queries.SASARAN_LIST)]


async def create_sasaran(principal: Principal, body: SasaranIn) -> dict:
    await level_of(body.pemilik, "pemilik")
    require_write(principal, body.pemilik)
    async with db.transaction() as conn:
        await _check_tujuan(conn, body.tujuan_id, body.pemilik)
        row = (await conn.execute(queries.SASARAN_INSERT, {
            "pemilik": body.pemilik, "tujuan_id": body.tujuan_id, "kode": body.kode, "nama": body.nama,
            "oleh": principal.name,
        })).mappings().first()
    if row is None:
        raise _conflict_kode("sasaran", body.kode, body.pemilik)
    return dict(row)


async def patch_sasaran(principal: Principal, sasaran_id: int, body: SasaranPatch) -> dict:
    async with db.transaction() as conn:
        row = (await conn.execute(queries.SASARAN_GET, {"id": sasaran_id})).mappings().first()
        if row is None:
            raise _not_found("sasaran", sasaran_id)
        require_write(principal, row["pemilik"], hidden=_not_found("sasaran", sasaran_id))
        ganti = "tujuan_id" in body.model_fields_set
        if ganti:
            await _check_tujuan(conn, body.tujuan_id, row["pemilik"])
        try:
            async with conn.begin_nested():
                out = (await conn.execute(queries.SASARAN_UPDATE, {
                    "id": sasaran_id, "kode": body.kode, "nama": body.nama, "ganti_tujuan": ganti,
                    "tujuan_id": body.tujuan_id})).mappings().one()
        except IntegrityError:
            raise _conflict_kode("sasaran", body.kode, row["pemilik"]) from None
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
        errors.append({"field": "sasaran_id", "message": "not a sasaran of the same pemilik"})
    if _LEVELS[d["level"]] < _LEVELS[pemilik_level]:
        errors.append({"field": "level",
                       "message": f"an indicator of a {pemilik_level} pemilik is reported at its own "
                                  "level or below"})
    if d["renstra_akhir"] < d["renstra_mulai"] or d["renstra_akhir"] - d["renstra_mulai"] > 10:
        errors.append({"field": "renstra_akhir",
                       "message": "must be from renstra_mulai to renstra_mulai + 10"})
    if d["sumber"] == "manual":
        if d.get("formula") is not None:
            errors.append({"field": "formula", "message": "only for sumber `registry`"})
        if d.get("parameter"):
            errors.append({"field": "parameter", "message": "only for sumber `registry`"})
        if d.get("satuan") is None:
            errors.append({"field": "satuan", "message": "required for a manual indicator"})
    else:
        if d.get("formula") is None:
            errors.append({"field": "formula", "message": "required for sumber `registry`"})
        else:
            resolved, ferr = formulas.resolve(d["formula"], d.get("parameter"))
            errors.extend(ferr)
            if resolved is not None:
                if d.get("satuan") is None:
                    d["satuan"] = resolved.satuan
                elif d["satuan"] != resolved.satuan:
                    errors.append({"field": "satuan",
                                   "message": f"formula {d['formula']} gives {resolved.satuan}"})
    if errors:
        raise Problem(422, "Invalid input", "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                      errors=errors)
    d["parameter"] = orjson.dumps(d.get("parameter") or {}).decode()
    return d


async def create_indikator(principal: Principal, body: IndikatorIn) -> dict:
    pemilik_level = await level_of(body.pemilik, "pemilik")
    require_write(principal, body.pemilik)
    d = body.model_dump()
    d["level"] = d["level"] or pemilik_level
    async with db.transaction() as conn:
        d = await _validate_definition(conn, d)
        row = (await conn.execute(queries.INDIKATOR_INSERT, {**d, "oleh": principal.name})).mappings().first()
    if row is None:
        raise _conflict_kode("indikator", body.kode, body.pemilik)
    return _indikator_out(row)


async def get_indikator(principal: Principal, indikator_id: int) -> dict:
    require_read(principal)
    async with db.connect() as conn:
        row = (await conn.execute(queries.INDIKATOR_GET, {"id": indikator_id})).mappings().first()
    if row is None or not visible(principal, row["pemilik"]):
        raise _not_found("indikator", indikator_id)
    return _indikator_out(row)


async def list_indikator(principal: Principal, pemilik: str | None, sasaran_id: int | None) -> list[dict]:
    rows = await _list_visible(principal, pemilik, queries.INDIKATOR_LIST, sasaran_id=sasaran_id)
    return [_indikator_out(r) for r in rows]


async def patch_indikator(principal: Principal, indikator_id: int, body: IndikatorPatch) -> dict:
    async with db.transaction() as conn:
        row = (await conn.execute(queries.INDIKATOR_GET_FOR_UPDATE, {"id": indikator_id})).mappings().first()
        if row is None:
            raise _not_found("indikator", indikator_id)
        require_write(principal, row["pemilik"], hidden=_not_found("indikator", indikator_id))
        d = _indikator_out(row)
        changes = body.model_dump(exclude_unset=True)
        nulls = [k for k, v in changes.items() if v is None and k not in ("formula",)]
        if nulls:
            raise Problem(422, "Invalid input", "these fields cannot be null",
                          errors=[{"field": k, "message": "cannot be null"} for k in nulls])
        d.update(changes)
        d = await _validate_definition(conn, d)
        try:
            async with conn.begin_nested():
                out = (await conn.execute(queries.INDIKATOR_UPDATE, d)).mappings().one()
        except IntegrityError:
            raise _conflict_kode("indikator", d["kode"], d["pemilik"]) from None
    return _indikator_out(out)


async def _indikator_for_values(conn, principal: Principal, indikator_id: int, wilayah: str,
                                *, write: bool) -> dict:
    """The indicator, after checking the key may read or write values of `wilayah` for it and
    that `wilayah` is one the indicator is reported for."""
    if write and principal.role not in WRITERS:
        raise Problem(403, "Forbidden", f"role {principal.role!r} may not change indicators; "
                                        f"allowed: {', '.join(WRITERS)}")
    if not write:
        require_read(principal)
    row = (await conn.execute(queries.INDIKATOR_GET, {"id": indikator_id})).mappings().first()
    if row is None or not visible(principal, row["pemilik"]):
        raise _not_found("indikator", indikator_id)
    lvl = await level_of(wilayah, "kode_wilayah")
    if write:
        require_write(principal, row["pemilik"])
    elif not covers(principal, wilayah):
        raise _forbid(principal, wilayah)
    if lvl != row["level"] or not within(wilayah, row["pemilik"]):
        raise Problem(422, "Invalid input",
                      f"indikator {row['kode']} is reported for {row['level']} wilayah within {row['pemilik']}",
                      errors=[{"field": "kode_wilayah",
                               "message": f"must be a {row['level']} wilayah within {row['pemilik']}"}])
    return _indikator_out(row)


# ---------------------------------------------------------------------------------------------
# Targets and realisasi


def _revisi(r) -> dict:
    d = dict(r)
    d["nilai"] = angka.teks(d["nilai"])
    return d


async def put_target(principal: Principal, indikator_id: int, wilayah: str, tahun: int,
                     body: IndikatorTargetIn) -> dict:
    async with db.transaction() as conn:
        await _indikator_for_values(conn, principal, indikator_id, wilayah, write=True)
        await conn.execute(queries.TARGET_INSERT, {
            "indikator_id": indikator_id, "wilayah": wilayah, "tahun": tahun, "nilai": body.nilai,
            "keterangan": body.keterangan, "oleh": principal.name, "oleh_key": principal.id})
        rows = (await conn.execute(queries.TARGET_HISTORY, {
            "indikator_id": indikator_id, "wilayah": wilayah, "tahun": tahun})).mappings().all()
    riwayat = [_revisi(r) for r in rows]
    return {"tahun": tahun, "nilai": riwayat[0]["nilai"], "riwayat": riwayat}


async def get_targets(principal: Principal, indikator_id: int, wilayah: str, tahun: int | None) -> dict:
    async with db.connect() as conn:
        await _indikator_for_values(conn, principal, indikator_id, wilayah, write=False)
        rows = (await conn.execute(queries.TARGET_HISTORY, {
            "indikator_id": indikator_id, "wilayah": wilayah, "tahun": tahun})).mappings().all()
    per_tahun: OrderedDict[int, list[dict]] = OrderedDict()
    for r in rows:
        per_tahun.setdefault(r["tahun"], []).append(_revisi(r))
    return {"indikator_id": indikator_id, "kode_wilayah": wilayah,
            "items": [{"tahun": t, "nilai": rs[0]["nilai"], "riwayat": rs} for t, rs in per_tahun.items()]}


async def put_realisasi(principal: Principal, indikator_id: int, wilayah: str, tahun: int,
                        body: RealisasiIn) -> dict:
    async with db.transaction() as conn:
        ind = await _indikator_for_values(conn, principal, indikator_id, wilayah, write=True)
        if ind["sumber"] == "registry":
            raise Problem(409, "Conflict", f"indikator {ind['kode']} is computed from the registry "
                                           f"(formula {ind['formula']}); its realisasi cannot be entered",
                          errors=[{"field": "nilai", "message": "computed from the registry"}])
        await conn.execute(queries.REALISASI_INSERT, {
            "indikator_id": indikator_id, "wilayah": wilayah, "tahun": tahun, "nilai": body.nilai,
            "sumber": body.sumber, "catatan": body.catatan, "oleh": principal.name, "oleh_key": principal.id})
        rows = (await conn.execute(queries.REALISASI_HISTORY, {
            "indikator_id": indikator_id, "wilayah": wilayah, "tahun": tahun})).mappings().all()
    return _realisasi_manual(indikator_id, wilayah, tahun, rows)


def _realisasi_manual(indikator_id: int, wilayah: str, tahun: int, rows) -> dict:
    riwayat = [_revisi(r) for r in rows]
    return {"indikator_id": indikator_id, "kode_wilayah": wilayah, "tahun": tahun, "sumber": "manual",
            "nilai": riwayat[0]["nilai"] if riwayat else None,
            "nilai_sumber": riwayat[0]["sumber"] if riwayat else None, "riwayat": riwayat}


async def get_realisasi(principal: Principal, indikator_id: int, wilayah: str, tahun: int,
                        as_of: dt.date | None) -> dict:
    async with db.connect() as conn:
        ind = await _indikator_for_values(conn, principal, indikator_id, wilayah, write=False)
        if ind["sumber"] == "manual":
            rows = (await conn.execute(queries.REALISASI_HISTORY, {
                "indikator_id": indikator_id, "wilayah": wilayah, "tahun": tahun})).mappings().all()
            return _realisasi_manual(indikator_id, wilayah, tahun, rows)
        resolved, _ = formulas.resolve(ind["formula"], ind["parameter"])
        hasil = await hitung_registry(conn, ind["level"], wilayah, {indikator_id: resolved}, [tahun],
                                      as_of or today_wib())
    nilai, komponen = hasil[(indikator_id, tahun)]
    return {"indikator_id": indikator_id, "kode_wilayah": wilayah, "tahun": tahun, "sumber": "registry",
            "nilai": angka.teks(nilai, hasil=True), "nilai_sumber": None, "komponen": komponen, "riwayat": []}


# ---------------------------------------------------------------------------------------------
# Registry-computed realisasi


def _kolom_key(term: str, modifier: dict) -> tuple:
    u = queries.UKURAN[term]
    return (term,) + tuple((p, tuple(modifier[p]) if isinstance(modifier[p], list) else modifier[p])
                           for p in u.parameter)


async def hitung_registry(conn, level: str, wilayah: str, items: dict[int, formulas.Resolved],
                          tahun_list: list[int], as_of: dt.date) -> dict[tuple[int, int], tuple]:
    """Realisasi of registry indicators for each year: {(id, tahun): (value, komponen)}.
    Every term of every indicator and year comes from one statement over the registry (and one
    over target_pendataan when a formula needs it)."""
    periodes: set[int] = set()
    kolom: dict[tuple, int] = {}
    kolom_list: list[tuple[str, dict]] = []
    butuh_target = False
    for r in items.values():
        for t in tahun_list:
            periodes.add(t)
            if r.bentuk == "pertumbuhan":
                periodes.add(t - 1)
        for term in r.terms():
            if term == queries.TARGET_PENDATAAN:
                butuh_target = True
                continue
            key = _kolom_key(term, r.modifier)
            if key not in kolom:
                kolom[key] = len(kolom_list)
                kolom_list.append((term, r.modifier))
    per_periode: dict[str, Any] = {}
    binds_periode = sorted(str(p) for p in periodes)
    if kolom_list:
        stmt, binds = queries.registry_statement(level, kolom_list)
        rows = (await conn.execute(stmt, {**binds, "periodes": binds_periode,
                                          "wilayah": None if level == NASIONAL else wilayah})).mappings().all()
        per_periode = {r["periode"]: r for r in rows}
    target: dict[str, int] = {}
    if butuh_target and level != NASIONAL:
        rows = (await conn.execute(queries.TARGET_PENDATAAN_IN_FORCE, {
            "wilayah": wilayah, "periodes": binds_periode, "as_of": as_of})).all()
        target = {p: t for p, t in rows}

    def nilai(term: str, modifier: dict, tahun: int) -> Decimal | None:
        p = str(tahun)
        if term == queries.TARGET_PENDATAAN:
            v = target.get(p)
            return None if v is None else Decimal(v)
        row = per_periode.get(p)
        if row is None:
            # no diterima record in that periode: counts are 0, sums are unknown
            return Decimal(0) if queries.UKURAN[term].hitungan else None
        v = row[f"k{kolom[_kolom_key(term, modifier)]}"]
        return None if v is None else Decimal(v)

    out: dict[tuple[int, int], tuple] = {}
    for ind_id, r in items.items():
        for t in tahun_list:
            komponen: dict[str, Any] = {}
            if r.bentuk == "rasio":
                a, b = nilai(r.pembilang, r.modifier, t), nilai(r.penyebut, r.modifier, t)
                komponen[str(t)] = {r.pembilang: angka.teks(a), r.penyebut: angka.teks(b)}
                v = angka.bagi(a, b)
                if v is not None and r.satuan == "persen":
                    v = angka.CONTEXT.multiply(v, angka.SERATUS)
            elif r.bentuk == "pertumbuhan":
                a, b = nilai(r.pembilang, r.modifier, t), nilai(r.pembilang, r.modifier, t - 1)
                komponen[str(t)] = {r.pembilang: angka.teks(a)}
                komponen[str(t - 1)] = {r.pembilang: angka.teks(b)}
                v = None if a is None or b is None else angka.bagi(angka.CONTEXT.subtract(a, b), b)
                if v is not None:
                    v = angka.CONTEXT.multiply(v, angka.SERATUS)
            else:
                v = nilai(r.pembilang, r.modifier, t)
                komponen[str(t)] = {r.pembilang: angka.teks(v)}
            # computed values carry no meaningful trailing zeros (60.0 -> 60)
            out[(ind_id, t)] = (None if v is None else v.normalize(angka.CONTEXT), komponen)
    return out


# ---------------------------------------------------------------------------------------------
# Predikat scales


async def _skala(conn, wilayah: str) -> tuple[str, str | None, list[tuple[Decimal | None, str]]]:
    """The scale in force for a wilayah: its own, else its nearest ancestor's, else the default."""
    anc = ancestors(wilayah)
    rows = {r["kode_wilayah"]: r for r in
            (await conn.execute(queries.PREDIKAT_SKALA_TERBARU, {"wilayah": anc})).mappings().all()}
    for kode in reversed(anc):
        r = rows.get(kode)
        if r is not None and not r["dihapus"]:
            bands = (await conn.execute(queries.PREDIKAT_BAND, {"id": r["id"]})).all()
            return kode, r["nama"], [(b, p) for b, p in bands]
    bands = (await conn.execute(queries.PREDIKAT_BAWAAN)).all()
    return "bawaan", "Permendagri 86/2017", [(b, p) for b, p in bands]


def _skala_out(wilayah: str, skala: tuple) -> dict:
    dari, nama, bands = skala
    return {"kode_wilayah": wilayah, "berlaku_dari": dari, "nama": nama,
            "bands": [{"batas_bawah": angka.teks(b), "predikat": p} for b, p in bands]}


async def get_predikat(principal: Principal, wilayah: str) -> dict:
    await level_of(wilayah, "kode_wilayah")
    require_read(principal, wilayah)
    async with db.connect() as conn:
        return _skala_out(wilayah, await _skala(conn, wilayah))


async def put_predikat(principal: Principal, wilayah: str, body: PredikatIn) -> dict:
    await level_of(wilayah, "kode_wilayah")
    require_write(principal, wilayah)
    catch_all = [i for i, b in enumerate(body.bands) if b.batas_bawah is None]
    errors = []
    if len(catch_all) != 1:
        errors.append({"field": "bands", "message": "exactly one band needs batas_bawah null: the lowest, "
                                                    "for every capaian below the others"})
    seen: set[Decimal] = set()
    for i, b in enumerate(body.bands):
        if b.batas_bawah is not None:
            if b.batas_bawah in seen:
                errors.append({"field": f"bands.{i}.batas_bawah", "message": "two bands with the same bound"})
            seen.add(b.batas_bawah)
    if errors:
        raise Problem(422, "Invalid input", "the band table is not a scale", errors=errors)
    # Highest bound first, the catch-all last: evaluation takes the first band reached.
    ordered = sorted(body.bands, key=lambda b: (b.batas_bawah is None, -(b.batas_bawah or 0)))
    bands = [{"urutan": i + 1, "batas_bawah": None if b.batas_bawah is None else str(b.batas_bawah),
              "predikat": b.predikat} for i, b in enumerate(ordered)]
    async with db.transaction() as conn:
        row = (await conn.execute(queries.PREDIKAT_SKALA_INSERT, {
            "wilayah": wilayah, "nama": body.nama, "dihapus": False, "oleh": principal.name})).mappings().one()
        await conn.execute(queries.PREDIKAT_BAND_INSERT, {"id": row["id"], "bands": orjson.dumps(bands).decode()})
        return _skala_out(wilayah, await _skala(conn, wilayah))


async def delete_predikat(principal: Principal, wilayah: str) -> dict:
    await level_of(wilayah, "kode_wilayah")
    require_write(principal, wilayah)
    async with db.transaction() as conn:
        if (await _skala(conn, wilayah))[0] != wilayah:
            raise Problem(404, "Not Found", f"wilayah {wilayah} has no scale of its own")
        await conn.execute(queries.PREDIKAT_SKALA_INSERT, {
            "wilayah": wilayah, "nama": None, "dihapus": True, "oleh": principal.name})
        return _skala_out(wilayah, await _skala(conn, wilayah))


# ---------------------------------------------------------------------------------------------
# LKjIP table


def _capaian(polaritas: str, target: Decimal | None, realisasi: Decimal | None,
             bands) -> tuple[dict, Decimal | None]:
    c = angka.capaian(polaritas, target, realisasi)
    return _capaian_out(c, bands), c


def _capaian_out(c: Decimal | None, bands) -> dict:
    return {"capaian_persen": angka.teks(c, hasil=True), "capaian_persen_bulat": angka.teks(angka.bulat(c)),
            "predikat": angka.predikat(c, bands)}


async def lkjip(principal: Principal, tahun: int, wilayah: str | None, sebelumnya: int,
                pemilik: str | None, as_of: dt.date | None) -> dict:
    require_read(principal)
    wilayah = wilayah or principal.kode_wilayah or NASIONAL
    level = await level_of(wilayah, "wilayah")
    require_read(principal, wilayah)
    owners = ancestors(wilayah)
    if pemilik is not None:
        if pemilik not in owners:
            raise Problem(422, "Invalid input", f"pemilik {pemilik} is not {wilayah} or one of its ancestors",
                          errors=[{"field": "pemilik", "message": "must be the wilayah or one of its ancestors"}])
        owners = [pemilik]
    as_of = as_of or today_wib()
    tahun_lalu = [tahun - k for k in range(1, sebelumnya + 1)]
    tahun_realisasi = [tahun] + tahun_lalu
    nama_wilayah = "Nasional" if wilayah == NASIONAL else (await get_index()).nama[wilayah]
    # A report: a standby may answer (app.core.replicas); the response says how fresh it is.
    async with replicas.connect() as conn:
        rows = (await conn.execute(queries.LKJIP_INDIKATOR, {"level": level, "pemilik": owners})).mappings().all()
        ids = [r["id"] for r in rows]
        tahun_target = sorted(set(tahun_realisasi) | {r["renstra_akhir"] for r in rows})
        targets = {(i, t): v for i, t, v in (await conn.execute(queries.TARGET_CURRENT, {
            "ids": ids, "wilayah": wilayah, "tahun": tahun_target})).all()}
        manual = [r["id"] for r in rows if r["sumber"] == "manual"]
        realisasi = {(i, t): (v, s) for i, t, v, s in (await conn.execute(queries.REALISASI_CURRENT, {
            "ids": manual, "wilayah": wilayah, "tahun": tahun_realisasi})).all()}
        registry = {}
        for r in rows:
            if r["sumber"] == "registry":
                params = r["parameter"] if isinstance(r["parameter"], dict) else orjson.loads(r["parameter"])
                resolved, _ = formulas.resolve(r["formula"], params)
                registry[r["id"]] = resolved
        if registry:
            for (i, t), (v, _) in (await hitung_registry(conn, level, wilayah, registry, tahun_realisasi,
                                                         as_of)).items():
                realisasi[(i, t)] = (v, "registry")
        skala = await _skala(conn, wilayah)
    bands = skala[2]

    sasaran: OrderedDict[int, dict] = OrderedDict()
    for r in rows:
        s = sasaran.get(r["sasaran_id"])
        if s is None:
            s = sasaran[r["sasaran_id"]] = {
                "id": r["sasaran_id"], "pemilik": r["pemilik"], "kode": r["sasaran_kode"],
                "nama": r["sasaran_nama"],
                "tujuan": None if r["tujuan_id"] is None else {
                    "id": r["tujuan_id"], "kode": r["tujuan_kode"], "nama": r["tujuan_nama"]},
                "indikator": [], "_nilai": {t: [] for t in tahun_realisasi}, "_renstra": []}
        pol = r["polaritas"]
        target = targets.get((r["id"], tahun))
        real, real_sumber = realisasi.get((r["id"], tahun), (None, None))
        now, c = _capaian(pol, target, real, bands)
        s["_nilai"][tahun].append(c)
        lalu = []
        for t in tahun_lalu:
            tt, (rr, _) = targets.get((r["id"], t)), realisasi.get((r["id"], t), (None, None))
            out, ct = _capaian(pol, tt, rr, bands)
            s["_nilai"][t].append(ct)
            lalu.append({"tahun": t, "target": angka.teks(tt), "realisasi": angka.teks(rr), **out})
        target_akhir = targets.get((r["id"], r["renstra_akhir"]))
        renstra, cr = _capaian(pol, target_akhir, real, bands)
        s["_renstra"].append(cr)
        s["indikator"].append({
            "id": r["id"], "pemilik": r["pemilik"], "kode": r["kode"], "nama": r["nama"], "jenis": r["jenis"],
            "satuan": r["satuan"], "polaritas": pol, "sumber": r["sumber"], "formula": r["formula"],
            "target": angka.teks(target), "realisasi": angka.teks(real), "realisasi_sumber": real_sumber,
            **now, "tahun_sebelumnya": lalu,
            "renstra": {"tahun_akhir": r["renstra_akhir"], "target": angka.teks(target_akhir), **renstra},
        })
    out_sasaran = []
    for s in sasaran.values():
        # A sasaran's capaian is the mean of its indicators' capaian; an indicator without
        # one (no target or realisasi yet) is left out rather than counted as 0.
        nilai = s.pop("_nilai")
        renstra = s.pop("_renstra")
        out_sasaran.append({
            **{k: v for k, v in s.items() if k != "indikator"},
            **_capaian_out(angka.rata_rata(nilai[tahun]), bands),
            "tahun_sebelumnya": [{"tahun": t, **_capaian_out(angka.rata_rata(nilai[t]), bands)}
                                 for t in tahun_lalu],
            "renstra": _capaian_out(angka.rata_rata(renstra), bands),
            "indikator": s["indikator"],
        })
    return {"tahun": tahun, "wilayah": {"kode": wilayah, "nama": nama_wilayah, "level": level},
            "as_of": as_of, "tahun_sebelumnya": tahun_lalu, "skala_predikat": _skala_out(wilayah, skala),
            "sasaran": out_sasaran}


def _fmt(v: str | None, satuan: str) -> str:
    return angka.format_id(None if v is None else Decimal(v), persen=satuan == "persen")


def _fmt_capaian(v: str | None) -> str:
    return angka.format_id(None if v is None else Decimal(v), 2, persen=True)


class _SafeWriter:
    """A csv writer whose text cells are neutralised (app.csvcell): indicator and sasaran
    names are typed by people."""

    def __init__(self, writer):
        self._w = writer

    def writerow(self, cells) -> None:
        self._w.writerow(csvcell.row(cells))


def lkjip_csv(doc: dict) -> str:
    """The LKjIP table as an RFC 4180 CSV with Indonesian headers and number format: a row per
    sasaran (its capaian: the mean), then a row per indicator."""
    tahun = doc["tahun"]
    lalu = doc["tahun_sebelumnya"]
    header = ["No", "Tujuan", "Sasaran", "Kode indikator", "Indikator", "Satuan", "Polaritas",
              f"Target {tahun}", f"Realisasi {tahun}", f"Capaian {tahun}", f"Predikat {tahun}"]
    for t in lalu:
        header += [f"Capaian {t}", f"Predikat {t}"]
    header += ["Tahun akhir Renstra", "Target akhir Renstra", "Capaian thd target akhir Renstra",
               "Predikat thd target akhir Renstra"]
    buf = io.StringIO()
    w = _SafeWriter(csv.writer(buf, lineterminator="\r\n"))
    w.writerow(header)
    for n, s in enumerate(doc["sasaran"], 1):
        tujuan = s["tujuan"]["nama"] if s["tujuan"] else ""
        row = [str(n), tujuan, s["nama"], "", "Capaian sasaran (rata-rata)", "", "", "", "",
               _fmt_capaian(s["capaian_persen"]), s["predikat"] or "-"]
        for x in s["tahun_sebelumnya"]:
            row += [_fmt_capaian(x["capaian_persen"]), x["predikat"] or "-"]
        row += ["", "", _fmt_capaian(s["renstra"]["capaian_persen"]), s["renstra"]["predikat"] or "-"]
        w.writerow(row)
        for m, i in enumerate(s["indikator"], 1):
            row = [f"{n}.{m}", tujuan, s["nama"], i["kode"], i["nama"], i["satuan"], i["polaritas"],
                   _fmt(i["target"], i["satuan"]), _fmt(i["realisasi"], i["satuan"]),
                   _fmt_capaian(i["capaian_persen"]), i["predikat"] or "-"]
            for x in i["tahun_sebelumnya"]:
                row += [_fmt_capaian(x["capaian_persen"]), x["predikat"] or "-"]
            r = i["renstra"]
            row += [str(r["tahun_akhir"]), _fmt(r["target"], i["satuan"]), _fmt_capaian(r["capaian_persen"]),
                    r["predikat"] or "-"]
            w.writerow(row)
    return buf.getvalue()
