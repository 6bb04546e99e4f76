"""Failover and read replicas (issue 20): a primary with a synchronous standby made by
`kumkm replica create --synchronous`, a mixed load of enumerators (single records and batches
of 100) and dashboards (capaian pendataan), and

1. capaian p95 read from the standby against the same read from the primary, under the
   same load (two services on the same databases, one with DATABASE_REPLICA_URL);
2. records/s acknowledged before the failover (synchronous standby) and after it;
3. recovery: SIGKILL the primary's postmaster, `kumkm replica promote` the standby, and
   time from the kill to the first acknowledged write (the service is given both hosts).

With --patroni, the national topology instead (docs/operations.md, "High availability with
Patroni"; tests/support/patroni_cluster.py): etcd and two Patroni nodes on the wheel's PostgreSQL 18,
the service on the multi-host DATABASE_URL, the same load, and the time from the kill to the
first acknowledged write when the leader's postmaster is SIGKILLed (Patroni restarts it in
place) and when the whole leader node is (Patroni fails over to the synchronous standby), then
how long the old leader takes to be the synchronous standby again once its Patroni is back.

    ./dev bench failover [--clients 32] [--seconds 15] [--patroni]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import orjson

from bench.harness import KUMKM, ROOT, SUMSEL_2022, Service, percentile, record

READ_SHARE = 0.3  # of the clients' requests: capaian pendataan; the rest write


class Run:
    def __init__(self):
        self.lat: dict[str, list[float]] = defaultdict(list)
        self.records = 0
        self.errors: dict[int, int] = defaultdict(int)
        self.sources: dict[str, int] = defaultdict(int)
        self.first_write_after: float | None = None
        self.kill_at: float | None = None
        # when the killed processes were gone, if later than kill_at: only a write sent after it
        # tells that writes are back (one sent before may still commit on the old server)
        self.killed_at: float | None = None


async def load(url: str, keys: dict, clients: int, seconds: float, run: Run, rng: random.Random, stop: asyncio.Event | None = None) -> None:
    kabkota = list(SUMSEL_2022)
    deadline = time.monotonic() + seconds

    def h(role):
        return {"Authorization": f"Bearer {keys[role]}", "content-type": "application/json"}

    async with aiohttp.ClientSession(
        base_url=url, connector=aiohttp.TCPConnector(limit=clients), timeout=aiohttp.ClientTimeout(total=60)
    ) as s:

        async def client():
            pending = None
            while time.monotonic() < deadline and not (stop and stop.is_set()):
                started = time.monotonic()
                if pending is None and rng.random() < READ_SHARE:
                    params = {"periode": "2022", "wilayah": rng.choice(["16", *kabkota])}
                    try:
                        async with s.get("/api/v1/capaian-pendataan", params=params, headers=h("dinas")) as r:
                            await r.read()
                            if r.status == 200:
                                run.lat["capaian"].append(time.monotonic() - started)
                                run.sources[r.headers.get("x-data-source", "?")] += 1
                            else:
                                run.errors[r.status] += 1
                    except aiohttp.ClientError:
                        run.errors[0] += 1
                    continue
                if pending is None:
                    n = 100 if rng.random() < 0.1 else 1
                    pending = [record(rng.choice(kabkota), rng) for _ in range(n)]
                path, body = ("/api/v1/submissions", pending[0]) if len(pending) == 1 else ("/api/v1/submissions/batch", {"items": pending})
                try:
                    async with s.post(path, data=orjson.dumps(body), headers=h("enumerator")) as r:
                        await r.read()
                        status = r.status
                except aiohttp.ClientError:
                    status = 0
                if status in (200, 201):
                    now = time.monotonic()
                    run.records += len(pending)
                    run.lat["write"].append(now - started)
                    since = run.killed_at if run.killed_at is not None else run.kill_at
                    if since is not None and started > since and run.first_write_after is None:
                        run.first_write_after = now
                    pending = None
                else:
                    run.errors[status] += 1  # 503 while the primary is away: send again
                    await asyncio.sleep(0.05)

        await asyncio.gather(*(client() for _ in range(clients)))


def _cli(env: dict, *args: str) -> str:
    out = subprocess.run([*KUMKM, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"kumkm {' '.join(args)}: {out.stdout}{out.stderr}")
    return out.stdout


def _service(env: dict) -> Service:
    svc = Service(data_dir=env["KUMKM_DATA_DIR"], env={})
    svc.env = env
    return svc.start()


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="bench failover")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--patroni", action="store_true", help="Patroni with etcd (the national topology) instead of kumkm replica")
    args = ap.parse_args(argv)
    if args.patroni:
        return patroni(args)
    from app.infra import db, embedded, standby

    root = Path(tempfile.mkdtemp(prefix="kumkm-bfo-"))
    primary_dir = root / "p" / "pgdata"
    standby_dir = root / "s"
    primary_dir.parent.mkdir()
    services: list[Service] = []
    try:
        primary_url = embedded.start(primary_dir, cleanup_mode=None, database="kumkm")
        db.migrate(primary_url)
        base = {**os.environ, "KUMKM_DATA_DIR": str(root / "p")}
        base.pop("DATABASE_REPLICA_URL", None)
        out = _cli(base, "replica", "create", "--data-dir", str(standby_dir), "--synchronous")
        replica_url = re.search(r"^DATABASE_REPLICA_URL=(\S+)$", out, re.M).group(1)
        failover_url = re.search(r"^DATABASE_URL=(\S+)$", out, re.M).group(1)
        env = {**base, "DATABASE_URL": primary_url}
        keys = {
            role: _cli(env, "apikey", "create", "--role", role, "--wilayah", "16", "--name", role).strip().splitlines()[-1]
            for role in ("enumerator", "dinas")
        }
        # one service reads capaian on the standby, the other on the primary; both write to the
        # primary and are given both hosts, so writes follow the promotion
        with_replica = _service({**base, "DATABASE_URL": failover_url, "DATABASE_REPLICA_URL": replica_url})
        services.append(with_replica)
        primary_only = _service({**base, "DATABASE_URL": failover_url})
        services.append(primary_only)
        rng = random.Random(20)
        # a registry to read: the provinsi's records before the clock starts
        asyncio.run(load(primary_only.url, keys, args.clients, 5, Run(), rng))

        print(
            f"failover bench: {args.clients} clients, {READ_SHARE:.0%} capaian reads, the rest writes "
            f"(1 in 10 a batch of 100); primary + synchronous standby"
        )
        results = {}
        for name, svc in (("replica", with_replica), ("primary", primary_only)):
            run = Run()
            asyncio.run(load(svc.url, keys, args.clients, args.seconds, run, rng))
            results[name] = run
            print(
                f"  capaian from the {name:7s}: p50 {percentile(run.lat['capaian'], 50) * 1000:6.1f} ms, "
                f"p95 {percentile(run.lat['capaian'], 95) * 1000:6.1f} ms ({len(run.lat['capaian'])} reads, "
                f"served by {dict(run.sources)}); writes {run.records / args.seconds:,.0f} records/s; "
                f"errors {dict(run.errors) or 0}"
            )

        run = Run()

        async def failover():
            stop = asyncio.Event()
            task = asyncio.create_task(load(with_replica.url, keys, args.clients, 600, run, rng, stop))
            await asyncio.sleep(3)
            before = run.records
            run.kill_at = time.monotonic()
            os.kill(standby.running(primary_dir).pid, signal.SIGKILL)
            t0 = time.monotonic()
            await asyncio.to_thread(_cli, base, "replica", "promote", "--data-dir", str(standby_dir))
            promoted = time.monotonic() - t0
            while run.first_write_after is None and time.monotonic() - t0 < 120:
                await asyncio.sleep(0.02)
            if run.first_write_after is None:
                raise RuntimeError("no write succeeded within 120 s of the kill")
            after_from, records_from = time.monotonic(), run.records
            await asyncio.sleep(args.seconds)
            rate_after = (run.records - records_from) / (time.monotonic() - after_from)
            stop.set()
            await task
            return before / 3, promoted, rate_after

        rate_before, promoted, rate_after = asyncio.run(failover())
        recovery = run.first_write_after - run.kill_at
        print(
            f"  failover: kill -> first acknowledged write {recovery:.2f} s (the promote command took "
            f"{promoted:.2f} s, Python start-up included); answers to retry: {dict(run.errors)}"
        )
        print(
            f"  records/s: {rate_before:,.0f} before (synchronous standby, while reads go to it), "
            f"{rate_after:,.0f} after (the promoted server alone)"
        )
    finally:
        for svc in services:
            svc.stop()
        for d in (standby_dir, primary_dir):
            try:
                embedded.stop(d)
            except Exception:  # the killed primary has nothing to stop
                pass
        shutil.rmtree(root, ignore_errors=True)


def patroni(args: argparse.Namespace) -> None:
    """Failover by Patroni: etcd and two Patroni nodes (tests/support/patroni_cluster.py, with
    ops/patroni/patroni.yml), the service on the multi-host DATABASE_URL, the load above."""
    import pytest

    from tests.support.patroni_cluster import PatroniCluster, require
    from tests.support.serve_helpers import reachable_tmp

    try:
        python = require("bench failover --patroni")
    except pytest.skip.Exception as exc:  # etcd or Patroni cannot be had here: say which
        raise SystemExit(f"bench failover --patroni: {exc}") from None
    root = reachable_tmp("kumkm-bfp-")
    cluster = PatroniCluster(root, python, nodes=2)
    services: list[Service] = []
    try:
        t0 = time.monotonic()
        cluster.start()
        started = time.monotonic() - t0
        first, standby = cluster.leader(), cluster.synchronous_standby()
        assert first is not None and standby is not None
        env = {**os.environ, "KUMKM_DATA_DIR": str(root / "service"), "DATABASE_URL": cluster.database_url()}
        env.pop("DATABASE_REPLICA_URL", None)
        svc = _service(env)
        services.append(svc)
        keys = {
            role: _cli(env, "apikey", "create", "--role", role, "--wilayah", "16", "--name", role).strip().splitlines()[-1]
            for role in ("enumerator", "dinas")
        }
        rng = random.Random(27)
        asyncio.run(load(svc.url, keys, args.clients, 5, Run(), rng))  # a registry to read
        print(
            f"failover bench, Patroni: etcd + 2 Patroni nodes (synchronous_mode, ttl 20 s, loop_wait 2 s; "
            f"cluster up in {started:.1f} s); {args.clients} clients, {READ_SHARE:.0%} capaian reads, the rest "
            f"writes (1 in 10 a batch of 100)"
        )

        def wait(condition, what: str, timeout: float = 120) -> float:
            t = time.monotonic()
            while not condition():
                if time.monotonic() - t > timeout:
                    raise RuntimeError(f"{what} not within {timeout:.0f} s:\n{cluster.tail()}")
                time.sleep(0.1)
            return time.monotonic() - t

        async def kill(what: str, do_kill) -> tuple[float, dict]:
            """Time from the kill to the first acknowledged write, and records/s before and after."""
            run = Run()
            stop = asyncio.Event()
            task = asyncio.create_task(load(svc.url, keys, args.clients, 600, run, rng, stop))
            await asyncio.sleep(3)
            before = run.records / 3
            run.kill_at = time.monotonic()
            await asyncio.to_thread(do_kill)
            run.killed_at = time.monotonic()
            while run.first_write_after is None and time.monotonic() - run.kill_at < 120:
                await asyncio.sleep(0.02)
            if run.first_write_after is None:
                raise RuntimeError(f"no write succeeded within 120 s of the {what}")
            after_from, records_from = time.monotonic(), run.records
            await asyncio.sleep(args.seconds)
            after = (run.records - records_from) / (time.monotonic() - after_from)
            stop.set()
            await task
            return run.first_write_after - run.kill_at, {"rates": (before, after), "errors": dict(run.errors)}

        recovery, info = asyncio.run(kill("postmaster kill", first.kill_postmaster))
        print(
            f"  SIGKILL of the leader's postmaster (Patroni restarts it in place): kill -> first acknowledged "
            f"write {recovery:.2f} s; answers to retry: {info['errors']}"
        )
        wait(lambda: cluster.synchronous_standby() is standby, "the standby synchronous again")
        recovery, info = asyncio.run(kill("node kill", first.kill))
        before, after = info["rates"]
        leader = cluster.leader()
        print(
            f"  SIGKILL of the whole leader node, Patroni and PostgreSQL (failover to the synchronous standby, "
            f"{leader.name if leader else '?'} leads): kill -> first acknowledged write {recovery:.2f} s; "
            f"answers to retry: {info['errors']}"
        )
        print(f"  records/s: {before:,.0f} before (synchronous standby), {after:,.0f} after (the new leader alone)")
        first.start()
        back = wait(lambda: cluster.synchronous_standby() is first, "the old leader back as synchronous standby")
        rewound = "running pg_rewind from" in first.log.read_text(errors="replace")
        print(f"  the old leader's Patroni started again: the synchronous standby {'(by pg_rewind) ' if rewound else ''}{back:.1f} s later")
    finally:
        for s in services:
            s.stop()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
