"""The linker (app/registry/linker.py) over records posted and accepted through the API, its
result checked in the registry's tables: one entity per usaha and koperasi across rounds,
candidates from conflicting identifiers and from the same owner with a similar name, links
removed when an acceptance is reversed, idempotence, two linkers at once, the background task
of the live service and the CLI job."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.infra import db
from app.registry import idkumkm
from app.registry.linker import KUNCI_LATAR, tautkan_semua
from tests.support.common import ROOT, asyncpg_params, auth, eventually
from tests.support.factories import koperasi, nik, umkm

NIB = "1234567890123"
NIK_KOP = "1607010000000001"


@pytest.fixture
async def paused(database_url):
    """The live service's background linker kept idle (its turn's session lock held here), so
    that what a test runs is the only linker."""
    conn = await asyncpg.connect(**asyncpg_params(database_url))
    await conn.execute(f"SELECT pg_advisory_lock({KUNCI_LATAR})")
    yield
    await conn.close()


@pytest.fixture
async def engine(database_url, paused):
    # an engine of this test's own event loop (the live server's loop has the app's pool); the
    # service's background linker paused, so that what the test sees is what its run did
    eng = create_async_engine(db.normalize_url(database_url), poolclass=NullPool)
    yield eng
    await eng.dispose()


@pytest.fixture
async def verif(keys):
    """A verifikator of Sumatera Selatan (provinsi 16): records of Banyuasin and Palembang."""
    return await keys.make("verifikator", "16", name="verif-sumsel")


async def run(engine, batas: int = 5000):
    return await tautkan_semua(batas, transaction=engine.begin)


async def post(client, enum_key, *records) -> list[dict]:
    r = await client.post("/api/v1/submissions/batch", json={"items": list(records)}, headers=auth(enum_key))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == len(records), r.text
    return list(records)


async def accept(client, enum_key, verif, *records) -> list[dict]:
    await post(client, enum_key, *records)
    items = [{"submission_id": rec["submission_id"], "status": "diterima", "version": 1} for rec in records]
    d = await client.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(verif))
    assert d.status_code == 200, d.text
    assert {i["outcome"] for i in d.json()["items"]} == {"decided"}, d.text
    return list(records)


async def links(pg) -> dict[str, str]:
    return {str(r["submission_id"]): r["id_kumkm"] for r in await pg.fetch("SELECT submission_id, id_kumkm FROM kumkm_tautan")}


async def state(pg) -> dict:
    """Everything the linker writes, for 'a second run changes nothing'."""
    out = {}
    for table, order in (
        ("kumkm", "id_kumkm"),
        ("kumkm_tautan", "submission_id"),
        ("kumkm_pengenal", "nilai"),
        ("kumkm_kandidat", "id"),
        ("kumkm_peristiwa", "id"),
    ):
        out[table] = [dict(r) for r in await pg.fetch(f"SELECT * FROM {table} ORDER BY {order}")]
    return out


async def candidates(pg) -> list[dict]:
    rows = await pg.fetch("SELECT id_a, id_b, kode_kabkota, skor, alasan, status FROM kumkm_kandidat ORDER BY id")
    return [{**dict(r), "alasan": json.loads(r["alasan"]), "skor": float(r["skor"])} for r in rows]


async def test_two_rounds_of_one_nib_are_one_entity(client, enum_key, verif, pg, engine):
    pemilik = nik(perempuan=True)
    (a,) = await accept(client, enum_key, verif, umkm(periode="2024", nib=NIB, nik_pemilik=pemilik, modal_usaha=40_000_000))
    (b,) = await accept(
        client,
        enum_key,
        verif,
        umkm(
            periode="2025",
            nib=NIB,
            nik_pemilik=pemilik,
            modal_usaha=900_000_000,
            nama_usaha="Warung Makan Sederhana Jaya",
            kode_wilayah="16.71",
        ),
    )
    await run(engine)
    linked = await links(pg)
    assert linked[a["submission_id"]] == linked[b["submission_id"]]
    id_kumkm = linked[a["submission_id"]]
    assert idkumkm.valid(id_kumkm) and id_kumkm.startswith("U") and len(id_kumkm) == 11
    assert await pg.fetchval("SELECT count(*) FROM kumkm") == 1
    rows = await pg.fetch("SELECT periode, dasar, kode_kabkota, nik_pemilik FROM kumkm_tautan ORDER BY periode")
    assert [(r["periode"], r["dasar"], r["kode_kabkota"]) for r in rows] == [("2024", "baru", "16.07"), ("2025", "nib", "16.71")]
    assert {r["nik_pemilik"] for r in rows} == {pemilik}
    assert await pg.fetch("SELECT jenis_pengenal, nilai, id_kumkm FROM kumkm_pengenal") == [("nib", NIB, id_kumkm)]
    ent = await pg.fetchrow("SELECT * FROM kumkm")
    # the wilayah of its latest-periode record (it moved to Kota Palembang in 2025)
    assert (ent["jenis"], ent["kode_kabkota"], ent["kode_provinsi"], ent["digabung_ke"]) == ("umkm", "16.71", "16", None)
    ev = await pg.fetch("SELECT aksi, oleh, detail FROM kumkm_peristiwa ORDER BY id")
    assert [e["aksi"] for e in ev] == ["dibuat", "ditautkan", "ditautkan"]
    assert {e["oleh"] for e in ev} == {"sistem"}
    assert [json.loads(e["detail"]) for e in ev][1:] == [
        {"submission_id": a["submission_id"], "periode": "2024", "dasar": "baru"},
        {"submission_id": b["submission_id"], "periode": "2025", "dasar": "nib"},
    ]
    assert await pg.fetchval("SELECT count(*) FROM kumkm_antrian") == 0
    assert await pg.fetchval("SELECT count(*) FROM kumkm_kandidat") == 0


async def test_koperasi_by_nik_koperasi_then_nomor_badan_hukum(client, enum_key, verif, pg, engine):
    (a,) = await accept(client, enum_key, verif, koperasi(periode="2024", nik_koperasi=NIK_KOP, nomor_badan_hukum="123/BH/XII/2010"))
    await run(engine)
    # the same koperasi, its number written otherwise; then a round without its NIK
    (b,) = await accept(client, enum_key, verif, koperasi(periode="2025", nik_koperasi=NIK_KOP, nomor_badan_hukum="123 bh xii 2010"))
    (c,) = await accept(client, enum_key, verif, koperasi(periode="2026", nomor_badan_hukum="123-BH-XII-2010"))
    await run(engine)
    rows = await pg.fetch("SELECT submission_id, id_kumkm, dasar FROM kumkm_tautan ORDER BY periode")
    assert [str(r["submission_id"]) for r in rows] == [a["submission_id"], b["submission_id"], c["submission_id"]]
    assert [r["dasar"] for r in rows] == ["baru", "nik_koperasi", "nomor_badan_hukum"]
    assert len({r["id_kumkm"] for r in rows}) == 1 and rows[0]["id_kumkm"].startswith("K")
    assert sorted(tuple(r) for r in await pg.fetch("SELECT jenis_pengenal, nilai FROM kumkm_pengenal")) == [
        ("nik_koperasi", NIK_KOP),
        ("nomor_badan_hukum", "123BHXII2010"),
    ]
    assert await pg.fetchval("SELECT count(*) FROM kumkm_kandidat") == 0


async def test_conflicting_identifiers_make_a_candidate_never_a_merge(client, enum_key, verif, pg, engine):
    (a,) = await accept(client, enum_key, verif, koperasi(periode="2024", nik_koperasi=NIK_KOP, nomor_badan_hukum="AHU-1"))
    (b,) = await accept(client, enum_key, verif, koperasi(periode="2024", nik_koperasi="1607010000000002", nomor_badan_hukum="AHU-2"))
    await run(engine)
    # NIK koperasi of A, badan hukum of B: linked to A (NIK first), A and B proposed
    (c,) = await accept(client, enum_key, verif, koperasi(periode="2025", nik_koperasi=NIK_KOP, nomor_badan_hukum="AHU 2"))
    await run(engine)
    linked = await links(pg)
    id_a, id_b = linked[a["submission_id"]], linked[b["submission_id"]]
    assert id_a != id_b and linked[c["submission_id"]] == id_a
    assert await pg.fetchval("SELECT count(*) FROM kumkm WHERE digabung_ke IS NULL") == 2
    (k,) = await candidates(pg)
    assert (k["id_a"], k["id_b"]) == tuple(sorted((id_a, id_b)))
    assert (k["status"], k["kode_kabkota"], k["skor"]) == ("terbuka", "16.07", 1.0)
    assert k["alasan"] == [
        {
            "kode": "pengenal_bertentangan",
            "pengenal": "nomor_badan_hukum",
            "nilai": "AHU2",
            "id_kumkm": id_b,
            "pengenal_tautan": "nik_koperasi",
            "nilai_tautan": NIK_KOP,
            "id_kumkm_tautan": id_a,
            "submission_id": c["submission_id"],
        }
    ]
    # B keeps its number: the conflict moved nothing
    assert await pg.fetchval("SELECT id_kumkm FROM kumkm_pengenal WHERE nilai = 'AHU2'") == id_b


async def test_same_owner_and_similar_name_is_a_candidate(client, enum_key, verif, pg, engine):
    pemilik = nik(perempuan=True)
    (a,) = await accept(client, enum_key, verif, umkm(periode="2024", nik_pemilik=pemilik, nama_usaha="Warung Bu Siti"))
    (b,) = await accept(client, enum_key, verif, umkm(periode="2025", nik_pemilik=pemilik, nama_usaha="WR. BU SITY"))
    await run(engine)
    linked = await links(pg)
    id_a, id_b = linked[a["submission_id"]], linked[b["submission_id"]]
    assert id_a != id_b  # soft evidence never links
    (k,) = await candidates(pg)
    assert (k["id_a"], k["id_b"], k["status"]) == (*sorted((id_a, id_b)), "terbuka")
    # "bu siti" ~ "bu sity": one edit in seven characters
    assert k["skor"] == round(0.5 + 0.5 * 6 / 7, 3) == 0.929
    names = {id_a: "bu siti", id_b: "bu sity"}
    assert k["alasan"] == [
        {"kode": "nik_pemilik_sama"},
        {"kode": "nama_mirip", "nilai": 0.857, "a": names[k["id_a"]], "b": names[k["id_b"]]},
    ]


async def test_one_owner_with_two_businesses_stays_two_entities(client, enum_key, verif, pg, engine):
    pemilik = nik()
    await accept(
        client,
        enum_key,
        verif,
        umkm(periode="2024", nik_pemilik=pemilik, nama_usaha="Warung Bu Siti"),
        umkm(periode="2024", nik_pemilik=pemilik, nama_usaha="Bengkel Las Siti", kbli="33120"),
    )
    await run(engine)
    assert await pg.fetchval("SELECT count(DISTINCT id_kumkm) FROM kumkm_tautan") == 2
    assert await candidates(pg) == []
    # and the same name in another kabupaten/kota is not evidence either
    await accept(client, enum_key, verif, umkm(periode="2025", nik_pemilik=pemilik, nama_usaha="Warung Bu Siti", kode_wilayah="16.71"))
    await run(engine)
    assert await pg.fetchval("SELECT count(DISTINCT id_kumkm) FROM kumkm_tautan") == 3
    assert await candidates(pg) == []


async def test_a_pair_said_not_the_same_is_never_proposed_again(client, enum_key, verif, pg, engine):
    pemilik = nik()
    (a,) = await accept(client, enum_key, verif, umkm(periode="2024", nib=NIB, nik_pemilik=pemilik, nama_usaha="Toko Maju Jaya"))
    (b,) = await accept(client, enum_key, verif, umkm(periode="2024", nib="9876543210987", nik_pemilik=pemilik, nama_usaha="UD Maju Jaya"))
    await run(engine)
    (k,) = await candidates(pg)
    # a verifikator's "bukan sama", as the API writes it
    await pg.execute("INSERT INTO kumkm_bukan_sama (id_a, id_b, oleh) VALUES ($1, $2, 'verif-banyuasin')", k["id_a"], k["id_b"])
    await pg.execute("UPDATE kumkm_kandidat SET status = 'bukan_sama'")
    # next round: both come back under their NIB, still the same owner and name
    await accept(
        client,
        enum_key,
        verif,
        umkm(periode="2025", nib=NIB, nik_pemilik=pemilik, nama_usaha="Toko Maju Jaya"),
        umkm(periode="2025", nib="9876543210987", nik_pemilik=pemilik, nama_usaha="UD Maju Jaya"),
    )
    await run(engine)
    assert await pg.fetchval("SELECT count(DISTINCT id_kumkm) FROM kumkm_tautan") == 2
    assert [c["status"] for c in await candidates(pg)] == ["bukan_sama"]
    # while open, a pair is proposed once, however many records bring the evidence again
    await pg.execute("DELETE FROM kumkm_bukan_sama")
    await pg.execute("UPDATE kumkm_kandidat SET status = 'usang'")
    await accept(
        client,
        enum_key,
        verif,
        umkm(periode="2026", nib=NIB, nik_pemilik=pemilik, nama_usaha="Toko Maju Jaya"),
        umkm(periode="2026", nib="9876543210987", nik_pemilik=pemilik, nama_usaha="UD Maju Jaya"),
    )
    await run(engine)
    assert [c["status"] for c in await candidates(pg)] == ["usang", "terbuka"]


async def test_a_reversed_acceptance_removes_the_link(client, enum_key, verif, pg, engine):
    (a,) = await accept(client, enum_key, verif, umkm(periode="2024", nib=NIB))
    (b,) = await accept(client, enum_key, verif, umkm(periode="2025", nib=NIB, kode_wilayah="16.71"))
    await run(engine)
    id_kumkm = (await links(pg))[a["submission_id"]]
    versi = await pg.fetchval("SELECT versi FROM kumkm")
    r = await client.post(
        f"/api/v1/submissions/{b['submission_id']}/verifikasi",
        headers=auth(verif),
        json={"status": "ditolak", "dari": "diterima", "version": 1, "alasan_kode": "duplikat", "catatan": "rekaman ganda"},
    )
    assert r.status_code == 200, r.text
    await run(engine)
    assert await links(pg) == {a["submission_id"]: id_kumkm}
    ent = await pg.fetchrow("SELECT versi, kode_kabkota FROM kumkm")
    assert ent["versi"] == versi + 1 and ent["kode_kabkota"] == "16.07"  # back to its remaining record's
    last = await pg.fetchrow("SELECT aksi, oleh, detail FROM kumkm_peristiwa ORDER BY id DESC LIMIT 1")
    assert (last["aksi"], last["oleh"]) == ("dilepas", "sistem")
    assert await pg.fetchval("SELECT count(*) FROM kumkm_pengenal") == 1
    assert json.loads(last["detail"]) == {"submission_id": b["submission_id"], "periode": "2025", "status": "ditolak"}
    # the last record leaves too: the entity stays, with its history, holding no identifier
    r = await client.post(
        f"/api/v1/submissions/{a['submission_id']}/verifikasi",
        headers=auth(verif),
        json={"status": "ditolak", "dari": "diterima", "version": 1, "alasan_kode": "bukan_kumkm", "catatan": "bukan usaha"},
    )
    assert r.status_code == 200, r.text
    await run(engine)
    assert await links(pg) == {}
    assert await pg.fetchval("SELECT count(*) FROM kumkm") == 1
    assert await pg.fetchval("SELECT count(*) FROM kumkm_pengenal") == 0
    # accepted again: back to the same entity? It holds no NIB now, so a new one (history says why)
    r = await client.post(
        f"/api/v1/submissions/{a['submission_id']}/verifikasi",
        headers=auth(verif),
        json={"status": "diterima", "dari": "ditolak", "version": 1, "catatan": "ternyata usaha"},
    )
    assert r.status_code == 200, r.text
    await run(engine)
    assert len(await links(pg)) == 1


async def test_running_again_changes_nothing(client, enum_key, verif, pg, engine):
    pemilik = nik()
    await accept(
        client,
        enum_key,
        verif,
        umkm(periode="2024", nib=NIB, nik_pemilik=pemilik, nama_usaha="Toko Maju Jaya"),
        umkm(periode="2025", nib=NIB, nik_pemilik=pemilik, nama_usaha="Toko Maju Jaya"),
        umkm(periode="2025", nik_pemilik=pemilik, nama_usaha="Toko Maju Jaja"),
        koperasi(periode="2024", nik_koperasi=NIK_KOP),
    )
    await run(engine)
    before = await state(pg)
    assert len(before["kumkm"]) == 3 and len(before["kumkm_kandidat"]) == 1
    # every accepted record queued again (as the migration queues those accepted before 0011)
    await pg.execute("INSERT INTO kumkm_antrian (submission_id) SELECT submission_id FROM submissions WHERE status = 'diterima'")
    hasil = await run(engine, batas=2)
    assert (hasil.ditautkan, hasil.dibuat, hasil.dilepas, hasil.kandidat) == (0, 0, 0, 0)
    assert await state(pg) == before
    assert await pg.fetchval("SELECT count(*) FROM kumkm_antrian") == 0


async def test_two_linkers_at_once_link_every_record_once(client, enum_key, verif, pg, database_url, paused):
    nibs = [f"55500000000{i:02d}" for i in range(12)]
    records = [umkm(periode=p, nib=n) for n in nibs for p in ("2024", "2025", "2026")]
    records += [umkm(periode="2025") for _ in range(6)]  # no NIB: an entity each
    for i in range(0, len(records), 14):
        await accept(client, enum_key, verif, *records[i : i + 14])
    engines = [create_async_engine(db.normalize_url(database_url), poolclass=NullPool) for _ in range(3)]
    try:
        results = await asyncio.gather(*(run(e, batas=3) for e in engines))
    finally:
        for e in engines:
            await e.dispose()
    assert sum(r.diambil for r in results) == len(records)
    assert all(r.diambil for r in results)  # each linker took its share
    rows = await pg.fetch(
        "SELECT t.submission_id, t.id_kumkm, v.data->>'nib' AS nib FROM kumkm_tautan t JOIN submission_versions v USING (submission_id)"
    )
    assert sorted(str(r["submission_id"]) for r in rows) == sorted(rec["submission_id"] for rec in records)
    by_nib: dict[str, set[str]] = {}
    for r in rows:
        if r["nib"]:
            by_nib.setdefault(r["nib"], set()).add(r["id_kumkm"])
    assert by_nib.keys() == set(nibs) and all(len(ids) == 1 for ids in by_nib.values())
    assert await pg.fetchval("SELECT count(*) FROM kumkm") == len(nibs) + 6
    assert await pg.fetchval("SELECT count(*) FROM kumkm_peristiwa WHERE aksi = 'dibuat'") == len(nibs) + 6
    assert await pg.fetchval("SELECT count(*) FROM kumkm_pengenal") == len(nibs)
    assert await pg.fetchval("SELECT count(*) FROM kumkm_antrian") == 0


async def test_the_live_service_links_an_accepted_record_by_itself(client, enum_key, verif, pg):
    (a,) = await accept(client, enum_key, verif, umkm(nib=NIB))

    async def linked():
        return await pg.fetchval("SELECT id_kumkm FROM kumkm_tautan WHERE submission_id = $1::uuid", a["submission_id"])

    id_kumkm = await eventually(linked, timeout=15)
    assert id_kumkm and idkumkm.valid(id_kumkm)
    assert await eventually(lambda: pg.fetchval("SELECT NOT EXISTS (SELECT 1 FROM kumkm_antrian)"), timeout=15)


async def test_the_migration_job_links_the_queue(client, enum_key, verif, pg, database_url, paused):
    await accept(client, enum_key, verif, *[umkm(nib=f"77700000000{i:02d}") for i in range(7)])
    env = {**os.environ, "DATABASE_URL": database_url, "KUMKM_SKIP_MIGRATE": "1"}
    env.pop("KUMKM_JSON_LOGS", None)
    p = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", "registry", "tautkan", "--batch", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr
    assert "7 records from the queue" in p.stdout and "7 linked, 7 entities created" in p.stdout, p.stdout
    assert await pg.fetchval("SELECT count(*) FROM kumkm_tautan") == 7
    # again: nothing left, nothing done
    p = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", "registry", "tautkan"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )
    assert p.returncode == 0 and p.stdout.startswith("0 records from the queue"), p.stdout + p.stderr


async def test_the_worked_example_of_docs_registry(client, enum_key, verif, pg, engine):
    siti, budi = "1607015205850001", "1607011203800002"
    r1, r2, r3 = await accept(
        client,
        enum_key,
        verif,
        umkm(periode="2024", nama_usaha="Warung Makan Bu Siti", nik_pemilik=siti, nib="9120001234567", modal_usaha=400_000_000),
        umkm(periode="2024", nama_usaha="Bengkel Las Siti", nik_pemilik=siti, modal_usaha=150_000_000),
        umkm(periode="2024", nama_usaha="Toko Sumber Rejeki", nik_pemilik=budi, modal_usaha=300_000_000),
    )
    await run(engine)
    assert len(set((await links(pg)).values())) == 3 and await candidates(pg) == []
    r4, r5, r6 = await accept(
        client,
        enum_key,
        verif,
        umkm(periode="2025", nama_usaha="Warung Makan Bu Siti", nik_pemilik=siti, nib="9120001234567", modal_usaha=2_000_000_000),
        umkm(periode="2025", nama_usaha="Bengkel Las Bu Siti", nik_pemilik=siti, modal_usaha=200_000_000),
        umkm(periode="2025", nama_usaha="UD Sumber Rejeki", nik_pemilik=budi, nib="9120007654321", modal_usaha=350_000_000),
    )
    await run(engine)
    e = await links(pg)
    sid = {n: r["submission_id"] for n, r in zip(("r1", "r2", "r3", "r4", "r5", "r6"), (r1, r2, r3, r4, r5, r6), strict=True)}
    assert e[sid["r4"]] == e[sid["r1"]]  # by NIB
    assert len({e[sid[n]] for n in ("r1", "r2", "r3", "r5", "r6")}) == 5
    # naik kelas: the entity's records, mikro in 2024 and kecil in 2025
    skala = await pg.fetch(
        "SELECT s.periode, s.skala_usaha FROM kumkm_tautan t JOIN submissions s USING (submission_id) "
        "WHERE t.id_kumkm = $1 ORDER BY s.periode",
        e[sid["r1"]],
    )
    assert [tuple(r) for r in skala] == [("2024", "mikro"), ("2025", "kecil")]
    got = {(k["id_a"], k["id_b"]): k for k in await candidates(pg)}
    assert set(got) == {tuple(sorted((e[sid["r2"]], e[sid["r5"]]))), tuple(sorted((e[sid["r3"]], e[sid["r6"]])))}
    bengkel = got[tuple(sorted((e[sid["r2"]], e[sid["r5"]])))]
    assert bengkel["skor"] == 0.921 and bengkel["alasan"][1]["nilai"] == 0.842
    assert {bengkel["alasan"][1]["a"], bengkel["alasan"][1]["b"]} == {"bengkel las siti", "bengkel las bu siti"}
    toko = got[tuple(sorted((e[sid["r3"]], e[sid["r6"]])))]
    assert toko["skor"] == 1.0 and toko["alasan"][1]["a"] == toko["alasan"][1]["b"] == "sumber rejeki"
    assert sorted(tuple(r) for r in await pg.fetch("SELECT jenis_pengenal, nilai FROM kumkm_pengenal")) == [
        ("nib", "9120001234567"),
        ("nib", "9120007654321"),
    ]


async def test_a_reversal_while_its_batch_is_linked_is_not_lost(client, enum_key, verif, pg, engine, database_url):
    (a,) = await accept(client, enum_key, verif, umkm(nib=NIB))
    # Hold the record's link (uncommitted) so that the linker, having read the record as
    # diterima, waits in the middle of its batch; then reverse the decision meanwhile.
    blocker = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        await blocker.execute("BEGIN")
        await blocker.execute(
            "INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota) VALUES ('U9999999999', 'umkm', '16', '16.07')"
        )
        await blocker.execute(
            "INSERT INTO kumkm_tautan (submission_id, id_kumkm, periode, dasar) VALUES ($1::uuid, 'U9999999999', '2022', 'baru')",
            a["submission_id"],
        )
        linking = asyncio.create_task(run(engine))
        assert await eventually(
            lambda: pg.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO kumkm_tautan%'"
            )
        )
        reversal = asyncio.create_task(
            client.post(
                f"/api/v1/submissions/{a['submission_id']}/verifikasi",
                headers=auth(verif),
                json={"status": "ditolak", "dari": "diterima", "version": 1, "alasan_kode": "duplikat", "catatan": "ganda"},
            )
        )
        # the decision waits for the batch (the record is locked FOR SHARE by it)
        assert await eventually(
            lambda: (
                reversal.done()
                or pg.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE submissions%'")
            )
        )
        assert not reversal.done()
        await blocker.execute("ROLLBACK")
        await linking
        assert (await reversal).status_code == 200
    finally:
        await blocker.close()
    # the batch linked it as it was when read; the reversal queued it again and is applied
    await run(engine)
    assert await links(pg) == {}
    assert [r["aksi"] for r in await pg.fetch("SELECT aksi FROM kumkm_peristiwa ORDER BY id")] == ["dibuat", "ditautkan", "dilepas"]
