"""Wilayah reference, health checks and the committed OpenAPI document."""

from __future__ import annotations

import asyncio
import json

from tests.support.common import ROOT, auth
from tests.support.problems import assert_problem


async def test_wilayah_children(client, keys):
    k = await keys.make("dinas", "16")
    provinsi = (await client.get("/api/v1/wilayah", headers=auth(k))).json()["items"]
    assert len(provinsi) == 38
    kabkota = (await client.get("/api/v1/wilayah", params={"parent": "16"}, headers=auth(k))).json()
    assert len(kabkota["items"]) == 17
    assert kabkota["items"][0] == {"kode": "16.01", "nama": "Kabupaten Ogan Komering Ulu", "level": 2, "jenis": "kabupaten"}
    assert {"kode": "16.71", "nama": "Kota Palembang", "level": 2, "jenis": "kota"} in kabkota["items"]
    r = await client.get("/api/v1/wilayah", params={"parent": "99"}, headers=auth(k))
    assert_problem(r, "not-found")


async def test_all_kemendagri_wilayah_are_loaded(pg):
    counts = dict(await pg.fetch("SELECT level, count(*) FROM wilayah GROUP BY level"))
    assert counts[1] == 38 and counts[2] == 514 and counts[3] > 7000 and counts[4] > 80000


async def test_wilayah_load_is_idempotent(database_url, pg):
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.wilayah.loader import load

    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        changed = await load(conn)
    await engine.dispose()
    assert changed == 0
    assert await pg.fetchval("SELECT count(*) FROM wilayah WHERE level = 2") == 514


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_readiness_fails_when_migrations_are_behind(client, pg):
    head = await pg.fetchval("SELECT version_num FROM alembic_version")
    await pg.execute("UPDATE alembic_version SET version_num = '0001'")
    try:
        r = await client.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "migrations pending"
    finally:
        await pg.execute("UPDATE alembic_version SET version_num = $1", head)


async def test_migration_0004_renders_the_line_of_every_stored_record(client, keys, pg, database_url):
    """A registry upgraded from before migration 0004 gets a walidata line for each record it
    holds, equal to what the write statements render."""
    from alembic import command

    from app.infra import db
    from tests.support.helpers import post_records, submission_ids
    from tests.support.sync_helpers import STALE_LINES
    from tests.support.verification_helpers import decide

    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    verif = await keys.make("verifikator", "16.07", name="verif-banyuasin")
    ids = submission_ids(await post_records(client, enum, 5))
    assert (await decide(client, verif, ids[0], "diterima")).status_code == 200
    cfg = db.alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, cfg, "0003_indikator")
    assert await pg.fetchval("SELECT to_regclass('sync_records')") is None
    await asyncio.to_thread(command.upgrade, cfg, "head")
    assert await pg.fetchval("SELECT count(*) FROM sync_records") == 5
    assert await pg.fetch(STALE_LINES) == []
    line = await pg.fetchval("SELECT line FROM sync_records WHERE submission_id = $1::uuid", ids[0])
    assert '"status":"diterima"' in line


# The audit columns' names before migration 0010, as whole words.
_OLD_AUDIT = r"\m(created_by|created_by_key|created_at|updated_at|changed_at)\M"

# Everything in the schema whose text names a column: a body or argument name of a function,
# a view, an index, a trigger or a constraint (its definition, or the name PostgreSQL 18 gives a
# NOT NULL) that still says an old name; api_keys keeps its created_at (docs/code.md, "Naming").
_NAMING_OLD = """
    SELECT 'function ' || p.proname FROM pg_proc p
     WHERE p.pronamespace = current_schema()::regnamespace
       AND (p.prosrc ~ $1 OR array_to_string(p.proargnames, ' ') ~ $1)
    UNION ALL SELECT 'view ' || viewname FROM pg_views
     WHERE schemaname = current_schema() AND definition ~ $1
    UNION ALL SELECT 'index ' || indexname FROM pg_indexes
     WHERE schemaname = current_schema() AND indexdef ~ $1
    UNION ALL SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal
       AND pg_get_triggerdef(t.oid) ~ $1
    UNION ALL SELECT 'constraint ' || conname FROM pg_constraint
     WHERE connamespace = current_schema()::regnamespace AND conrelid <> 'api_keys'::regclass
       AND (conname ~ $1 OR pg_get_constraintdef(oid) ~ $1)
"""

_RECORD_TABLES = ("submissions", "submission_versions", "changes", "openrosa_instances", "sync_records")


async def test_migration_0010_renames_the_audit_columns_without_rewriting_a_table(client, keys, pg, database_url, walidata, linker_paused):
    """Upgraded from 0009 with records stored: every table keeps its file (a rename is a catalogue
    change, whatever the table's size) and every stored walidata line stays as it was; the API
    and the feed answer as before, writes work, and nothing in the schema names an old column.
    Downgrading renames them back. (The background linker is held idle: linking the accepted
    record between the two reads would rewrite its line with its id_kumkm.)"""
    from alembic import command

    from app.infra import db
    from tests.support.helpers import post_records, submission_ids
    from tests.support.sync_helpers import STALE_LINES, pull
    from tests.support.verification_helpers import decide

    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    verif = await keys.make("verifikator", "16.07", name="verif-banyuasin")
    ids = submission_ids(await post_records(client, enum, 3))
    assert (await decide(client, verif, ids[0], "diterima")).status_code == 200

    async def state():
        files = {t: await pg.fetchval("SELECT pg_relation_filenode($1::regclass)", t) for t in _RECORD_TABLES}
        lines = await pg.fetch("SELECT submission_id, line FROM sync_records ORDER BY submission_id")
        api = (await client.get(f"/api/v1/submissions/{ids[0]}", headers=auth(enum))).json()
        feed, _ = await pull(client, walidata)
        return files, lines, api, feed

    def columns(table):
        return pg.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1", table
        )

    before = await state()
    cfg = db.alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, cfg, "0009_diperbarui_pada")
    try:
        old = {r[0] for r in await columns("submissions")}
        assert {"created_by", "created_by_key", "created_at", "updated_at"} <= old and "dibuat_oleh" not in old
        assert "changed_at" in {r[0] for r in await columns("changes")}
        assert "function sync_record_line" in {r[0] for r in await pg.fetch(_NAMING_OLD, _OLD_AUDIT)}
    finally:
        await asyncio.to_thread(command.upgrade, cfg, "head")

    after = await state()
    assert after[0] == before[0], "a table was rewritten"
    assert after[1] == before[1], "a stored walidata line changed"
    assert after[2] == before[2] and after[3] == before[3]
    assert await pg.fetch(_NAMING_OLD, _OLD_AUDIT) == []
    left = await pg.fetch(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name ~ $1",
        _OLD_AUDIT,
    )
    assert [tuple(r) for r in left] == [("api_keys", "created_at")]  # keys are plumbing (docs/code.md)
    assert {"dibuat_oleh", "dibuat_oleh_key", "dibuat_pada", "diperbarui_pada"} <= {r[0] for r in await columns("submissions")}
    assert "pada" in {r[0] for r in await columns("changes")}
    # Writes after the upgrade: ingest and a decision, their lines as the function renders them.
    more = submission_ids(await post_records(client, enum, 2))
    assert (await decide(client, verif, more[0], "ditolak", alasan_kode="data_tidak_lengkap")).status_code == 200
    assert await pg.fetch(STALE_LINES) == []
    assert await pg.fetchval("SELECT count(*) FROM submissions WHERE dibuat_oleh = 'enum-sumsel' AND dibuat_oleh_key IS NOT NULL") == 5


def test_committed_openapi_document_matches_the_app():
    from app.main import create_app

    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    assert committed == create_app().openapi(), "openapi/openapi.json is stale: run `kumkm openapi`"


async def test_served_openapi_equals_committed(client):
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    assert (await client.get("/openapi.json")).json() == committed
