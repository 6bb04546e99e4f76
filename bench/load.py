"""Mixed load (issue: hardening): 200 concurrent clients for 60 s posting records (single and
batch of 100), deciding verifications and reading capaian, while one walidata consumer pulls
the sync feed (1,000 changes a page) back to back.
Reports throughput and p50/p99 per endpoint, and every unexpected status as an error.

    ./dev bench load [--clients 200] [--seconds 60] [--workers 2]
"""
from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import defaultdict

import aiohttp
import orjson

from bench.harness import SUMSEL_2022, Service, fmt, percentile, record

# Enumerators, verifikators and dashboards share the clients; the walidata is one consumer
# pulling the feed back to back, as its nightly job does.
MIX = (("post", 45), ("batch", 8), ("verifikasi", 27), ("capaian", 20))
KINDS = ("post", "batch", "verifikasi", "capaian", "sync")


async def run(url: str, keys: dict, pool: list[str], clients: int, seconds: float, rng: random.Random):
    stats: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    samples: dict[str, str] = {}
    kabkota = list(SUMSEL_2022)
    choices = [name for name, weight in MIX for _ in range(weight)]
    cursor = {"after": None}
    deadline = time.monotonic() + seconds

    def h(role):
        return {"Authorization": f"Bearer {keys[role]}", "content-type": "application/json"}

    async with aiohttp.ClientSession(base_url=url, connector=aiohttp.TCPConnector(limit=clients),
                                     timeout=aiohttp.ClientTimeout(total=120)) as s:
        async def one(kind: str):
            if kind == "post":
                req = s.post("/api/v1/submissions", data=orjson.dumps(record(rng.choice(kabkota), rng)),
                             headers=h("enumerator"))
                ok = (201,)
            elif kind == "batch":
                body = orjson.dumps({"items": [record(rng.choice(kabkota), rng) for _ in range(100)]})
                req = s.post("/api/v1/submissions/batch", data=body, headers=h("enumerator"))
                ok = (200,)
            elif kind == "verifikasi":
                if not pool:
                    return
                sid = pool.pop()
                decision = {"status": "diterima", "version": 1} if rng.random() < 0.9 else {
                    "status": "ditolak", "alasan_kode": "data_tidak_lengkap", "version": 1}
                req = s.post(f"/api/v1/submissions/{sid}/verifikasi", data=orjson.dumps(decision),
                             headers=h("verifikator"))
                ok = (200,)
            elif kind == "capaian":
                wilayah = rng.choice(["16"] + kabkota)
                req = s.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": wilayah},
                            headers=h("dinas"))
                ok = (200,)
            else:
                params = {"limit": "1000", **({"after": cursor["after"]} if cursor["after"] else {})}
                req = s.get("/api/v1/sync/changes", params=params, headers=h("walidata"))
                ok = (200,)
            t = time.perf_counter()
            async with req as r:
                body = await r.read()
            stats[kind].append(time.perf_counter() - t)
            if r.status not in ok:
                errors[kind] += 1
                samples.setdefault(kind, f"{r.status} {body[:200]!r}")
            elif kind == "sync":
                last = body.rstrip(b"\n").rsplit(b"\n", 1)[-1]
                try:
                    cursor["after"] = orjson.loads(last).get("cursor") or cursor["after"]
                except orjson.JSONDecodeError:
                    pass

        async def client():
            while time.monotonic() < deadline:
                await one(rng.choice(choices))

        async def walidata():
            while time.monotonic() < deadline:
                await one("sync")

        t0 = time.perf_counter()
        await asyncio.gather(walidata(), *[client() for _ in range(clients - 1)])
        return time.perf_counter() - t0, stats, errors, samples


async def preload(url: str, key: str, n: int, rng: random.Random) -> list[str]:
    ids: list[str] = []
    kabkota = list(SUMSEL_2022)
    async with aiohttp.ClientSession(base_url=url) as s:
        for _ in range(0, n, 1000):
            items = [record(rng.choice(kabkota), rng) for _ in range(1000)]
            async with s.post("/api/v1/submissions/batch", data=orjson.dumps({"items": items}),
                              headers={"Authorization": f"Bearer {key}",
                                       "content-type": "application/json"}) as r:
                r.raise_for_status()
            ids += [i["submission_id"] for i in items]
    return ids


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="bench load")
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--preload", type=int, default=60_000, help="records to verify during the run")
    args = p.parse_args(argv)
    rng = random.Random(7)
    with Service(workers=args.workers) as svc:
        keys = {"enumerator": svc.key("enumerator", "16", "load-enum"),
                "verifikator": svc.key("verifikator", "16", "load-verif"),
                "dinas": svc.key("dinas", "16", "load-dinas"),
                "walidata": svc.key("walidata", None, "load-walidata")}
        pool = asyncio.run(preload(svc.url, keys["enumerator"], args.preload, rng))
        rng.shuffle(pool)
        secs, stats, errors, samples = asyncio.run(run(svc.url, keys, pool, args.clients, args.seconds, rng))
    total = sum(len(v) for v in stats.values())
    print(f"mixed load: {args.clients} clients, {secs:.0f} s, {args.workers} worker(s): "
          f"{fmt(total)} requests = {fmt(total / secs)} req/s, errors {sum(errors.values())}")
    for kind in KINDS:
        lat = stats.get(kind, [])
        print(f"  {kind:<11} {fmt(len(lat)):>8} req  {len(lat) / secs:8.1f}/s  "
              f"p50 {percentile(lat, 50) * 1000:7.1f} ms  p99 {percentile(lat, 99) * 1000:7.1f} ms  "
              f"errors {errors.get(kind, 0)}" + (f"  e.g. {samples[kind]}" if kind in samples else ""))


if __name__ == "__main__":
    main()
