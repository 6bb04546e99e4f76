"""The snapshot, snapshot-then-feed continuity, scope, personal data, bad input and the log."""

from __future__ import annotations

import asyncio
import csv
import io
import random

import asyncpg
import orjson
import pytest

from app.sync.cursor import Cursor
from app.sync.schemas import SyncRecord
from tests.support.common import asyncpg_params, auth, eventually
from tests.support.factories import umkm
from tests.support.helpers import post_one, post_records, submission_ids
from tests.support.problems import assert_problem
from tests.support.sync_helpers import (
    FEED,
    SNAPSHOT,
    bulk_records,
    pull,
    pull_all,
    raw_create,
    raw_decide,
    snapshot,
    sync_connections,  # noqa: F401 (an autouse fixture)
)

# These tests are about the record feed under ingest, decisions and corrections; the background
# linker would append its own `ditautkan` changes at moments of its choosing (between a snapshot
# and the feed read after it). Linking's feed lines are tested in test_sync_id_kumkm.py and
# test_sync_linker.py.
pytestmark = pytest.mark.usefixtures("linker_paused")


async def test_snapshot_streams_current_records_with_its_cursor(client, enum_key, walidata, pg):
    ids = submission_ids(await post_records(client, enum_key, 4))
    await post_records(client, enum_key, 2, periode="2023")
    records, cursor = await snapshot(client, walidata, periode="2022")
    assert sorted(r["submission_id"] for r in records) == sorted(ids)
    for r in records:
        SyncRecord.model_validate(r)
        assert r["status"] == "masuk" and r["pii_masked"] is False and r["data"]["periode"] == "2022"
    # Nothing happened since: the feed from the snapshot's cursor is empty.
    lines, _ = await pull(client, walidata, cursor)
    assert lines == []
    # A later change follows.
    later = submission_ids(await post_records(client, enum_key, 1))
    lines, _ = await pull(client, walidata, cursor)
    assert [ln["submission_id"] for ln in lines] == later


async def test_snapshot_sees_a_change_committed_after_an_older_one_in_flight(client, enum_key, walidata, database_url):
    """T1 is in flight when the snapshot is taken, T2 (larger id) committed before it: the
    snapshot holds T2 and not T1, so the feed from its cursor must give T1 and skip T2."""
    slow = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        tr = slow.transaction()
        await tr.start()
        await slow.fetchval("SELECT pg_current_xact_id()")
        t2 = submission_ids(await post_records(client, enum_key, 2))
        records, cursor = await snapshot(client, walidata)
        assert sorted(r["submission_id"] for r in records) == sorted(t2)
        assert Cursor.decode(cursor).snapshot is not None
        t1 = await raw_create(slow)
        await tr.commit()
    finally:
        await slow.close()
    lines, end = await pull_all(client, walidata, cursor)
    assert [ln["submission_id"] for ln in lines] == [t1]
    # T1 is below the snapshot's xmax: the cursor still carries the snapshot (T2 lies ahead).
    assert Cursor.decode(end).snapshot is not None
    later = submission_ids(await post_records(client, enum_key, 1))
    lines, end = await pull_all(client, walidata, end)
    assert [ln["submission_id"] for ln in lines] == later
    assert Cursor.decode(end).snapshot is None  # past the snapshot: a plain position again


async def test_snapshot_then_feed_under_concurrent_writes_is_exact(client, keys, walidata, database_url, pg):
    rnd = random.Random(7)
    enum = await keys.make("enumerator", "16", name="enum-snap")
    for _ in range(3):
        await post_records(client, enum, 20)

    async def writer():
        for _ in range(15):
            await post_records(client, enum, rnd.randint(1, 10))
            await asyncio.sleep(rnd.random() * 0.01)

    async def decider():
        conn = await asyncpg.connect(**asyncpg_params(database_url))
        try:
            for _ in range(25):
                async with conn.transaction():
                    sid = await conn.fetchval(
                        "SELECT submission_id::text FROM submissions WHERE status = 'masuk' ORDER BY random() LIMIT 1"
                    )
                    await asyncio.sleep(rnd.random() * 0.02)
                    if sid:
                        await raw_decide(conn, sid, rnd.choice(["diterima", "ditolak"]))
                await asyncio.sleep(rnd.random() * 0.01)
        finally:
            await conn.close()

    async def slow_writer():
        conn = await asyncpg.connect(**asyncpg_params(database_url))
        try:
            for _ in range(8):
                async with conn.transaction():
                    await conn.fetchval("SELECT pg_current_xact_id()")
                    await asyncio.sleep(rnd.random() * 0.05)
                    await raw_create(conn)
        finally:
            await conn.close()

    writers = asyncio.gather(*(writer() for _ in range(4)), decider(), slow_writer())
    await asyncio.sleep(0.15)
    records, cursor = await snapshot(client, walidata)
    # The consumer's copy: the snapshot, then every feed line applied in order.
    copy = {r["submission_id"]: r for r in records}
    created_in_feed: list[str] = []
    status_lines = 0
    while not writers.done():
        lines, end = await pull(client, walidata, cursor, limit=rnd.randint(1, 30))
        cursor = end["cursor"]
        for ln in lines:
            if ln["jenis_perubahan"] == "dibuat":
                created_in_feed.append(ln["submission_id"])
            status_lines += ln["jenis_perubahan"] == "status"
            copy[ln["submission_id"]] = ln["record"]
        await asyncio.sleep(0.01)
    await writers
    lines, _ = await pull_all(client, walidata, cursor)
    for ln in lines:
        if ln["jenis_perubahan"] == "dibuat":
            created_in_feed.append(ln["submission_id"])
        status_lines += ln["jenis_perubahan"] == "status"
        copy[ln["submission_id"]] = ln["record"]
    # Every record is in the snapshot or created in the feed, never both, never neither.
    in_snapshot = {r["submission_id"] for r in records}
    assert len(created_in_feed) == len(set(created_in_feed))
    assert not in_snapshot & set(created_in_feed)
    all_ids = {r[0] for r in await pg.fetch("SELECT submission_id::text FROM submissions")}
    assert in_snapshot | set(created_in_feed) == all_ids
    assert status_lines > 0
    # The copy equals the service's current records exactly.
    final, _ = await snapshot(client, walidata)
    assert copy == {r["submission_id"]: r for r in final}


async def test_snapshot_csv(client, enum_key, walidata):
    ids = submission_ids(await post_records(client, enum_key, 3))
    r = await client.get(SNAPSHOT, params={"format": "csv"}, headers=auth(walidata))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(row["submission_id"] for row in rows) == sorted(ids)
    assert rows[0]["status"] == "masuk" and rows[0]["kode_kabkota"] == "16.07"
    assert rows[0]["platform_digital"] == "true" and rows[0]["modal_usaha"] == "25000000"
    lines, _ = await pull(client, walidata, r.headers["x-sync-cursor"])
    assert lines == []


async def test_text_with_backslashes_quotes_and_line_breaks_arrives_as_stored(client, enum_key, walidata):
    """PostgreSQL builds the lines and COPY escapes them on the way; what the consumer gets must
    be the record's own text, byte for byte, whichever path built it."""
    awkward = {
        "nama_usaha": 'Toko "Maju" \\ Jaya\\n (bukan baris baru) ☕ ñ',
        "alamat": "Jl. Merdeka\nRT 01\tRW 02\r\\\\server\\path \u00e9 \U0001f600 \x7f",
    }
    ids = submission_ids(await post_records(client, enum_key, 3, **awkward))
    stored = (await client.get(f"/api/v1/submissions/{ids[0]}", headers=auth(walidata))).json()
    records, cursor = await snapshot(client, walidata)
    lines, _ = await pull(client, walidata)
    assert len(records) == len(lines) == 3
    for record in records + [ln["record"] for ln in lines]:
        assert record["data"]["nama_usaha"] == awkward["nama_usaha"]
        assert record["data"]["alamat"] == awkward["alamat"]
    assert {k: records[0]["data"][k] for k in awkward} == {k: stored["data"][k] for k in awkward}


async def test_records_follow_decisions_and_corrections_into_snapshot_and_feed(client, keys, enum_key, walidata, pg):
    """The line a walidata gets is rewritten by every decision and correction in the same
    statement: status, version, wilayah and content are those of GET, never an older state."""
    from tests.support.sync_helpers import STALE_LINES
    from tests.support.verification_helpers import KOTA_PALEMBANG, correct, decide, tolak

    verif = await keys.make("verifikator", "16.07", name="verif-banyuasin")
    accepted = await post_one(client, enum_key)
    rejected = await post_one(client, enum_key)
    moved = await post_one(client, enum_key)
    assert (await decide(client, verif, accepted["submission_id"], "diterima")).status_code == 200
    assert (await tolak(client, verif, rejected["submission_id"])).status_code == 200
    assert (await tolak(client, verif, moved["submission_id"])).status_code == 200
    r = await correct(client, enum_key, moved, kode_wilayah=KOTA_PALEMBANG, nama_usaha="Warung Pindah")
    assert r.status_code == 200, r.text
    assert await pg.fetch(STALE_LINES) == []

    records, _ = await snapshot(client, walidata)
    lines, _ = await pull(client, walidata)
    latest = {ln["submission_id"]: ln["record"] for ln in lines}  # the feed's record is current
    assert {r["submission_id"]: r for r in records} == latest
    for sid in (accepted["submission_id"], rejected["submission_id"], moved["submission_id"]):
        got = (await client.get(f"/api/v1/submissions/{sid}", headers=auth(walidata))).json()
        line = latest[sid]
        assert (line["status"], line["version"], line["kode_wilayah"], line["data"]) == (
            got["status"],
            got["version"],
            got["kode_wilayah"],
            got["data"],
        )
    assert latest[moved["submission_id"]]["kode_kabkota"] == "16.71"
    assert latest[moved["submission_id"]]["data"]["nama_usaha"] == "Warung Pindah"
    assert latest[accepted["submission_id"]]["status"] == "diterima"
    # A dinas of Banyuasin no longer gets the moved record; one of Palembang does.
    banyuasin = await keys.make("dinas", "16.07", name="dinas-banyuasin")
    palembang = await keys.make("dinas", "16.71", name="dinas-palembang")
    assert moved["submission_id"] not in {r["submission_id"] for r in (await snapshot(client, banyuasin))[0]}
    assert moved["submission_id"] in {r["submission_id"] for r in (await snapshot(client, palembang))[0]}


async def test_dinas_syncs_only_its_wilayah_and_other_roles_may_not(client, keys, enum_key):
    in_banyuasin = submission_ids(await post_records(client, enum_key, 2))
    in_palembang = submission_ids(await post_records(client, enum_key, 3, kode_wilayah="16.71"))
    elsewhere = submission_ids(
        await post_records(client, await keys.make("enumerator", "31"), 1, kode_wilayah="31.71", nik_pemilik="3171011205850001")
    )
    dinas_kab = await keys.make("dinas", "16.07")
    dinas_prov = await keys.make("dinas", "16")
    lines, _ = await pull(client, dinas_kab)
    assert [ln["submission_id"] for ln in lines] == in_banyuasin
    records, _ = await snapshot(client, dinas_kab)
    assert {r["submission_id"] for r in records} == set(in_banyuasin)
    lines, _ = await pull(client, dinas_prov)
    assert [ln["submission_id"] for ln in lines] == in_banyuasin + in_palembang
    assert lines[0]["record"]["pii_masked"] is False  # dinas sees its own wilayah's data
    admin = await keys.make("admin")
    lines, _ = await pull(client, admin)
    assert [ln["submission_id"] for ln in lines] == in_banyuasin + in_palembang + elsewhere
    for role in ("enumerator", "verifikator"):
        k = await keys.make(role, "16.07")
        for path in (FEED, SNAPSHOT):
            r = await client.get(path, headers=auth(k))
            assert_problem(r, "role-forbidden")
            assert role in r.json()["detail"]
    r = await client.get(FEED)
    assert_problem(r, "unauthorized")


async def test_walidata_without_pii_gets_masked_records(client, keys, enum_key):
    rec = umkm()
    r = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    assert r.status_code == 201
    k = await keys.make("walidata", name="bps")
    (line,), _ = await pull(client, k)
    data = line["record"]["data"]
    assert line["record"]["pii_masked"] is True
    assert data["nik_pemilik"] != rec["nik_pemilik"] and data["nik_pemilik"].startswith(rec["nik_pemilik"][:4])
    assert data["alamat"] == "(disamarkan)" and data["nama_pemilik"] == "S*** A*****"
    assert data["nama_usaha"] == rec["nama_usaha"]
    (snap,), _ = await snapshot(client, k)
    assert snap["data"] == data and snap["pii_masked"] is True


@pytest.mark.parametrize(
    "params,field",
    [
        ({"after": "not-a-cursor"}, "after"),
        ({"after": "MTo5OTk"}, "after"),  # "1:999": no id
        ({"after": Cursor(10, 1).encode() + "x"}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_000_001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"periode": "22"}, "periode"),
        ({"periode": "1999"}, "periode"),
    ],
)
async def test_bad_feed_input_is_422_naming_the_field(client, walidata, params, field):
    r = await client.get(FEED, params=params, headers=auth(walidata))
    assert_problem(r, "invalid-input")
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == [field]


@pytest.mark.parametrize("params,field", [({"format": "xml"}, "format"), ({"periode": "1999"}, "periode")])
async def test_bad_snapshot_input_is_422(client, walidata, params, field):
    r = await client.get(SNAPSHOT, params=params, headers=auth(walidata))
    assert_problem(r, "invalid-input")
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_every_sync_request_is_in_the_access_log(client, enum_key, walidata, pg):
    await post_records(client, enum_key, 5)
    lines, end = await pull(client, walidata, limit=3)
    records, cursor = await snapshot(client, walidata, periode="2022")
    await pull(client, walidata, end["cursor"])
    rows = await pg.fetch("SELECT key_name, role, endpoint, detail, rows FROM access_log ORDER BY id")
    assert [(r["key_name"], r["role"], r["endpoint"], r["rows"]) for r in rows] == [
        ("kemenkop", "walidata", "GET /api/v1/sync/changes", 3),
        ("kemenkop", "walidata", "GET /api/v1/sync/snapshot", 5),
        ("kemenkop", "walidata", "GET /api/v1/sync/changes", 2),
    ]
    first, snap, second = (orjson.loads(r["detail"]) for r in rows)
    assert first["after"] is None and first["cursor"] == end["cursor"] and first["limit"] == 3
    assert first["complete"] is True and first["more"] is True and first["pii"] is True
    assert snap["periode"] == "2022" and snap["cursor"] == cursor and snap["format"] == "ndjson"
    assert second["after"] == end["cursor"] and second["more"] is False


async def test_a_consumer_that_hangs_up_is_logged_and_leaves_no_connection(client, enum_key, walidata, pg, live_server):
    import httpx

    await bulk_records(pg, 30_000)  # far more than the socket buffers hold
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        async with c.stream("GET", SNAPSHOT, headers=auth(walidata)) as r:
            async for _chunk in r.aiter_bytes():
                break  # hang up after the first chunk
    row = await eventually(lambda: pg.fetchrow("SELECT detail, rows FROM access_log WHERE endpoint LIKE '%snapshot'"))
    assert row is not None and orjson.loads(row["detail"])["complete"] is False
    # The service still answers (its pooled connection was not left inside a transaction).
    lines, _ = await pull(client, walidata, limit=5)
    assert len(lines) == 5
    idle = await pg.fetchval("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND application_name = 'kumkm'")
    assert idle == 0
