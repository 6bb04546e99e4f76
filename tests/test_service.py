"""Wilayah reference, health checks and the committed OpenAPI document."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.conftest import auth


async def test_wilayah_children(client, keys):
    k = await keys.make("dinas", "16")
    provinsi = (await client.get("/api/v1/wilayah", headers=auth(k))).json()["items"]
    assert len(provinsi) == 38
    kabkota = (await client.get("/api/v1/wilayah", params={"parent": "16"}, headers=auth(k))).json()
    assert len(kabkota["items"]) == 17
    assert kabkota["items"][0] == {"kode": "16.01", "nama": "Kabupaten Ogan Komering Ulu", "level": 2,
                                   "jenis": "kabupaten"}
    assert {"kode": "16.71", "nama": "Kota Palembang", "level": 2, "jenis": "kota"} in kabkota["items"]
    r = await client.get("/api/v1/wilayah", params={"parent": "99"}, headers=auth(k))
    assert r.status_code == 404


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

    from app.core import db
    from tests.helpers import post_records, submission_ids
    from tests.sync_helpers import STALE_LINES
    from tests.verification_helpers import decide

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


def test_committed_openapi_document_matches_the_app():
    from app.main import create_app

    committed = json.loads((Path(__file__).parent.parent / "openapi" / "openapi.json").read_text())
    assert committed == create_app().openapi(), "openapi/openapi.json is stale: run `kumkm openapi`"


async def test_served_openapi_equals_committed(client):
    committed = json.loads((Path(__file__).parent.parent / "openapi" / "openapi.json").read_text())
    assert (await client.get("/openapi.json")).json() == committed
