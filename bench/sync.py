"""Sync benchmark: stream N records through the snapshot and the change feed over HTTP.

    python -m bench.sync [--records 10000000] [--batch 500000] [--page 1000000] [--masked]

Starts a fresh embedded PostgreSQL in a temporary directory, loads N records with set-based
SQL (submissions, their first version and their change, as ingest writes them), starts the
service with `kumkm serve`, then streams the whole snapshot and the whole feed with httpx
and reports records/s and the service's peak RSS (psutil, sampled every 100 ms).
Targets (docs/domain.md): >= 100,000 records/s, RSS < 300 MB whatever N."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import psutil

from app.record import record_line
from bench.harness import SERVE_LOG, RssSampler, service_log

ROOT = Path(__file__).resolve().parent.parent

LOAD_SQL = """
WITH kab AS (
    SELECT array_agg(kode ORDER BY kode) AS kode FROM wilayah WHERE level = 2
), src AS (
    SELECT g, sid, kabkota, cap, jsonb_build_object(
        'submission_id', sid, 'periode', '2022', 'jenis', 'umkm', 'enumerator_id', 'ENUM-' || (g % 5000),
        'kode_wilayah', kabkota, 'captured_at', to_char(cap AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'lokasi', jsonb_build_object('lat', -2.9 + (g % 1000) / 10000.0, 'lon', 104.7 + (g % 777) / 10000.0),
        'nama_usaha', 'Warung Makan Sederhana ' || g, 'nama_pemilik', 'Siti Aminah ' || (g % 977),
        'nik_pemilik', '160701' || lpad(((g % 28) + 41)::text, 2, '0') || '0585' || lpad((1 + g % 9999)::text, 4, '0'),
        'nib', NULL, 'alamat', 'Jl. Merdeka No. ' || (g % 300) || ', RT 0' || (g % 9),
        'telepon', '0812' || lpad((g % 100000000)::text, 8, '0'), 'kbli', '56101', 'status_tempat', 'menetap',
        'modal_usaha', 10000000 + g % 900000000, 'hasil_penjualan_tahunan', 50000000 + g % 1000000000,
        'aset', NULL, 'tenaga_kerja_laki_laki', g % 3, 'tenaga_kerja_perempuan', 1 + g % 4,
        'platform_digital', g % 3 = 0, 'izin_usaha', g % 5 = 0) AS data
    FROM (SELECT g, md5('kumkm-bench-' || g)::uuid AS sid,
                 kab.kode[1 + g % array_length(kab.kode, 1)] AS kabkota,
                 timestamptz '2022-04-01 08:00+07' + (g % 200) * interval '1 day' + (g % 600) * interval '1 minute' AS cap
          FROM generate_series($1::bigint, $2::bigint) AS g, kab) AS x
), rec AS (
    INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota,
                             kode_kecamatan, enumerator_id, captured_at, content_hash, duplikat_kunci,
                             skala_usaha, kbli, sektor, status_tempat, modal_usaha, hasil_penjualan,
                             tenaga_kerja_l, tenaga_kerja_p, punya_nib, platform_digital, izin_usaha,
                             dibuat_oleh)
    SELECT sid, '2022', 'umkm', kabkota, split_part(kabkota, '.', 1), kabkota, NULL,
           'ENUM-' || (g % 5000), cap, decode(md5(sid::text), 'hex'), NULL,
           'mikro', '56101', 'I', 'menetap', 10000000 + g % 900000000, 50000000 + g % 1000000000,
           g % 3, 1 + g % 4, g % 2 = 0, g % 3 = 0, g % 5 = 0, 'bench'
    FROM src
    RETURNING *
), ver AS (
    INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh)
    SELECT sid, 1, data, 'bench' FROM src
), lin AS (
    -- the walidata's line, as the ingest statement writes it
    INSERT INTO sync_records (submission_id, periode, kode_provinsi, kode_kabkota, line)
    SELECT rec.submission_id, rec.periode, rec.kode_provinsi, rec.kode_kabkota, {LINE}
    FROM rec JOIN src ON src.sid = rec.submission_id
    ORDER BY src.g   -- in ingest order, like batches arriving one after another
)
INSERT INTO changes (submission_id, version, status, jenis_perubahan, periode, kode_provinsi, kode_kabkota,
                     pada)
SELECT sid, 1, 'masuk', 'dibuat', '2022', split_part(kabkota, '.', 1), kabkota, now() FROM src
""".replace("{LINE}", record_line("rec", "src.data"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_params(url: str) -> dict:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    params = {"user": u.username or "postgres", "database": u.database, "host": u.query.get("host") or u.host}
    if u.port or u.query.get("port"):
        params["port"] = int(u.port or u.query.get("port"))
    return params


async def load(url: str, n: int, batch: int, pii: bool) -> str:
    from app.keys import service as auth

    conn = await asyncpg.connect(**_pg_params(url))
    try:
        have = await conn.fetchval("SELECT count(*) FROM submissions")
        start = time.monotonic()
        done = have
        while done < n:
            hi = min(done + batch, n)
            await conn.execute(LOAD_SQL, done + 1, hi)
            done = hi
            rate = (done - have) / (time.monotonic() - start)
            print(f"  loaded {done:,} / {n:,} records ({rate:,.0f}/s)", file=sys.stderr, flush=True)
        print("  analyze ...", file=sys.stderr, flush=True)
        await conn.execute("VACUUM ANALYZE submissions, submission_versions, changes, sync_records")
        key = auth.new_key()
        await conn.execute(
            "INSERT INTO api_keys (name, role, key_prefix, key_hash, pii) VALUES ($1, 'walidata', $2, $3, $4)",
            "bench-walidata",
            key[:14],
            auth.hash_key(key),
            pii,
        )
        return key
    finally:
        await conn.close()


def stream(client: httpx.Client, path: str, params: dict) -> tuple[int, dict, float]:
    """(lines before the end line, the end line, seconds). Counts newlines in raw chunks so
    the client is not the bottleneck."""
    t0 = time.monotonic()
    n = 0
    tail = b""
    with client.stream("GET", path, params=params) as r:
        r.raise_for_status()
        for chunk in r.iter_raw(1 << 20):
            n += chunk.count(b"\n")
            tail = (tail + chunk)[-4096:]
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    end = json.loads(last)
    if not end.get("end"):
        raise RuntimeError(f"{path}: stream cut short")
    return n - 1, end, time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--batch", type=int, default=500_000, help="records per load transaction")
    ap.add_argument("--page", type=int, default=1_000_000, help="feed limit per request")
    ap.add_argument("--masked", action="store_true", help="a walidata key without pii (masking path)")
    ap.add_argument("--keep", help="use (and keep) this data directory instead of a temporary one")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="kumkm-bench-sync-"))
    os.environ["KUMKM_DATA_DIR"] = str(tmp)
    from app.infra import db, embedded

    print(f"embedded PostgreSQL in {tmp}", file=sys.stderr)
    url = embedded.start(tmp / "pgdata", cleanup_mode="stop" if args.keep else "delete", database="kumkm")
    db.migrate(url)
    t0 = time.monotonic()
    key = asyncio.run(load(url, args.records, args.batch, pii=not args.masked))
    load_s = time.monotonic() - t0

    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url}
    kumkm = shutil.which("kumkm", path=str(Path(sys.executable).parent)) or "kumkm"
    server = subprocess.Popen(
        [kumkm, "serve", "--port", str(port), *SERVE_LOG], env=env, cwd=ROOT, stdout=service_log(), stderr=subprocess.STDOUT
    )
    figures: dict = {"records": args.records, "load_seconds": round(load_s, 1), "pii": not args.masked}
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError("the service did not start")
            time.sleep(0.2)
        sampler = RssSampler(server.pid)
        sampler.start()
        idle_rss = psutil.Process(server.pid).memory_info().rss
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=httpx.Timeout(600, connect=10)) as client:
            sampler.reset()
            n, end, secs = stream(client, "/api/v1/sync/snapshot", {})
            assert n == args.records, f"snapshot gave {n} records, expected {args.records}"
            figures["snapshot"] = {
                "records": n,
                "seconds": round(secs, 2),
                "records_per_s": round(n / secs),
                "peak_rss_mb": round(sampler.peak / 2**20, 1),
            }
            print(
                f"snapshot: {n:,} records in {secs:.1f} s = {n / secs:,.0f} records/s, peak RSS {sampler.peak / 2**20:.0f} MB", flush=True
            )

            sampler.reset()
            total, cursor, pages, t_feed = 0, None, 0, time.monotonic()
            while True:
                params = {"limit": args.page}
                if cursor:
                    params["after"] = cursor
                n, end, _ = stream(client, "/api/v1/sync/changes", params)
                total += n
                pages += 1
                cursor = end["cursor"]
                if not end["more"]:
                    break
            secs = time.monotonic() - t_feed
            assert total == args.records, f"feed gave {total} changes, expected {args.records}"
            figures["feed"] = {
                "changes": total,
                "pages": pages,
                "seconds": round(secs, 2),
                "records_per_s": round(total / secs),
                "peak_rss_mb": round(sampler.peak / 2**20, 1),
            }
            print(
                f"feed: {total:,} changes in {pages} pages, {secs:.1f} s = {total / secs:,.0f} records/s, "
                f"peak RSS {sampler.peak / 2**20:.0f} MB",
                flush=True,
            )
        sampler.stop.set()
        figures["idle_rss_mb"] = round(idle_rss / 2**20, 1)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    ok = all(figures[k]["records_per_s"] >= 100_000 and figures[k]["peak_rss_mb"] < 300 for k in ("snapshot", "feed"))
    figures["targets_met"] = ok
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
