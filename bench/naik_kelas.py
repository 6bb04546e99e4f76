"""UMKM naik kelas over N records, read from the counts the registry keeps (issue 29: p95 < 200 ms
over 10M records). Part of `./dev bench registry --naik-kelas-records N`.

A fresh embedded PostgreSQL; N accepted UMKM records over 2021 and 2022 seeded set-based
straight into `submissions`, `kumkm` and `kumkm_tautan` (one entity per usaha, linked by NIB as
the linker would), **not through the linker**: the linker links 7,000 records/s on this machine
(bench/README.md), 25 minutes for 10M, while SQL loads them in a few. The insert triggers that
queue records for the linker and refresh the counts are disabled during the load (the records
are linked already), then `kumkm_rekap_bangun()` (the rebuild of migration 0013 and `kumkm
registry rekap --bangun-ulang`) fills `kumkm_keadaan` and `kumkm_rekap` from the links, timed.

The known answer: usaha u in [0, N/2) have a record in 2021; those with u % 5 != 4 (80%) come
back in 2022, with their skala one up when u % 4 == 0 (mikro -> kecil -> menengah -> besar; to
besar is not naik kelas); new usaha fill 2022 up to N records. Skala by modal_usaha, starting at
(mikro, kecil, menengah)[u % 3]. Naik kelas = #{u : u % 5 != 4, u % 4 == 0, u % 3 != 2}.

Then `kumkm serve` on it; indikator `umkm_naik_kelas` at the nasional, provinsi and kabupaten/kota
levels (the busiest) read over HTTP: p50/p95 of every read (no read is served a kept result:
each one reads kumkm_rekap), the national value checked against the answer and against a
plain-SQL recount from the links (each entity's latest decided record of each periode, paired)."""

from __future__ import annotations

import asyncio
import atexit
import tempfile
import time
from pathlib import Path

import asyncpg

from bench import capaian as cap

_UUID = "('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid"
_UUID_B = _UUID.replace("(i)", "(b.i)")

# Record i (1-based) -> usaha u and periode: 2021 first, then 2022's returning usaha, then its new.
_RECORDS = """
    SELECT r.i, r.u, r.periode, d.kode, d.kec, d.kab, d.prov,
           (CASE WHEN r.periode = '2022' AND r.u < {u1} AND r.u % 4 = 0 THEN (ARRAY[2000, 7000, 20000])[r.u % 3 + 1]
                 ELSE (ARRAY[25, 2000, 7000])[r.u % 3 + 1] END)::bigint * 1000000 AS modal
    FROM (
        SELECT i,
               CASE WHEN i <= {u1} THEN i - 1
                    WHEN i - {u1} - 1 < {kembali} THEN ((i - {u1} - 1) / 4) * 5 + (i - {u1} - 1) % 4
                    ELSE {u1} + (i - {u1} - 1 - {kembali}) END AS u,
               CASE WHEN i <= {u1} THEN '2021' ELSE '2022' END AS periode
        FROM generate_series($1::bigint, $2::bigint) i
    ) r JOIN bench_desa d ON d.i = (r.u * 7919) % {n_desa}
"""

LOAD = f"""
    WITH b AS ({_RECORDS}),
    s AS (
        INSERT INTO submissions (
            submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, kode_kecamatan, status,
            enumerator_id, captured_at, content_hash, dibuat_oleh, skala_usaha, kbli, sektor, status_tempat,
            modal_usaha, punya_nib, platform_digital, izin_usaha)
        SELECT {_UUID_B}, b.periode, 'umkm', b.kode, b.prov, b.kab, b.kec, 'diterima',
               'ENUM-' || (b.i % 5000), (b.periode || '-06-01 09:00+07')::timestamptz, '\\x00'::bytea, 'bench',
               CASE WHEN b.modal <= 1000000000 THEN 'mikro' WHEN b.modal <= 5000000000 THEN 'kecil'
                    WHEN b.modal <= 10000000000 THEN 'menengah' ELSE 'besar' END,
               '56101', 'I', 'menetap', b.modal, true, b.i % 2 = 0, b.i % 5 = 0
        FROM b
    ), k AS (
        INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota)
        SELECT 'NK' || lpad(b.u::text, 10, '0'), 'umkm', b.prov, b.kab FROM b WHERE b.periode = '2021' OR b.u >= {{u1}}
    )
    INSERT INTO kumkm_tautan (submission_id, id_kumkm, periode, dasar, kode_kabkota)
    SELECT {_UUID}, 'NK' || lpad(b.u::text, 10, '0'), b.periode, 'nib', b.kab FROM b
"""

# Plain SQL, from the links: each entity's state per periode, 2022 paired with 2021.
RECOUNT = """
    WITH r AS (
        SELECT DISTINCT ON (t.id_kumkm, t.periode) t.id_kumkm, t.periode,
               array_position(ARRAY['mikro', 'kecil', 'menengah'], s.skala_usaha) AS rank
        FROM kumkm_tautan t JOIN submissions s ON s.submission_id = t.submission_id AND s.status = 'diterima'
        WHERE t.periode IN ('2021', '2022') AND s.jenis = 'umkm'
        ORDER BY t.id_kumkm, t.periode, s.diperbarui_pada DESC, s.submission_id DESC
    )
    SELECT count(*) FROM r kini JOIN r lalu ON lalu.id_kumkm = kini.id_kumkm AND lalu.periode = '2021'
    WHERE kini.periode = '2022' AND kini.rank > lalu.rank
"""

# Off while seeding: the records come linked, so the linker's queue must stay empty, and the
# entity counts are built once at the end (kumkm_rekap_bangun). Since migration 0019 the queue is
# a part of the one trigger on submissions, which also keeps the status and daily counts: this
# bench never reads those, so they are left out with it.
TRIGGERS = (("submissions", "submissions_pemicu_ins"), ("kumkm_tautan", "kumkm_tautan_rekap_ins"))


def shape(records: int) -> dict:
    u1 = records // 2
    kembali = sum(1 for u in range(u1) if u % 5 != 4)
    baru = records - u1 - kembali
    assert baru >= 0, records
    naik = sum(1 for u in range(u1) if u % 5 != 4 and u % 4 == 0 and u % 3 != 2)
    return {"u1": u1, "kembali": kembali, "baru": baru, "naik_kelas": naik}


async def seed(conn, records: int, chunk: int) -> dict:
    s = shape(records)
    await conn.execute(cap.DESA)
    n_desa = await conn.fetchval("SELECT count(*) FROM bench_desa")
    sql = LOAD.format(u1=s["u1"], kembali=s["kembali"], n_desa=n_desa).replace("{u1}", str(s["u1"]))
    for table, trigger in TRIGGERS:
        await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    t = time.perf_counter()
    try:
        lo = 1
        while lo <= records:
            hi = min(lo + chunk - 1, records)
            await conn.execute(sql, lo, hi)
            print(f"  seeded {hi:>11,} records  ({hi / (time.perf_counter() - t):,.0f}/s)", flush=True)
            lo = hi + 1
    finally:
        for table, trigger in TRIGGERS:
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    load_s = time.perf_counter() - t
    for table in ("submissions", "kumkm", "kumkm_tautan"):
        await conn.execute(f"VACUUM (ANALYZE) {table}")
    t = time.perf_counter()
    states = await conn.fetchval("SELECT kumkm_rekap_bangun()")
    bangun_s = time.perf_counter() - t
    print(f"  kumkm_rekap_bangun(): {states:,} entity states in {bangun_s:.1f} s", flush=True)
    for table in ("kumkm_keadaan", "kumkm_rekap"):
        await conn.execute(f"VACUUM (ANALYZE) {table}")
    await conn.execute("CHECKPOINT")
    return {
        **s,
        "records": records,
        "load_seconds": round(load_s, 1),
        "load_records_per_second": round(records / load_s),
        "entity_states": states,
        "rekap_rows": await conn.fetchval("SELECT count(*) FROM kumkm_rekap"),
        "bangun_seconds": round(bangun_s, 1),
        "bangun_seconds_per_million": round(bangun_s / records * 1_000_000, 1),
    }


async def reads(client, conn, n: int, warmup: int) -> dict:
    admin = await cap.make_key(conn, "admin", None)
    h = {"Authorization": f"Bearer {admin}"}
    r = await client.post("/api/v1/indikator/sasaran", headers=h, json={"pemilik": "nasional", "kode": "S-NK", "nama": "UMKM naik kelas"})
    r.raise_for_status()
    sid = r.json()["id"]
    busiest = await conn.fetchrow(
        "SELECT kode_provinsi, kode_kabkota, count(*) FROM submissions WHERE periode = '2022' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1"
    )
    out: dict = {"provinsi": busiest["kode_provinsi"], "kabkota": busiest["kode_kabkota"]}
    for level, wilayah in (("nasional", "nasional"), ("provinsi", busiest["kode_provinsi"]), ("kabkota", busiest["kode_kabkota"])):
        r = await client.post(
            "/api/v1/indikator",
            headers=h,
            json={
                "pemilik": "nasional",
                "kode": f"NK-{level}",
                "nama": "Jumlah UMKM naik kelas",
                "sasaran_id": sid,
                "satuan": "unit",
                "polaritas": "naik",
                "level": level,
                "sumber": "registry",
                "formula": "umkm_naik_kelas",
                "renstra_mulai": 2020,
                "renstra_akhir": 2024,
            },
        )
        r.raise_for_status()
        path = f"/api/v1/indikator/{r.json()['id']}/realisasi/{wilayah}/2022"
        t = time.perf_counter()
        first = await client.get(path, headers=h)
        first.raise_for_status()
        out[level] = {
            "first_ms": round((time.perf_counter() - t) * 1000, 2),
            **await cap.measure(client, path, {}, admin, n, warmup),
            "nilai": first.json()["nilai"],
        }
    return out


async def run(records: int, chunk: int, requests: int, warmup: int) -> dict:
    from app.infra import db, embedded

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-naik-kelas-"))
    atexit.register(cap._rmdir_quietly, tmp)
    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm")
    await asyncio.to_thread(db.migrate, url)
    conn = await asyncpg.connect(**cap._pg_params(url))
    try:
        print(f"naik kelas: seeding {records:,} accepted, linked UMKM records over 2021 and 2022 (not through the linker)", flush=True)
        seeded = await seed(conn, records, chunk)
        t = time.perf_counter()
        recount = await conn.fetchval(RECOUNT)
        recount_s = time.perf_counter() - t
        print(f"  plain-SQL recount: {recount:,} naik kelas in {recount_s:.1f} s (answer {seeded['naik_kelas']:,})", flush=True)
        await conn.execute("DROP TABLE bench_desa")
        async with cap.served(url) as client:
            got = await reads(client, conn, requests, warmup)
    finally:
        await conn.close()
    nasional = got["nasional"]["nilai"]
    return {
        "seed": seeded,
        "recount": recount,
        "recount_seconds": round(recount_s, 1),
        "reads": got,
        "nasional_equals_answer": nasional == str(seeded["naik_kelas"]),
        "nasional_equals_recount": nasional == str(recount),
        "p95_lt_200ms": all(got[lv]["p95_ms"] < 200 for lv in ("nasional", "provinsi", "kabkota")),
    }


# ---------------------------------------------------------------- the decision's trigger, old and new
#
# Migration 0013 adds to the decision's statement trigger (kumkm_antrian_isi) a probe of
# kumkm_tautan for the decided records and, for a linked one, a mark in kumkm_rekap_tunda. Its
# cost alone: N single-record decisions, each its own UPDATE statement (so the statement trigger
# fires N times) in a DO block, with the function of migration 0011 and with 0013's, alternating
# rounds on fresh records: unlinked masuk -> diterima (every acceptance), and linked diterima ->
# ditolak (a reversal, the case that writes a mark).

_DECIDE = """
    DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT submission_id FROM submissions WHERE enumerator_id = '{tag}' AND status = '{dari}' LOOP
            UPDATE submissions SET status = '{ke}', diperbarui_pada = now() WHERE submission_id = r.submission_id;
        END LOOP;
    END $$
"""


async def trigger_cost(n: int, rounds: int) -> dict:
    import importlib

    from app.infra import db, embedded

    m = importlib.import_module("migrations.versions.0013_kumkm_rekap")
    functions = {"0011": m._ANTRIAN.format(ubah=m._ANTRIAN_LAMA), "0013": m._ANTRIAN.format(ubah=m._ANTRIAN_TUNDA)}
    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-trigger-"))
    atexit.register(cap._rmdir_quietly, tmp)
    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm")
    await asyncio.to_thread(db.migrate, url)
    conn = await asyncpg.connect(**cap._pg_params(url))
    out: dict = {"n": n, "rounds": rounds, "us_per_decision": {}}
    try:
        await conn.execute(cap.DESA)
        n_desa = await conn.fetchval("SELECT count(*) FROM bench_desa")
        sets = [(f"{case}-{fn}-{r}", case, fn) for r in range(rounds) for case in ("terima", "tolak") for fn in ("0011", "0013")]
        base = 0
        for tag, case, _fn in sets:
            # masuk records to accept; diterima, linked ones to reject (loaded as the seeder does)
            status = "masuk" if case == "terima" else "diterima"
            sql = LOAD.format(u1=base + n, kembali=0, n_desa=n_desa).replace("'diterima'", f"'{status}'")
            sql = sql.replace("'ENUM-' || (b.i % 5000)", f"'{tag}'")
            if case == "terima":  # no links for records not accepted yet
                sql = sql[: sql.index("), k AS (")] + ") SELECT 1"
            for table, trigger in TRIGGERS:
                await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            await conn.execute(sql, base + 1, base + n)
            for table, trigger in TRIGGERS:
                await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
            base += n
        await conn.execute("SELECT kumkm_rekap_bangun()")
        for table in ("submissions", "kumkm_tautan", "kumkm_antrian"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        for tag, case, fn in sets:
            await conn.execute(functions[fn])
            dari, ke = ("masuk", "diterima") if case == "terima" else ("diterima", "ditolak")
            t = time.perf_counter()
            await conn.execute(_DECIDE.format(tag=tag, dari=dari, ke=ke))
            us = (time.perf_counter() - t) / n * 1e6
            out["us_per_decision"].setdefault(f"{case}-{fn}", []).append(round(us, 1))
            print(f"  {tag}: {us:.1f} us a decision", flush=True)
        out["tunda"] = await conn.fetchval("SELECT count(*) FROM kumkm_rekap_tunda")
        await conn.execute(functions["0013"])
    finally:
        await conn.close()
    out["median_us"] = {k: sorted(v)[len(v) // 2] for k, v in out["us_per_decision"].items()}
    return out
