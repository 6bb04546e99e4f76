"""How long the linker takes per million accepted records (the migration job, `kumkm registry
tautkan`; docs/registry.md).

    python -m bench.tautkan [--records 200000] [--batch 5000]

Starts a fresh embedded PostgreSQL in a temporary directory, loads generated accepted records
over two periode with set-based INSERT ... SELECT (their versions too: the linker reads the
identifiers there), the queue filled by the decision trigger as on the live path, then runs the
linker's batches until the queue is empty and reports records per second and the time per
million. The data: every fifth usaha of 2024 comes back in 2025, half of them with their NIB
(linked) and half without (a new entity and a candidate: the same owner and name); 60% of the
usaha carry an NIB; every owner has two usaha with different names; 2% are koperasi."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.capaian import DESA, _pg_params, _rmdir_quietly

WORDS = [
    "Maju",
    "Jaya",
    "Sentosa",
    "Makmur",
    "Abadi",
    "Sejahtera",
    "Berkah",
    "Mandiri",
    "Lestari",
    "Bahagia",
    "Sumber",
    "Rejeki",
    "Karya",
    "Mulia",
    "Indah",
    "Barokah",
    "Harapan",
    "Cahaya",
    "Baru",
    "Utama",
]
KINDS = ["Toko", "Warung", "Kedai", "UD", "Bengkel", "Salon", "Jahit", "Laundry", "Depot", "Kios"]

# Record g of `records`: usaha u (round 1: 1..n1; round 2: every fifth of them again).
LOAD = """
    WITH g AS (
        SELECT g, CASE WHEN g <= $3 THEN g ELSE (g - $3) * 5 - 2 END AS u,
               CASE WHEN g <= $3 THEN '2024' ELSE '2025' END AS periode
        FROM generate_series($1::bigint, $2::bigint) AS g
    ), r AS (
        SELECT g.*, d.kode, d.prov, d.kab, d.kec,
               CASE WHEN u % 50 = 0 THEN 'koperasi' ELSE 'umkm' END AS jenis,
               ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid AS sid
        FROM g JOIN bench_desa d ON d.i = (g.u / 2 * 7919) % $4
    ), ins AS (
        INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh)
        SELECT sid, 1, CASE WHEN jenis = 'umkm' THEN jsonb_build_object(
                   'jenis', 'umkm', 'periode', periode, 'kode_wilayah', kode,
                   'nama_usaha', ($5::text[])[u % 10 + 1] || ' ' || ($6::text[])[u % 20 + 1] || ' ' || ($6::text[])[(u / 20) % 20 + 1],
                   'nik_pemilik', '1607' || lpad((u / 2)::text, 12, '0'),
                   'nib', CASE WHEN u % 10 < 6 THEN lpad(u::text, 13, '0') END)
               ELSE jsonb_build_object(
                   'jenis', 'koperasi', 'periode', periode, 'kode_wilayah', kode,
                   'nama_koperasi', 'Koperasi ' || u, 'nik_koperasi', CASE WHEN u % 100 = 0 THEN lpad(u::text, 16, '0') END,
                   'nomor_badan_hukum', u || '/BH/XII/2010') END,
               'bench'
        FROM r
    )
    INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, kode_kecamatan,
                             status, enumerator_id, captured_at, content_hash, dibuat_oleh)
    SELECT sid, periode, jenis, kode, prov, kab, kec, 'diterima', 'ENUM-1', timestamptz '2024-04-01 08:00+07',
           '\\x00'::bytea, 'bench'
    FROM r
"""


async def run(args) -> dict:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from app.infra import db, embedded
    from app.registry.linker import tautkan_semua

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-"))
    atexit.register(_rmdir_quietly, tmp)
    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm")
    await asyncio.to_thread(db.migrate, url)
    conn = await asyncpg.connect(**_pg_params(url))
    n1 = args.records * 5 // 6  # round 2 brings every fifth back: n1 + n1/5 = records
    try:
        await conn.execute(DESA)
        n_desa = await conn.fetchval("SELECT count(*) FROM bench_desa")
        t = time.perf_counter()
        for lo in range(1, args.records + 1, 50_000):
            await conn.execute(LOAD, lo, min(lo + 49_999, args.records), n1, n_desa, KINDS, WORDS)
        await conn.execute("VACUUM (ANALYZE)")
        print(
            f"loaded {args.records:,} accepted records in {time.perf_counter() - t:.1f} s; queue "
            f"{await conn.fetchval('SELECT count(*) FROM kumkm_antrian'):,}",
            flush=True,
        )
        engine = create_async_engine(db.normalize_url(url), poolclass=NullPool)
        done = 0
        t = time.perf_counter()

        def kemajuan(h) -> None:
            nonlocal done
            done += h.diambil
            if done % 50_000 < args.batch:
                print(f"  {done:>9,} linked  ({done / (time.perf_counter() - t):,.0f}/s)", flush=True)

        hasil = await tautkan_semua(args.batch, transaction=engine.begin, kemajuan=kemajuan)
        seconds = time.perf_counter() - t
        await engine.dispose()
        counts = {
            k: await conn.fetchval(f"SELECT count(*) FROM {k}") for k in ("kumkm", "kumkm_tautan", "kumkm_kandidat", "kumkm_pengenal")
        }
    finally:
        await conn.close()
        embedded.stop(tmp / "pgdata", mode="immediate")
    return {
        "records": args.records,
        "batch": args.batch,
        "seconds": round(seconds, 1),
        "records_per_second": round(args.records / seconds),
        "minutes_per_million": round(1e6 / args.records * seconds / 60, 1),
        "entities_created": hasil.dibuat,
        "links": hasil.ditautkan,
        "candidates": hasil.kandidat,
        "tables": counts,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tautkan", description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=5000)
    args = p.parse_args(argv)
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
