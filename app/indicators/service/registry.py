"""Realisasi computed from the registry: the formulas of app.indicators.formulas run as one
set-based query per level."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from app.indicators import angka, formulas, queries
from app.indicators.service.access import NASIONAL

# ---------------------------------------------------------------------------------------------
# Registry-computed realisasi


# Entity terms read every entity of the wilayah in two periode: at the national level that is
# every link of both rounds. A result is kept in this process and served again while what it
# depends on is unchanged (queries.ENTITAS_VERSI, one look-up of three maxima): the LKjIP of a
# closed round is computed once, not at every read; during a round, data changes and every
# read computes afresh. Bounded: the least recently used result goes first.
_TERSIMPAN: OrderedDict[tuple, tuple[tuple, dict[str, Any]]] = OrderedDict()
TERSIMPAN_MAKS = 256


def _freeze(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


async def _entitas(conn, stmt, params: dict[str, Any]) -> dict[str, Any]:
    key = (str(stmt), tuple(sorted((k, _freeze(v)) for k, v in params.items())))
    kept = _TERSIMPAN.get(key)
    if kept is not None:
        versi = tuple((await conn.execute(queries.ENTITAS_VERSI)).one())
        if versi == kept[0]:
            _TERSIMPAN.move_to_end(key)
            return kept[1]
        _TERSIMPAN.pop(key, None)
    rows = (await conn.execute(stmt, params)).mappings().all()
    out = {r["periode"]: r for r in rows}
    if rows and rows[0]["tenang"]:
        r = rows[0]
        _TERSIMPAN[key] = ((r["versi_peristiwa"], r["versi_changes"], r["versi_nomor"]), out)
        while len(_TERSIMPAN) > TERSIMPAN_MAKS:
            _TERSIMPAN.popitem(last=False)
    return out


def _kolom_key(term: str, modifier: dict) -> tuple:
    u = queries.UKURAN[term]
    return (term,) + tuple((p, tuple(modifier[p]) if isinstance(modifier[p], list) else modifier[p]) for p in u.parameter)


async def hitung_registry(
    conn, level: str, wilayah: str, items: dict[int, formulas.Resolved], tahun_list: list[int], as_of: dt.date
) -> dict[tuple[int, int], tuple]:
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
    # Terms over records and terms over entities come from one statement each; a term's value
    # is found by (sumber, its column in that statement).
    binds_periode = sorted(str(p) for p in periodes)
    bind_wilayah = None if level == NASIONAL else wilayah
    kolom_at: dict[int, tuple[str, int]] = {}
    per_sumber: dict[str, list[tuple[str, dict]]] = {"rekaman": [], "entitas": []}
    for i, (term, modifier) in enumerate(kolom_list):
        daftar = per_sumber[queries.UKURAN[term].sumber]
        kolom_at[i] = (queries.UKURAN[term].sumber, len(daftar))
        daftar.append((term, modifier))
    per_periode: dict[str, dict[str, Any]] = {"rekaman": {}, "entitas": {}}
    if per_sumber["rekaman"]:
        stmt, binds = queries.registry_statement(level, per_sumber["rekaman"])
        rows = (await conn.execute(stmt, {**binds, "periodes": binds_periode, "wilayah": bind_wilayah})).mappings().all()
        per_periode["rekaman"] = {r["periode"]: r for r in rows}
    if per_sumber["entitas"]:
        # each periode t is read with t-1: an entity's change is between the two
        semua = sorted({str(p) for p in periodes} | {str(p - 1) for p in periodes})
        stmt, binds = queries.entitas_statement(level, per_sumber["entitas"])
        per_periode["entitas"] = await _entitas(conn, stmt, {**binds, "periodes": binds_periode, "semua": semua, "wilayah": bind_wilayah})
    target: dict[str, int] = {}
    if butuh_target and level != NASIONAL:
        rows = (
            await conn.execute(queries.TARGET_PENDATAAN_IN_FORCE, {"wilayah": wilayah, "periodes": binds_periode, "as_of": as_of})
        ).all()
        target = {p: t for p, t in rows}

    def nilai(term: str, modifier: dict, tahun: int) -> Decimal | None:
        p = str(tahun)
        if term == queries.TARGET_PENDATAAN:
            v = target.get(p)
            return None if v is None else Decimal(v)
        sumber, k = kolom_at[kolom[_kolom_key(term, modifier)]]
        row = per_periode[sumber].get(p)
        if row is None:
            # no diterima record (entity) in that periode: counts are 0, sums are unknown
            return Decimal(0) if queries.UKURAN[term].hitungan else None
        v = row[f"k{k}"]
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
