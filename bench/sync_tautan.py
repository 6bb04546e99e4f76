"""What the walidata's side of linking costs (migration 0012; docs/sync.md, "id_kumkm").

    python -m bench.sync_tautan [--records 200000] [--batch 5000]

Starts a fresh embedded PostgreSQL in a temporary directory, loads generated records with their
stored walidata lines (about 1.2 kB each, as ingest writes them), then measures:
- kumkm_tautan_berubah() over batches of the linker's size, every record linked (the line
  rewritten in place, one `ditautkan` change each): its time per million records, the part of
  the linker's migration job that is the walidata's;
- the same call again (nothing changed: the look-up alone);
- a rewrite of every stored line as migration 0012 makes it, per million."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.capaian import _pg_params, _rmdir_quietly

LOAD = """
    WITH src AS (
        SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid AS sid,
               jsonb_build_object('jenis', 'umkm', 'periode', '2024', 'kode_wilayah', '16.07.01.2001',
                                  'nama_usaha', 'Warung Makan Sederhana ' || g, 'nama_pemilik', 'Siti Aminah',
                                  'nik_pemilik', '1607015205850001', 'alamat', 'Jl. Merdeka No. ' || g,
                                  'kbli', '56101', 'status_tempat', 'menetap', 'modal_usaha', 25000000,
                                  'hasil_penjualan', 180000000, 'tenaga_kerja_l', 2, 'tenaga_kerja_p', 1,
                                  'telepon', '081234567890', 'lokasi', jsonb_build_object('lat', -2.9, 'lon', 104.7))
                   AS data
        FROM generate_series($1::bigint, $2::bigint) AS g
    ), rec AS (
        INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota,
                                 status, enumerator_id, captured_at, content_hash, dibuat_oleh)
        SELECT sid, '2024', 'umkm', '16.07.01.2001', '16', '16.07', 'diterima', 'ENUM-1', now(), '\\x00', 'bench'
        FROM src
        RETURNING *
    ), ver AS (
        INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh)
        SELECT sid, 1, data, 'bench' FROM src
    )
    INSERT INTO sync_records (submission_id, periode, kode_provinsi, kode_kabkota, line)
    SELECT rec.submission_id, rec.periode, rec.kode_provinsi, rec.kode_kabkota, {LINE}
    FROM rec JOIN src ON src.sid = rec.submission_id
"""

LINK = """
    INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota)
    SELECT 'U' || lpad(g::text, 10, '0'), 'umkm', '16', '16.07' FROM generate_series($1::bigint, $2::bigint) g;
    INSERT INTO kumkm_tautan (submission_id, id_kumkm, periode, dasar)
    SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'U' || lpad(g::text, 10, '0'), '2024', 'baru'
    FROM generate_series($1::bigint, $2::bigint) g;
"""

IDS = "SELECT array_agg(('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid) FROM generate_series($1::bigint, $2::bigint) g"


async def run(args) -> dict:
    from app.infra import db, embedded
    from app.record import record_line

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-"))
    atexit.register(_rmdir_quietly, tmp)
    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm")
    await asyncio.to_thread(db.migrate, url)
    conn = await asyncpg.connect(**_pg_params(url))
    n, batch = args.records, args.batch
    out: dict = {"records": n, "batch": batch}
    try:
        await conn.execute("ALTER TABLE submissions DISABLE TRIGGER USER")  # no queue, no counters: lines only
        load = LOAD.replace("{LINE}", record_line("rec", "src.data"))
        for lo in range(1, n + 1, 50_000):
            await conn.execute(load, lo, min(lo + 49_999, n))
        await conn.execute("ALTER TABLE submissions ENABLE TRIGGER USER")
        await conn.execute("VACUUM (ANALYZE)")
        out["line_bytes"] = await conn.fetchval("SELECT avg(octet_length(line))::int FROM sync_records")

        async def timed() -> float:
            """kumkm_tautan_berubah() over every record, a transaction per batch."""
            t = time.perf_counter()
            for lo in range(1, n + 1, batch):
                async with conn.transaction():
                    ids = await conn.fetchval(IDS, lo, min(lo + batch - 1, n))
                    await conn.fetchval("SELECT kumkm_tautan_berubah($1::uuid[])", ids)
            return time.perf_counter() - t

        # the links, as the linker would have written them (not measured: the linker's own work)
        for lo in range(1, n + 1, 50_000):
            hi = str(min(lo + 49_999, n))
            await conn.execute(LINK.replace("$1::bigint", str(lo)).replace("$2::bigint", hi))
        await conn.execute("VACUUM (ANALYZE)")
        seconds = await timed()
        out["tautan_berubah_seconds"] = round(seconds, 2)
        out["tautan_berubah_s_per_million"] = round(seconds * 1e6 / n, 1)
        out["changes_appended"] = await conn.fetchval("SELECT count(*) FROM changes WHERE jenis_perubahan = 'ditautkan'")
        again = await timed()
        out["unchanged_call_s_per_million"] = round(again * 1e6 / n, 1)
        t = time.perf_counter()
        await conn.execute(
            'UPDATE sync_records SET line = replace(line, \',"pii_masked":false,"data":\', \',"id_kumkm":null,"pii_masked":false,"data":\')'
        )
        out["rewrite_all_lines_s_per_million"] = round((time.perf_counter() - t) * 1e6 / n, 1)
    finally:
        await conn.close()
        embedded.stop(tmp / "pgdata", mode="immediate")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sync_tautan", description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=5000)
    args = p.parse_args(argv)
    print(json.dumps(asyncio.run(run(args)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
