"""Writes follow the primary (issue 20, part 1): DATABASE_URL in libpq's multi-host form with
target_session_attrs=read-write. Two PostgreSQL servers of the test's own, of which one takes
writes; they switch roles (the old primary turns read-only, as a demoted primary does), then
the new primary goes down and the first takes writes again. Without a restart the service
finds the primary each time: requests caught in a switch get 503 with Retry-After, never a
500 and never a wait of more than a few seconds, and the pools leave the old server."""

from __future__ import annotations

import asyncio
import time

import httpx

from app.keys import service as auth_service
from tests.support.common import auth
from tests.support.factories import umkm
from tests.support.pg_servers import TcpPostgres, prepare_with_key
from tests.support.serve_helpers import Served, environment, free_port

KUMKM_APPS = ("kumkm", "kumkm-stream", "kumkm-keywatch")


async def _ids(server: TcpPostgres) -> set[str]:
    return {str(r[0]) for r in await server.execute("SELECT submission_id FROM submissions")}


async def _connections(server: TcpPostgres) -> list[str]:
    rows = await server.execute("SELECT application_name FROM pg_stat_activity WHERE application_name = ANY($1)", list(KUMKM_APPS))
    return [r[0] for r in rows]


async def _post_through_switch(url: str, key: str, acked: list[str], seconds: float = 20) -> dict:
    """4 devices post single records, each on a fresh connection (so that both workers get
    some), until 20 in a row were stored: every answer is 201 or 503 with Retry-After, and
    none takes long. Returns what happened."""
    statuses: list[int] = []
    slowest = 0.0
    in_a_row = 0
    start = time.monotonic()
    first_ok = None

    async def device():
        nonlocal slowest, in_a_row, first_ok
        while in_a_row < 20:
            assert time.monotonic() - start < seconds, f"no primary found: {statuses[-20:]}"
            record = umkm()
            sent = time.monotonic()
            async with httpx.AsyncClient(base_url=url, timeout=30) as c:
                r = await c.post("/api/v1/submissions", json=record, headers=auth(key))
            took = time.monotonic() - sent
            slowest = max(slowest, took)
            statuses.append(r.status_code)
            if r.status_code == 201:
                acked.append(record["submission_id"])
                in_a_row += 1
                first_ok = first_ok or time.monotonic() - start
            else:
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "2"
                assert r.headers["content-type"] == "application/problem+json"
                in_a_row = 0
                await asyncio.sleep(0.2)

    await asyncio.gather(*(device() for _ in range(4)))
    return {"statuses": statuses, "slowest": slowest, "first_ok": first_ok}


async def test_writes_follow_the_primary_across_failovers(tmp_path):
    a = TcpPostgres(free_port())
    b = TcpPostgres(free_port())
    key = auth_service.new_key()
    served = None
    try:
        for server in (a, b):
            await asyncio.to_thread(server.init)
            await prepare_with_key(server, key)
        await b.set_read_only(True)  # b: a standby, for now
        # b first: the service must pass over it to the host that takes writes
        url = f"postgresql://postgres@127.0.0.1:{b.port},127.0.0.1:{a.port}/kumkm?target_session_attrs=read-write"
        env = environment(database_url=url, KUMKM_DB_CONNECT_TIMEOUT=3)
        served = await asyncio.to_thread(Served(env, "--workers", "2", log=tmp_path / "serve.log").wait_ready)

        acked: list[str] = []
        before = await _post_through_switch(served.url, key, acked)
        assert set(before["statuses"]) == {201}
        assert set(acked) <= await _ids(a) and not await _ids(b)

        # failover: a is demoted (read-only), b promoted
        await a.set_read_only(True)
        await b.set_read_only(False)
        switch1 = await _post_through_switch(served.url, key, acked)
        on_b = await _ids(b)
        assert on_b, "no write reached the new primary"
        assert set(acked) <= await _ids(a) | on_b, "an acknowledged record is missing"
        # the pools left the old primary: no connection of the service stays on it
        deadline = time.monotonic() + 15
        while left := await _connections(a):
            assert time.monotonic() < deadline, f"still connected to the old primary: {left}"
            async with httpx.AsyncClient(base_url=served.url, timeout=10) as c:
                await c.get("/api/v1/wilayah", params={"parent": "16"}, headers=auth(key))
            await asyncio.sleep(0.2)

        # the new primary goes down; a takes writes again
        await asyncio.to_thread(b.stop, "immediate")
        await a.set_read_only(False)
        switch2 = await _post_through_switch(served.url, key, acked)
        assert set(acked) <= await _ids(a) | on_b

        for switch in (switch1, switch2):
            assert set(switch["statuses"]) <= {201, 503}, switch["statuses"]
            assert switch["slowest"] < 5, switch
        print(
            f"\nwrites follow the primary: after a demotion writes were stored again "
            f"{switch1['first_ok']:.1f} s later ({switch1['statuses'].count(503)} answers 503, slowest "
            f"{switch1['slowest']:.2f} s); after the new primary went down, {switch2['first_ok']:.1f} s "
            f"later ({switch2['statuses'].count(503)} answers 503, slowest {switch2['slowest']:.2f} s)"
        )
        assert "Traceback" not in served.output()
    finally:
        if served is not None:
            await asyncio.to_thread(served.stop)
        await asyncio.to_thread(a.remove)
        await asyncio.to_thread(b.remove)
