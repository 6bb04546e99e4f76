"""Entities for the tests of the entity API and the verifikator's actions, made as in
production: records posted by an enumerator and accepted by a verifikator over HTTP, then
linked by the service's own background linker (app.registry.linker), which these helpers wait
for. Candidates with a chosen score are written here in SQL, in the linker's shape, so that a
test of the queue or of an action does not depend on the scoring rules it does not test."""

from __future__ import annotations

import json

from tests.support.common import auth, eventually
from tests.support.factories import koperasi, umkm


async def accepted(client, enum_key, verif_key, jenis: str = "umkm", **over) -> dict:
    """One record posted and accepted over HTTP; returns it as sent."""
    rec = umkm(**over) if jenis == "umkm" else koperasi(**over)
    r = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    assert r.status_code in (200, 201), r.text
    d = await client.post(
        f"/api/v1/submissions/{rec['submission_id']}/verifikasi", json={"status": "diterima", "version": 1}, headers=auth(verif_key)
    )
    assert d.status_code == 200, d.text
    return rec


async def linked(pg, records: list[dict]) -> dict[str, str]:
    """submission_id -> id_kumkm of accepted records, once the linker has linked every one."""
    sids = [r["submission_id"] for r in records]

    async def check():
        rows = await pg.fetch("SELECT submission_id::text AS sid, id_kumkm FROM kumkm_tautan WHERE submission_id = ANY($1::uuid[])", sids)
        return {r["sid"]: r["id_kumkm"] for r in rows} if len(rows) == len(sids) else None

    found = await eventually(check)
    assert found, f"the linker did not link {sids}"
    return found


async def entitas(pg, records: list[dict]) -> str:
    """The one entity the linker made of these accepted records (records meant to be one
    usaha share a hard identifier); its id_kumkm."""
    ids = set((await linked(pg, records)).values())
    assert len(ids) == 1, f"the records were linked to {ids}, not to one entity"
    return ids.pop()


async def kandidat(pg, x: str, y: str, skor: float = 0.95, kabkota: str = "16.07", alasan=None) -> int:
    """An open candidate pair (the linker's shape: id_a < id_b) with this score and these
    reasons; the linker's own candidate of the pair, if it made one, takes them."""
    a, b = sorted((x, y))
    alasan = alasan or [{"kode": "nik_pemilik_sama"}, {"kode": "nama_mirip", "nilai": 0.9, "a": "sederhana", "b": "sederhana jaya"}]
    return await pg.fetchval(
        "INSERT INTO kumkm_kandidat (id_a, id_b, kode_kabkota, skor, alasan) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id_a, id_b) WHERE status = 'terbuka' "
        "DO UPDATE SET skor = excluded.skor, alasan = excluded.alasan, "
        "kode_kabkota = excluded.kode_kabkota RETURNING id",
        a,
        b,
        kabkota,
        skor,
        json.dumps(alasan),
    )


async def versi(pg, id_kumkm: str) -> int:
    return await pg.fetchval("SELECT versi FROM kumkm WHERE id_kumkm = $1", id_kumkm)


async def assert_whole(pg) -> None:
    """Nothing half merged: every link and identifier points at a live entity; every retired
    entity holds nothing and leads to a live one; every accepted, dequeued record is linked once."""
    bad_links = await pg.fetchval("SELECT count(*) FROM kumkm_tautan t JOIN kumkm k USING (id_kumkm) WHERE k.digabung_ke IS NOT NULL")
    bad_ids = await pg.fetchval("SELECT count(*) FROM kumkm_pengenal p JOIN kumkm k USING (id_kumkm) WHERE k.digabung_ke IS NOT NULL")
    assert (bad_links, bad_ids) == (0, 0)
    dangling = await pg.fetchval(
        "SELECT count(*) FROM kumkm k JOIN kumkm t ON t.id_kumkm = k.digabung_ke "
        "WHERE t.digabung_ke IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kumkm x "
        "WHERE x.digabung_ke IS NULL)"
    )
    assert dangling == 0
    unlinked = await pg.fetchval(
        "SELECT count(*) FROM submissions s WHERE s.status = 'diterima' AND NOT EXISTS "
        "(SELECT 1 FROM kumkm_tautan t WHERE t.submission_id = s.submission_id) "
        "AND NOT EXISTS (SELECT 1 FROM kumkm_antrian q WHERE q.submission_id = s.submission_id)"
    )
    assert unlinked == 0
