"""What a NOTIFY in a write transaction costs under concurrency (why the registry's linker polls
instead of being notified by each decision: docs/registry.md).

    python -m bench.notify_cost [--connections 16] [--seconds 8]

Starts a fresh embedded PostgreSQL, one LISTENer, and N connections committing small write
transactions (an UPDATE of their own row and an INSERT, like a decision and its queue row)
with a third statement that is `SELECT pg_notify(...)` or a no-op `SELECT ''` (the same number
of round trips), alternately, and prints commits per second of each."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.capaian import _pg_params


async def _commits(url: str, notify: bool, connections: int, seconds: float) -> float:
    conns = [await asyncpg.connect(**_pg_params(url)) for _ in range(connections)]
    stop = time.perf_counter() + seconds
    third = "SELECT pg_notify('kumkm_antrian', '')" if notify else "SELECT ''"
    done = 0

    async def worker(i: int, c) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            async with c.transaction():
                await c.execute("UPDATE t SET x = x + 1 WHERE id = $1", i)
                await c.execute("INSERT INTO q (id) VALUES ($1) ON CONFLICT DO NOTHING", i * 10_000_000 + done)
                await c.execute(third)
            done += 1

    await asyncio.gather(*(worker(i, c) for i, c in enumerate(conns)))
    for c in conns:
        await c.close()
    return done / seconds


async def run(args) -> None:
    from app.infra import embedded

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-"))
    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm")
    try:
        setup = await asyncpg.connect(**_pg_params(url))
        await setup.execute(
            "CREATE TABLE t (id int PRIMARY KEY, x int); CREATE TABLE q (id bigint PRIMARY KEY); "
            f"INSERT INTO t SELECT g, 0 FROM generate_series(0, {args.connections}) g"
        )
        await setup.add_listener("kumkm_antrian", lambda *_: None)
        for notify in (False, True, False, True):
            rate = await _commits(url, notify, args.connections, args.seconds)
            print(f"{'with pg_notify' if notify else 'without      '}  {rate:,.0f} commits/s", flush=True)
        await setup.close()
    finally:
        embedded.stop(tmp / "pgdata", mode="immediate")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.notify_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--seconds", type=float, default=8)
    asyncio.run(run(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
