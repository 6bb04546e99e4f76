"""The verifikator's queue over 1,000,000 records (docs/verification.md, issue 15).

    ./dev bench verifikasi-page [--records 1000000] [--requests 200]

Starts a fresh embedded PostgreSQL in a temporary directory, loads generated records with
set-based INSERT ... SELECT straight into `submissions` and `submission_versions` (the
statement triggers keep rekap_status as ingest would): one kabupaten/kota in five is Kota
Palembang (16.71), the queue measured, with 55% of it still masuk; the rest spread over the
other kabupaten/kota of Sumatera Selatan. Then it starts `kumkm serve` and measures p50/p95
over HTTP on the warm service: the first page of the queue, pages deep into it (following the
cursor), and filtered pages (kecamatan, desa, enumerator, jenis, a captured-date week, likely
duplicates, and a combination), plus the counts. Target: p95 under 50 ms for each."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.capaian import _pg_params, _rmdir_quietly, make_key, measure, served

ROOT = Path(__file__).resolve().parent.parent
PERIODE = "2022"
KOTA = "16.71"

DESA = """
    CREATE TABLE bench_desa AS
    SELECT (row_number() OVER (PARTITION BY left(kode, 5) = '16.71' ORDER BY kode) - 1)::bigint AS i,
           left(kode, 5) = '16.71' AS kota, kode, left(kode, 8) AS kec, left(kode, 5) AS kab
    FROM wilayah WHERE level = 4 AND kode LIKE '16.%';
    CREATE UNIQUE INDEX ON bench_desa (kota, i);
    ANALYZE bench_desa;
"""

# g % 5 = 0: Kota Palembang; 55% of it masuk. Captured over 200 days in an order unrelated to
# g. 80 enumerators in the kota. One UMKM in 100 of the kota has a likely duplicate (pairs
# g, g + 5 with g % 1000 in (5, 10)).
LOAD = """
    WITH rows AS (
        SELECT g, g % 5 = 0 AS kota,
               CASE WHEN g % 50 = 0 THEN 'koperasi' ELSE 'umkm' END AS jenis
        FROM generate_series($1::bigint, $2::bigint) AS g
    ), ins AS (
        INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota,
                                 kode_kecamatan, status, enumerator_id, captured_at, content_hash, dibuat_oleh,
                                 duplikat_kunci, skala_usaha)
        SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(r.g), 12, '0'))::uuid, $3, r.jenis,
               d.kode, '16', d.kab, d.kec,
               CASE WHEN NOT r.kota THEN (ARRAY['masuk','diterima','diterima','diterima','ditolak'])[r.g % 5 + 1]
                    WHEN r.g % 100 < 55 THEN 'masuk' WHEN r.g % 100 < 95 THEN 'diterima' ELSE 'ditolak' END,
               'E' || (r.g % 400), timestamptz '2022-04-01 07:00+07' + ((r.g * 7919) % 17280000) * interval '1 second',
               '\\x00'::bytea, 'bench',
               CASE WHEN r.jenis = 'koperasi' THEN NULL
                    WHEN r.g % 1000 IN (5, 10) THEN 'dup-' || (r.g / 1000)
                    ELSE md5(r.g::text) END,
               CASE WHEN r.jenis = 'umkm' THEN 'mikro' END
        FROM rows r
        JOIN bench_desa d ON d.kota = r.kota
         AND d.i = (r.g * 7919) % (CASE WHEN r.kota THEN $4::bigint ELSE $5::bigint END)
        RETURNING submission_id, jenis
    )
    INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh)
    SELECT submission_id, 1,
           CASE WHEN jenis = 'umkm' THEN jsonb_build_object('nama_usaha', 'Usaha ' || submission_id)
                ELSE jsonb_build_object('nama_koperasi', 'Koperasi ' || submission_id) END,
           'bench'
    FROM ins
"""


async def load(conn, records: int, chunk: int) -> float:
    await conn.execute(DESA)
    n_kota = await conn.fetchval("SELECT count(*) FROM bench_desa WHERE kota")
    n_other = await conn.fetchval("SELECT count(*) FROM bench_desa WHERE NOT kota")
    started = time.perf_counter()
    lo = 1
    while lo <= records:
        hi = min(lo + chunk - 1, records)
        await conn.execute(LOAD, lo, hi, PERIODE, n_kota, n_other)
        print(f"  loaded {hi:>11,} records  ({hi / (time.perf_counter() - started):,.0f}/s)", flush=True)
        lo = hi + 1
    elapsed = time.perf_counter() - started
    await conn.execute("DROP TABLE bench_desa")
    await conn.execute("VACUUM (ANALYZE) submissions")
    await conn.execute("VACUUM (ANALYZE) submission_versions")
    await conn.execute("VACUUM (ANALYZE) rekap_status")
    await conn.execute("CHECKPOINT")
    return elapsed


async def deep_pages(client, key: str, params: dict, pages: int) -> dict:
    """Follow the cursor `pages` times; the latency of each page after the first."""
    headers = {"Authorization": f"Bearer {key}"}
    cursor, samples, items = None, [], 0
    for _ in range(pages + 1):
        t = time.perf_counter()
        r = await client.get("/api/v1/verifikasi/antrian", params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        ms = (time.perf_counter() - t) * 1000
        r.raise_for_status()
        doc = r.json()
        if cursor is not None:
            samples.append(ms)
        items += len(doc["items"])
        cursor = doc["next_cursor"]
        if cursor is None:
            break
    s = sorted(samples)
    return {
        "pages": len(samples),
        "items": items,
        "p50_ms": round(s[len(s) // 2], 2),
        "p95_ms": round(s[min(len(s) - 1, round(0.95 * len(s)) - 1)], 2),
        "max_ms": round(s[-1], 2),
    }


async def fill(client, key: str, params: dict) -> dict:
    """How many requests a sparse filter needs to fill one page of 50 (the page does this)."""
    headers = {"Authorization": f"Bearer {key}"}
    cursor, items, requests, started = None, 0, 0, time.perf_counter()
    while items < 50:
        r = await client.get("/api/v1/verifikasi/antrian", params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        r.raise_for_status()
        doc = r.json()
        requests += 1
        items += len(doc["items"])
        cursor = doc["next_cursor"]
        if cursor is None:
            break
    return {"requests": requests, "items": items, "ms": round((time.perf_counter() - started) * 1000, 1)}


async def run(args) -> dict:
    from app.infra import db, embedded

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-antrian-"))
    atexit.register(_rmdir_quietly, tmp)
    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm")
    await asyncio.to_thread(db.migrate, url)
    conn = await asyncpg.connect(**_pg_params(url))
    try:
        print(f"loading {args.records:,} records", flush=True)
        load_s = await load(conn, args.records, args.chunk)
        masuk = await conn.fetchval("SELECT count(*) FROM submissions WHERE kode_kabkota = $1 AND status = 'masuk'", KOTA)
        kecamatan, desa, enumerator = await conn.fetchrow(
            "SELECT kode_kecamatan, kode_wilayah, enumerator_id FROM submissions WHERE kode_kabkota = $1 "
            "AND status = 'masuk' ORDER BY captured_at LIMIT 1",
            KOTA,
        )
        verif = await make_key(conn, "verifikator", "16")
        async with served(url) as client:
            n, w = args.requests, args.warmup
            base = {"periode": PERIODE, "kabkota": KOTA}
            path = "/api/v1/verifikasi/antrian"
            cases = {
                "first_page": base,
                "kecamatan": {**base, "wilayah": kecamatan},
                "desa": {**base, "wilayah": desa},
                "enumerator": {**base, "enumerator_id": enumerator},
                "jenis_koperasi": {**base, "jenis": "koperasi"},
                "captured_week": {**base, "captured_dari": "2022-07-01", "captured_sampai": "2022-07-07"},
                "duplikat": {**base, "duplikat": "true"},
                "status_ditolak": {**base, "status": "ditolak"},
                "combined": {**base, "wilayah": kecamatan, "jenis": "umkm", "captured_dari": "2022-05-01"},
            }
            results = {}
            for name, params in cases.items():
                results[name] = await measure(client, path, params, verif, n, w)
                print(f"  {name:16} p50 {results[name]['p50_ms']:6.2f} ms  p95 {results[name]['p95_ms']:6.2f} ms", flush=True)
            results["rekap"] = await measure(client, "/api/v1/verifikasi/rekap", base, verif, n, w)
            results["deep_pages"] = await deep_pages(client, verif, base, args.deep)
            print(f"  deep pages       {results['deep_pages']}", flush=True)
            fills = {name: await fill(client, verif, cases[name]) for name in ("desa", "enumerator", "jenis_koperasi", "duplikat")}
            print(f"  requests to fill a page of 50: {fills}", flush=True)
    finally:
        await conn.close()
    worst = max(v["p95_ms"] for v in results.values())
    return {
        "records": args.records,
        "load_seconds": round(load_s, 1),
        "kabkota": KOTA,
        "masuk_in_queue": masuk,
        "latency": results,
        "requests_to_fill_50": fills,
        "worst_p95_ms": worst,
        "target_p95_lt_50ms": worst < 50,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="./dev bench verifikasi-page", description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--chunk", type=int, default=250_000, help="records per INSERT statement")
    p.add_argument("--requests", type=int, default=200, help="measured requests per scenario")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--deep", type=int, default=200, help="pages followed by cursor")
    p.add_argument("--out", help="write the JSON report here (default bench/results/verifikasi-page-<records>.json)")
    args = p.parse_args(argv)
    report = asyncio.run(run(args))
    text = json.dumps(report, indent=2)
    print(text)
    out = Path(args.out or ROOT / "bench" / "results" / f"verifikasi-page-{args.records}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0 if report["target_p95_lt_50ms"] else 1


if __name__ == "__main__":
    sys.exit(main())
