"""The entity indicator counts the registry's writes keep (kumkm_rekap, migration 0013,
docs/registry-indikator.md) equal the recount from the links (entitas_statement) at every
moment: after each step of a random mix of acceptances, rejections, corrections, reversals,
linker runs, merges, splits and undos of merges, all over HTTP, before and after the linker
took the records. `kumkm registry rekap --periksa` says so too, and says when they drifted.

keadaan_usaha is set in SQL on records still masuk: the form that fills it (pemutakhiran_kumkm)
is another branch's; what matters here is that a record found tutup or pindah is linked but its
entity is not found in that periode."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.indicators.service.registry import periksa_rekap
from app.infra import db
from tests.support import factories
from tests.support.common import ROOT, auth
from tests.support.entitas import linker
from tests.support.verification_helpers import correct, decide

BANYUASIN = "16.07.01.2001"
PALEMBANG = "16.71.01.1001"
JUTA = 1_000_000
MODAL = [25 * JUTA, 2_000 * JUTA, 7_000 * JUTA, 20_000 * JUTA]  # mikro, kecil, menengah, besar
PERIODE = ["2021", "2022", "2023"]


@pytest.fixture
async def tautkan(database_url):
    async with linker(database_url) as run:
        yield run


@pytest.fixture
async def engine(database_url):
    e = create_async_engine(db.normalize_url(database_url), poolclass=NullPool)
    yield e
    await e.dispose()


async def _periksa(engine) -> dict:
    async with engine.begin() as conn:
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        return await periksa_rekap(conn)


def _record(rng: random.Random) -> dict:
    periode = rng.choice(PERIODE)
    desa = rng.choice([BANYUASIN, BANYUASIN, PALEMBANG])
    common = {"periode": periode, "captured_at": f"{periode}-06-01T09:30:00+07:00", "kode_wilayah": desa}
    if rng.random() < 0.25:
        n = rng.randrange(4)
        return factories.koperasi(
            **common,
            nik_koperasi=f"{1607000000000000 + n}",
            nomor_badan_hukum=f"{n:04d}/BH/XII/2010",
            modal_sendiri=rng.choice([100 * JUTA, 250 * JUTA, ...]),  # ...: left out
            modal_luar=rng.choice([0, 40 * JUTA, ...]),
        )
    n = rng.randrange(10)
    return factories.umkm(
        **common,
        nib=f"{9120000000000 + n}" if n < 8 else None,
        nik_pemilik=factories.nik(serial=100 + n),
        nama_usaha=f"Usaha Nomor {n}",
        modal_usaha=rng.choice(MODAL),
        hasil_penjualan_tahunan=None,
        platform_digital=rng.choice([True, False]),
        izin_usaha=rng.choice([True, False]),
    )


async def test_kept_counts_equal_the_recount_through_a_random_mix(client, enum_key, admin, pg, tautkan, engine):
    rng = random.Random(29)
    records = [_record(rng) for _ in range(48)]
    r = await client.post("/api/v1/submissions/batch", json={"items": records}, headers=auth(enum_key))
    assert r.status_code == 200 and r.json()["created"] == len(records), r.text
    by_id = {rec["submission_id"]: rec for rec in records}
    # some follow-up findings, set while the records are masuk
    for rec in rng.sample(records, 8):
        await pg.execute(
            "UPDATE submissions SET keadaan_usaha = $2 WHERE submission_id = $1::uuid",
            rec["submission_id"],
            rng.choice(["aktif", "tutup", "pindah"]),
        )
    for rec in records[:30]:
        assert (await decide(client, admin, rec["submission_id"], "diterima")).status_code == 200
    await tautkan()
    assert (await _periksa(engine))["selisih"] == []

    async def state(sid):
        return await pg.fetchrow("SELECT status, version FROM submissions WHERE submission_id = $1::uuid", sid)

    async def live_entities():
        return await pg.fetch(
            "SELECT k.id_kumkm, k.jenis, k.versi, array_agg(t.submission_id::text ORDER BY t.submission_id) AS sids "
            "FROM kumkm k JOIN kumkm_tautan t USING (id_kumkm) WHERE k.digabung_ke IS NULL GROUP BY k.id_kumkm"
        )

    done = {"terima": 0, "tolak": 0, "koreksi": 0, "batal_tolak": 0, "linker": 0, "gabung": 0, "pisah": 0, "batal_gabung": 0}
    merges: list[tuple[str, list[str]]] = []
    for step in range(70):
        op = rng.choice(["terima", "terima", "tolak", "koreksi", "batal_tolak", "linker", "gabung", "pisah", "batal_gabung"])
        sids = list(by_id)
        rng.shuffle(sids)
        if op in ("terima", "tolak", "koreksi", "batal_tolak"):
            want = {"terima": "masuk", "tolak": "diterima", "koreksi": "ditolak", "batal_tolak": "ditolak"}[op]
            sid = None
            for s in sids:
                st = await state(s)
                if st["status"] == want:
                    sid, version = s, st["version"]
                    break
            if sid is None:
                continue
            if op == "terima":
                r = await decide(client, admin, sid, "diterima", version)
            elif op == "tolak":
                r = await decide(
                    client, admin, sid, "ditolak", version, dari="diterima", alasan_kode="data_tidak_valid", catatan="diperiksa ulang"
                )
            elif op == "batal_tolak":
                r = await decide(client, admin, sid, "diterima", version, dari="ditolak", catatan="ternyata benar")
            else:
                change = {"kode_wilayah": rng.choice([BANYUASIN, PALEMBANG])}
                if by_id[sid]["jenis"] == "umkm":
                    change["modal_usaha"] = rng.choice(MODAL)
                r = await correct(client, enum_key, by_id[sid], **change)
                by_id[sid] = {**by_id[sid], **change}
            assert r.status_code == 200, (op, r.text)
        elif op == "linker":
            await tautkan()
        elif op == "gabung":
            live = await live_entities()
            pairs = [(a, b) for a in live for b in live if a["id_kumkm"] < b["id_kumkm"] and a["jenis"] == b["jenis"]]
            if not pairs:
                continue
            a, b = rng.choice(pairs)
            r = await client.post(
                f"/api/v1/kumkm/{a['id_kumkm']}/tautkan",
                json={"versi": a["versi"], "dengan": b["id_kumkm"], "versi_dengan": b["versi"], "catatan": "sama"},
                headers=auth(admin),
            )
            assert r.status_code == 200, r.text
            merges.append((r.json()["id_kumkm"], r.json()["submission_ids"]))
        elif op == "pisah":
            live = [e for e in await live_entities() if len(e["sids"]) >= 2]
            if not live:
                continue
            e = rng.choice(live)
            part = rng.sample(e["sids"], rng.randrange(1, len(e["sids"])))
            r = await client.post(
                f"/api/v1/kumkm/{e['id_kumkm']}/pisahkan",
                json={"versi": e["versi"], "submission_ids": part, "catatan": "beda usaha"},
                headers=auth(admin),
            )
            assert r.status_code == 200, r.text
        else:  # undo the latest merge still standing: split exactly the records it moved
            if not merges:
                continue
            survivor, moved = merges.pop()
            e = await pg.fetchrow(
                "SELECT versi, digabung_ke, (SELECT array_agg(submission_id::text) FROM kumkm_tautan WHERE id_kumkm = $1) AS sids "
                "FROM kumkm WHERE id_kumkm = $1",
                survivor,
            )
            if not moved or e["digabung_ke"] or not set(moved) < set(e["sids"] or []):
                continue
            r = await client.post(
                f"/api/v1/kumkm/{survivor}/pisahkan",
                json={"versi": e["versi"], "submission_ids": moved, "catatan": "batal gabung"},
                headers=auth(admin),
            )
            assert r.status_code == 200, r.text
            assert r.json()["dihidupkan"] is True
        done[op] += 1
        hasil = await _periksa(engine)
        assert hasil["selisih"] == [], (step, op, hasil["selisih"][:5])
    # every kind of step happened, and the counts were not trivially zero
    assert all(n > 0 for n in done.values()), done
    await tautkan()
    hasil = await _periksa(engine)
    assert hasil["selisih"] == [] and hasil["baris"] > 0
    kept = await pg.fetchval("SELECT sum(naik_kelas + baru + tidak_ditemukan + kecil_ditemukan) FROM kumkm_rekap")
    assert kept > 0


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "KUMKM_SKIP_MIGRATE": "1"}
    env.pop("KUMKM_JSON_LOGS", None)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "registry", "rekap", *args], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
    )


async def test_periksa_reports_drift_and_bangun_ulang_repairs_it(client, enum_key, admin, pg, tautkan, database_url):
    old = factories.umkm(periode="2021", captured_at="2021-06-01T09:30:00+07:00", nib="9120000000001", modal_usaha=25 * JUTA)
    new = factories.umkm(periode="2022", captured_at="2022-06-01T09:30:00+07:00", nib="9120000000001", modal_usaha=2_000 * JUTA)
    for rec in (old, new):
        assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))).status_code == 201
        assert (await decide(client, admin, rec["submission_id"], "diterima")).status_code == 200
    await tautkan()
    assert await pg.fetchval("SELECT sum(naik_kelas) FROM kumkm_rekap WHERE periode = '2022'") == 1
    p = await asyncio.to_thread(_cli, database_url, "--periksa")
    assert p.returncode == 0 and "0 differences" in p.stdout, p.stdout + p.stderr
    # a count changed around the service: found, named, and rebuilt
    await pg.execute("UPDATE kumkm_rekap SET naik_kelas = naik_kelas + 2 WHERE periode = '2022'")
    p = await asyncio.to_thread(_cli, database_url, "--periksa")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "2022 16.07 umkm_naik_kelas: kept 3, recounted 1" in p.stdout and "--bangun-ulang" in p.stderr, p.stdout
    p = await asyncio.to_thread(_cli, database_url, "--bangun-ulang")
    assert p.returncode == 0 and "rebuilt: 2 entity states" in p.stdout, p.stdout + p.stderr
    assert await pg.fetchval("SELECT sum(naik_kelas) FROM kumkm_rekap WHERE periode = '2022'") == 1
    assert (await asyncio.to_thread(_cli, database_url, "--tampilkan", "-1")).returncode == 2


async def test_a_usaha_found_closed_is_linked_but_not_found(client, enum_key, admin, pg, tautkan, engine):
    recs = [
        factories.umkm(periode="2021", captured_at="2021-06-01T09:30:00+07:00", nib="9120000000002", modal_usaha=25 * JUTA),
        factories.umkm(periode="2022", captured_at="2022-06-01T09:30:00+07:00", nib="9120000000002", modal_usaha=2_000 * JUTA),
    ]
    for rec in recs:
        assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))).status_code == 201
    await pg.execute("UPDATE submissions SET keadaan_usaha = 'tutup' WHERE submission_id = $1::uuid", recs[1]["submission_id"])
    for rec in recs:
        assert (await decide(client, admin, rec["submission_id"], "diterima")).status_code == 200
    await tautkan()
    linked = await pg.fetch(
        "SELECT DISTINCT id_kumkm FROM kumkm_tautan WHERE submission_id = ANY($1::uuid[])", [uuid.UUID(r["submission_id"]) for r in recs]
    )
    assert len(linked) == 1  # one entity, both records linked
    row = await pg.fetchrow("SELECT naik_kelas, tidak_ditemukan, kecil_ditemukan FROM kumkm_rekap WHERE periode = '2022'")
    assert dict(row) == {"naik_kelas": 0, "tidak_ditemukan": 1, "kecil_ditemukan": 0}
    # and 2023: a usaha not found in 2022 is not "not found again"
    assert await pg.fetchval("SELECT coalesce(sum(tidak_ditemukan), 0) FROM kumkm_rekap WHERE periode = '2023'") == 0
    assert (await _periksa(engine))["selisih"] == []


async def test_a_linked_record_changed_around_the_decisions_is_counted_at_once(client, enum_key, admin, pg, tautkan, engine):
    """The service changes a diterima record only by deciding it; a writer that changes what a
    state reads (here keadaan_usaha, in SQL) gets the record queued and marked by the trigger:
    reads are exact at once, and the linker refreshes the kept state."""
    recs = [
        factories.umkm(periode="2021", captured_at="2021-06-01T09:30:00+07:00", nib="9120000000003", modal_usaha=25 * JUTA),
        factories.umkm(periode="2022", captured_at="2022-06-01T09:30:00+07:00", nib="9120000000003", modal_usaha=2_000 * JUTA),
    ]
    for rec in recs:
        assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))).status_code == 201
        assert (await decide(client, admin, rec["submission_id"], "diterima")).status_code == 200
    await tautkan()
    naik = "SELECT coalesce(sum(naik_kelas), 0) FROM kumkm_rekap WHERE periode = '2022'"
    assert await pg.fetchval(naik) == 1
    await pg.execute("UPDATE submissions SET keadaan_usaha = 'pindah' WHERE submission_id = $1::uuid", recs[1]["submission_id"])
    assert await pg.fetchval("SELECT count(*) FROM kumkm_rekap_tunda") == 1
    assert await pg.fetchval("SELECT count(*) FROM kumkm_antrian") == 1
    assert (await _periksa(engine))["selisih"] == []  # the read adds the marked entity as it is now
    assert await pg.fetchval(naik) == 1  # the kept row is not refreshed yet
    await tautkan()
    assert await pg.fetchval(naik) == 0
    assert await pg.fetchval("SELECT (SELECT count(*) FROM kumkm_rekap_tunda) + (SELECT count(*) FROM kumkm_antrian)") == 0
    assert await pg.fetchval("SELECT ada FROM kumkm_keadaan WHERE submission_id = $1::uuid", recs[1]["submission_id"]) is False
    assert (await _periksa(engine))["selisih"] == []
