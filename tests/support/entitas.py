"""Entities for the tests of what is computed from them (indicators, dashboard counts).

`tautkan_antrian(pg)` links every record waiting in `kumkm_antrian`, as the linker's hard
identifier rules do (migration 0011's tables; docs/registry.md): a UMKM by its NIB, a koperasi
by its NIK koperasi, then its nomor badan hukum; a record without an identifier anyone holds
gets a new entity. It stands in for the linker (branch reg-linker) until that is merged, and is
then to call the linker itself; tests call only this. `gabung(pg, a, b)` moves every link of
`b`'s entity into `a`'s, as a verifikator's `tautkan` of a candidate would."""
from __future__ import annotations

import re

# Damm's quasigroup of order 10: the check digit of id_kumkm (the registry spec).
_DAMM = ((0, 3, 1, 7, 5, 9, 8, 6, 4, 2), (7, 0, 9, 2, 1, 5, 4, 8, 6, 3), (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
         (1, 7, 5, 0, 9, 8, 3, 4, 2, 6), (6, 1, 2, 3, 0, 4, 5, 9, 7, 8), (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
         (5, 8, 6, 9, 7, 2, 0, 1, 3, 4), (8, 9, 4, 5, 3, 6, 2, 0, 1, 7), (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
         (2, 5, 8, 1, 4, 3, 6, 7, 9, 0))


def id_kumkm(jenis: str, nomor: int) -> str:
    huruf = "K" if jenis == "koperasi" else "U"
    angka = f"{'1' if huruf == 'K' else '2'}{nomor:09d}"
    c = 0
    for d in angka:
        c = _DAMM[c][int(d)]
    return f"{huruf}{nomor:09d}{c}"


_PENGENAL = {"umkm": ("nib",), "koperasi": ("nik_koperasi", "nomor_badan_hukum")}


def _normal(jenis_pengenal: str, nilai: str) -> str:
    if jenis_pengenal == "nomor_badan_hukum":
        return re.sub(r"[^0-9A-Z]", "", nilai.upper())
    return re.sub(r"[^0-9]", "", nilai)


_WAITING = """
    SELECT s.submission_id, s.periode, s.jenis, s.kode_provinsi, s.kode_kabkota, s.status, v.data
    FROM kumkm_antrian a JOIN submissions s ON s.submission_id = a.submission_id
    JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    ORDER BY s.periode, a.pada, s.submission_id
"""


async def tautkan_antrian(pg) -> int:
    """Link every queued diterima record; returns how many were linked."""
    import orjson

    n = 0
    async with pg.transaction():
        for row in await pg.fetch(_WAITING):
            sid = row["submission_id"]
            await pg.execute("DELETE FROM kumkm_antrian WHERE submission_id = $1", sid)
            if row["status"] != "diterima":
                await pg.execute("DELETE FROM kumkm_tautan WHERE submission_id = $1", sid)
                continue
            if await pg.fetchval("SELECT 1 FROM kumkm_tautan WHERE submission_id = $1", sid):
                continue
            data = row["data"] if isinstance(row["data"], dict) else orjson.loads(row["data"])
            pengenal = [(p, _normal(p, data[p])) for p in _PENGENAL[row["jenis"]] if data.get(p)]
            entitas, dasar = None, "baru"
            for p, nilai in pengenal:
                entitas = await pg.fetchval(
                    "SELECT g.id_kumkm FROM kumkm_pengenal g JOIN kumkm k ON k.id_kumkm = g.id_kumkm "
                    "WHERE g.jenis_pengenal = $1 AND g.nilai = $2 AND k.jenis = $3", p, nilai, row["jenis"])
                if entitas is not None:
                    dasar = p
                    break
            if entitas is None:
                entitas = id_kumkm(row["jenis"], await pg.fetchval("SELECT nextval('kumkm_nomor')"))
                await pg.execute("INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota) VALUES ($1, $2, $3, $4)",
                                 entitas, row["jenis"], row["kode_provinsi"], row["kode_kabkota"])
            for p, nilai in pengenal:
                await pg.execute("INSERT INTO kumkm_pengenal (jenis_pengenal, nilai, id_kumkm) VALUES ($1, $2, $3) "
                                 "ON CONFLICT DO NOTHING", p, nilai, entitas)
            await pg.execute("INSERT INTO kumkm_tautan (submission_id, id_kumkm, periode, dasar) VALUES ($1, $2, $3, $4)",
                             sid, entitas, row["periode"], dasar)
            await pg.execute("UPDATE kumkm SET versi = versi + 1, diperbarui_pada = now(), kode_provinsi = $2, "
                             "kode_kabkota = $3 WHERE id_kumkm = $1", entitas, row["kode_provinsi"], row["kode_kabkota"])
            n += 1
    return n


async def entitas_of(pg, submission_id: str) -> str:
    return await pg.fetchval("SELECT id_kumkm FROM kumkm_tautan WHERE submission_id = $1::uuid", submission_id)


async def gabung(pg, submission_a: str, submission_b: str) -> None:
    """The entity of record b merged into the entity of record a (a verifikator's tautkan)."""
    a, b = await entitas_of(pg, submission_a), await entitas_of(pg, submission_b)
    assert a and b and a != b
    async with pg.transaction():
        await pg.execute("UPDATE kumkm_tautan SET id_kumkm = $1, dasar = 'gabung' WHERE id_kumkm = $2", a, b)
        await pg.execute("UPDATE kumkm_pengenal SET id_kumkm = $1 WHERE id_kumkm = $2", a, b)
        await pg.execute("UPDATE kumkm SET digabung_ke = $1, versi = versi + 1 WHERE id_kumkm = $2", a, b)
        await pg.execute("UPDATE kumkm SET versi = versi + 1 WHERE id_kumkm = $1", a)
