"""The walidata change feed: order, cursors, exactly once under concurrent and out-of-order
commits, scope, personal data and the access log."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from app.sync.schemas import ChangeLine, EndLine
from tests.support.common import asyncpg_params, auth, eventually
from tests.support.helpers import post_records, submission_ids
from tests.support.sync_helpers import (
    db_changes,
    key_of,
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


async def test_feed_lists_created_records_in_order_with_full_content(client, enum_key, walidata):
    ids = submission_ids(await post_records(client, enum_key, 3))
    ids += submission_ids(await post_records(client, enum_key, 2))
    lines, end = await pull(client, walidata)
    assert [ln["submission_id"] for ln in lines] == ids
    for ln in lines:
        ChangeLine.model_validate(ln)
        assert ln["jenis_perubahan"] == "dibuat" and ln["version"] == 1 and ln["status"] == "masuk"
        rec = ln["record"]
        assert rec["submission_id"] == ln["submission_id"] and rec["pii_masked"] is False
        assert rec["data"]["submission_id"] == ln["submission_id"]
        assert rec["kode_kabkota"] == "16.07" and rec["dibuat_oleh"] == "enum-sumsel"
    EndLine.model_validate(end)
    assert end["count"] == 5 and end["more"] is False and end["cursor"] == lines[-1]["cursor"]
    # Nothing new: the same cursor comes back and no line.
    again, end2 = await pull(client, walidata, end["cursor"])
    assert again == [] and end2["cursor"] == end["cursor"] and end2["more"] is False


async def test_a_change_says_when_in_pada_and_still_in_the_deprecated_changed_at(client, keys, enum_key, verif, walidata):
    """`pada` is when the change was made: the record's dibuat_pada for `dibuat`, the time of
    the decision or correction (as its riwayat entry says) otherwise. A consumer written
    against the old name `changed_at` reads the same text from every line until release 0.2.0,
    whether the key sees personal data or gets it masked."""
    import re

    from tests.support.helpers import UTC_TEXT
    from tests.support.verification_helpers import correct, tolak

    rec = (await post_records(client, enum_key, 1))[0]
    sid = rec["submission_id"]
    assert (await tolak(client, verif, sid)).status_code == 200
    assert (await correct(client, enum_key, rec, nama_usaha="Warung Makan Sederhana Jaya")).status_code == 200
    api = (await client.get(f"/api/v1/submissions/{sid}", headers=auth(enum_key))).json()
    trail = (await client.get(f"/api/v1/submissions/{sid}/riwayat", headers=auth(verif))).json()["items"]
    assert [h["aksi"] for h in trail] == ["dibuat", "diverifikasi", "dikoreksi"]
    plain = await keys.make("walidata", name="kemenkop-tanpa-pii")
    for key in (walidata, plain):
        lines, _ = await pull(client, key)
        assert [ln["jenis_perubahan"] for ln in lines] == ["dibuat", "status", "dikoreksi"]
        assert lines[0]["record"]["pii_masked"] is (key == plain)
        for ln in lines:
            ChangeLine.model_validate(ln)
            assert re.match(UTC_TEXT, ln["pada"]) and ln["changed_at"] == ln["pada"]
        assert [ln["pada"] for ln in lines] == [h["pada"] for h in trail]
        assert lines[0]["pada"] == api["dibuat_pada"] and lines[-1]["pada"] == api["diperbarui_pada"]


async def test_limit_pages_and_every_line_cursor_resumes_right_after_it(client, enum_key, walidata):
    ids = submission_ids(await post_records(client, enum_key, 7))
    lines, end = await pull(client, walidata, limit=3)
    assert [ln["submission_id"] for ln in lines] == ids[:3] and end["more"] is True
    for i, ln in enumerate((await pull(client, walidata, limit=100))[0]):
        rest, _ = await pull(client, walidata, ln["cursor"], limit=100)
        assert [r["submission_id"] for r in rest] == ids[i + 1 :]


async def test_empty_feed_end_line(client, walidata):
    lines, end = await pull(client, walidata)
    assert lines == [] and end["count"] == 0 and end["more"] is False
    again, end2 = await pull(client, walidata, end["cursor"])
    assert again == [] and end2["cursor"] == end["cursor"]


async def test_a_transaction_that_commits_late_is_not_passed(client, enum_key, walidata, database_url, pg):
    """T1 takes its transaction id first but commits last: the feed waits for it instead of
    handing out a cursor that would skip its change for ever."""
    before = submission_ids(await post_records(client, enum_key, 2))
    slow = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        tr = slow.transaction()
        await tr.start()
        await slow.fetchval("SELECT pg_current_xact_id()")  # T1's id is now smaller than any later one
        later = submission_ids(await post_records(client, enum_key, 3))  # commits while T1 is open
        late_sid = await raw_create(slow)  # T1 writes its change (larger changes.id)
        lines, end = await pull(client, walidata)
        assert [ln["submission_id"] for ln in lines] == before
        # Asking again from the cursor still gives nothing while T1 is open.
        again, end2 = await pull(client, walidata, end["cursor"])
        assert again == [] and end2["cursor"] == end["cursor"]
        await tr.commit()
    finally:
        await slow.close()
    rest, _ = await pull(client, walidata, end["cursor"])
    # T1's change comes first: it has the smaller transaction id, though it committed last.
    assert [ln["submission_id"] for ln in rest] == [late_sid] + later


async def test_an_api_write_blocked_mid_transaction_is_waited_for(client, enum_key, walidata, database_url, pg):
    """The same through the real ingest path: a batch for 16.07 blocks inside its transaction
    (its status-count rows are locked) while batches for 16.71 commit."""
    await pg.execute(
        "INSERT INTO rekap_status (periode, kode_kabkota, status, shard, n) "
        "SELECT '2022', '16.07', 'masuk', s, 0 FROM generate_series(0, 15) s"
    )
    first = submission_ids(await post_records(client, enum_key, 1))
    locker = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        tr = locker.transaction()
        await tr.start()
        await locker.execute("SELECT * FROM rekap_status WHERE kode_kabkota = '16.07' FOR UPDATE")
        blocked = asyncio.create_task(post_records(client, enum_key, 2))
        # Wait until the blocked batch holds its transaction id (it waits on our lock).
        waiting = await eventually(
            lambda: pg.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%WITH input AS%jsonb_to_recordset%'"
            ),
            every=0.02,
        )
        assert waiting, "the batch did not block"
        other = submission_ids(await post_records(client, enum_key, 3, kode_wilayah="16.71"))
        lines, end = await pull(client, walidata)
        assert [ln["submission_id"] for ln in lines] == first
        await tr.commit()
    finally:
        await locker.close()
    late = submission_ids(await blocked)
    rest, _ = await pull_all(client, walidata, end["cursor"], limit=2)
    assert sorted(ln["submission_id"] for ln in rest) == sorted(late + other)
    assert [ln["submission_id"] for ln in rest][:2] == late  # the blocked batch's id is smaller
    assert [key_of(ln) for ln in lines + rest] == await db_changes(pg)


async def test_exactly_once_under_concurrent_writers_and_random_resumes(client, keys, walidata, database_url, pg):
    """Eight writers post batches, some changes commit out of order from held transactions,
    decisions change states; a consumer pulls with random limits and resumes from random
    cursors it was given. Whatever cursor it resumes from, it gets exactly the continuation
    of one and the same sequence, and at the end that sequence is every change, once."""
    rnd = random.Random(20221122)
    enum = await keys.make("enumerator", "16", name="enum-concurrent")
    stop = asyncio.Event()
    posted: list[str] = []

    async def writer(w: int):
        for _ in range(12):
            posted.extend(submission_ids(await post_records(client, enum, rnd.randint(1, 15))))
            await asyncio.sleep(rnd.random() * 0.01)

    async def slow_writer():
        conn = await asyncpg.connect(**asyncpg_params(database_url))
        try:
            for _ in range(10):
                async with conn.transaction():
                    await conn.fetchval("SELECT pg_current_xact_id()")
                    await asyncio.sleep(rnd.random() * 0.05)  # others commit meanwhile
                    sid = await raw_create(conn)
                    await asyncio.sleep(rnd.random() * 0.05)
                    await raw_decide(conn, sid, rnd.choice(["diterima", "ditolak"]))
        finally:
            await conn.close()

    async def aborter():
        conn = await asyncpg.connect(**asyncpg_params(database_url))
        try:
            for _ in range(5):
                tr = conn.transaction()
                await tr.start()
                await raw_create(conn)
                await asyncio.sleep(0.02)
                await tr.rollback()  # an aborted change must never be delivered
        finally:
            await conn.close()

    log: list[tuple] = []  # the one sequence every pull must agree with
    cursors: list[tuple[str, int]] = [("", 0)]  # (cursor, position in log after it)

    async def consumer():
        pulls = 0
        while not stop.is_set() or pulls < 3:
            pulls += 1
            c, pos = rnd.choice(cursors) if rnd.random() < 0.5 else cursors[-1]
            lines, end = await pull(client, walidata, c or None, limit=rnd.randint(1, 40))
            for i, ln in enumerate(lines):
                k = key_of(ln)
                if pos + i < len(log):
                    assert log[pos + i] == k, "a resumed pull disagrees with an earlier one"
                else:
                    log.append(k)
                cursors.append((ln["cursor"], pos + i + 1))
            cursors.append((end["cursor"], pos + len(lines)))
            await asyncio.sleep(rnd.random() * 0.01)

    cons = asyncio.create_task(consumer())
    await asyncio.gather(*(writer(w) for w in range(8)), slow_writer(), aborter())
    stop.set()
    await cons
    # Catch up from the newest cursor; the sequence is now complete.
    c, pos = max(cursors, key=lambda x: x[1])
    rest, _ = await pull_all(client, walidata, c, limit=97)
    for i, ln in enumerate(rest):
        if pos + i < len(log):
            assert log[pos + i] == key_of(ln)
        else:
            log.append(key_of(ln))
    expected = await db_changes(pg)
    assert len(log) == len(set(log)), "a change was delivered twice"
    assert log == expected
    assert {k[0] for k in log if k[2] == "dibuat"} >= set(posted)
    # besides the links the service's linker made meanwhile (ditautkan: their own test_sync_linker)
    assert len([k for k in expected if k[2] != "ditautkan"]) == len(posted) + 20


async def test_masked_lines_hide_the_same_fields_on_every_path_whatever_the_values(client, keys, enum_key, walidata):
    """A key without personal data gets each record's content masked on the feed's two paths
    (lines built in SQL; lines assembled by the service while a snapshot cursor still skips)
    and in the snapshot, identically, even when a value looks like the line's own fields."""
    from app.security.personal import mask_record_data
    from app.sync.cursor import Cursor, Snapshot

    odd = await post_records(
        client,
        enum_key,
        1,
        nama_usaha='Toko ,"pii_masked":false,"data":{"nik_pemilik":"x"} \\ "kutip"',
        nama_pemilik="Ni\u00a0Luh \u3000Putu\tAyu",
        alamat='Jl. "Kenanga"\\ No. 7,"pii_masked":false',
    )
    plain_records = await post_records(client, enum_key, 2)
    plain = await keys.make("walidata", name="bps-masked-paths")
    sql_built, _ = await pull(client, plain)
    # a snapshot cursor whose snapshot saw nothing of these: the service assembles every line
    after = Cursor(0, 0, Snapshot(1, 2)).encode()
    assembled, _ = await pull(client, plain, after)
    snap, _ = await snapshot(client, plain)
    full, _ = await pull(client, walidata)
    assert len(sql_built) == len(assembled) == len(snap) == len(full) == 3
    for a, b, s, f, sent in zip(sql_built, assembled, snap, full, odd + plain_records, strict=True):
        assert a["record"] == b["record"] == s and a["record"]["pii_masked"] is True
        assert all(f["record"]["data"][k] == sent[k] for k in ("nama_usaha", "nama_pemilik", "nik_pemilik", "alamat"))
        assert a["record"]["data"] == mask_record_data(f["record"]["data"])
        assert a["record"]["data"]["nik_pemilik"] != sent["nik_pemilik"]
        assert {k: v for k, v in a["record"].items() if k not in ("data", "pii_masked")} == {
            k: v for k, v in f["record"].items() if k not in ("data", "pii_masked")
        }
        assert a["cursor"] == b["cursor"] == f["cursor"]
    assert sql_built[0]["record"]["data"]["nama_pemilik"] == "N* L** P*** A**"
    assert sql_built[0]["record"]["data"]["nama_usaha"] == odd[0]["nama_usaha"]
