"""The walidata's view of the real linker (app/registry/linker.py): records accepted over the
API and linked by it come again in the record feed with their `id_kumkm`, once per linking;
the entity feed and snapshot show the entities it made; a second run adds nothing; a reversed
acceptance is `dilepas` in both feeds; the live service's background linker does the same."""

from __future__ import annotations

import asyncio

import asyncpg
import orjson
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app import cli
from app.infra import db
from app.registry.linker import KUNCI_LATAR, tautkan_semua
from tests.support.common import asyncpg_params, auth, eventually
from tests.support.factories import umkm
from tests.support.sync_helpers import ENTITAS_FEED, ENTITAS_SNAPSHOT, STALE_LINES, pull, pull_all, snapshot
from tests.support.verification_helpers import assert_consistent

NIB = "9876543210123"


@pytest.fixture
async def engine(database_url):
    """An engine of the test's own loop to run the linker on, the live service's background
    linker kept idle (its turn's session lock held here) so that the test's run is the only one."""
    conn = await asyncpg.connect(**asyncpg_params(database_url))
    await conn.execute(f"SELECT pg_advisory_lock({KUNCI_LATAR})")
    eng = create_async_engine(db.normalize_url(database_url), poolclass=NullPool)
    yield eng
    await eng.dispose()
    await conn.close()


async def _accept(client, enum_key, verif, *records) -> list[str]:
    r = await client.post("/api/v1/submissions/batch", json={"items": list(records)}, headers=auth(enum_key))
    assert r.status_code == 200 and r.json()["created"] == len(records), r.text
    items = [{"submission_id": rec["submission_id"], "status": "diterima", "version": 1} for rec in records]
    d = await client.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(verif))
    assert d.status_code == 200, d.text
    return [rec["submission_id"] for rec in records]


async def test_each_linking_comes_once_in_the_record_feed_and_the_entities_in_theirs(client, keys, enum_key, walidata, pg, engine):
    verif = await keys.make("verifikator", "16", name="verif-sumsel")
    a, b = await _accept(client, enum_key, verif, umkm(periode="2024", nib=NIB), umkm(periode="2025", nib=NIB, kode_wilayah="16.71"))
    (c,) = await _accept(client, enum_key, verif, umkm(periode="2025"))
    before, end = await pull(client, walidata)
    assert all(ln["record"]["id_kumkm"] is None for ln in before)

    await tautkan_semua(transaction=engine.begin)
    linked = {str(r[0]): r[1] for r in await pg.fetch("SELECT submission_id, id_kumkm FROM kumkm_tautan")}
    assert linked[a] == linked[b] != linked[c]
    lines, end = await pull(client, walidata, end["cursor"])
    assert sorted((ln["jenis_perubahan"], ln["submission_id"]) for ln in lines) == sorted(("ditautkan", s) for s in (a, b, c))
    for ln in lines:
        assert ln["record"]["id_kumkm"] == linked[ln["submission_id"]] and ln["status"] == "diterima"
    assert await pg.fetch(STALE_LINES) == []
    await assert_consistent(pg)

    events, eend = await pull(client, walidata, path=ENTITAS_FEED)
    assert sorted((ln["id_kumkm"], ln["aksi"]) for ln in events) == sorted(
        [(linked[a], "dibuat"), (linked[a], "ditautkan"), (linked[a], "ditautkan"), (linked[c], "dibuat"), (linked[c], "ditautkan")]
    )
    entities, _ = await snapshot(client, walidata, path=ENTITAS_SNAPSHOT)
    assert {e["id_kumkm"]: e for e in entities} == {ln["entitas"]["id_kumkm"]: ln["entitas"] for ln in events}
    assert {e["id_kumkm"]: e["submission_ids"] for e in entities} == {linked[a]: [a, b], linked[c]: [c]}  # oldest periode first
    assert {e["id_kumkm"]: e["kode_kabkota"] for e in entities} == {linked[a]: "16.71", linked[c]: "16.07"}

    # the queue again (as the migration job may run twice): nothing new in either feed
    await pg.execute("INSERT INTO kumkm_antrian (submission_id) SELECT submission_id FROM submissions")
    await tautkan_semua(transaction=engine.begin)
    assert (await pull(client, walidata, end["cursor"]))[0] == []
    assert (await pull(client, walidata, eend["cursor"], path=ENTITAS_FEED))[0] == []

    # a reversed acceptance: the linker removes the link, the walidata hears it in both feeds
    r = await client.post(
        f"/api/v1/submissions/{b}/verifikasi",
        headers=auth(verif),
        json={"status": "ditolak", "dari": "diterima", "version": 1, "alasan_kode": "duplikat", "catatan": "rekaman ganda"},
    )
    assert r.status_code == 200, r.text
    await tautkan_semua(transaction=engine.begin)
    lines, end = await pull(client, walidata, end["cursor"])
    # (`record` is the record as it is now, on both lines: rejected, no longer linked)
    assert [
        (ln["jenis_perubahan"], ln["submission_id"], ln["status"], ln["record"]["status"], ln["record"]["id_kumkm"]) for ln in lines
    ] == [("status", b, "ditolak", "ditolak", None), ("dilepas", b, "ditolak", "ditolak", None)]
    events, _ = await pull(client, walidata, eend["cursor"], path=ENTITAS_FEED)
    assert [(ln["id_kumkm"], ln["aksi"], ln["detail"]["submission_id"]) for ln in events] == [(linked[b], "dilepas", b)]
    assert events[0]["entitas"]["submission_ids"] == [a] and events[0]["entitas"]["kode_kabkota"] == "16.07"
    assert await pg.fetch(STALE_LINES) == []
    await assert_consistent(pg)
    every, _ = await pull_all(client, walidata)
    assert sum(ln["jenis_perubahan"] == "ditautkan" for ln in every) == 3


async def test_the_live_services_linker_gives_the_record_its_id_in_the_feed(client, keys, enum_key, walidata, pg):
    verif = await keys.make("verifikator", "16", name="verif-sumsel")
    (sid,) = await _accept(client, enum_key, verif, umkm(nib=NIB))

    async def linked_line():
        lines, _ = await pull(client, walidata)
        return [ln for ln in lines if ln["jenis_perubahan"] == "ditautkan"]

    lines = await eventually(linked_line, timeout=20)
    id_kumkm = await pg.fetchval("SELECT id_kumkm FROM kumkm_tautan WHERE submission_id = $1::uuid", sid)
    assert [(ln["submission_id"], ln["record"]["id_kumkm"]) for ln in lines] == [(sid, id_kumkm)]


async def test_sync_pull_entitas_keeps_the_entities_as_the_service_has_them(
    client, keys, enum_key, walidata, pg, live_server, tmp_path, engine
):
    """`kumkm sync pull --entitas`: the entity snapshot, then the entity feed page by page beside
    the record feed, each with its own cursor in the one state file; the consumer's copy (the
    snapshot, then every event's `entitas` stored under its id) equals the service's snapshot,
    and its records carry their entity."""
    verif = await keys.make("verifikator", "16", name="verif-sumsel")
    state, out = tmp_path / "cursor.json", tmp_path / "bdt"

    def pull(*extra) -> int:
        return cli.main(
            [
                "sync",
                "pull",
                "--url",
                live_server.url,
                "--key",
                walidata,
                "--state",
                str(state),
                "--out",
                str(out),
                "--limit",
                "2",
                "--entitas",
                *extra,
            ]
        )

    await _accept(client, enum_key, verif, umkm(periode="2024", nib=NIB), umkm(periode="2024"))
    await tautkan_semua(transaction=engine.begin)
    assert await asyncio.to_thread(pull, "--snapshot") == 0
    await _accept(client, enum_key, verif, umkm(periode="2025", nib=NIB), umkm(periode="2025"))
    await tautkan_semua(transaction=engine.begin)
    assert await asyncio.to_thread(pull) == 0
    assert await asyncio.to_thread(pull) == 0  # nothing new: nothing appended

    def ndjson(name):
        return [orjson.loads(x) for x in (out / name).read_text().splitlines()]

    copy = {e["id_kumkm"]: e for e in ndjson("entitas-snapshot.ndjson") if not e.get("end")}
    events = ndjson("entitas.ndjson")
    for ln in events:
        copy[ln["entitas"]["id_kumkm"]] = ln["entitas"]
    assert sorted(ln["aksi"] for ln in events) == ["dibuat", "ditautkan", "ditautkan"]
    service, _ = await snapshot(client, walidata, path=ENTITAS_SNAPSHOT)
    assert copy == {e["id_kumkm"]: e for e in service} and len(copy) == 3
    records = {r["submission_id"]: r for r in ndjson("snapshot.ndjson") if not r.get("end")}
    for ln in ndjson("changes.ndjson"):
        records[ln["submission_id"]] = ln["record"]
    linked = {str(r[0]): r[1] for r in await pg.fetch("SELECT submission_id, id_kumkm FROM kumkm_tautan")}
    assert {sid: r["id_kumkm"] for sid, r in records.items()} == linked and len(linked) == 4
    saved = orjson.loads(state.read_bytes())
    assert saved["entitas"]["offset"] == (out / "entitas.ndjson").stat().st_size
    assert saved["offset"] == (out / "changes.ndjson").stat().st_size
