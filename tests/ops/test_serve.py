"""The service as an operator runs it, in its own processes: a revoked key stops working at
once in every worker; a database that is busy answers 503 with Retry-After, fast; stopping
`kumkm serve` with SIGTERM or SIGINT stops the embedded PostgreSQL it started, and a start
after a kill -9 finds and adopts the server left behind."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.common import asyncpg_params, auth
from tests.support.factories import umkm
from tests.support.problems import assert_problem
from tests.support.serve_helpers import Served, api_key, cli, environment


async def _fresh_get(url: str, key: str, n: int) -> list[int]:
    """n requests, each on a new connection, so that they land on every worker."""

    async def one():
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            return (await c.get("/api/v1/wilayah", params={"parent": "16"}, headers=auth(key))).status_code

    return await asyncio.gather(*(one() for _ in range(n)))


async def test_revoke_and_rotate_take_effect_at_once_in_every_worker(database_url, tmp_path):
    env = environment(database_url=database_url)
    served = await asyncio.to_thread(Served(env, "--workers", "2", log=tmp_path / "serve.log").wait_ready)
    try:
        key = await asyncio.to_thread(api_key, env, "--role", "dinas", "--wilayah", "16", "--name", "dinas-sumsel")
        for _ in range(3):  # every worker has looked the key up and holds it in its cache
            assert set(await _fresh_get(served.url, key, 24)) == {200}

        rotated = await asyncio.to_thread(cli, env, "apikey", "rotate", key[:14])
        assert rotated.returncode == 0, rotated.stderr
        new_key = rotated.stdout.strip().splitlines()[-1]
        assert set(await _fresh_get(served.url, key, 24)) == {401}  # grace 0: expired at once
        assert set(await _fresh_get(served.url, new_key, 24)) == {200}

        revoked = await asyncio.to_thread(cli, env, "apikey", "revoke", new_key[:14])
        assert revoked.returncode == 0, revoked.stderr
        assert set(await _fresh_get(served.url, new_key, 24)) == {401}  # the first request after it
    finally:
        await asyncio.to_thread(served.stop)


async def test_an_exhausted_pool_answers_503_with_retry_after_fast(database_url, tmp_path, keys, pg):
    """Every pooled connection is stuck behind a lock a maintenance job holds: further requests
    are told to come back (503, Retry-After) within the pool timeout, never a 500 after 30 s;
    so are the blocked writes themselves (no write waits longer, issue 27), and sent again once
    the lock is gone they are stored, each once."""
    env = environment(database_url=database_url, KUMKM_DB_POOL_SIZE=2, KUMKM_DB_POOL_TIMEOUT=0.5)
    served = await asyncio.to_thread(Served(env, log=tmp_path / "serve.log").wait_ready)
    key = await keys.make("enumerator", "16", name="enum-sumsel")
    blocker = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as c:
            assert (await c.get("/api/v1/wilayah", params={"parent": "16"}, headers=auth(key))).status_code == 200
            tr = blocker.transaction()
            await tr.start()
            await blocker.execute("LOCK TABLE rekap_status IN EXCLUSIVE MODE")

            async def post(record=None):
                t = time.monotonic()
                r = await c.post("/api/v1/submissions", json=record or umkm(), headers=auth(key))
                return r, time.monotonic() - t

            blocked = [umkm(), umkm()]

            stuck = [asyncio.create_task(post(record)) for record in blocked]
            await asyncio.sleep(0.5)  # both pooled connections now wait on the lock
            others = [umkm() for _ in range(6)]
            more = await asyncio.gather(*(post(record) for record in others))
            for r, took in more:
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "2"
                assert r.headers["content-type"] == "application/problem+json"
                assert "sibuk" in r.json()["detail"]
                assert took < 2.0
            for r, took in await asyncio.gather(*stuck):
                assert r.status_code == 503 and r.headers["retry-after"] == "2", r.text
                assert took < 2.0
            await tr.rollback()
            for record in blocked:  # the client's retry: stored once, whether or not it was
                r, _ = await post(record)
                assert r.status_code in (200, 201), r.text
            last = umkm()
            r = await c.post("/api/v1/submissions", json=last, headers=auth(key))
            assert r.status_code == 201
    finally:
        await blocker.close()
        await asyncio.to_thread(served.stop)
    # a 503 is no promise that nothing was stored (a write given up may commit later); its
    # client sends it again, as the two blocked ones were
    stored = {str(r[0]) for r in await pg.fetch("SELECT submission_id FROM submissions")}
    sure = {x["submission_id"] for x in [*blocked, last]}
    assert sure <= stored <= sure | {x["submission_id"] for x in others}
    assert "Traceback" not in served.output()


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="exercises the embedded server")
async def test_stopping_serve_stops_the_embedded_server_it_started(tmp_path):
    from app.infra import embedded

    # Not under pytest's own temporary root: pytest keeps that 0700, and the embedded server
    # runs as its own user (when the tests run as root), which must reach its data directory.
    data_dir = Path(tempfile.mkdtemp(prefix="kumkm-serve-test-"))
    data_dir.chmod(0o755)
    pgdata = data_dir / "pgdata"
    env = environment(data_dir=data_dir)

    def run(*args: str) -> Served:
        return Served(env, *args, log=tmp_path / "serve.log").wait_ready()

    try:
        for sig, args in ((signal.SIGTERM, ()), (signal.SIGINT, ()), (signal.SIGTERM, ("--workers", "2"))):
            served = await asyncio.to_thread(run, *args)
            assert embedded.running_pid(pgdata) is not None
            code = await asyncio.to_thread(served.signal, sig)
            assert code == 0, served.output()
            assert embedded.running_pid(pgdata) is None, f"{sig!r} {args}: PostgreSQL left running"

        # kill -9: nothing in the process runs, so the server stays; the next start adopts it
        served = await asyncio.to_thread(run)
        postmaster = embedded.running_pid(pgdata)
        await asyncio.to_thread(served.signal, signal.SIGKILL)
        assert embedded.running_pid(pgdata) == postmaster
        served = await asyncio.to_thread(run, "--host", "0.0.0.0")
        assert embedded.running_pid(pgdata) == postmaster
        assert "forgot 1 handle" in served.output()
        # a service on a public address says at start that /metrics is closed, and keeps it so
        assert "/metrics is closed" in served.output()
        assert_problem(httpx.get(f"{served.url}/metrics"), "forbidden")
        assert await asyncio.to_thread(served.signal, signal.SIGTERM) == 0
        assert embedded.running_pid(pgdata) is None

        # kill -9 and no new start: the operator's command stops the leftover server
        served = await asyncio.to_thread(run)
        await asyncio.to_thread(served.signal, signal.SIGKILL)
        status = await asyncio.to_thread(cli, env, "db", "status")
        assert status.returncode == 0 and "running" in status.stdout
        stopped = await asyncio.to_thread(cli, env, "db", "stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
        assert embedded.running_pid(pgdata) is None
        status = await asyncio.to_thread(cli, env, "db", "status")
        assert status.returncode == 3 and "not running" in status.stdout
    finally:
        embedded.stop(pgdata)
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_serve_reload_runs_a_watched_worker_and_stops_cleanly(database_url, tmp_path):
    """`./dev serve --reload` (the README's development loop): a reloader process serving
    through a child it restarts on changes; SIGTERM ends both."""
    import psutil

    env = environment(database_url=database_url)
    served = await asyncio.to_thread(Served(env, "--reload", log=tmp_path / "serve.log").wait_ready)
    try:
        children = psutil.Process(served.proc.pid).children(recursive=True)
        assert children, served.output()
        async with httpx.AsyncClient(base_url=served.url) as c:
            assert (await c.get("/healthz")).status_code == 200
        assert await asyncio.to_thread(served.signal, signal.SIGTERM) == 0, served.output()
        await asyncio.to_thread(psutil.wait_procs, children, 30)
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children)
    finally:
        await asyncio.to_thread(served.stop)


def test_serve_says_what_each_option_does_and_refuses_reload_with_workers(database_url):
    env = environment(database_url=database_url)
    helped = cli(env, "serve", "--help")
    assert helped.returncode == 0
    from app.cli import build_parser

    serve = next(a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "serve")[1]
    for action in serve._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, action.option_strings  # every option has its sentence
            assert action.option_strings[-1] in helped.stdout
    for option in ("--reload", "--workers", "--forwarded-allow-ips", "--root-path"):
        assert option in helped.stdout
    both = cli(env, "serve", "--reload", "--workers", "2")
    assert both.returncode == 2 and "--reload runs one process" in both.stderr
