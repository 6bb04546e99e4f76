"""Verification benchmark: batch decisions/s and single decisions/s at 64 concurrent clients.

    python -m bench.verification [--records N] [--single N] [--workers W]

Starts a fresh embedded PostgreSQL in a temporary directory, migrates it, creates keys,
starts `kumkm serve` against it, loads records with batch POSTs, then measures:
  1. batch decisions (1,000 per request) on as many records as were loaded for it;
  2. single decisions with 64 concurrent clients: throughput, p50 and p99 latency.
Finally it checks that the per-kabkota status counts equal a recount from the records.
Everything (server, database, temp dir) is removed when it ends."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson

from bench.harness import SERVE_LOG

ROOT = Path(__file__).resolve().parent.parent
# Kabupaten/kota of Sumatera Selatan with a desa each, so decisions spread over kabkota.
WILAYAH = ["16.07.01.2001", "16.71", "16.03", "16.01", "16.02", "16.04", "16.05", "16.06"]
ALASAN = ["data_tidak_lengkap", "data_tidak_valid", "duplikat", "di_luar_wilayah", "bukan_kumkm"]


def record(i: int) -> dict:
    return {
        "submission_id": str(uuid.uuid4()),
        "periode": "2022",
        "jenis": "umkm",
        "enumerator_id": f"ENUM-{i % 500:03d}",
        "kode_wilayah": WILAYAH[i % len(WILAYAH)],
        "captured_at": "2022-06-01T09:30:00+07:00",
        "nama_usaha": f"Usaha {i}",
        "nama_pemilik": "Siti Aminah",
        "nik_pemilik": f"1607015205{85:02d}{i % 9999 + 1:04d}",
        "alamat": f"Jl. Merdeka No. {i}",
        "kbli": "56101",
        "status_tempat": "menetap",
        "modal_usaha": 25_000_000 + i,
        "hasil_penjualan_tahunan": 120_000_000,
        "tenaga_kerja_laki_laki": 1,
        "tenaga_kerja_perempuan": 2,
    }


def decision(sid: str, i: int) -> dict:
    if i % 10 == 0:
        return {"submission_id": sid, "status": "ditolak", "version": 1, "alasan_kode": ALASAN[i % len(ALASAN)]}
    return {"submission_id": sid, "status": "diterima", "version": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database(tmp: Path) -> tuple[str, dict[str, str]]:
    sys.path.insert(0, str(ROOT))
    from app.infra import db, embedded
    from app.keys import service

    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm")
    db.set_url(url)
    db.migrate(url)

    async def keys():
        try:
            out = {}
            for name, role, scope in [("bench-enum", "enumerator", "16"), ("bench-verif", "verifikator", "16")]:
                async with db.transaction() as conn:
                    out[role] = (await service.create(conn, name, role, scope))[1]
            return out
        finally:
            await db.dispose_engine()

    return url, asyncio.run(keys())


def start_server(url: str, port: int, workers: int, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "KUMKM_SKIP_MIGRATE": "1", "KUMKM_DATA_DIR": str(tmp)}
    log = open(tmp / "server.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers), *SERVE_LOG],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def wait_ready(base: str, proc: subprocess.Popen, tmp: Path) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=2) as c:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError("server exited:\n" + (tmp / "server.log").read_text()[-3000:])
            try:
                if (await c.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not become ready")


async def post_batches(client: httpx.AsyncClient, path: str, key: str, batches: list[list[dict]], concurrency: int, expect: str) -> float:
    queue = list(reversed(batches))
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}

    async def worker():
        while queue:
            body = orjson.dumps({"items": queue.pop()})
            r = await client.post(path, content=body, headers=headers)
            if r.status_code != 200 or r.json()[expect] != len(orjson.loads(body)["items"]):
                raise RuntimeError(f"{path}: {r.status_code} {r.text[:500]}")

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return time.perf_counter() - t0


class RawClient:
    """One keep-alive HTTP/1.1 connection with nothing on top. With 64 clients on the same
    small machine as the server, a full client library spends more CPU per request than the
    service does, and the figure would measure the client."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes, key: str) -> tuple[int, bytes]:
        async with asyncio.timeout(120):
            return await self._post(path, body, key)

    async def _post(self, path: str, body: bytes, key: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\nauthorization: Bearer {key}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self):
        if self.writer is not None:
            self.writer.close()


async def single_decisions(base: str, key: str, ids: list[str], clients: int) -> dict:
    host, port = base.removeprefix("http://").split(":")
    queue = list(reversed(list(enumerate(ids))))
    latencies: list[float] = []
    errors = 0

    async def worker():
        nonlocal errors
        conn = RawClient(host, int(port))
        try:
            while queue:
                i, sid = queue.pop()
                body = decision(sid, i)
                del body["submission_id"]
                t = time.perf_counter()
                status, _ = await conn.post(f"/api/v1/submissions/{sid}/verifikasi", orjson.dumps(body), key)
                latencies.append(time.perf_counter() - t)
                if status != 200:
                    errors += 1
        finally:
            await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(clients)])
    wall = time.perf_counter() - t0
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"n": len(ids), "seconds": wall, "per_second": len(ids) / wall, "p50_ms": pct(0.50), "p99_ms": pct(0.99), "errors": errors}


async def counts_match(url: str) -> bool:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(
        user=u.username or "postgres", database=u.database, host=u.query.get("host"), port=int(u.query.get("port", 5432))
    )
    try:
        rekap = await conn.fetch(
            "SELECT periode, kode_kabkota, status, sum(n)::bigint FROM rekap_status GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3"
        )
        recount = await conn.fetch("SELECT periode, kode_kabkota, status, count(*) FROM submissions GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        return [tuple(r) for r in rekap] == [tuple(r) for r in recount]
    finally:
        await conn.close()


async def run(args, url: str, keys: dict, base: str) -> dict:
    total = args.records + args.single
    records = [record(i) for i in range(total)]
    ids = [r["submission_id"] for r in records]
    limits = httpx.Limits(
        max_connections=max(args.clients, args.batch_clients) + 4, max_keepalive_connections=max(args.clients, args.batch_clients) + 4
    )
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        t = await post_batches(
            client,
            "/api/v1/submissions/batch",
            keys["enumerator"],
            [records[i : i + 1000] for i in range(0, total, 1000)],
            args.batch_clients,
            "created",
        )
        print(f"loaded {total:,} records in {t:.1f} s ({total / t:,.0f} records/s)", flush=True)

        batch_ids = ids[: args.records]
        batches = [[decision(sid, i) for i, sid in enumerate(batch_ids[j : j + 1000], j)] for j in range(0, len(batch_ids), 1000)]
        t = await post_batches(client, "/api/v1/verifikasi/batch", keys["verifikator"], batches, args.batch_clients, "decided")
        batch = {"n": len(batch_ids), "seconds": t, "per_second": len(batch_ids) / t}
        print(
            f"batch decisions: {len(batch_ids):,} in {t:.2f} s = {batch['per_second']:,.0f} decisions/s "
            f"(1,000 per request, {args.batch_clients} concurrent requests)",
            flush=True,
        )

        single = await single_decisions(base, keys["verifikator"], ids[args.records :], args.clients)
        print(
            f"single decisions: {single['n']:,} in {single['seconds']:.2f} s = "
            f"{single['per_second']:,.0f} decisions/s at {args.clients} clients; "
            f"p50 {single['p50_ms']:.1f} ms, p99 {single['p99_ms']:.1f} ms, errors {single['errors']}",
            flush=True,
        )
    ok = await counts_match(url)
    print(f"rekap_status equals a recount from the records: {ok}", flush=True)
    return {"records": total, "batch": batch, "single": single, "counts_match": ok, "workers": args.workers, "cpus": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.verification", description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=100_000, help="records decided in batches of 1,000")
    p.add_argument("--single", type=int, default=20_000, help="records decided one request each")
    p.add_argument("--clients", type=int, default=64, help="concurrent clients for single decisions")
    p.add_argument("--batch-clients", type=int, default=4, help="concurrent batch requests")
    p.add_argument("--workers", type=int, default=int(os.environ.get("KUMKM_WORKERS", "1")))
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    random.seed(1)

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-verif-"))
    # Registered first so it runs last: after the embedded server has been stopped.
    atexit.register(shutil.rmtree, tmp, True)
    proc = None
    try:
        url, keys = prepare_database(tmp)
        port = free_port()
        proc = start_server(url, port, args.workers, tmp)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(wait_ready(base, proc, tmp))
        result = asyncio.run(run(args, url, keys, base))
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(result, indent=2))
        target = result["batch"]["per_second"] >= 10_000 and result["counts_match"]
        print("target (>= 10,000 batch decisions/s, counts exact):", "met" if target else "NOT met")
        return 0 if result["counts_match"] else 1
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
