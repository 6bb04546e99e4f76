"""The linker (app/registry/linker.py) over records posted and accepted through the API, its
result checked in the registry's tables: one entity per usaha and koperasi across rounds,
candidates from conflicting identifiers and from the same owner with a similar name, links
removed when an acceptance is reversed, idempotence, and two linkers at once."""
from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.infra import db
from app.registry import idkumkm
from app.registry.linker import tautkan_semua
from tests.support.common import auth
from tests.support.factories import nik, umkm

NIB = "1234567890123"


@pytest.fixture
async def engine(database_url):
    # an engine of this test's own event loop (the live server's loop has the app's pool)
    eng = create_async_engine(db.normalize_url(database_url), poolclass=NullPool)
    yield eng
    await eng.dispose()


def runner(engine):
    async def run(batas: int = 5000):
        return await tautkan_semua(batas, transaction=engine.begin)
    return run


async def accept(client, enum_key, verif, *records) -> list[dict]:
    r = await client.post("/api/v1/submissions/batch", json={"items": list(records)}, headers=auth(enum_key))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == len(records), r.text
    for rec in records:
        d = await client.post(f"/api/v1/submissions/{rec['submission_id']}/verifikasi",
                              json={"status": "diterima", "version": 1}, headers=auth(verif))
        assert d.status_code == 200, d.text
    return list(records)


async def links(pg) -> dict[str, str]:
    return {str(r["submission_id"]): r["id_kumkm"] for r in await pg.fetch("SELECT submission_id, id_kumkm FROM kumkm_tautan")}


async def state(pg) -> dict:
    """Everything the linker writes, for 'a second run changes nothing'."""
    out = {}
    for table, order in (("kumkm", "id_kumkm"), ("kumkm_tautan", "submission_id"), ("kumkm_pengenal", "nilai"),
                         ("kumkm_kandidat", "id"), ("kumkm_peristiwa", "id"), ("kumkm_antrian", "submission_id")):
        out[table] = [dict(r) for r in await pg.fetch(f"SELECT * FROM {table} ORDER BY {order}")]
    return out


async def test_two_rounds_of_one_nib_are_one_entity(client, enum_key, verif, pg, engine):
    pemilik = nik(perempuan=True)
    a, = await accept(client, enum_key, verif, umkm(periode="2024", nib=NIB, nik_pemilik=pemilik, modal_usaha=40_000_000))
    b, = await accept(client, enum_key, verif, umkm(periode="2025", nib=NIB, nik_pemilik=pemilik, modal_usaha=900_000_000,
                                                    nama_usaha="Warung Makan Sederhana Jaya"))
    hasil = await runner(engine)()
    linked = await links(pg)
    assert linked[a["submission_id"]] == linked[b["submission_id"]]
    id_kumkm = linked[a["submission_id"]]
    assert idkumkm.valid(id_kumkm) and id_kumkm.startswith("U")
    assert await pg.fetchval("SELECT count(*) FROM kumkm") == 1
    rows = await pg.fetch("SELECT periode, dasar, kode_kabkota, nik_pemilik FROM kumkm_tautan ORDER BY periode")
    assert [(r["periode"], r["dasar"]) for r in rows] == [("2024", "baru"), ("2025", "nib")]
    assert {r["nik_pemilik"] for r in rows} == {pemilik}
    assert await pg.fetch("SELECT jenis_pengenal, nilai, id_kumkm FROM kumkm_pengenal") == [("nib", NIB, id_kumkm)]
    ent = await pg.fetchrow("SELECT * FROM kumkm")
    assert (ent["jenis"], ent["kode_kabkota"], ent["kode_provinsi"], ent["digabung_ke"]) == ("umkm", "16.07", "16", None)
    ev = await pg.fetch("SELECT aksi, oleh, detail FROM kumkm_peristiwa ORDER BY id")
    assert [e["aksi"] for e in ev] == ["dibuat", "ditautkan", "ditautkan"]
    assert {e["oleh"] for e in ev} == {"sistem"}
    assert await pg.fetchval("SELECT count(*) FROM kumkm_antrian") == 0
    assert await pg.fetchval("SELECT count(*) FROM kumkm_kandidat") == 0
    assert hasil.ditautkan in (0, 2)    # the service's own background linker may have come first
