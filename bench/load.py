"""Mixed load, two ways (bench/README.md, "The national-peak load model").

Open loop (issue 16), the figure a user would feel: requests ARRIVE at a fixed rate whatever
the answers, as enumerators' phones and dashboards do at a national round's peak hour. A
scheduler fires each request at its planned time and its latency is measured FROM THAT PLANNED
TIME, so a slow service shows up as latency (requests queue in the client) instead of being
hidden by a client that waits before sending the next one (coordinated omission).

    ./dev bench load --rate 300 [--seconds 30] [--workers 1]
    ./dev bench load --find-max [--rate 100] [--seconds 20] [--workers 1]   # highest rate, every p99 < 250 ms

Closed loop (the older figure): N clients send back to back, so the machine is saturated by
construction and p99 mostly measures the queue the clients themselves build.

    ./dev bench load --clients 200 [--seconds 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
from collections import defaultdict

import aiohttp
import orjson

from bench.harness import SUMSEL_2022, RssSampler, Service, at_rate, fmt, percentile, record

# Closed loop: enumerators, verifikators and dashboards share the clients; one walidata pulls
# the feed back to back.
MIX = (("post", 45), ("batch", 8), ("verifikasi", 27), ("capaian", 20))
KINDS = ("post", "batch", "verifikasi", "capaian", "agregat", "sync")

# Open loop: a national round's peak hour (bench/README.md). Weights are % of arrivals.
PEAK_MIX = (("post", 60), ("batch", 10), ("verifikasi", 15), ("capaian", 6), ("agregat", 4), ("sync", 5))
ENDPOINT = {
    "post": "POST /submissions",
    "batch": "POST /submissions/batch (100)",
    "verifikasi": "POST /submissions/{id}/verifikasi",
    "capaian": "GET /capaian-pendataan",
    "agregat": "GET /agregat/keragaan-koperasi",
    "sync": "GET /sync/changes (1000)",
}
FEED_CONSUMERS = 8  # walidata portals pulling the feed, each with its own key and cursor
P99_LIMIT = 0.250  # --find-max: every endpoint's p99 under this
MAX_IN_FLIGHT = 4000  # the client's own bound: past it an arrival is dropped and counted as an error


class Load:
    """One service's keys, its queue of records to decide, and the request kinds."""

    def __init__(self, url: str, keys: dict, pool: list[str], rng: random.Random):
        self.url, self.keys, self.pool, self.rng = url, keys, pool, rng
        self.kabkota = list(SUMSEL_2022)
        self.cursors: dict[int, str | None] = {}
        self.feed_turn = 0
        # A portal asks for its next page only once the last one has ended (it needs that page's
        # cursor): an arrival goes to an idle portal, or waits for the next one in turn; the wait
        # counts in its latency (from the planned time).
        self.feed_locks: list[asyncio.Lock] = []  # made in the running loop (one()): see there
        self.feed_loop: asyncio.AbstractEventLoop | None = None
        self.stats: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.samples: dict[str, str] = {}

    def reset(self) -> None:
        self.stats, self.errors, self.samples = defaultdict(list), defaultdict(int), {}

    def h(self, key: str) -> dict:
        return {"Authorization": f"Bearer {key}", "content-type": "application/json"}

    def payload(self, kind: str):
        """What a request carries, made before the clock starts (client CPU is the service's CPU here)."""
        rng = self.rng
        if kind == "post":
            return orjson.dumps(record(rng.choice(self.kabkota), rng))
        if kind == "batch":
            return orjson.dumps({"items": [record(rng.choice(self.kabkota), rng) for _ in range(100)]})
        if kind == "verifikasi":
            decision = (
                {"status": "diterima", "version": 1}
                if rng.random() < 0.9
                else {"status": "ditolak", "alasan_kode": "data_tidak_lengkap", "version": 1}
            )
            return orjson.dumps(decision)
        if kind in ("capaian", "agregat"):
            return rng.choice(["16"] + self.kabkota) if kind == "capaian" else "16"
        return None

    async def one(self, s: aiohttp.ClientSession, kind: str, payload, started: float | None = None) -> None:
        """One request; its latency counts from `started` (the planned time) when given."""
        if kind != "sync":
            return await self._one(s, kind, payload, started, None)
        if self.feed_loop is not asyncio.get_running_loop():
            # each --find-max step runs in a loop of its own, and a lock belongs to one loop
            self.feed_loop = asyncio.get_running_loop()
            self.feed_locks = [asyncio.Lock() for _ in range(FEED_CONSUMERS)]
        turn = self.feed_turn
        self.feed_turn += 1
        idle = [c for c in range(FEED_CONSUMERS) if not self.feed_locks[c].locked()]
        consumer = idle[turn % len(idle)] if idle else turn % FEED_CONSUMERS
        async with self.feed_locks[consumer]:
            return await self._one(s, kind, payload, started, consumer)

    async def _one(self, s: aiohttp.ClientSession, kind: str, payload, started: float | None, consumer: int | None) -> None:
        if kind == "post":
            req = s.post("/api/v1/submissions", data=payload, headers=self.h(self.keys["enumerator"]))
            ok: tuple[int, ...] = (201,)
        elif kind == "batch":
            req = s.post("/api/v1/submissions/batch", data=payload, headers=self.h(self.keys["enumerator"]))
            ok = (200,)
        elif kind == "verifikasi":
            if not self.pool:
                self.errors[kind] += 1
                self.samples.setdefault(kind, "preloaded queue ran out (raise --preload)")
                return
            req = s.post(f"/api/v1/submissions/{self.pool.pop()}/verifikasi", data=payload, headers=self.h(self.keys["verifikator"]))
            ok = (200,)
        elif kind == "capaian":
            req = s.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": payload}, headers=self.h(self.keys["dinas"]))
            ok = (200,)
        elif kind == "agregat":
            req = s.get(
                "/api/v1/agregat/keragaan-koperasi", params={"periode": "2022", "wilayah": payload}, headers=self.h(self.keys["dinas"])
            )
            ok = (200,)
        else:
            assert consumer is not None
            after = self.cursors.get(consumer)
            params = {"limit": "1000", **({"after": after} if after else {})}
            req = s.get("/api/v1/sync/changes", params=params, headers=self.h(self.keys["walidata"][consumer]))
            ok = (200,)
        t = started if started is not None else time.monotonic()
        try:
            async with req as r:
                body = await r.read()
            status = r.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            status, body = 0, repr(exc).encode()
        self.stats[kind].append(time.monotonic() - t)
        if status not in ok:
            self.errors[kind] += 1
            self.samples.setdefault(kind, f"{status} {body[:200]!r}")
        elif consumer is not None:
            last = body.rstrip(b"\n").rsplit(b"\n", 1)[-1]
            try:
                self.cursors[consumer] = orjson.loads(last).get("cursor") or self.cursors.get(consumer)
            except orjson.JSONDecodeError:
                pass


async def open_loop(load: Load, rate: float, seconds: float, rng: random.Random) -> tuple[float, float]:
    """Fire rate*seconds requests at evenly spaced planned times; returns (elapsed, worst lag of
    the scheduler behind plan). Every request is awaited before returning."""
    n = int(rate * seconds)
    choices = [name for name, weight in PEAK_MIX for _ in range(weight)]
    plan = [(kind, load.payload(kind)) for kind in (rng.choice(choices) for _ in range(n))]
    # limit: enough sockets that the client never becomes the queue at the rates this machine sustains
    connector = aiohttp.TCPConnector(limit=1024)
    async with aiohttp.ClientSession(base_url=load.url, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as s:

        def fire(i: int, at: float, in_flight: int):
            kind, payload = plan[i]
            if in_flight >= MAX_IN_FLIGHT:
                load.errors[kind] += 1
                load.samples.setdefault(kind, f"dropped by the client: {MAX_IN_FLIGHT} requests in flight")
                return None
            return load.one(s, kind, payload, started=at)

        return await at_rate(n, rate, fire)


async def closed_loop(load: Load, clients: int, seconds: float, rng: random.Random) -> float:
    choices = [name for name, weight in MIX for _ in range(weight)]
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(
        base_url=load.url, connector=aiohttp.TCPConnector(limit=clients), timeout=aiohttp.ClientTimeout(total=120)
    ) as s:

        async def client():
            while time.monotonic() < deadline:
                kind = rng.choice(choices)
                await load.one(s, kind, load.payload(kind))

        async def walidata():
            while time.monotonic() < deadline:
                await load.one(s, "sync", None)

        t0 = time.perf_counter()
        await asyncio.gather(walidata(), *[client() for _ in range(clients - 1)])
        return time.perf_counter() - t0


async def preload(url: str, key: str, n: int, rng: random.Random) -> list[str]:
    ids: list[str] = []
    kabkota = list(SUMSEL_2022)
    async with aiohttp.ClientSession(base_url=url) as s:
        for _ in range(0, n, 1000):
            items = [record(rng.choice(kabkota), rng) for _ in range(1000)]
            async with s.post(
                "/api/v1/submissions/batch",
                data=orjson.dumps({"items": items}),
                headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
            ) as r:
                r.raise_for_status()
            ids += [i["submission_id"] for i in items]
    return ids


def report(load: Load, secs: float, head: str, kinds=KINDS) -> bool:
    """Print the figures; True when there was no error and every endpoint's p99 is under P99_LIMIT."""
    total = sum(len(v) for v in load.stats.values())
    print(f"{head}: {fmt(total)} requests in {secs:.1f} s = {fmt(total / secs)} req/s, errors {sum(load.errors.values())}", flush=True)
    ok = not any(load.errors.values())
    for kind in kinds:
        lat = load.stats.get(kind, [])
        if not lat and not load.errors.get(kind):
            continue
        p99 = percentile(lat, 99)
        ok = ok and p99 < P99_LIMIT
        print(
            f"  {ENDPOINT[kind]:<36} {fmt(len(lat)):>7} req {len(lat) / secs:7.1f}/s  "
            f"p50 {percentile(lat, 50) * 1000:7.1f}  p95 {percentile(lat, 95) * 1000:7.1f}  "
            f"p99 {p99 * 1000:7.1f} ms  errors {load.errors.get(kind, 0)}"
            + (f"  e.g. {load.samples[kind]}" if kind in load.samples else ""),
            flush=True,
        )
    return ok


def memory(rss: RssSampler, idle: int) -> str:
    """Issue 16 asks memory to stay flat: the largest service process, before and during."""
    return (
        f"service RSS: {idle / 2**20:.0f} MB before the load, peak {rss.peak / 2**20:.0f} MB, "
        f"now {rss.last / 2**20:.0f} MB (largest service process)"
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="bench load")
    p.add_argument("--rate", type=float, help="open loop: requests arriving per second (the peak mix)")
    p.add_argument(
        "--find-max",
        action="store_true",
        help="open loop: raise the rate by --step from --rate until an endpoint's p99 reaches "
        "250 ms or an error occurs, then report the highest rate that passed",
    )
    p.add_argument("--step", type=float, default=1.25, help="--find-max: rate multiplier between steps")
    p.add_argument("--clients", type=int, default=200, help="closed loop (when neither --rate nor --find-max)")
    p.add_argument("--seconds", type=float, help="per run or per step (default 60 closed, 30 open, 20 find-max)")
    p.add_argument("--workers", type=int, help="uvicorn worker processes (default 2 closed, 1 open)")
    p.add_argument("--preload", type=int, help="records to verify during the run (default: what the mix needs)")
    args = p.parse_args(argv)
    open_mode = args.rate is not None or args.find_max
    rate = args.rate or 100.0
    seconds = args.seconds or (20 if args.find_max else 30 if open_mode else 60)
    workers = args.workers or (1 if open_mode else 2)
    if args.preload is not None:
        preload_n = args.preload
    elif args.find_max:
        # decisions for steps up to ~16x the start rate
        steps = [rate * args.step**i for i in range(int(math.log(16) / math.log(args.step)) + 2)]
        preload_n = int(0.17 * seconds * sum(steps)) + 1000
    elif open_mode:
        preload_n = int(0.17 * rate * seconds) + 1000
    else:
        preload_n = 60_000
    rng = random.Random(7)
    with Service(workers=workers) as svc:
        keys = {
            "enumerator": svc.key("enumerator", "16", "load-enum"),
            "verifikator": svc.key("verifikator", "16", "load-verif"),
            "dinas": svc.key("dinas", "16", "load-dinas"),
            "walidata": [svc.key("walidata", None, f"load-walidata-{i}") for i in range(FEED_CONSUMERS)],
        }
        print(f"preloading {fmt(preload_n)} records to decide ...", flush=True)
        pool = asyncio.run(preload(svc.url, keys["enumerator"], preload_n, rng))
        rng.shuffle(pool)
        load = Load(svc.url, keys, pool, rng)
        rss = RssSampler(svc.proc.pid)
        rss.start()
        idle = rss.sample()
        if not open_mode:
            secs = asyncio.run(closed_loop(load, args.clients, seconds, rng))
            report(
                load, secs, f"closed loop: {args.clients} clients, {workers} worker(s)", ("post", "batch", "verifikasi", "capaian", "sync")
            )
            print(memory(rss, idle), flush=True)
            return
        if not args.find_max:
            secs, lag = asyncio.run(open_loop(load, rate, seconds, rng))
            report(
                load,
                secs,
                f"open loop: {rate:g} req/s planned for {seconds:g} s, {workers} worker(s), scheduler lag max {lag * 1000:.0f} ms",
            )
            print(memory(rss, idle), flush=True)
            return
        best = None
        while True:
            load.reset()
            secs, lag = asyncio.run(open_loop(load, rate, seconds, rng))
            ok = report(
                load, secs, f"step {rate:.0f} req/s planned for {seconds:g} s, {workers} worker(s), scheduler lag max {lag * 1000:.0f} ms"
            )
            print(
                f"  -> {'PASS' if ok else 'FAIL'} (every endpoint p99 < {P99_LIMIT * 1000:.0f} ms, no error); " + memory(rss, idle),
                flush=True,
            )
            if not ok:
                break
            best = rate
            rate *= args.step
            time.sleep(3)  # let autovacuum and the backlog of the last step settle
        print(
            f"highest rate with every endpoint's p99 < {P99_LIMIT * 1000:.0f} ms and no error: "
            + (f"{best:.0f} req/s (next step {rate:.0f} req/s failed)" if best else f"none (the first step, {rate:.0f} req/s, failed)")
            + f"; {workers} worker(s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
