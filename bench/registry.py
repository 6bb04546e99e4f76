"""Basis Data Tunggal (issue 29): linking at scale against a known answer, decisions with the
linker running, and indicators from entities.

    python -m bench.registry [--records 1000000] [--batch 5000] [--decisions 100000]

1. **Linking.** A fresh embedded PostgreSQL; N accepted UMKM records over two periode (2021,
   2022) generated set-based straight into `submissions` and `submission_versions` (COPY-speed
   SQL, as bench/capaian.py), so the insert trigger of migration 0011 queues every one of them
   in `kumkm_antrian` (the migration job's queue). The known answer:
   - usaha u of round 1 come back in round 2 when u % 5 == 0 (20% of the usaha);
   - 2% of the round-1 usaha (u % 50 == 7) have a second record in that round: same owner
     and desa, no NIB, the name with a typo ("Bengkel Sentosa" / "Bengkel Sentosaa");
   - usaha with u % 10 in (5, 8, 9) have no NIB, the rest one NIB each; a returning usaha
     without an NIB (u % 10 == 5) is a new entity in round 2, proposed as a candidate with its
     round-1 entity (same owner, same name, same kabupaten/kota);
   - usaha u with u % 10 == 1 belong to the owner of u - 1: one person, two usaha, names
     apart (checked below the linker's threshold before the run), so no candidate;
   - in round 2 a returning usaha with u % 4 == 0 moved up one skala (by its modal).
   The linker (app.registry.linker.tautkan_semua, what `kumkm registry tautkan` runs) then
   empties the queue: records/s. Entities and candidates are checked exactly against the
   answer: every entity holds records of one usaha, every usaha has exactly the entities the
   rules give it, every candidate pairs the two entities of one usaha for one of the two
   reasons above, and their numbers are the answer's.
2. **Naik kelas over N records.** `kumkm serve` on that database; indikator `umkm_naik_kelas`
   (nasional, provinsi, kabupaten/kota levels) read over HTTP: the first read and p50/p95 of
   the reads after it (every one reads the counts the linker kept, kumkm_rekap, migration
   0013), and the national value against the answer; GET /api/v1/agregat/entitas (the
   dashboard's cards) the same way. `--naik-kelas-records N` (bench/naik_kelas.py) measures
   naik kelas again over N records seeded straight into the tables, not through the linker, so
   that 10M fits (`--only-naik-kelas`: that measure alone).
3. **Decisions with linking at acceptance.** bench/verification.py's harness on a second fresh
   database: `--rounds` rounds of three modes, `--decisions` batch decisions each (1,000 a
   request, 4 at once), interleaved so a shared machine's noise falls on every mode: the
   background linker held idle (its turn's lock taken by the bench: today's `./dev bench
   verification`), idle and the queue's update trigger disabled (what the trigger costs), and
   the linker free to link beside them; the queue drained after every mode (how long it took
   after the last decision is reported). Each mode's decisions/s, and the CPU seconds of the
   service process, of PostgreSQL and of the linker's own backends; the ratio is the median
   linking rate over the median idle rate, with the per-round ratios for the noise.
4. **The candidate queue over HTTP** (GET /api/v1/kumkm/kandidat) is measured only when that
   route exists (branch reg-api); otherwise the report says it was left out.

Issue 29's targets: entities and candidates exact; decisions/s with linking within 10% of
without; candidate queue p95 < 50 ms over 1M records; naik kelas p95 < 200 ms over 10M records
(`--records 10000000`; the default is 1M)."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from bench import capaian as cap
from bench import pemicu
from bench import verification as ver

ROOT = Path(__file__).resolve().parent.parent

A = [
    "Bengkel",
    "Depot",
    "Kios",
    "Apotek",
    "Salon",
    "Laundry",
    "Konveksi",
    "Percetakan",
    "Bakso",
    "Sate",
    "Mebel",
    "Optik",
    "Katering",
    "Studio",
    "Butik",
    "Jamu",
]
B = [
    "Sentosa",
    "Makmur",
    "Jaya",
    "Abadi",
    "Berkah",
    "Lestari",
    "Mandiri",
    "Barokah",
    "Sejahtera",
    "Harapan",
    "Mulia",
    "Rezeki",
    "Amanah",
    "Bahagia",
    "Cahaya",
    "Dinamika",
    "Gemilang",
    "Indah",
    "Karya",
    "Putra",
    "Sinar",
    "Utama",
    "Wijaya",
]
JUTA = 1_000_000


def nama_usaha(u: int) -> str:
    return f"{A[u % len(A)]} {B[(u // len(A)) % len(B)]}"


def check_generator() -> float:
    """The names of one owner's two usaha stay below the linker's threshold, and a typo stays
    above it: else the known answer would not be the answer."""
    from app.record import nama

    period = math.lcm(len(A) * len(B), 10) * 2
    worst = max(nama.similarity(nama.normalise(nama_usaha(u - 1)), nama.normalise(nama_usaha(u))) for u in range(1, period) if u % 10 == 1)
    typo = min(nama.similarity(nama.normalise(nama_usaha(u)), nama.normalise(nama_usaha(u) + nama_usaha(u)[-1])) for u in range(period))
    assert worst < nama.AMBANG <= typo, (worst, typo)
    return worst


def shape(records: int) -> dict:
    """How many usaha of each kind make `records` records: round 1 holds u in [0, u1) and their
    duplicates, round 2 the returning ones and u in [u1, u1 + baru2)."""
    u1 = round(records / 2 / 1.02)
    dup = sum(1 for u in range(u1) if u % 50 == 7)
    kembali = sum(1 for u in range(u1) if u % 5 == 0)
    baru2 = records - (u1 + dup) - kembali
    assert baru2 > 0
    tanpa_nib_kembali = sum(1 for u in range(u1) if u % 10 == 5)
    naik = sum(1 for u in range(u1) if u % 20 == 0 and u % 3 != 2)  # returning, NIB, u % 4 == 0, not to besar
    return {
        "u1": u1,
        "duplikat": dup,
        "kembali": kembali,
        "baru2": baru2,
        "usaha": u1 + baru2,
        "entitas": u1 + baru2 + tanpa_nib_kembali + dup,
        "kandidat": tanpa_nib_kembali + dup,
        "kandidat_duplikat": dup,
        "kandidat_kembali_tanpa_nib": tanpa_nib_kembali,
        "naik_kelas": naik,
    }


# The records, one row each, with their true usaha `u`: round 1, its duplicates, round 2's
# returning usaha and round 2's new ones; `i` a shuffled record number (so the queue, taken in
# submission_id order, mixes rounds and usaha).
TRUTH = """
    CREATE UNLOGGED TABLE bench_rekaman AS
    WITH r AS (
        SELECT u, '2021' AS periode, false AS dup FROM generate_series(0, $1 - 1) u
        UNION ALL SELECT u, '2021', true FROM generate_series(0, $1 - 1) u WHERE u % 50 = 7
        UNION ALL SELECT u, '2022', false FROM generate_series(0, $1 - 1) u WHERE u % 5 = 0
        UNION ALL SELECT u, '2022', false FROM generate_series($1, $1 + $2 - 1) u
    )
    SELECT row_number() OVER (ORDER BY md5(r.u::text || r.periode || r.dup::text)) AS i, r.u, r.periode, r.dup,
           d.kode, d.kec, d.kab, d.prov,
           CASE WHEN r.dup OR r.u % 10 IN (5, 8, 9) THEN NULL ELSE (9100000000000 + r.u)::text END AS nib,
           (1600000000000000 + CASE WHEN r.u % 10 = 1 THEN r.u - 1 ELSE r.u END)::text AS nik,
           ($4::text[])[r.u % $6 + 1] || ' ' || ($5::text[])[(r.u / $6) % $7 + 1]
               || CASE WHEN r.dup THEN right(($5::text[])[(r.u / $6) % $7 + 1], 1) ELSE '' END AS nama,
           CASE WHEN r.periode = '2022' AND r.u < $1 AND r.u % 4 = 0
                THEN (ARRAY[2000, 7000, 20000])[r.u % 3 + 1] ELSE (ARRAY[25, 2000, 7000])[r.u % 3 + 1]
           END::bigint * 1000000 AS modal
    FROM r JOIN bench_desa d ON d.i = (r.u::bigint * 7919) % $3;
    CREATE UNIQUE INDEX ON bench_rekaman (i);
"""

_UUID = "('00000000-0000-4000-8000-' || lpad(to_hex(b.i), 12, '0'))::uuid"

LOAD = f"""
    INSERT INTO submissions (
        submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, kode_kecamatan, status,
        enumerator_id, captured_at, content_hash, dibuat_oleh, skala_usaha, kbli, sektor, status_tempat,
        modal_usaha, punya_nib, platform_digital, izin_usaha)
    SELECT {_UUID}, b.periode, 'umkm', b.kode, b.prov, b.kab, b.kec, 'diterima',
           'ENUM-' || (b.i % 5000), (b.periode || '-06-01 09:00+07')::timestamptz, '\\x00'::bytea, 'bench',
           CASE WHEN b.modal <= 1000000000 THEN 'mikro' WHEN b.modal <= 5000000000 THEN 'kecil'
                WHEN b.modal <= 10000000000 THEN 'menengah' ELSE 'besar' END,
           '56101', 'I', 'menetap', b.modal, b.nib IS NOT NULL, b.i % 2 = 0, b.i % 5 = 0
    FROM bench_rekaman b WHERE b.i BETWEEN $1 AND $2;
"""
LOAD_VERSIONS = f"""
    INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh)
    SELECT {_UUID}, 1,
           jsonb_strip_nulls(jsonb_build_object(
               'periode', b.periode, 'jenis', 'umkm', 'kode_wilayah', b.kode, 'nama_usaha', b.nama,
               'nama_pemilik', 'Pemilik ' || b.nik, 'nik_pemilik', b.nik, 'nib', b.nib, 'alamat', 'Jl. Bench',
               'kbli', '56101', 'status_tempat', 'menetap', 'modal_usaha', b.modal)),
           'bench'
    FROM bench_rekaman b WHERE b.i BETWEEN $1 AND $2;
"""

# Every entity holds the records of one usaha; every usaha has the entities the rules give it.
CHECK_ENTITAS = """
    WITH m AS (
        SELECT t.id_kumkm, b.u, b.dup, b.periode
        FROM kumkm_tautan t JOIN bench_rekaman b ON t.submission_id = ('00000000-0000-4000-8000-' || lpad(to_hex(b.i), 12, '0'))::uuid
    ), per_entitas AS (SELECT id_kumkm, count(DISTINCT u) AS n FROM m GROUP BY 1),
    per_usaha AS (
        SELECT u, count(DISTINCT id_kumkm) AS n,
               1 + CASE WHEN u < $1 AND u % 50 = 7 THEN 1 ELSE 0 END
                 + CASE WHEN u < $1 AND u % 10 = 5 THEN 1 ELSE 0 END AS harus
        FROM m GROUP BY u
    )
    SELECT (SELECT count(*) FROM m) AS tautan,
           (SELECT count(*) FROM kumkm WHERE digabung_ke IS NULL) AS entitas,
           (SELECT count(*) FROM per_entitas WHERE n > 1) AS entitas_campur,
           (SELECT count(*) FROM per_usaha) AS usaha,
           (SELECT count(*) FROM per_usaha WHERE n <> harus) AS usaha_salah,
           (SELECT count(*) FROM kumkm_antrian) AS antrian
"""
# Every candidate pairs two entities of one usaha: a round-1 duplicate, or a returning usaha
# without an NIB.
CHECK_KANDIDAT = """
    WITH k AS (
        SELECT k.id, k.skor, b.u, bool_or(b.dup) AS dup, count(DISTINCT b.periode) AS periode,
               count(DISTINCT b.u) AS n_usaha, count(DISTINCT t.id_kumkm) AS n_entitas
        FROM kumkm_kandidat k
        JOIN kumkm_tautan t ON t.id_kumkm IN (k.id_a, k.id_b)
        JOIN bench_rekaman b ON t.submission_id = ('00000000-0000-4000-8000-' || lpad(to_hex(b.i), 12, '0'))::uuid
        WHERE k.status = 'terbuka'
        GROUP BY k.id, k.skor, b.u
    )
    SELECT (SELECT count(*) FROM kumkm_kandidat) AS kandidat,
           (SELECT count(*) FROM (SELECT id FROM k GROUP BY id HAVING count(*) > 1) x) AS kandidat_campur,
           count(*) FILTER (WHERE n_entitas = 2 AND dup AND u % 50 = 7) AS duplikat,
           count(*) FILTER (WHERE n_entitas = 2 AND NOT dup AND u % 10 = 5 AND periode = 2 AND skor = 1) AS kembali,
           count(DISTINCT u) AS usaha
    FROM k
"""


async def load(conn, records: int, chunk: int) -> dict:
    s = shape(records)
    await conn.execute(cap.DESA)
    n_desa = await conn.fetchval("SELECT count(*) FROM bench_desa")
    t = time.perf_counter()
    await conn.execute(
        TRUTH.replace("$1", str(s["u1"]))
        .replace("$2", str(s["baru2"]))
        .replace("$3", str(n_desa))
        .replace("$4", "ARRAY[" + ",".join(f"'{a}'" for a in A) + "]")
        .replace("$5", "ARRAY[" + ",".join(f"'{b}'" for b in B) + "]")
        .replace("$6", str(len(A)))
        .replace("$7", str(len(B)))
    )
    n = await conn.fetchval("SELECT count(*) FROM bench_rekaman")
    assert n == records, (n, records)
    truth_s = time.perf_counter() - t
    t = time.perf_counter()
    lo = 1
    while lo <= records:
        hi = min(lo + chunk - 1, records)
        async with conn.transaction():
            await conn.execute(LOAD, lo, hi)
            await conn.execute(LOAD_VERSIONS, lo, hi)
        print(f"  loaded {hi:>11,} records  ({hi / (time.perf_counter() - t):,.0f}/s)", flush=True)
        lo = hi + 1
    load_s = time.perf_counter() - t
    queued = await conn.fetchval("SELECT count(*) FROM kumkm_antrian")
    t = time.perf_counter()
    for table in ("submissions", "submission_versions", "kumkm_antrian", "bench_rekaman"):
        await conn.execute(f"VACUUM (ANALYZE) {table}")
    await conn.execute("CHECKPOINT")
    return {
        **s,
        "load_seconds": round(load_s, 1),
        "load_records_per_second": round(records / load_s),
        "truth_seconds": round(truth_s, 1),
        "queued": queued,
        "vacuum_seconds": round(time.perf_counter() - t, 1),
    }


async def link(url: str, batch: int, postmaster_pid: int) -> dict:
    """The migration job's linking, with the CPU seconds it took in this process (Python) and in
    PostgreSQL."""
    import resource

    from app.infra import db
    from app.registry.linker import tautkan_semua

    db.set_url(url)
    seen = {"n": 0, "t": time.perf_counter()}
    ru = resource.getrusage(resource.RUSAGE_SELF)
    pg = cpu_tree(postmaster_pid)
    started = time.perf_counter()

    def kemajuan(h) -> None:
        seen["n"] += h.diambil
        if time.perf_counter() - seen["t"] > 5:
            seen["t"] = time.perf_counter()
            print(f"  linked {seen['n']:>11,} records  ({seen['n'] / (seen['t'] - started):,.0f}/s)", flush=True)

    try:
        hasil = await tautkan_semua(batch, kemajuan=kemajuan)
    finally:
        await db.dispose_engine()
    s = time.perf_counter() - started
    ru2 = resource.getrusage(resource.RUSAGE_SELF)
    py_cpu = ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime
    pg_cpu = cpu_tree(postmaster_pid) - pg
    return {
        "seconds": round(s, 1),
        "cpu_python_s": round(py_cpu, 1),
        "cpu_postgres_s": round(pg_cpu, 1),
        "cpu_us_per_record": {"python": round(py_cpu / hasil.diambil * 1e6), "postgres": round(pg_cpu / hasil.diambil * 1e6)},
        "records_per_second": round(hasil.diambil / s),
        "diambil": hasil.diambil,
        "ditautkan": hasil.ditautkan,
        "dibuat": hasil.dibuat,
        "kandidat": hasil.kandidat,
        "seconds_per_million": round(s / hasil.diambil * 1_000_000, 1),
    }


async def check(conn, s: dict) -> dict:
    e = dict(await conn.fetchrow(CHECK_ENTITAS, s["u1"]))
    k = dict(await conn.fetchrow(CHECK_KANDIDAT))
    exact = (
        e["antrian"] == 0
        and e["tautan"] == s["u1"] + s["duplikat"] + s["kembali"] + s["baru2"]
        and e["entitas"] == s["entitas"]
        and e["entitas_campur"] == 0
        and e["usaha"] == s["usaha"]
        and e["usaha_salah"] == 0
        and k["kandidat"] == s["kandidat"]
        and k["kandidat_campur"] == 0
        and k["duplikat"] == s["kandidat_duplikat"]
        and k["kembali"] == s["kandidat_kembali_tanpa_nib"]
    )
    return {"exact": exact, "entitas": e, "kandidat": k}


async def indicators(client: httpx.AsyncClient, conn, s: dict, n: int, warmup: int) -> dict:
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
        # every read sums the kept counts (kumkm_rekap; app/indicators/service/registry.py)
        t = time.perf_counter()
        first = await client.get(path, headers=h)
        first.raise_for_status()
        cold = round((time.perf_counter() - t) * 1000, 2)
        out[f"naik_kelas_{level}"] = {"dihitung_ms": cold, **await cap.measure(client, path, {}, admin, n, warmup)}
        out[f"naik_kelas_{level}"]["nilai"] = first.json()["nilai"]
    out["naik_kelas_nasional_exact"] = out["naik_kelas_nasional"]["nilai"] == str(s["naik_kelas"])
    for name, params in (
        ("agregat_entitas_provinsi", {"periode": "2022", "wilayah": busiest["kode_provinsi"]}),
        ("agregat_entitas_kabkota", {"periode": "2022", "wilayah": busiest["kode_kabkota"]}),
    ):
        out[name] = await cap.measure(client, "/api/v1/agregat/entitas", params, admin, max(20, n // 4), warmup)
    return out


async def kandidat_queue(client: httpx.AsyncClient, conn, n: int, warmup: int) -> dict:
    """GET /api/v1/kumkm/kandidat (branch reg-api) for the kabupaten/kota with the most
    candidates; left out when the route is not there."""
    doc = (await client.get("/openapi.json")).json()
    if "/api/v1/kumkm/kandidat" not in doc.get("paths", {}):
        return {"measured": False, "why": "GET /api/v1/kumkm/kandidat is not in this build (branch reg-api not merged)"}
    kab = await conn.fetchval("SELECT kode_kabkota FROM kumkm_kandidat GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    key = await cap.make_key(conn, "verifikator", None)
    return {
        "measured": True,
        "kabkota": kab,
        **await cap.measure(client, "/api/v1/kumkm/kandidat", {"kabkota": kab, "status": "terbuka"}, key, n, warmup),
    }


async def phase_one(args) -> dict:
    from app.infra import db, embedded

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-registry-"))
    atexit.register(cap._rmdir_quietly, tmp)
    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm")
    await asyncio.to_thread(db.migrate, url)
    conn = await asyncpg.connect(**cap._pg_params(url))
    try:
        print(f"generating and loading {args.records:,} accepted records over 2021 and 2022", flush=True)
        loaded = await load(conn, args.records, args.chunk)
        print(f"  queued for the linker: {loaded['queued']:,}", flush=True)
        print("linking (app.registry.linker.tautkan_semua)", flush=True)
        linked = await link(url, args.batch, int((tmp / "pgdata" / "postmaster.pid").read_text().split()[0]))
        print(f"  {linked['diambil']:,} records in {linked['seconds']} s = {linked['records_per_second']:,}/s", flush=True)
        await conn.execute("VACUUM (ANALYZE) kumkm_tautan")
        await conn.execute("VACUUM (ANALYZE) kumkm")
        checked = await check(conn, loaded)
        print(f"  entities and candidates exact against the known answer: {checked['exact']}", flush=True)
        await conn.execute("DROP TABLE bench_desa")
        async with cap.served(url) as client:
            ind = await indicators(client, conn, loaded, args.requests, args.warmup)
            kand = await kandidat_queue(client, conn, args.requests, args.warmup)
    finally:
        await conn.close()
    return {"load": loaded, "link": linked, "check": checked, "indikator": ind, "kandidat_queue": kand}


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stats() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds it and its reaped children used), from /proc."""
    out: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        f = raw[raw.rfind(")") + 2 :].split()
        out[int(entry.name)] = (int(f[1]), sum(int(x) for x in f[11:15]) / _TICK)
    return out


def cpu_tree(root: int, stats: dict[int, tuple[int, float]] | None = None) -> float:
    """CPU seconds of a process and every descendant, living or reaped (Linux /proc)."""
    stats = stats if stats is not None else _stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _c) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo.extend(children.get(pid, ()))
    return total


def cpu_pids(pids: list[int]) -> dict[int, float]:
    stats = _stats()
    return {p: stats[p][1] for p in pids if p in stats}


async def decisions(args, url: str, keys: dict, base: str, server_pid: int, postmaster_pid: int) -> dict:
    """Rounds of three modes, interleaved so the shared machine's noise falls on all of them:
    `idle` (the background linker held idle by its own lock: today's `./dev bench
    verification`), `tanpa_pemicu` (idle too, and the queue's update trigger disabled: what the
    trigger costs a decision) and `linking` (the linker free to link beside the decisions; the
    queue drained before and after, how long after the last decision it took is reported).
    Each mode's decisions/s, and the CPU seconds of the service process, of PostgreSQL and of
    the linker's own PostgreSQL backends while it ran."""
    from app.registry.linker import KUNCI_LATAR

    n = args.decisions
    modes = ("idle", "tanpa_pemicu", "linking")
    rounds = args.rounds
    records = [ver.record(i) for i in range(len(modes) * rounds * n)]
    ids = [r["submission_id"] for r in records]
    holder = await asyncpg.connect(**cap._pg_params(url))
    out: dict = {"rounds": []}
    try:
        limits = httpx.Limits(max_connections=12, max_keepalive_connections=12)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            await ver.post_batches(
                client,
                "/api/v1/submissions/batch",
                keys["enumerator"],
                [records[i : i + 1000] for i in range(0, len(records), 1000)],
                4,
                "created",
            )

            async def linker_pids() -> list[int]:
                return [r[0] for r in await holder.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = 'kumkm-linker'")]

            async def decide(part: list[str], offset: int) -> dict:
                batches = [
                    [ver.decision(sid, i) for i, sid in enumerate(part[j : j + 1000], offset + j)] for j in range(0, len(part), 1000)
                ]
                lp = cpu_pids(await linker_pids())
                before = (cpu_tree(server_pid), cpu_tree(postmaster_pid))
                t = await ver.post_batches(client, "/api/v1/verifikasi/batch", keys["verifikator"], batches, 4, "decided")
                after = (cpu_tree(server_pid), cpu_tree(postmaster_pid))
                # the linker's backends, also those it connected meanwhile (from their start)
                lp_after = cpu_pids(await linker_pids())
                cpu = [round(a - b, 2) for a, b in zip(after, before, strict=True)]
                cpu.append(round(sum(v - lp.get(p, 0.0) for p, v in lp_after.items()), 2))
                return {
                    "n": len(part),
                    "seconds": round(t, 2),
                    "per_second": round(len(part) / t),
                    "cpu_service_s": cpu[0],
                    "cpu_postgres_s": cpu[1],
                    "cpu_linker_backend_s": cpu[2],
                    "antrian_setelahnya": await holder.fetchval("SELECT count(*) FROM kumkm_antrian"),
                }

            async def drained() -> float:
                t = time.perf_counter()
                while await holder.fetchval("SELECT EXISTS (SELECT 1 FROM kumkm_antrian)"):
                    await asyncio.sleep(0.05)
                return time.perf_counter() - t

            offset = 0
            for r in range(rounds):
                this: dict = {}
                for mode in modes:
                    part = ids[offset : offset + n]
                    if mode != "linking":
                        await holder.execute(f"SELECT pg_advisory_lock({KUNCI_LATAR})")
                    if mode == "tanpa_pemicu":
                        await holder.execute(pemicu.tanpa("antrian"))
                    try:
                        this[mode] = await decide(part, offset)
                    finally:
                        if mode == "tanpa_pemicu":
                            await holder.execute(pemicu.UTUH)
                        if mode != "linking":
                            await holder.execute(f"SELECT pg_advisory_unlock({KUNCI_LATAR})")
                    # every mode ends with the queue empty, so the next starts alike
                    this[mode]["antrian_habis_s"] = round(await drained(), 2)
                    offset += n
                this["rasio"] = round(this["linking"]["per_second"] / this["idle"]["per_second"], 3)
                this["rasio_pemicu"] = round(this["idle"]["per_second"] / this["tanpa_pemicu"]["per_second"], 3)
                print(
                    f"  round {r + 1}: idle {this['idle']['per_second']:,}/s, without the trigger "
                    f"{this['tanpa_pemicu']['per_second']:,}/s, linking {this['linking']['per_second']:,}/s "
                    f"(ratio {this['rasio']}), queue empty {this['linking']['antrian_habis_s']} s after",
                    flush=True,
                )
                out["rounds"].append(this)
            for mode in modes:
                rates = sorted(x[mode]["per_second"] for x in out["rounds"])
                out[mode] = {"median_per_second": rates[len(rates) // 2], "min": rates[0], "max": rates[-1]}
            # the first round's figures under the old names
            out["tanpa_linker"] = out["rounds"][0]["idle"]
            out["dengan_linker"] = out["rounds"][0]["linking"]
            out["rasio"] = round(out["linking"]["median_per_second"] / out["idle"]["median_per_second"], 3)
            out["rasio_per_round"] = [x["rasio"] for x in out["rounds"]]
            out["antrian_habis_setelah_keputusan_terakhir_s"] = max(x["linking"]["antrian_habis_s"] for x in out["rounds"])
            out["linked"] = await holder.fetchval("SELECT count(*) FROM kumkm_tautan")
            out["diterima"] = await holder.fetchval("SELECT count(*) FROM submissions WHERE status = 'diterima'")
    finally:
        await holder.close()
    return out


def phase_two(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-registry-dec-"))
    atexit.register(shutil.rmtree, tmp, True)
    proc = None
    try:
        url, keys = ver.prepare_database(tmp)
        port = ver.free_port()
        proc = ver.start_server(url, port, 1, tmp)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(ver.wait_ready(base, proc, tmp))
        postmaster = int((tmp / "pgdata" / "postmaster.pid").read_text().split()[0])
        return asyncio.run(decisions(args, url, keys, base, proc.pid, postmaster))
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.registry", description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=1_000_000, help="accepted records over the two periode")
    p.add_argument("--chunk", type=int, default=250_000, help="records per loading statement")
    p.add_argument("--batch", type=int, default=5000, help="records per linker batch (kumkm registry tautkan --batch)")
    p.add_argument("--decisions", type=int, default=100_000, help="decisions of each mode in each round")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the three decision modes (idle, no trigger, linking)")
    p.add_argument("--requests", type=int, default=200, help="measured requests per read")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--skip-decisions", action="store_true")
    p.add_argument(
        "--naik-kelas-records",
        type=int,
        default=0,
        help="also measure naik kelas over this many records seeded straight into the tables, not linked by the linker "
        "(bench/naik_kelas.py; issue 29's figure is 10000000)",
    )
    p.add_argument("--only-naik-kelas", action="store_true", help="only the naik kelas measure of --naik-kelas-records")
    p.add_argument(
        "--trigger-cost",
        type=int,
        default=0,
        help="only this: N single-record decisions with the decision trigger of migration 0011 and of 0013, alternating",
    )
    p.add_argument("--out", help="the JSON report (default bench/results/registry-<records>.json)")
    args = p.parse_args(argv)
    if args.trigger_cost:
        from bench import naik_kelas

        print(json.dumps(asyncio.run(naik_kelas.trigger_cost(args.trigger_cost, 3)), indent=2))
        return 0
    if args.naik_kelas_records or args.only_naik_kelas:
        from bench import naik_kelas

        nk_records = args.naik_kelas_records or args.records
        nk = asyncio.run(naik_kelas.run(nk_records, args.chunk, args.requests, args.warmup))
        if args.only_naik_kelas:
            text = json.dumps({"naik_kelas": nk}, indent=2, default=str)
            print(text)
            out = Path(args.out or ROOT / "bench" / "results" / f"registry-naik-kelas-{nk_records}.json")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text + "\n")
            return 0 if nk["nasional_equals_answer"] and nk["nasional_equals_recount"] else 1
    worst = check_generator()
    report: dict = {"records": args.records, "generator_worst_owner_similarity": round(worst, 3)}
    report.update(asyncio.run(phase_one(args)))
    if args.naik_kelas_records:
        report["naik_kelas"] = nk
    if not args.skip_decisions:
        print(f"decisions: {args.rounds} rounds of {args.decisions:,} idle, without the trigger, linking", flush=True)
        report["keputusan"] = phase_two(args)
    ind = report["indikator"]
    report["targets"] = {
        "entities_and_candidates_exact": report["check"]["exact"],
        "naik_kelas_nasional_exact": ind["naik_kelas_nasional_exact"],
        "naik_kelas_p95_lt_200ms": all(ind[f"naik_kelas_{lv}"]["p95_ms"] < 200 for lv in ("nasional", "provinsi", "kabkota")),
        "naik_kelas_computed_lt_200ms": all(ind[f"naik_kelas_{lv}"]["dihitung_ms"] < 200 for lv in ("nasional", "provinsi", "kabkota")),
        "decisions_within_10pct": None if args.skip_decisions else report["keputusan"]["rasio"] >= 0.9,
        "candidate_queue_p95_lt_50ms": (report["kandidat_queue"]["p95_ms"] < 50 if report["kandidat_queue"]["measured"] else None),
    }
    text = json.dumps(report, indent=2, default=str)
    print(text)
    out = Path(args.out or ROOT / "bench" / "results" / f"registry-{args.records}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0 if report["check"]["exact"] and ind["naik_kelas_nasional_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
