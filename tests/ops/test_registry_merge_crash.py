"""kill -9 during a merge (issue 29, bad input): a served `kumkm serve` is killed while its merge
transaction is held open half way (its links already moved, waiting for a candidate row this
test locks); after the restart nothing is half merged, and the merge then goes through whole."""

from __future__ import annotations

import asyncio
import signal

import asyncpg
import httpx
import pytest

from tests.support.common import asyncpg_params, auth, eventually
from tests.support.registry_helpers import accepted, assert_whole, entitas, kandidat, versi
from tests.support.serve_helpers import Served, environment


async def test_kill_9_during_a_merge_leaves_nothing_half_merged(database_url, tmp_path, pg, enum_key, verif):
    env = environment(database_url=database_url)
    served = await asyncio.to_thread(Served(env, log=tmp_path / "serve.log").wait_ready)
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
            a = await accepted(client, enum_key, verif, nama_usaha="Warung Sederhana")
            b = await accepted(client, enum_key, verif, nama_usaha="Warung Sederhana Jaya", periode="2023")
            c = await accepted(client, enum_key, verif, nama_usaha="Kedai Sederhana")
            ea, eb, ec = await entitas(pg, [a]), await entitas(pg, [b]), await entitas(pg, [c])
            kid = await kandidat(pg, ea, eb)
            other = await kandidat(pg, eb, ec, skor=0.85)  # re-pointed by the merge, late in it

            blocker = await asyncpg.connect(**asyncpg_params(database_url))
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("SELECT 1 FROM kumkm_kandidat WHERE id = $1 FOR UPDATE", other)
            merge = asyncio.create_task(
                client.post(f"/api/v1/kumkm/kandidat/{kid}/tautkan", json={"versi_a": 1, "versi_b": 1}, headers=auth(verif))
            )

            async def merge_waits():
                # the merge has moved the links and retired eb in its transaction, and now waits
                return await pg.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%kumkm_kandidat%' AND pid <> pg_backend_pid()"
                )

            assert await eventually(merge_waits), "the merge never reached the locked candidate"
            await asyncio.to_thread(served.signal, signal.SIGKILL)
            await tx.rollback()
            await blocker.close()
            with pytest.raises(httpx.HTTPError):
                await merge  # the connection died with the service: never acknowledged

            async def old_backend_gone():
                return (
                    await pg.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%kumkm_%' AND state <> 'idle' AND pid <> pg_backend_pid()"
                    )
                    == 0
                )

            assert await eventually(old_backend_gone)
        # nothing of the merge committed: every link where it was, both entities live at versi 1
        assert await pg.fetchval("SELECT digabung_ke FROM kumkm WHERE id_kumkm = $1", eb) is None
        assert (await versi(pg, ea), await versi(pg, eb)) == (1, 1)
        assert await pg.fetchval("SELECT id_kumkm FROM kumkm_tautan WHERE submission_id = $1", b["submission_id"]) == eb
        assert await pg.fetchval("SELECT status FROM kumkm_kandidat WHERE id = $1", kid) == "terbuka"
        assert await pg.fetchval("SELECT count(*) FROM kumkm_peristiwa WHERE aksi = 'digabung'") == 0
        await assert_whole(pg)

        # after a restart the same merge goes through, whole
        served = await asyncio.to_thread(Served(env, log=tmp_path / "serve2.log").wait_ready)
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
            r = await client.post(f"/api/v1/kumkm/kandidat/{kid}/tautkan", json={"versi_a": 1, "versi_b": 1}, headers=auth(verif))
            assert r.status_code == 200, r.text
        assert await pg.fetchval("SELECT count(*) FROM kumkm_tautan WHERE id_kumkm = $1", ea) == 2
        assert sorted(await pg.fetchrow("SELECT id_a, id_b FROM kumkm_kandidat WHERE id = $1", other)) == sorted([ea, ec])
        await assert_whole(pg)
    finally:
        await asyncio.to_thread(served.stop)
