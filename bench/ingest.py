"""Ingest benchmark (docs/domain.md): batch records/s, single-record POST rate and latency at
64 concurrent clients, and the whole 2022 Sumatera Selatan round (333,870 records).

    ./dev bench ingest [--batch-records 200000] [--single-requests 20000] [--workers 1]

(a) also times COPY of the very same documents into a keyed jsonb table on the same server,
right after the batch phase: the floor a batch insert cannot beat, and the service's batch
rate as a % of it (issue 16: >= 30%).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import orjson

from bench import pemicu
from bench.harness import SUMSEL_2022, Service, fmt, percentile, record


async def post_batches(url: str, key: str, bodies: list[bytes], concurrency: int) -> tuple[float, int]:
    queue = list(reversed(bodies))
    created = 0
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    async with aiohttp.ClientSession(
        base_url=url, connector=aiohttp.TCPConnector(limit=concurrency), timeout=aiohttp.ClientTimeout(total=300)
    ) as session:

        async def worker():
            nonlocal created
            while queue:
                body = queue.pop()
                async with session.post("/api/v1/submissions/batch", data=body, headers=headers) as r:
                    payload = await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"batch failed: {r.status} {payload[:300]!r}")
                    created += orjson.loads(payload)["created"]

        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return time.perf_counter() - t0, created


async def post_singles(url: str, key: str, bodies: list[bytes], concurrency: int):
    queue = list(reversed(bodies))
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    async with aiohttp.ClientSession(
        base_url=url, connector=aiohttp.TCPConnector(limit=concurrency), timeout=aiohttp.ClientTimeout(total=120)
    ) as session:

        async def worker():
            nonlocal errors
            while queue:
                body = queue.pop()
                t = time.perf_counter()
                async with session.post("/api/v1/submissions", data=body, headers=headers) as r:
                    await r.read()
                    latencies.append(time.perf_counter() - t)
                    if r.status != 201:
                        errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return time.perf_counter() - t0, latencies, errors


def pg_params(data_dir: str) -> dict:
    """Where the service's embedded server listens (postmaster.pid: line 4 port, line 5 socket dir)."""
    lines = (Path(data_dir) / "pgdata" / "postmaster.pid").read_text().splitlines()
    return {"host": lines[4], "port": int(lines[3]), "user": "postgres", "database": "kumkm"}


async def execute(params: dict, sql: str) -> None:
    conn = await asyncpg.connect(**params)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def triggers_0018(params: dict) -> None:
    """The triggers of 0018 instead of 0019's: the migration's own downgrade text."""
    m = pemicu.MIGRATION
    await execute(params, m.TANPA_SATU + "DROP FUNCTION submissions_pemicu();" + m.LAMA)
    print("    (the counts' triggers of migration 0018: four per event)", flush=True)


async def copy_floor(params: dict, records: list[dict], size: int, clients: int) -> float:
    """Seconds to COPY the same documents (as jsonb, keyed by submission_id) into a fresh table
    with as many connections as the batch phase has clients, one COPY per batch of `size`."""
    rows = [(r["submission_id"], orjson.dumps(r).decode()) for r in records]
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    conns = [await asyncpg.connect(**params) for _ in range(clients)]
    try:
        await conns[0].execute(
            "DROP TABLE IF EXISTS bench_copy_floor; CREATE TABLE bench_copy_floor (submission_id uuid PRIMARY KEY, doc jsonb NOT NULL)"
        )

        async def worker(c):
            while chunks:
                chunk = chunks.pop()
                await c.copy_records_to_table("bench_copy_floor", records=chunk, columns=["submission_id", "doc"])

        t0 = time.perf_counter()
        await asyncio.gather(*[worker(c) for c in conns])
        secs = time.perf_counter() - t0
        n = await conns[0].fetchval("SELECT count(*) FROM bench_copy_floor")
        if n != len(rows):
            raise RuntimeError(f"COPY floor stored {n} of {len(rows)} rows")
        await conns[0].execute("DROP TABLE bench_copy_floor")
        return secs
    finally:
        for c in conns:
            await c.close()


def cpu_seconds(svc: Service) -> tuple[float, float]:
    """CPU seconds used so far by the service's processes and by the PostgreSQL server's (the
    postmaster of postmaster.pid and its backends; pg_ctl detaches it from the service)."""
    import psutil

    def tree(pid: int) -> float:
        total = 0.0
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    postmaster = int((Path(svc.tmp) / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    theirs = tree(postmaster)
    ours = tree(svc.proc.pid)
    if postmaster in [c.pid for c in psutil.Process(svc.proc.pid).children(recursive=True)]:
        ours -= theirs
    return ours, theirs


def batches(records: list[dict], size: int) -> list[bytes]:
    return [orjson.dumps({"items": records[i : i + size]}) for i in range(0, len(records), size)]


@contextlib.contextmanager
def flame_graph(svc: Service, svg: str | None, native: bool) -> Iterator[None]:
    """A py-spy flame graph of the service while the block runs, into `svg` (nothing if None;
    collapsed stacks, one line each, for a name ending in .txt)."""
    if svg is None:
        yield
        return
    # --nonblocking: samples without pausing the service, so the profile does not slow what it measures
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(svc.proc.pid),
            "--subprocesses",
            "--rate",
            "250",
            *(["--native"] if native else ["--nonblocking"]),
            "--output",
            svg,
            "--format",
            "raw" if svg.endswith(".txt") else "flamegraph",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=120)
        print(f"    flame graph: {svg} ({err.decode().strip().splitlines()[-1:]})", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="bench ingest")
    p.add_argument("--batch-records", type=int, default=200_000)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--batch-clients", type=int, default=4)
    p.add_argument("--single-requests", type=int, default=20_000)
    p.add_argument("--single-clients", type=int, default=64)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--skip-sumsel", action="store_true")
    p.add_argument(
        "--profile",
        metavar="SVG",
        help="record a py-spy flame graph of the service during the single-POST phase into this file (e.g. bench/results/x.svg)",
    )
    p.add_argument("--profile-batch", metavar="SVG", help="the same for the batch phase (a)")
    p.add_argument("--skip-batch", action="store_true", help="only the single-POST phase (with a warm-up)")
    p.add_argument("--native", action="store_true", help="--profile: include C frames (asyncpg's Cython, orjson)")
    p.add_argument(
        "--pemicu-0018",
        action="store_true",
        help="run with the counts' triggers on submissions as migration 0018 left them (four per event), "
        "put back in place of 0019's one per event once the service is up: the before of a back-to-back comparison",
    )
    p.add_argument(
        "--satu-enumerator",
        action="store_true",
        help="every single POST from one enumerator_id in one kabupaten/kota (16.07): the worst case of kinerja_enumerator's one row "
        "per (periode, kabupaten/kota, enumerator, key) under concurrent writers",
    )
    p.add_argument(
        "--tanpa",
        metavar="PART",
        help="run with the one trigger on submissions keeping every table but this part (bench.pemicu: rekap_status, rekap_harian, "
        "kinerja, antrian, tolak)",
    )
    args = p.parse_args(argv)
    rng = random.Random(2022)
    kabkota = list(SUMSEL_2022)

    print(f"generating records ... (service workers: {args.workers})", flush=True)
    batch_records = [] if args.skip_batch else [record(rng.choice(kabkota), rng) for _ in range(args.batch_records)]
    batch_bodies = batches(batch_records, args.batch_size)
    if args.satu_enumerator:
        single_bodies = [orjson.dumps({**record("16.07", rng), "enumerator_id": "E-SATU"}) for _ in range(args.single_requests)]
    else:
        single_bodies = [orjson.dumps(record(rng.choice(kabkota), rng)) for _ in range(args.single_requests)]
    sumsel: list[dict] = []
    if not args.skip_sumsel:
        for kk, n in SUMSEL_2022.items():
            sumsel += [record(kk, rng) for _ in range(n)]
        rng.shuffle(sumsel)
    sumsel_bodies = batches(sumsel, args.batch_size)

    with Service(workers=args.workers) as svc:
        key = svc.key("enumerator", "16", "bench-enum")
        if args.pemicu_0018:
            asyncio.run(triggers_0018(pg_params(svc.tmp)))
        if args.tanpa:
            asyncio.run(execute(pg_params(svc.tmp), pemicu.tanpa(args.tanpa)))
            print(f"    (the one trigger without the part {args.tanpa})", flush=True)
        # warm-up: connection pool, wilayah index, prepared statements
        asyncio.run(post_batches(svc.url, key, batches([record("16.07", rng) for _ in range(2000)], 500), 2))

        if not args.skip_batch:
            with flame_graph(svc, args.profile_batch, args.native):
                cpu0 = cpu_seconds(svc)
                secs, created = asyncio.run(post_batches(svc.url, key, batch_bodies, args.batch_clients))
                cpu = cpu_seconds(svc)
            print(
                f"(a) batch ingest: {fmt(created)} records in {secs:.1f} s = {fmt(created / secs)} records/s "
                f"(batches of {args.batch_size}, {args.batch_clients} clients; target >= 15.000/s)",
                flush=True,
            )
            n = max(1, created)
            print(
                f"    CPU per record: service {(cpu[0] - cpu0[0]) / n * 1e6:.1f} us, PostgreSQL {(cpu[1] - cpu0[1]) / n * 1e6:.1f} us",
                flush=True,
            )
            copy_secs = asyncio.run(copy_floor(pg_params(svc.tmp), batch_records, args.batch_size, args.batch_clients))
            floor = len(batch_records) / copy_secs
            print(
                f"    COPY floor, same documents, same server, one COPY per batch, as many connections: "
                f"{fmt(len(batch_records))} rows in {copy_secs:.1f} s = {fmt(floor)} rows/s; the service's "
                f"batch ingest is {100 * created / secs / floor:.1f}% of it (target >= 30%)",
                flush=True,
            )

        with flame_graph(svc, args.profile, args.native):
            cpu0 = cpu_seconds(svc)
            secs, lat, errors = asyncio.run(post_singles(svc.url, key, single_bodies, args.single_clients))
            cpu = cpu_seconds(svc)
        print(
            f"(b) single POST: {fmt(len(lat))} requests in {secs:.1f} s = {fmt(len(lat) / secs)} req/s, "
            f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms, "
            f"errors {errors} ({args.single_clients} clients; issue 16: >= 2.000/s, p99 < 100 ms)",
            flush=True,
        )
        n = max(1, len(lat))
        print(
            f"    CPU per single POST: service {(cpu[0] - cpu0[0]) / n * 1e6:.0f} us, PostgreSQL {(cpu[1] - cpu0[1]) / n * 1e6:.0f} us",
            flush=True,
        )

        if sumsel_bodies:
            secs, created = asyncio.run(post_batches(svc.url, key, sumsel_bodies, args.batch_clients))
            print(
                f"(c) Sumatera Selatan 2022 round: {fmt(created)} records in {secs:.1f} s "
                f"= {fmt(created / secs)} records/s (target < 30 s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
