"""Capaian pendataan and keragaan koperasi under load (docs/domain.md).

    python -m bench.capaian [--records 10000000] [--requests 400]

Starts a fresh embedded PostgreSQL in a temporary directory, loads generated records across
every provinsi with set-based INSERT ... SELECT straight into `submissions` (the statement
triggers keep rekap_status exact, as on the ingest path), sets targets, starts `kumkm serve`
and measures p50/p95 over HTTP on the warm service. Then it checks that capaian equals a
recount from the records. Targets: provinsi p95 < 20 ms, nasional p95 < 100 ms."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench.harness import SERVE_LOG, service_log

ROOT = Path(__file__).resolve().parent.parent
PERIODE = "2022"

# One chunk per statement: big enough to be set-based, small enough that a statement's
# transition table (read by the rekap trigger) stays in memory-sized pieces.
LOAD = """
    INSERT INTO submissions (
        submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, kode_kecamatan, status,
        enumerator_id, captured_at, content_hash, dibuat_oleh,
        skala_usaha, kbli, sektor, status_tempat, modal_usaha, hasil_penjualan, aset, tenaga_kerja_l,
        tenaga_kerja_p, punya_nib, platform_digital, izin_usaha,
        jenis_koperasi, kewenangan, aktif, tahun_rat_terakhir, punya_nik_koperasi, anggota_l, anggota_p,
        manajer_l, manajer_p, karyawan_l, karyawan_p, modal_sendiri, modal_luar, volume_usaha, shu, kesehatan)
    SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, $3, x.jenis,
           d.kode, d.prov, d.kab, d.kec,
           CASE WHEN g % 100 < 3 THEN 'masuk' WHEN g % 100 < 5 THEN 'ditolak' ELSE 'diterima' END,
           'ENUM-' || (g % 5000), timestamptz '2022-04-01 08:00+07' + (g % 200) * interval '1 day',
           '\\x00'::bytea, 'bench',
           u.skala, u.kbli, u.sektor, u.tempat, u.modal, u.modal * 4, u.modal * 2, u.tk_l, u.tk_p,
           u.nib, u.digital, u.izin,
           k.jenis_koperasi, k.kewenangan, k.aktif, k.rat, k.nik, k.anggota_l, k.anggota_p, k.manajer_l, k.manajer_p,
           k.karyawan_l, k.karyawan_p, k.modal_sendiri, k.modal_luar, k.volume, k.shu, k.kesehatan
    FROM generate_series($1::bigint, $2::bigint) AS g
    JOIN bench_desa d ON d.i = (g * 7919) % $4
    CROSS JOIN LATERAL (SELECT CASE WHEN g % 50 = 0 THEN 'koperasi' ELSE 'umkm' END AS jenis) x
    LEFT JOIN LATERAL (
        SELECT (ARRAY['mikro','mikro','mikro','mikro','mikro','mikro','mikro','kecil','kecil','menengah'])[g % 10 + 1] AS skala,
               (ARRAY['56101','47111','10792','96021','14111'])[g % 5 + 1] AS kbli,
               (ARRAY['I','G','C','S','C'])[g % 5 + 1] AS sektor,
               CASE WHEN g % 4 = 0 THEN 'tidak_menetap' ELSE 'menetap' END AS tempat,
               ((g % 10 + 1) * 97000000)::bigint AS modal,
               (g % 3)::int AS tk_l, (g % 4)::int AS tk_p,
               g % 3 = 0 AS nib, g % 2 = 0 AS digital, g % 5 = 0 AS izin
        WHERE x.jenis = 'umkm') u ON true
    LEFT JOIN LATERAL (
        SELECT (ARRAY['konsumen','produsen','simpan_pinjam','pemasaran','jasa'])[g % 5 + 1] AS jenis_koperasi,
               CASE WHEN g % 23 = 0 THEN 'nasional' WHEN g % 7 = 0 THEN 'provinsi' ELSE 'kabkota' END AS kewenangan,
               g % 3 <> 0 AS aktif, (2019 + g % 4)::int AS rat, g % 2 = 0 AS nik,
               (20 + g % 300)::int AS anggota_l, (10 + g % 200)::int AS anggota_p,
               (g % 2)::int AS manajer_l, ((g + 1) % 2)::int AS manajer_p,
               (g % 5)::int AS karyawan_l, (g % 4)::int AS karyawan_p,
               (g % 1000 * 13000000)::bigint AS modal_sendiri, (g % 700 * 11000000)::bigint AS modal_luar,
               (g % 900 * 17000000)::bigint AS volume, (g % 400 * 1000000 - 50000000)::bigint AS shu,
               CASE WHEN g % 5 = 2 THEN 'sehat' END AS kesehatan
        WHERE x.jenis = 'koperasi') k ON true
"""

DESA = """
    CREATE TABLE bench_desa AS
    SELECT (row_number() OVER (ORDER BY kode) - 1)::bigint AS i, kode, left(kode, 8) AS kec,
           left(kode, 5) AS kab, left(kode, 2) AS prov
    FROM wilayah WHERE level = 4;
    CREATE UNIQUE INDEX ON bench_desa (i);
    ANALYZE bench_desa;
"""

# Targets near each kabupaten/kota's count (some above, some below), and the provinsi totals.
TARGETS = """
    INSERT INTO target_pendataan (periode, kode_wilayah, target, dasar_hukum, berlaku_mulai, dibuat_oleh)
    SELECT periode, kode_kabkota, (sum(n) * (90 + hashtext(kode_kabkota) % 20 + 20) / 110)::bigint,
           'Kepdep 63/2022', DATE '2022-08-01', 'bench'
    FROM rekap_status WHERE periode = $1 GROUP BY periode, kode_kabkota;
"""
TARGETS_PROVINSI = """
    INSERT INTO target_pendataan (periode, kode_wilayah, target, dasar_hukum, berlaku_mulai, dibuat_oleh)
    SELECT periode, left(kode_wilayah, 2), sum(target), 'Kepdep 63/2022', DATE '2022-08-01', 'bench'
    FROM target_pendataan WHERE periode = $1 AND kode_wilayah LIKE '__.__' GROUP BY 1, 2;
"""
RECOUNT = "SELECT kode_kabkota, status, count(*) AS n FROM submissions WHERE periode = $1 GROUP BY 1, 2"


def _pg_params(url: str) -> dict:
    u = make_url(url)
    params = {"user": u.username or "postgres", "database": u.database, "host": u.query.get("host") or u.host}
    if u.port or u.query.get("port"):
        params["port"] = int(u.port or u.query.get("port"))
    return params


def _rmdir_quietly(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def served(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """`kumkm serve` on the database at `url` (already loaded), and a client of it once it
    answers /healthz; the service is stopped on the way out."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *SERVE_LOG],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        stdout=service_log(),
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.time() + 60
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("service did not start")
                await asyncio.sleep(0.2)
            yield client
    finally:
        server.terminate()
        server.wait(timeout=30)


async def load(conn, records: int, chunk: int) -> float:
    await conn.execute(DESA)
    n_desa = await conn.fetchval("SELECT count(*) FROM bench_desa")
    started = time.perf_counter()
    lo = 1
    while lo <= records:
        hi = min(lo + chunk - 1, records)
        await conn.execute(LOAD, lo, hi, PERIODE, n_desa)
        done = hi
        rate = done / (time.perf_counter() - started)
        print(f"  loaded {done:>11,} records  ({rate:,.0f}/s)", flush=True)
        lo = hi + 1
    elapsed = time.perf_counter() - started
    await conn.execute(TARGETS, PERIODE)
    await conn.execute(TARGETS_PROVINSI, PERIODE)
    await conn.execute("DROP TABLE bench_desa")
    t = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE) submissions")
    await conn.execute("VACUUM (ANALYZE) rekap_status")
    await conn.execute("VACUUM (ANALYZE) target_pendataan")
    await conn.execute("CHECKPOINT")
    print(f"  vacuum/analyze/checkpoint {time.perf_counter() - t:.1f} s", flush=True)
    return elapsed


async def make_key(conn, role: str, wilayah: str | None) -> str:
    from app.keys import service as auth_service

    key = auth_service.new_key()
    await conn.execute(
        "INSERT INTO api_keys (name, role, kode_wilayah, key_prefix, key_hash) VALUES ($1, $2, $3, $4, $5)",
        f"bench-{role}",
        role,
        wilayah,
        key[:14],
        auth_service.hash_key(key),
    )
    return key


def _pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


async def measure(client: httpx.AsyncClient, path: str, params: dict, key: str, n: int, warmup: int) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(warmup):
        r = await client.get(path, params=params, headers=headers)
        r.raise_for_status()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        r = await client.get(path, params=params, headers=headers)
        samples.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(_pct(samples, 95), 2),
        "max_ms": round(max(samples), 2),
        "requests": n,
        "bytes": len(r.content),
    }


async def recount_check(client, conn, key: str) -> dict:
    """Capaian for all 514 kabupaten/kota and for the nation against a GROUP BY of the records."""
    headers = {"Authorization": f"Bearer {key}"}
    truth: dict[str, dict[str, int]] = {}
    for r in await conn.fetch(RECOUNT, PERIODE):
        truth.setdefault(r["kode_kabkota"], {"masuk": 0, "diterima": 0, "ditolak": 0})[r["status"]] = r["n"]
    kab = (await client.get("/api/v1/capaian-pendataan", params={"periode": PERIODE, "tingkat": "kabkota"}, headers=headers)).json()
    got = {row["kode"]: {"masuk": row["belum_diverifikasi"], "diterima": row["diterima"], "ditolak": row["ditolak"]} for row in kab["rows"]}
    nas = (await client.get("/api/v1/capaian-pendataan", params={"periode": PERIODE}, headers=headers)).json()
    total = sum(sum(v.values()) for v in truth.values())
    ok = (
        got == truth
        and nas["jumlah"]["masuk"] == total == kab["jumlah"]["masuk"]
        and all(r["masuk"] == r["belum_diverifikasi"] + r["diterima"] + r["ditolak"] for r in kab["rows"] + nas["rows"])
    )
    return {"equal_to_recount": ok, "kabkota_rows": len(got), "records": total}


async def run(args) -> dict:
    from app.infra import db, embedded

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-"))
    print(f"embedded PostgreSQL in {tmp}", flush=True)
    if not args.keep:
        # registered first, so it runs last: after the embedded server has removed pgdata
        atexit.register(_rmdir_quietly, tmp)
    url = embedded.start(tmp / "pgdata", cleanup_mode=None if args.keep else "delete", database="kumkm")
    await asyncio.to_thread(db.migrate, url)  # Alembic runs its own event loop
    conn = await asyncpg.connect(**_pg_params(url))
    try:
        print(f"loading {args.records:,} records", flush=True)
        load_s = await load(conn, args.records, args.chunk)
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('submissions'))")
        rekap_rows = await conn.fetchval("SELECT count(*) FROM rekap_status")
        dinas = await make_key(conn, "dinas", args.provinsi)
        walidata = await make_key(conn, "walidata", None)

        async with served(url) as client:
            n, w = args.requests, args.warmup
            prov = {"periode": PERIODE, "wilayah": args.provinsi}
            results = {
                "capaian_provinsi": await measure(client, "/api/v1/capaian-pendataan", prov, dinas, n, w),
                "capaian_nasional": await measure(client, "/api/v1/capaian-pendataan", {"periode": PERIODE}, walidata, n, w),
                "capaian_nasional_514_kabkota": await measure(
                    client, "/api/v1/capaian-pendataan", {"periode": PERIODE, "tingkat": "kabkota"}, walidata, n, w
                ),
                "capaian_provinsi_csv": await measure(client, "/api/v1/capaian-pendataan", {**prov, "format": "csv"}, dinas, n, w),
                "keragaan_koperasi_provinsi": await measure(client, "/api/v1/agregat/keragaan-koperasi", prov, dinas, n, w),
            }
            check = await recount_check(client, conn, walidata)
    finally:
        await conn.close()
    return {
        "records": args.records,
        "load_seconds": round(load_s, 1),
        "load_records_per_second": round(args.records / load_s),
        "submissions_size": size,
        "rekap_status_rows": rekap_rows,
        "provinsi": args.provinsi,
        "latency": results,
        "recount": check,
        "targets_met": {
            "provinsi_p95_lt_20ms": results["capaian_provinsi"]["p95_ms"] < 20,
            "nasional_p95_lt_100ms": results["capaian_nasional"]["p95_ms"] < 100
            and results["capaian_nasional_514_kabkota"]["p95_ms"] < 100,
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.capaian", description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=10_000_000)
    p.add_argument("--chunk", type=int, default=500_000, help="records per INSERT statement")
    p.add_argument("--requests", type=int, default=400, help="measured requests per scenario")
    p.add_argument("--warmup", type=int, default=40)
    p.add_argument("--provinsi", default="16")
    p.add_argument("--keep", action="store_true", help="leave the database directory behind")
    p.add_argument("--out", help="write the JSON report here (default bench/results/capaian-<records>.json)")
    args = p.parse_args(argv)
    report = asyncio.run(run(args))
    text = json.dumps(report, indent=2)
    print(text)
    out = Path(args.out or ROOT / "bench" / "results" / f"capaian-{args.records}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    ok = report["recount"]["equal_to_recount"] and all(report["targets_met"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
