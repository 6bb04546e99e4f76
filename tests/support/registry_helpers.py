"""Entities for the tests of the entity API and the verifikator's actions: records are posted by
an enumerator and accepted by a verifikator over HTTP, as in production; the entities and
candidates over them are then made here in SQL, in the shape the linker (app.registry.service.
linker) writes, so that these tests do not depend on the linking rules they do not test."""
from __future__ import annotations

import json

from app.registry import idkumkm
from tests.support.common import auth
from tests.support.factories import koperasi, umkm


async def accepted(client, enum_key, verif_key, jenis: str = "umkm", **over) -> dict:
    """One record posted and accepted over HTTP; returns it as sent."""
    rec = umkm(**over) if jenis == "umkm" else koperasi(**over)
    r = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    assert r.status_code in (200, 201), r.text
    d = await client.post(f"/api/v1/submissions/{rec['submission_id']}/verifikasi",
                          json={"status": "diterima", "version": 1}, headers=auth(verif_key))
    assert d.status_code == 200, d.text
    return rec


async def entitas(pg, records: list[dict], dasar: str = "baru") -> str:
    """An entity holding these accepted records (the linker's shape: the entity, its links,
    its identifiers, its peristiwa `dibuat` and `ditautkan`); returns its id_kumkm."""
    sids = [r["submission_id"] for r in records]
    jenis = records[0]["jenis"]
    nomor = await pg.fetchval("SELECT nextval('kumkm_nomor')")
    id_kumkm = idkumkm.make(jenis, nomor)
    head = await pg.fetchrow("SELECT kode_provinsi, kode_kabkota FROM submissions WHERE submission_id = ANY($1::uuid[]) "
                             "ORDER BY periode DESC LIMIT 1", sids)
    await pg.execute("INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota) VALUES ($1, $2, $3, $4)",
                     id_kumkm, jenis, head["kode_provinsi"], head["kode_kabkota"])
    await pg.execute("INSERT INTO kumkm_peristiwa (id_kumkm, aksi, oleh) VALUES ($1, 'dibuat', 'sistem')", id_kumkm)
    for rec in records:
        await pg.execute("INSERT INTO kumkm_tautan (submission_id, id_kumkm, periode, dasar) VALUES ($1, $2, $3, $4)",
                         rec["submission_id"], id_kumkm, rec["periode"], dasar)
        await pg.execute("INSERT INTO kumkm_peristiwa (id_kumkm, aksi, oleh, detail) VALUES ($1, 'ditautkan', 'sistem', $2)",
                         id_kumkm, json.dumps({"submission_id": rec["submission_id"], "periode": rec["periode"],
                                               "dasar": dasar}))
        for field in ("nib", "nik_koperasi", "nomor_badan_hukum"):
            value = rec.get(field)
            if value:
                value = ("".join(c for c in value if c.isalnum()).upper() if field == "nomor_badan_hukum"
                         else "".join(c for c in value if c.isdigit()))
                await pg.execute("INSERT INTO kumkm_pengenal (jenis_pengenal, nilai, id_kumkm) VALUES ($1, $2, $3) "
                                 "ON CONFLICT DO NOTHING", field, value, id_kumkm)
    await pg.execute("DELETE FROM kumkm_antrian WHERE submission_id = ANY($1::uuid[])", sids)
    return id_kumkm


async def kandidat(pg, x: str, y: str, skor: float = 0.95, kabkota: str = "16.07", alasan=None) -> int:
    """An open candidate pair (the linker's shape: id_a < id_b)."""
    a, b = sorted((x, y))
    alasan = alasan or [{"kode": "nik_pemilik_sama"}, {"kode": "nama_mirip", "nilai": 0.9, "a": "sederhana",
                                                         "b": "sederhana jaya"}]
    return await pg.fetchval("INSERT INTO kumkm_kandidat (id_a, id_b, kode_kabkota, skor, alasan) "
                             "VALUES ($1, $2, $3, $4, $5) RETURNING id", a, b, kabkota, skor, json.dumps(alasan))


async def versi(pg, id_kumkm: str) -> int:
    return await pg.fetchval("SELECT versi FROM kumkm WHERE id_kumkm = $1", id_kumkm)


async def assert_whole(pg) -> None:
    """Nothing half merged: every link and identifier points at a live entity; every retired
    entity holds nothing and leads to a live one; every accepted, dequeued record is linked once."""
    bad_links = await pg.fetchval("SELECT count(*) FROM kumkm_tautan t JOIN kumkm k USING (id_kumkm) "
                                  "WHERE k.digabung_ke IS NOT NULL")
    bad_ids = await pg.fetchval("SELECT count(*) FROM kumkm_pengenal p JOIN kumkm k USING (id_kumkm) "
                                "WHERE k.digabung_ke IS NOT NULL")
    assert (bad_links, bad_ids) == (0, 0)
    dangling = await pg.fetchval("SELECT count(*) FROM kumkm k JOIN kumkm t ON t.id_kumkm = k.digabung_ke "
                                 "WHERE t.digabung_ke IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kumkm x "
                                 "WHERE x.digabung_ke IS NULL)")
    assert dangling == 0
    unlinked = await pg.fetchval("SELECT count(*) FROM submissions s WHERE s.status = 'diterima' AND NOT EXISTS "
                                 "(SELECT 1 FROM kumkm_tautan t WHERE t.submission_id = s.submission_id) "
                                 "AND NOT EXISTS (SELECT 1 FROM kumkm_antrian q WHERE q.submission_id = s.submission_id)")
    assert unlinked == 0
