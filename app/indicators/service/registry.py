"""Realisasi computed from the registry: the formulas of app.indicators.formulas run as one
set-based query per level."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from app.indicators import angka, formulas, queries
from app.indicators.service.access import NASIONAL

# ---------------------------------------------------------------------------------------------
# Registry-computed realisasi


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
        # Read from the counts the registry's writes keep (kumkm_rekap): a few hundred rows per
        # periode at any level, exactly what entitas_statement computes from the links.
        stmt, binds = queries.rekap_statement(level, per_sumber["entitas"])
        rows = (await conn.execute(stmt, {**binds, "periodes": binds_periode, "wilayah": bind_wilayah})).mappings().all()
        per_periode["entitas"] = {r["periode"]: r for r in rows}
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


# ---------------------------------------------------------------------------------------------
# The kept counts against the recount (`kumkm registry rekap --periksa`, the tests)


def _istilah_entitas() -> list[tuple[str, dict]]:
    """Every entity term, umkm_meningkat once per kolom: what kumkm_rekap keeps."""
    out: list[tuple[str, dict]] = []
    for nama, u in sorted(queries.UKURAN.items()):
        if u.sumber != "entitas":
            continue
        if "kolom" in u.parameter:
            out.extend((nama, {"kolom": k}) for k in queries.KOLOM_MENINGKAT)
        else:
            out.append((nama, {}))
    return out


def _label(term: str, modifier: dict) -> str:
    return f"{term}({modifier['kolom']})" if "kolom" in modifier else term


async def periksa_rekap(conn) -> dict[str, Any]:
    """Every entity term per (periode, kode_kabkota) as read (kumkm_rekap) and as computed from
    the links (entitas_statement), over every periode with a state and the one after each. The
    caller runs it in one REPEATABLE READ transaction, so both read one snapshot. Returns the
    rows compared and the differences: [{periode, kode_kabkota, istilah, rekap, hitung}]."""
    periodes = [p for (p,) in (await conn.execute(queries.ENTITAS_PERIODE)).all()]
    kolom = _istilah_entitas()
    if not periodes:
        return {"periode": [], "baris": 0, "istilah": len(kolom), "selisih": []}
    semua = sorted(set(periodes) | {str(int(p) - 1) for p in periodes})
    read: dict[tuple[str, str], dict[str, Any]] = {}
    for key, (stmt, binds) in (
        ("rekap", queries.rekap_statement("nasional", kolom, per_kabkota=True)),
        ("hitung", queries.entitas_statement("nasional", kolom, per_kabkota=True)),
    ):
        rows = (await conn.execute(stmt, {**binds, "periodes": periodes, "semua": semua, "wilayah": None})).mappings().all()
        for r in rows:
            read.setdefault((r["periode"], r["kode_kabkota"]), {})[key] = r
    selisih = []
    for (periode, kabkota), both in sorted(read.items()):
        for i, (term, modifier) in enumerate(kolom):
            hitungan = queries.UKURAN[term].hitungan
            vals = []
            for key in ("rekap", "hitung"):
                row = both.get(key)
                v = None if row is None else row[f"k{i}"]
                # a (periode, kabkota) one side has no row for: counts 0, sums unknown
                vals.append(Decimal(0) if v is None and hitungan else (None if v is None else Decimal(v)))
            if vals[0] != vals[1]:
                selisih.append(
                    {
                        "periode": periode,
                        "kode_kabkota": kabkota,
                        "istilah": _label(term, modifier),
                        "rekap": angka.teks(vals[0]),
                        "hitung": angka.teks(vals[1]),
                    }
                )
    return {"periode": periodes, "baris": len(read), "istilah": len(kolom), "selisih": selisih}
