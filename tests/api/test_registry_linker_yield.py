"""The background linker yields to the service's own work (app/registry/linker.py, docs/registry.md
"How the linker runs"): while requests keep the service busy it leaves accepted records waiting,
but never longer than KUMKM_LINKER_YIELD_SECONDS before it takes a batch; idle, it links at
once. What it does is visible on /healthz?details=true and the queue on /metrics."""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg

from app.infra.load import load
from app.registry.linker import LOAD_WINDOW
from tests.support.common import auth, eventually
from tests.support.factories import umkm


async def accept(client, enum, verif, records) -> None:
    r = await client.post("/api/v1/submissions/batch", json={"items": records}, headers=auth(enum))
    assert r.status_code == 200 and r.json()["created"] == len(records), r.text
    items = [{"submission_id": rec["submission_id"], "status": "diterima", "version": 1} for rec in records]
    r = await client.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(verif))
    assert r.status_code == 200 and {i["outcome"] for i in r.json()["items"]} == {"decided"}, r.text


async def linked(pg, records) -> int:
    return await pg.fetchval(
        "SELECT count(*) FROM kumkm_tautan WHERE submission_id = ANY($1::uuid[])", [r["submission_id"] for r in records]
    )


async def test_the_linker_yields_to_a_busy_service_within_its_bound(client, keys, pg, override_settings):
    override_settings(linker_yield_seconds=3.0)
    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    verif = await keys.make("verifikator", "16", name="verif-sumsel")
    busy = [umkm(periode="2024", nib=f"77700000000{i:02d}") for i in range(5)]
    # one request in flight all along (the live server runs in this process): on average at
    # least one, so the service is busy. Held for a whole load window before the records come,
    # so no look averages the idle time before it (a look at a window straddling enter() sees
    # less than one request on average, rightly idle, and links at once).
    load.enter()
    try:
        await asyncio.sleep(2 * LOAD_WINDOW)
        await accept(client, enum, verif, busy)
        accepted = time.monotonic()
        await asyncio.sleep(1.5)
        assert await linked(pg, busy) == 0, "the linker took a batch while the service was busy, before its bound"
        assert await pg.fetchval("SELECT count(*) FROM kumkm_antrian") == len(busy)
        r = await client.get("/healthz", params={"details": "true"})
        assert r.status_code == 200
        waiting = r.json()["linker"]
        # waiting for the service, and /healthz says so (how long is not asserted: a look that
        # sees another session holding the turn restarts the wait, by design)
        assert waiting["mengalah_s"] is not None, waiting
        # the bound: a batch is taken anyway, about 3 s after the records waited
        assert await eventually(lambda: linked(pg, busy), timeout=30) == len(busy)
        took = time.monotonic() - accepted
        assert 2.0 <= took < 15, took
        r = await client.get("/healthz", params={"details": "true"})
        assert r.json()["linker"]["dipaksa"] >= 1, r.json()
        # the test server is embedded, this host's and this user's: its batch backend is niced
        assert r.json()["linker"]["backend_nice"] is True, r.json()
        pids = [p for (p,) in await pg.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = 'kumkm-linker'")]
        assert pids and max(os.getpriority(os.PRIO_PROCESS, p) for p in pids) >= 10
    finally:
        load.leave()
    # idle: accepted records are linked within the poll, not the bound
    idle = [umkm(periode="2024", nib=f"77700000001{i:02d}") for i in range(5)]
    await accept(client, enum, verif, idle)
    accepted = time.monotonic()
    assert await eventually(lambda: linked(pg, idle), timeout=30) == len(idle)
    assert time.monotonic() - accepted < 2.9
    # the queue on /metrics: empty again, no lag
    r = await client.get("/metrics")
    assert r.status_code == 200
    lines = {ln.split(" ")[0]: float(ln.split(" ")[1]) for ln in r.text.splitlines() if ln.startswith("kumkm_linker_")}
    assert lines == {"kumkm_linker_antrian": 0.0, "kumkm_linker_lag_seconds": 0.0}, lines


async def test_a_wait_left_from_an_emptied_queue_does_not_force_a_batch(client, keys, pg, override_settings):
    """The linker counts a busy service's wait from what it saw; when the queue was emptied
    between two looks (another worker's linker, an operator's TRUNCATE), the wait of the new
    records starts with them, not with the old mark."""
    from app.registry.linker import keadaan

    override_settings(linker_yield_seconds=3.0)
    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    verif = await keys.make("verifikator", "16", name="verif-sumsel")
    fresh = [umkm(periode="2024", nib=f"77700000002{i:02d}") for i in range(3)]
    load.enter()
    try:
        await asyncio.sleep(2 * LOAD_WINDOW)
        keadaan.menunggu_sejak = time.monotonic() - 60  # a mark from a queue long gone
        await accept(client, enum, verif, fresh)
        await asyncio.sleep(1.5)
        assert await linked(pg, fresh) == 0, "a stale wait forced a batch of records that had just come"
        assert await eventually(lambda: linked(pg, fresh), timeout=30) == len(fresh)
    finally:
        load.leave()


async def test_healthz_stays_plain_without_details(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/healthz", params={"details": "true"})
    assert set(r.json()["linker"]) >= {"giliran", "mengalah_s", "batch_terakhir_s_lalu", "batas", "dipaksa", "backend_nice"}


async def test_a_turn_another_process_holds_is_seen(database_url, pg):
    """The look sees another process's turn in pg_locks (its bigint key as classid and objid):
    with several workers the queue gets one batch per bound, not one per worker."""
    from app.registry.linker import _LIHAT, KUNCI_LATAR
    from tests.support.common import asyncpg_params

    other = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        assert (await pg.fetchrow(_LIHAT))["lain"] is False
        await other.execute(f"SELECT pg_advisory_lock({KUNCI_LATAR})")
        assert (await pg.fetchrow(_LIHAT))["lain"] is True
        await other.execute(f"SELECT pg_advisory_unlock({KUNCI_LATAR})")
        assert (await pg.fetchrow(_LIHAT))["lain"] is False
    finally:
        await other.close()
