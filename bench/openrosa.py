"""OpenRosa benchmark: submissions/s and p50/p99 at 64 concurrent clients, each request the
multipart POST ODK Collect sends (`xml_submission_file`, the instance of the PL-KUMKM form), to
`/openrosa/{key}/submission`. For comparison, the same records as single JSON POSTs to
`/api/v1/submissions` on the same service right after (what the XML transport costs).

    ./dev bench openrosa [--requests 20000] [--clients 64] [--workers 1] [--no-json]

Target (issue 19): >= 1,000 submissions/s with p99 < 150 ms. For reference, ODK Central
v2026.2.2 was reported at about 230 submissions/s at 64 clients (p99 about 365 ms) on this kind
of machine."""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import aiohttp
import orjson

from bench.harness import SUMSEL_2022, Service, fmt, percentile, record
from tests.support.openrosa_helpers import instance

BOUNDARY = "----kumkmbench7MA4YWxkTrZu0gW"


def multipart(xml: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
            f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
        ).encode()
        + xml
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def post_all(url: str, path: str, bodies: list[bytes], headers: dict, concurrency: int, ok: int):
    queue = list(reversed(bodies))
    latencies: list[float] = []
    errors: dict[int, int] = {}
    async with aiohttp.ClientSession(
        base_url=url, connector=aiohttp.TCPConnector(limit=concurrency), timeout=aiohttp.ClientTimeout(total=120)
    ) as session:

        async def worker():
            while queue:
                body = queue.pop()
                t = time.perf_counter()
                async with session.post(path, data=body, headers=headers) as r:
                    await r.read()
                    latencies.append(time.perf_counter() - t)
                    if r.status != ok:
                        errors[r.status] = errors.get(r.status, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return time.perf_counter() - t0, latencies, errors


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the service's own processes (not PostgreSQL's): on a shared machine
    the rate depends on what else runs, the CPU a request costs much less."""
    import psutil

    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def report(what: str, secs: float, lat: list[float], errors: dict, clients: int, cpu: float) -> None:
    print(
        f"{what}: {fmt(len(lat))} requests in {secs:.1f} s = {fmt(len(lat) / secs)}/s, "
        f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms, "
        f"errors {sum(errors.values())} {errors or ''} ({clients} clients); "
        f"service CPU {cpu / len(lat) * 1000:.2f} ms a request",
        flush=True,
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="bench openrosa")
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--no-json", action="store_true", help="skip the JSON comparison")
    args = p.parse_args(argv)
    rng = random.Random(19)
    kabkota = list(SUMSEL_2022)
    print(f"generating instances ... (service workers: {args.workers})", flush=True)
    records = [record(rng.choice(kabkota), rng) for _ in range(args.requests)]
    xml_bodies = [multipart(instance(r)) for r in records]
    json_bodies = [orjson.dumps(record(rng.choice(kabkota), rng)) for _ in range(args.requests)]
    warm = [multipart(instance(record("16.07", rng))) for _ in range(1000)]
    ctype = {"content-type": f"multipart/form-data; boundary={BOUNDARY}", "X-OpenRosa-Version": "1.0"}

    with Service(workers=args.workers) as svc:
        key = svc.key("enumerator", "16", "bench-openrosa")
        path = f"/openrosa/{key}/submission"
        # warm-up: connection pool, wilayah index, the form's conversion, prepared statements
        asyncio.run(post_all(svc.url, path, warm, ctype, 8, 201))
        pids = svc.pids()
        cpu = cpu_seconds(pids)
        secs, lat, errors = asyncio.run(post_all(svc.url, path, xml_bodies, ctype, args.clients, 201))
        report("OpenRosa submission (multipart XML)", secs, lat, errors, args.clients, cpu_seconds(pids) - cpu)
        print("  target >= 1.000/s with p99 < 150 ms; ODK Central v2026.2.2: ~230/s, p99 ~365 ms", flush=True)
        if not args.no_json:
            headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
            cpu = cpu_seconds(pids)
            secs, lat, errors = asyncio.run(post_all(svc.url, "/api/v1/submissions", json_bodies, headers, args.clients, 201))
            report("JSON single POST, same service (comparison)", secs, lat, errors, args.clients, cpu_seconds(pids) - cpu)


if __name__ == "__main__":
    main()
