"""Record feed lines carry `id_kumkm` (migration 0012): null until the record is linked to an
entity; each linking (and each removal or move of a link) gives the walidata the record again,
once, through kumkm_tautan_berubah(), the one call the registry makes in its own transaction."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from app.sync.schemas import ChangeLine, SyncRecord
from tests.support.common import asyncpg_params, eventually
from tests.support.helpers import post_records, submission_ids
from tests.support.sync_helpers import (
    STALE_LINES,
    db_changes,
    key_of,
    pull,
    pull_all,
    raw_link,
    raw_merge,
    raw_unlink,
    snapshot,
    sync_connections,  # noqa: F401 (an autouse fixture)
)
from tests.support.verification_helpers import assert_consistent, decide

# The records are linked by the test itself (as the linker does), never by the service's.
pytestmark = pytest.mark.usefixtures("linker_paused")


async def _accept(client, verif, ids):
    for sid in ids:
        assert (await decide(client, verif, sid, "diterima")).status_code == 200


async def test_a_record_line_says_id_kumkm_null_until_linked_then_once_per_linking(client, keys, enum_key, verif, walidata, pg):
    ids = submission_ids(await post_records(client, enum_key, 3))
    await _accept(client, verif, ids[:2])
    lines, end = await pull(client, walidata)
    assert len(lines) == 5
    for ln in lines:
        ChangeLine.model_validate(ln)
        assert ln["record"]["id_kumkm"] is None
        # a stable place: right after the fields consumers knew, before pii_masked and data
        assert list(ln["record"])[-3:] == ["id_kumkm", "pii_masked", "data"]

    async with pg.transaction():
        entity = await raw_link(pg, ids[:2])
        # the call is idempotent: the same records again change nothing and append nothing
        assert await pg.fetchval("SELECT kumkm_tautan_berubah($1::uuid[])", ids) == 0
    linked, end = await pull(client, walidata, end["cursor"])
    assert [(ln["jenis_perubahan"], ln["submission_id"]) for ln in linked] == [("ditautkan", s) for s in sorted(ids[:2])]
    for ln in linked:
        ChangeLine.model_validate(ln)
        assert ln["version"] == 1 and ln["status"] == "diterima"
        assert ln["record"]["id_kumkm"] == entity and ln["record"]["status"] == "diterima"
    assert await pg.fetch(STALE_LINES) == []
    await assert_consistent(pg)

    # the snapshot and a key without personal data see the id too (the masked fast path keeps it)
    records, _ = await snapshot(client, walidata)
    assert {r["submission_id"]: r["id_kumkm"] for r in records} == {ids[0]: entity, ids[1]: entity, ids[2]: None}
    plain = await keys.make("walidata", name="bps-tanpa-pii")
    masked, _ = await pull(client, plain)
    assert [ln["record"]["id_kumkm"] for ln in masked[-2:]] == [entity, entity]
    assert all(ln["record"]["pii_masked"] for ln in masked)
    for r in records:
        SyncRecord.model_validate(r)

    # a decision rewrites the line from the record: the link stays in it
    assert (await _reverse(client, verif, ids[0])).status_code == 200
    after, end = await pull(client, walidata, end["cursor"])
    assert [ln["jenis_perubahan"] for ln in after] == ["status"]
    assert after[0]["record"]["id_kumkm"] == entity and after[0]["record"]["status"] == "ditolak"
    assert await pg.fetch(STALE_LINES) == []

    # the link removed (the acceptance reversed): dilepas, the line says null again
    async with pg.transaction():
        await raw_unlink(pg, [ids[0]])
    gone, end = await pull(client, walidata, end["cursor"])
    assert [(ln["jenis_perubahan"], ln["submission_id"], ln["record"]["id_kumkm"]) for ln in gone] == [("dilepas", ids[0], None)]

    # a merge moves the other record to another entity: ditautkan again, with the new id
    async with pg.transaction():
        other = await raw_link(pg, [ids[2]])
        moved = await raw_merge(pg, entity, other)
    assert moved == [ids[1]]
    merged, end = await pull(client, walidata, end["cursor"])
    assert [(ln["jenis_perubahan"], ln["submission_id"], ln["record"]["id_kumkm"]) for ln in merged] == [
        ("ditautkan", ids[2], other),
        ("ditautkan", ids[1], other),
    ]
    assert await pg.fetch(STALE_LINES) == []
    every, _ = await pull_all(client, walidata)
    assert [key_of(ln) for ln in every] == await db_changes(pg)


async def test_a_decision_waiting_on_a_link_keeps_both(client, enum_key, verif, walidata, database_url, pg):
    """The linker's transaction has rewritten a line and not committed; a decision on the same
    record waits for it, then writes its own state into the line with the new id (it reads the
    line's `id_kumkm` again after the wait). Neither change is lost, each is in the feed once."""
    ids = submission_ids(await post_records(client, enum_key, 1))
    await _accept(client, verif, ids)
    linker = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        tr = linker.transaction()
        await tr.start()
        entity = await raw_link(linker, ids)
        decision = asyncio.create_task(_reverse(client, verif, ids[0]))
        waiting = await eventually(
            lambda: pg.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE submissions%'"
            ),
            every=0.02,
        )
        assert waiting, "the decision did not wait for the link"
        await tr.commit()
    finally:
        await linker.close()
    assert (await decision).status_code == 200
    line = await pg.fetchval("SELECT line FROM sync_records WHERE submission_id = $1::uuid", ids[0])
    assert f'"id_kumkm":"{entity}"' in line and '"status":"ditolak"' in line
    assert await pg.fetch(STALE_LINES) == []
    lines, _ = await pull(client, walidata)
    assert [ln["jenis_perubahan"] for ln in lines] == ["dibuat", "status", "ditautkan", "status"]
    assert lines[-1]["record"]["id_kumkm"] == entity and lines[-1]["record"]["status"] == "ditolak"


async def _reverse(client, verif, sid):
    """diterima -> ditolak: a reversal, which the linker answers by removing the link."""
    return await decide(client, verif, sid, "ditolak", dari="diterima", alasan_kode="data_tidak_lengkap", catatan="NIB milik usaha lain")


async def test_new_records_carry_id_kumkm_null_in_every_path_of_ingest(client, enum_key, walidata, pg):
    """The line of a new record is rendered with "id_kumkm":null by the ingest statement itself."""
    await post_records(client, enum_key, 4)
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM sync_records WHERE id_kumkm IS NULL "
            'AND line LIKE \'%,"diperbarui_pada":"%","id_kumkm":null,"pii_masked":false,%\''
        )
        == 4
    )
    assert await pg.fetch(STALE_LINES) == []
