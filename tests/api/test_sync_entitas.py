"""The walidata's entity feed and entity snapshot (GET /api/v1/sync/entitas/...): the record
feed's exactly-once rules over kumkm_peristiwa, cursor resume, scope, masking, the snapshot
equal to a replay of the feed, and the access log."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from app.sync.cursor import Cursor, EntitasCursor, Snapshot
from app.sync.schemas import EndLine, Entitas, EntitasLine
from tests.support.common import asyncpg_params, auth
from tests.support.helpers import post_records, submission_ids
from tests.support.problems import assert_problem
from tests.support.sync_helpers import (
    ENTITAS_FEED,
    ENTITAS_SNAPSHOT,
    FEED,
    db_changes,
    db_peristiwa,
    event_of,
    key_of,
    pull,
    pull_all,
    raw_create,
    raw_decide,
    raw_entity,
    raw_link,
    raw_merge,
    snapshot,
    sync_connections,  # noqa: F401 (an autouse fixture)
)
from tests.support.verification_helpers import decide

# The records are linked by the test itself (as the linker does), never by the service's.
pytestmark = pytest.mark.usefixtures("linker_paused")


async def _epull(client, key, after=None, limit=1000):
    return await pull(client, key, after, limit, path=ENTITAS_FEED)


async def _epull_all(client, key, after=None, limit=1000):
    return await pull_all(client, key, after, limit, path=ENTITAS_FEED)


async def _esnapshot(client, key):
    return await snapshot(client, key, path=ENTITAS_SNAPSHOT)


async def _accepted(client, enum_key, verif, n, **over) -> list[str]:
    ids = submission_ids(await post_records(client, enum_key, n, **over))
    for sid in ids:
        assert (await decide(client, verif, sid, "diterima")).status_code == 200
    return ids


def _replay(lines: list[dict], into: dict | None = None) -> dict:
    """The consumer's copy: every line's entity stored under its id, in feed order."""
    copy = dict(into or {})
    for ln in lines:
        if ln["entitas"] is not None:
            copy[ln["entitas"]["id_kumkm"]] = ln["entitas"]
    return copy


async def test_events_in_order_with_the_entitys_state_and_every_cursor_resumes(client, enum_key, verif, walidata, pg):
    ids = await _accepted(client, enum_key, verif, 3)
    async with pg.transaction():
        a = await raw_link(pg, ids[:2])
    async with pg.transaction():
        b = await raw_link(pg, ids[2:])
    lines, end = await _epull(client, walidata)
    assert [(ln["id_kumkm"], ln["aksi"]) for ln in lines] == [
        (a, "dibuat"),
        (a, "ditautkan"),
        (a, "ditautkan"),
        (b, "dibuat"),
        (b, "ditautkan"),
    ]
    for ln in lines:
        EntitasLine.model_validate(ln)
        assert ln["jenis"] == "umkm" and ln["oleh"] == "sistem" and ln["alasan"] is None
        Entitas.model_validate(ln["entitas"])
    assert [ln["detail"]["submission_id"] for ln in lines if ln["aksi"] == "ditautkan"] == ids
    assert lines[0]["entitas"] == {
        **lines[0]["entitas"],
        "id_kumkm": a,
        "kode_provinsi": "16",
        "kode_kabkota": "16.07",
        "versi": 2,
        "digabung_ke": None,
        "submission_ids": sorted(ids[:2]),
    }
    EndLine.model_validate(end)
    assert end["count"] == 5 and end["more"] is False and end["cursor"] == lines[-1]["cursor"]
    assert [event_of(ln) for ln in lines] == await db_peristiwa(pg)
    # limit pages; every line's cursor resumes right after it
    first, end3 = await _epull(client, walidata, limit=3)
    assert first == lines[:3] and end3["more"] is True
    for i, ln in enumerate(lines):
        rest, _ = await _epull(client, walidata, ln["cursor"])
        assert rest == lines[i + 1 :]
    again, end2 = await _epull(client, walidata, end["cursor"])
    assert again == [] and end2["cursor"] == end["cursor"]


async def test_a_cursor_of_one_feed_is_refused_by_the_other(client, enum_key, walidata):
    await post_records(client, enum_key, 1)
    records, _ = await pull(client, walidata)
    for bad in (records[0]["cursor"], Cursor(5, 1).encode(), "bm90LWEtY3Vyc29y"):
        r = await client.get(ENTITAS_FEED, params={"after": bad}, headers=auth(walidata))
        assert_problem(r, "invalid-input")
        assert r.json()["errors"][0]["field"] == "after"
    r = await client.get(FEED, params={"after": EntitasCursor(5, 1).encode()}, headers=auth(walidata))
    assert_problem(r, "invalid-input")


async def test_a_transaction_that_commits_late_is_not_passed(client, enum_key, verif, walidata, database_url):
    ids = await _accepted(client, enum_key, verif, 2)
    slow = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        tr = slow.transaction()
        await tr.start()
        await slow.fetchval("SELECT pg_current_xact_id()")  # its id is smaller than any later one
        fast = await asyncpg.connect(**asyncpg_params(database_url))
        try:
            async with fast.transaction():
                later = await raw_link(fast, ids[1:])
        finally:
            await fast.close()
        early = await raw_link(slow, ids[:1])
        lines, end = await _epull(client, walidata)
        assert lines == [] and end["count"] == 0  # the later commit waits behind the open one
        await tr.commit()
    finally:
        await slow.close()
    rest, _ = await _epull(client, walidata, end["cursor"])
    assert [(ln["id_kumkm"], ln["aksi"]) for ln in rest] == [
        (early, "dibuat"),
        (early, "ditautkan"),
        (later, "dibuat"),
        (later, "ditautkan"),
    ]


async def test_exactly_once_under_concurrent_linkers_and_random_resumes(client, keys, walidata, database_url, pg):
    """Linkers in transactions that take their id early and commit late, merges, aborted
    transactions, and decisions meanwhile; a consumer of both feeds resumes from random
    cursors. Each feed's sequence is the same whatever cursor it resumes from, and at the end it
    is every event (change) once, in (xid, id) order; every linking is in the record feed once."""
    rnd = random.Random(20261206)
    conns = [await asyncpg.connect(**asyncpg_params(database_url)) for _ in range(4)]
    ids = []
    async with conns[0].transaction():
        for _ in range(60):
            sid = await raw_create(conns[0])
            await raw_decide(conns[0], sid, "diterima")
            ids.append(sid)
    todo = list(ids)
    stop = asyncio.Event()
    entities: list[str] = []

    async def linker(conn):
        while todo:
            batch = [todo.pop() for _ in range(min(len(todo), rnd.randint(1, 4)))]
            async with conn.transaction():
                await conn.fetchval("SELECT pg_current_xact_id()")
                await asyncio.sleep(rnd.random() * 0.03)  # others commit meanwhile
                entities.append(await raw_link(conn, batch))
                if len(entities) > 3 and rnd.random() < 0.3:
                    retired, survivor = rnd.sample(entities[:-1], 2)
                    if await conn.fetchval("SELECT digabung_ke IS NULL FROM kumkm WHERE id_kumkm = $1", retired) and await conn.fetchval(
                        "SELECT digabung_ke IS NULL FROM kumkm WHERE id_kumkm = $1", survivor
                    ):
                        await raw_merge(conn, retired, survivor)
                await asyncio.sleep(rnd.random() * 0.02)

    async def aborter(conn):
        for _ in range(5):
            tr = conn.transaction()
            await tr.start()
            await raw_entity(conn)
            await asyncio.sleep(0.02)
            await tr.rollback()  # never delivered

    logs: dict[str, list] = {ENTITAS_FEED: [], FEED: []}
    cursors: dict[str, list[tuple[str, int]]] = {ENTITAS_FEED: [("", 0)], FEED: [("", 0)]}
    # a change's key with its id (a record linked, then moved by a merge, has two alike)
    keyfn = {ENTITAS_FEED: event_of, FEED: lambda ln: (*key_of(ln), Cursor.decode(ln["cursor"]).id)}

    async def consumer(path):
        pulls = 0
        log, cur = logs[path], cursors[path]
        while not stop.is_set() or pulls < 3:
            pulls += 1
            c, pos = rnd.choice(cur) if rnd.random() < 0.5 else cur[-1]
            lines, end = await pull(client, walidata, c or None, rnd.randint(1, 25), path=path)
            for i, ln in enumerate(lines):
                k = keyfn[path](ln)
                if pos + i < len(log):
                    assert log[pos + i] == k, "a resumed pull disagrees with an earlier one"
                else:
                    log.append(k)
                cur.append((ln["cursor"], pos + i + 1))
            cur.append((end["cursor"], pos + len(lines)))
            await asyncio.sleep(rnd.random() * 0.01)

    try:
        consumers = [asyncio.create_task(consumer(p)) for p in (ENTITAS_FEED, FEED)]
        await asyncio.gather(*(linker(c) for c in conns[:3]), aborter(conns[3]))
        stop.set()
        await asyncio.gather(*consumers)
    finally:
        for c in conns:
            await c.close()
    changes = [(*k, r["id"]) for k, r in zip(await db_changes(pg), await pg.fetch("SELECT id FROM changes ORDER BY xid, id"), strict=True)]
    for path, expected in ((ENTITAS_FEED, await db_peristiwa(pg)), (FEED, changes)):
        log = logs[path]
        c, pos = max(cursors[path], key=lambda x: x[1])
        rest, _ = await pull_all(client, walidata, c, 97, path=path)
        for i, ln in enumerate(rest):
            if pos + i < len(log):
                assert log[pos + i] == keyfn[path](ln)
            else:
                log.append(keyfn[path](ln))
        assert len(log) == len(set(log)), f"{path}: an event was delivered twice"
        assert log == expected
    linked = [k for k in logs[FEED] if k[2] == "ditautkan"]
    # every record once when linked, and once more each time a merge moved it (both entities'
    # digabung events list the records moved)
    moved = await pg.fetchval(
        "SELECT coalesce(sum(jsonb_array_length(detail->'submission_ids')), 0) / 2 FROM kumkm_peristiwa WHERE aksi = 'digabung'"
    )
    assert len(linked) == len(ids) + moved and {k[0] for k in linked} == set(ids)
    assert await pg.fetchval("SELECT count(*) FROM kumkm_peristiwa WHERE aksi = 'dibuat'") == len(entities)


async def test_snapshot_equals_a_replay_of_the_feed_and_continues_it_under_writes(client, enum_key, verif, walidata, database_url, pg):
    ids = await _accepted(client, enum_key, verif, 6)
    async with pg.transaction():
        a = await raw_link(pg, ids[:2])
        b = await raw_link(pg, ids[2:4])
    async with pg.transaction():
        await raw_merge(pg, b, a)
    entities, cursor = await _esnapshot(client, walidata)
    for e in entities:
        Entitas.model_validate(e)
    by_id = {e["id_kumkm"]: e for e in entities}
    assert by_id[b]["digabung_ke"] == a and by_id[b]["submission_ids"] == []
    assert by_id[a]["submission_ids"] == sorted(ids[:4]) and by_id[a]["digabung_ke"] is None
    full, _ = await _epull_all(client, walidata)
    assert _replay(full) == by_id
    assert (await _epull(client, walidata, cursor))[0] == []

    # a linker in flight while the snapshot is taken, one that committed after it began
    slow = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        tr = slow.transaction()
        await tr.start()
        await slow.fetchval("SELECT pg_current_xact_id()")
        async with pg.transaction():
            c = await raw_link(pg, ids[4:5])
        snap, snap_cursor = await _esnapshot(client, walidata)
        assert c in {e["id_kumkm"] for e in snap} and EntitasCursor.decode(snap_cursor).snapshot is not None
        d = await raw_link(slow, ids[5:])
        await tr.commit()
    finally:
        await slow.close()
    after, _ = await _epull_all(client, walidata, snap_cursor)
    assert [(ln["id_kumkm"], ln["aksi"]) for ln in after] == [(d, "dibuat"), (d, "ditautkan")]
    final, _ = await _esnapshot(client, walidata)
    assert _replay(after, {e["id_kumkm"]: e for e in snap}) == {e["id_kumkm"]: e for e in final}
    # the feed's assembled lines (a snapshot cursor skipping what it saw) equal the SQL-built ones
    full2, _ = await _epull_all(client, walidata)
    skipped, _ = await _epull_all(client, walidata, EntitasCursor(0, 0, Snapshot(1, 2)).encode())
    assert skipped == full2
    assert _replay(full2) == {e["id_kumkm"]: e for e in final}


async def test_scope_roles_masking_and_the_access_log(client, keys, enum_key, verif, walidata, pg):
    ids = await _accepted(client, enum_key, verif, 2)
    palembang = await _accepted(client, enum_key, await keys.make("verifikator", "16.71", name="verif-plg"), 1, kode_wilayah="16.71")
    async with pg.transaction():
        ours = await raw_link(pg, ids)
        theirs = await raw_link(pg, palembang, kode_kabkota="16.71")
        # an event whose detail names personal data (the registry writes none today): a key
        # without personal data never gets it in the clear
        await pg.execute(
            "INSERT INTO kumkm_peristiwa (id_kumkm, aksi, oleh, detail) VALUES ($1, 'profil', 'sistem', "
            '\'{"sebelum": {"nik_pemilik": "1607015205850001", "nama_pemilik": "Siti Aminah"}}\')',
            ours,
        )
    full, _ = await _epull(client, walidata)
    assert len(full) == 6
    assert full[-1]["detail"]["sebelum"]["nik_pemilik"] == "1607015205850001"
    plain = await keys.make("walidata", name="bps-entitas")
    masked, _ = await _epull(client, plain)
    assert masked[:-1] == full[:-1]
    assert masked[-1]["detail"]["sebelum"] == {"nik_pemilik": "1607**********01", "nama_pemilik": "S*** A*****"}
    assert {k: v for k, v in masked[-1].items() if k != "detail"} == {k: v for k, v in full[-1].items() if k != "detail"}

    banyuasin = await keys.make("dinas", "16.07", name="dinas-banyuasin")
    lines, _ = await _epull(client, banyuasin)
    assert {ln["id_kumkm"] for ln in lines} == {ours}
    snap, _ = await _esnapshot(client, banyuasin)
    assert [e["id_kumkm"] for e in snap] == [ours]
    provinsi = await keys.make("dinas", "16", name="dinas-sumsel-entitas")
    assert {e["id_kumkm"] for e in (await _esnapshot(client, provinsi))[0]} == {ours, theirs}
    jambi = await keys.make("dinas", "15", name="dinas-jambi")
    assert (await _epull(client, jambi))[0] == [] and (await _esnapshot(client, jambi))[0] == []
    for role in ("enumerator", "verifikator"):
        k = await keys.make(role, "16.07", name=f"{role}-entitas")
        for path in (ENTITAS_FEED, ENTITAS_SNAPSHOT):
            assert_problem(await client.get(path, headers=auth(k)), "role-forbidden")

    logged = await pg.fetch("SELECT endpoint, rows FROM access_log WHERE endpoint LIKE '%/sync/entitas/%' ORDER BY id")
    assert ("GET /api/v1/sync/entitas/feed", 6) in [tuple(r) for r in logged]
    assert ("GET /api/v1/sync/entitas/snapshot", 1) in [tuple(r) for r in logged]
