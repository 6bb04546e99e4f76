"""Failover: a primary with a synchronous standby; four enumerator apps post batches and single
records and a verifikator decides, the primary's postmaster is SIGKILLed, the standby is
promoted with `kumkm replica promote`, and the service — given both hosts in DATABASE_URL —
carries on. Afterwards every acknowledged record and decision is there exactly once, capaian
equals a recount, and the walidata's cursors from before the failover (a feed position and a
snapshot's) continue the change feed with every change exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time

import httpx
import orjson
import pytest

from app.infra import embedded
from tests.support.common import ARTIFACTS, Keys, auth
from tests.support.factories import umkm
from tests.support.ha_helpers import (
    Load,
    LocalHA,
    SupervisedHA,
    assert_reports_and_feed_whole,
    connect_dir,
    enumerator,
    feed_to_end,
    refuses_writes,
    writable,
)
from tests.support.serve_helpers import Served, api_key, cli
from tests.support.verification_helpers import assert_consistent

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="makes a primary and a standby of its own from the embedded binaries"
)

CLIENTS = 4


async def _verifikator(c: httpx.AsyncClient, key: str, load: Load) -> None:
    while not load.stop.is_set():
        try:
            sid = await asyncio.wait_for(load.to_decide.get(), 0.2)
        except TimeoutError:
            continue
        status = random.choice(["diterima", "ditolak"])
        body = {"status": status, "version": 1}
        if status == "ditolak":
            body["alasan_kode"] = "data_tidak_lengkap"
        while True:
            try:
                r = await c.post(f"/api/v1/submissions/{sid}/verifikasi", json=body, headers=auth(key))
            except httpx.HTTPError:
                r = None
            if r is not None and r.status_code == 200:
                # a retried decision that had committed unacknowledged answers replay: true
                load.decided[sid] = status
                break
            assert r is None or r.status_code == 503, r.text
            load.failures += 1
            await asyncio.sleep(0.05)


async def test_failover_keeps_every_acknowledged_write_and_the_feed_exactly_once(tmp_path):
    ha = await asyncio.to_thread(LocalHA, synchronous=True)  # migrating runs an event loop of its own
    served = None
    try:
        assert "synchronous: a commit is acknowledged once this standby has it" in ha.create_output
        served = Served(ha.env(database_url=ha.failover_url), log=tmp_path / "serve.log").wait_ready()
        keys = Keys(ha.primary_url)
        enums = [await keys.make("enumerator", "16.07", name=f"enum-{i}") for i in range(CLIENTS)]
        verif = await keys.make("verifikator", "16.07", name="verif-banyuasin")
        dinas = await keys.make("dinas", "16", name="dinas-sumsel")
        walidata = await keys.make("walidata", name="kemenkop", pii=True)
        load = Load()
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as c:
            tasks = [asyncio.create_task(enumerator(c, k, i, load)) for i, k in enumerate(enums)]
            tasks.append(asyncio.create_task(_verifikator(c, verif, load)))
            await asyncio.sleep(2)
            # The walidata's cursors from before the failover: the feed at its head, and a snapshot.
            before, cursor = await feed_to_end(c, walidata, None)
            r = await c.get("/api/v1/sync/snapshot", headers=auth(walidata))
            assert r.status_code == 200, r.text
            *snapshot, snap_end = [orjson.loads(line) for line in r.content.splitlines()]
            assert snapshot and before
            await asyncio.sleep(1)

            load.kill_at = time.monotonic()
            ha.kill_primary()
            promoted = await asyncio.to_thread(cli, ha.env(), "replica", "promote", "--data-dir", str(ha.standby_dir))
            assert promoted.returncode == 0, promoted.stdout + promoted.stderr
            promoted_at = time.monotonic()
            deadline = time.monotonic() + 60
            while load.first_write_after_kill is None:
                assert time.monotonic() < deadline, "no write succeeded within 60 s of the promotion"
                await asyncio.sleep(0.05)
            await asyncio.sleep(2)
            load.stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 120)

            recovery = load.first_write_after_kill - load.kill_at
            print(
                f"\nfailover: kill -> first successful write {recovery:.2f} s "
                f"(promotion took {promoted_at - load.kill_at:.2f} s); {len(load.acked)} records and "
                f"{len(load.decided)} decisions acknowledged; {load.failures} answers to retry"
            )
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "failover.json").write_text(
                json.dumps(
                    {
                        "kill_to_first_write_seconds": round(recovery, 3),
                        "kill_to_promoted_seconds": round(promoted_at - load.kill_at, 3),
                        "records": len(load.acked),
                        "decisions": len(load.decided),
                        "retried": load.failures,
                    }
                )
            )
            assert load.failures > 0, "the kill was felt by the clients"

            pg = await ha.connect_standby()  # the new primary
            try:
                assert not await pg.fetchval("SELECT pg_is_in_recovery()")
                # every acknowledged record exactly once, and nothing that was not acknowledged
                rows = await pg.fetch("SELECT submission_id::text AS sid, status FROM submissions")
                assert sorted(r["sid"] for r in rows) == sorted(load.acked)
                status = {r["sid"]: r["status"] for r in rows}
                for sid, decision in load.decided.items():
                    assert status[sid] == decision
                decisions = await pg.fetch(
                    "SELECT submission_id::text AS sid, ke, count(*) AS n FROM submission_history WHERE aksi = 'diverifikasi' GROUP BY 1, 2"
                )
                assert {r["sid"]: (r["ke"], r["n"]) for r in decisions} == {sid: (d, 1) for sid, d in load.decided.items()}
                await assert_consistent(pg)

                # capaian equals a recount; the feed held across the failover and the snapshot's
                # cursor: every change, and every record, exactly once
                rest = await assert_reports_and_feed_whole(
                    c, pg, load, dinas=dinas, walidata=walidata, cursor=cursor, before=before, snapshot=snapshot, snap_end=snap_end
                )
                decided_after = {(x["submission_id"], x["status"]) for x in rest if x["jenis_perubahan"] == "status"}
                assert len(decided_after) == sum(1 for x in rest if x["jenis_perubahan"] == "status")
            finally:
                await pg.close()
    finally:
        if served is not None:
            served.stop()
        await asyncio.to_thread(ha.close)


# ------------------------------------------------------------------ split brain (issue 27, part 1)


async def test_an_old_primary_its_supervisor_restarted_is_fenced_by_the_promotion(tmp_path):
    """The split brain as an operator met it: the primary under `kumkm serve` is killed, its
    supervisor restarts it in a moment, before the standby is promoted, and the two-host service
    went back to it (first in its URL): two primaries, and every write hung on commits waiting
    for a synchronous standby that had become a primary. Now the promotion fences the restarted
    old primary: it takes no write (also after it is killed and restarted again), writes
    resume on the new primary, none waits past the bound, none acknowledged is lost."""
    ha = await asyncio.to_thread(SupervisedHA, tmp_path, pool_timeout=3)
    try:
        keys = [
            await asyncio.to_thread(api_key, ha.service_env, "--role", "enumerator", "--wilayah", "16.07", "--name", f"enum-{i}")
            for i in range(3)
        ]
        load = Load()
        async with httpx.AsyncClient(base_url=ha.service.url, timeout=60) as c:
            tasks = [asyncio.create_task(enumerator(c, k, i, load)) for i, k in enumerate(keys)]
            try:
                await asyncio.sleep(2)
                load.kill_at = time.monotonic()
                first = ha.postmaster()
                os.kill(first, signal.SIGKILL)
                await ha.restarted(first)  # before anyone promotes: the order
                promoted = await asyncio.to_thread(cli, ha.env, "replica", "promote", "--data-dir", str(ha.standby_dir))
                assert promoted.returncode == 0, promoted.stdout + promoted.stderr
                promoted_at = time.monotonic()
                deadline = promoted_at + 30
                while load.first_write_after(promoted_at) is None:
                    assert time.monotonic() < deadline, f"no write acknowledged within 30 s of the promotion: {load.statuses}"
                    await asyncio.sleep(0.1)
                # never two primaries: the restarted old one takes no write ...
                assert not await writable(ha.primary_dir), "split brain: the old primary takes writes"
                assert await refuses_writes(ha.primary_dir)
                assert await writable(ha.standby_dir)
                # ... nor after another crash and its supervisor's restart
                again = ha.postmaster()
                os.kill(again, signal.SIGKILL)
                await ha.restarted(again)
                assert not await writable(ha.primary_dir), "a restart made the fenced old primary writable"
                await asyncio.sleep(1)
                load.stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks), 120)
            finally:
                for task in tasks:
                    task.cancel()
        print(
            f"\nsplit brain: kill -> restarted -> promoted; first write on the new primary "
            f"{load.first_write_after(promoted_at) - load.kill_at:.2f} s after the kill; slowest answer "
            f"{load.slowest:.2f} s; answers {load.statuses}"
        )
        assert load.slowest < 3 + 3, f"a write waited {load.slowest:.1f} s (bound: KUMKM_DB_POOL_TIMEOUT=3)"
        assert "fenced the old primary" in promoted.stdout, promoted.stdout
        new = await connect_dir(ha.standby_dir)
        try:
            stored = {str(r[0]) for r in await new.fetch("SELECT submission_id FROM submissions")}
        finally:
            await new.close()
        assert stored == set(load.acked), "an acknowledged record is missing, or one was never sent"
        # it says so
        status = await asyncio.to_thread(cli, ha.env, "replica", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "FENCED" in status.stdout and f"kumkm replica rejoin --data-dir {ha.primary_dir}" in status.stdout
        said = await asyncio.to_thread(cli, ha.env, "db", "status")
        assert said.returncode == 0 and "FENCED" in said.stdout, said.stdout + said.stderr
        deadline = time.monotonic() + 10
        while "FENCED" not in ha.primary.output():  # the supervisor's log
            assert time.monotonic() < deadline, ha.primary.output()[-4000:]
            await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(ha.close)


@pytest.mark.parametrize("frozen", ["postmaster", "supervisor"])
async def test_an_old_primary_the_promotion_cannot_reach_fences_itself(tmp_path, frozen):
    """`replica promote` cannot reach the old primary (frozen: its postmaster stopped, or its
    supervisor stopped while the postmaster is killed); the old primary's own side fences it
    as soon as it runs again: its supervisor's look every second, or the check before its
    restart, so it comes up read-only."""
    ha = await asyncio.to_thread(SupervisedHA, tmp_path, service=False)
    try:
        pid = ha.postmaster()
        if frozen == "postmaster":
            os.kill(pid, signal.SIGSTOP)
        else:
            os.kill(ha.primary.proc.pid, signal.SIGSTOP)
            os.kill(pid, signal.SIGKILL)
        try:
            promoted = await asyncio.to_thread(cli, ha.env, "replica", "promote", "--data-dir", str(ha.standby_dir))
        finally:
            os.kill(pid if frozen == "postmaster" else ha.primary.proc.pid, signal.SIGCONT)
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        assert "could not be reached to fence it" in promoted.stderr, promoted.stderr
        if frozen == "supervisor":
            await ha.restarted(pid)
        deadline = time.monotonic() + 10
        while await writable(ha.primary_dir):
            assert frozen == "postmaster", "restarted writable: the check before the start did not fence it"
            assert time.monotonic() < deadline, "the old primary is still writable 10 s after it runs again"
            await asyncio.sleep(0.2)
        why = embedded.fenced(ha.primary_dir)
        assert why is not None and why["promoted"] == str(ha.standby_dir) and "old primary's side" in why["by"]
        deadline = time.monotonic() + 10
        while "FENCED" not in ha.primary.output():  # the supervisor's log
            assert time.monotonic() < deadline, ha.primary.output()[-4000:]
            await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(ha.close)


# ------------------------------------------------------------------ no write waits past the bound


async def test_a_write_the_synchronous_standby_never_confirms_is_answered_503_within_the_pool_timeout(tmp_path):
    """The synchronous standby is gone and nobody promotes: every commit would wait for it for
    ever (statement_timeout does not cover that wait). A single record, a batch and a decision
    are each answered 503 with Retry-After after KUMKM_DB_POOL_TIMEOUT, never 2xx; sent again
    once the standby is back, they are stored, each exactly once."""
    ha = await asyncio.to_thread(LocalHA, synchronous=True)
    served = None
    try:
        served = await asyncio.to_thread(
            Served(ha.env(database_url=ha.failover_url, KUMKM_DB_POOL_TIMEOUT=2), log=tmp_path / "serve.log").wait_ready
        )
        keys = Keys(ha.primary_url)
        enum = await keys.make("enumerator", "16.07", name="enum-bound")
        verif = await keys.make("verifikator", "16.07", name="verif-bound")
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as c:
            decided = umkm(kode_wilayah="16.07.01.2001")
            r = await c.post("/api/v1/submissions", json=decided, headers=auth(enum))
            assert r.status_code == 201, r.text
            await asyncio.to_thread(embedded.stop, ha.standby_dir)
            single = umkm(kode_wilayah="16.07.01.2001")
            batch = [umkm(kode_wilayah="16.07.01.2001") for _ in range(3)]
            requests = [
                ("/api/v1/submissions", single, enum),
                ("/api/v1/submissions/batch", {"items": batch}, enum),
                (f"/api/v1/submissions/{decided['submission_id']}/verifikasi", {"status": "diterima", "version": 1}, verif),
            ]
            for _ in range(2):  # the second time too: nothing is left hanging behind the first
                for path, body, key in requests:
                    sent = time.monotonic()
                    r = await c.post(path, json=body, headers=auth(key))
                    took = time.monotonic() - sent
                    assert r.status_code == 503, f"{path}: {r.status_code} {r.text}"
                    assert r.headers["retry-after"] == "2"
                    assert took < 2 + 1.5, f"{path} waited {took:.1f} s (bound: 2 s)"
            back = await asyncio.to_thread(cli, ha.env(), "replica", "create", "--data-dir", str(ha.standby_dir), "--synchronous")
            assert back.returncode == 0, back.stdout + back.stderr
            for path, body, key in requests:
                r = await c.post(path, json=body, headers=auth(key))
                assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text}"
        pg = await ha.connect_primary()
        try:
            ids = [str(x) for x in [single["submission_id"], *(b["submission_id"] for b in batch), decided["submission_id"]]]
            counts = dict(
                await pg.fetch("SELECT submission_id::text, count(*) FROM submissions WHERE submission_id::text = ANY($1) GROUP BY 1", ids)
            )
            assert counts == dict.fromkeys(ids, 1)
            assert await pg.fetchval("SELECT status FROM submissions WHERE submission_id = $1", decided["submission_id"]) == "diterima"
            await assert_consistent(pg)
        finally:
            await pg.close()
    finally:
        if served is not None:
            served.stop()
        await asyncio.to_thread(ha.close)


async def test_a_replay_of_a_write_the_standby_does_not_have_is_not_acknowledged(tmp_path):
    """A batch whose commit never reached the synchronous standby (503) becomes visible on the
    primary when the wait ends there another way: here a kill and crash recovery (its
    supervisor restarts it). Sent again, its records are found: answered "duplicate" at once,
    they would be acknowledged while only this primary has them, and a failover would lose them.
    The replay waits for the standby like any commit: 503 while it is away, 200 once it has them."""
    ha = await asyncio.to_thread(SupervisedHA, tmp_path, pool_timeout=2)
    try:
        key = await asyncio.to_thread(api_key, ha.service_env, "--role", "enumerator", "--wilayah", "16.07", "--name", "enum-replay")
        batch = {"items": [umkm(kode_wilayah="16.07.01.2001") for _ in range(3)]}
        async with httpx.AsyncClient(base_url=ha.service.url, timeout=30) as c:
            await asyncio.to_thread(embedded.stop, ha.standby_dir)
            r = await c.post("/api/v1/submissions/batch", json=batch, headers=auth(key))
            assert r.status_code == 503, r.text
            first = ha.postmaster()
            os.kill(first, signal.SIGKILL)  # the waiting commit is on its disk: recovered, visible
            await ha.restarted(first)
            conn = await connect_dir(ha.primary_dir)
            try:
                ids = [i["submission_id"] for i in batch["items"]]
                assert await conn.fetchval("SELECT count(*) FROM submissions WHERE submission_id::text = ANY($1)", ids) == 3
            finally:
                await conn.close()
            waited = 0.0
            for _ in range(4):  # the first may meet a connection to the killed server
                sent = time.monotonic()
                r = await c.post("/api/v1/submissions/batch", json=batch, headers=auth(key))
                assert r.status_code == 503, f"a replay acknowledged without the standby: {r.status_code} {r.text}"
                waited = max(waited, time.monotonic() - sent)
            assert waited >= 1.9, "the replay never waited for the standby"
            back = await asyncio.to_thread(cli, ha.env, "replica", "create", "--data-dir", str(ha.standby_dir), "--synchronous")
            assert back.returncode == 0, back.stdout + back.stderr
            r = await c.post("/api/v1/submissions/batch", json=batch, headers=auth(key))
            assert r.status_code == 200 and {i["outcome"] for i in r.json()["items"]} == {"duplicate"}, r.text
        conn = await connect_dir(ha.standby_dir)
        try:
            assert await conn.fetchval("SELECT count(*) FROM submissions WHERE submission_id::text = ANY($1)", ids) == 3
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(ha.close)
