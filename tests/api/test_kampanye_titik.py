"""The map's points (issue 31 §4): the lokasi columns kept with the record at ingest, correction
and in migration 0018's backfill; GET /api/v1/kampanye/titik (GeoJSON, the personal-data rule,
paged below the cluster threshold, clustered above it); the wilayah bounding boxes."""

from __future__ import annotations

import importlib

from tests.support.common import auth
from tests.support.helpers import post_one, post_records
from tests.support.verification_helpers import correct, tolak


async def lokasi_row(pg, sid):
    return tuple(await pg.fetchrow("SELECT lokasi_lat, lokasi_lon FROM submissions WHERE submission_id = $1", sid))


async def test_ingest_and_correction_keep_the_lokasi_columns(client, pg, enum_key, verif):
    rec = await post_one(client, enum_key, lokasi={"lat": -2.912345, "lon": 104.654321})
    none = await post_one(client, enum_key)
    assert await lokasi_row(pg, rec["submission_id"]) == (-2.912345, 104.654321)
    assert await lokasi_row(pg, none["submission_id"]) == (None, None)

    await tolak(client, verif, rec["submission_id"])
    r = await correct(client, enum_key, rec, lokasi={"lat": -2.5, "lon": 104.25})
    assert r.status_code == 200, r.text
    assert await lokasi_row(pg, rec["submission_id"]) == (-2.5, 104.25)
    # a correction that drops the lokasi drops the columns too
    await tolak(client, verif, rec["submission_id"], version=2)
    body = {k: v for k, v in rec.items() if k != "lokasi"}
    r = await client.put(f"/api/v1/submissions/{rec['submission_id']}", json=body, headers=auth(enum_key))
    assert r.status_code == 200, r.text
    assert await lokasi_row(pg, rec["submission_id"]) == (None, None)


async def test_the_migration_backfills_from_the_current_version(client, pg, enum_key, verif):
    with_lokasi = await post_records(client, enum_key, 3, lokasi={"lat": -3.0, "lon": 104.0})
    without = await post_one(client, enum_key)
    corrected = with_lokasi[0]
    await tolak(client, verif, corrected["submission_id"])
    assert (await correct(client, enum_key, corrected, lokasi={"lat": -3.5, "lon": 104.5})).status_code == 200
    await pg.execute("UPDATE submissions SET lokasi_lat = NULL, lokasi_lon = NULL")

    migration = importlib.import_module("migrations.versions.0018_lokasi")
    await pg.execute(migration.BACKFILL)

    assert await lokasi_row(pg, corrected["submission_id"]) == (-3.5, 104.5)
    for rec in with_lokasi[1:]:
        assert await lokasi_row(pg, rec["submission_id"]) == (-3.0, 104.0)
    assert await lokasi_row(pg, without["submission_id"]) == (None, None)
