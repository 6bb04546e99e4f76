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


# ---------------------------------------------------------------- GET /api/v1/kampanye/titik

TITIK = "/api/v1/kampanye/titik"
# Banyuasin (16.07) lies around 2-3 degrees south, 104-105 east
POINTS = [(-2.912345 - i * 0.01, 104.654321 + (i % 5) * 0.02) for i in range(12)]


async def seed(client, enum_key, verif, points=POINTS, **over):
    """One record per point; every third one diterima, every third + 1 ditolak."""
    records = []
    for lat, lon in points:
        records.append(await post_one(client, enum_key, lokasi={"lat": lat, "lon": lon}, **over))
    for i, rec in enumerate(records):
        if i % 3 == 0:
            r = await client.post(
                f"/api/v1/submissions/{rec['submission_id']}/verifikasi",
                json={"status": "diterima", "version": 1},
                headers=auth(verif),
            )
            assert r.status_code == 200, r.text
        elif i % 3 == 1:
            assert (await tolak(client, verif, rec["submission_id"])).status_code == 200
    return records


async def get_titik(client, key, **params):
    r = await client.get(TITIK, params={"periode": "2022", "kode_wilayah": "16.07", **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    return r.json()


async def test_points_with_the_exact_lokasi_for_the_dinas(client, pg, enum_key, verif, dinas):
    records = await seed(client, enum_key, verif)
    await post_one(client, enum_key)  # no lokasi: not on the map
    doc = await get_titik(client, dinas)
    assert doc["type"] == "FeatureCollection" and doc["jenis"] == "titik"
    assert doc["jumlah"] == 12 and doc["lokasi_dibulatkan"] is False
    assert doc["per_status"] == {"masuk": 4, "diterima": 4, "ditolak": 4}
    want = {}
    for i, rec in enumerate(records):
        want[rec["submission_id"]] = (("diterima", "ditolak", "masuk")[i % 3], [rec["lokasi"]["lon"], rec["lokasi"]["lat"]])
    got = {f["properties"]["submission_id"]: (f["properties"]["status"], f["geometry"]["coordinates"]) for f in doc["features"]}
    assert got == want
    assert all(f["id"] == f["properties"]["submission_id"] for f in doc["features"])
    assert doc["bbox"] == [min(p[1] for p in POINTS), min(p[0] for p in POINTS), max(p[1] for p in POINTS), max(p[0] for p in POINTS)]
    assert doc["next_cursor"] is None and doc["kotak_wilayah"] is None
    # exact lokasi shown: written to the access log, with how many points
    row = await pg.fetchrow("SELECT key_name, rows FROM access_log WHERE endpoint = 'GET /api/v1/kampanye/titik'")
    assert tuple(row) == ("dinas-sumsel", 12)


async def test_a_key_without_the_grant_gets_the_lokasi_rounded_as_the_feed_does(client, pg, keys, enum_key, verif):
    from app.security.personal import mask_record_data

    records = await seed(client, enum_key, verif)
    walidata = await keys.make("walidata", name="walidata-tanpa-pii", pii=False)
    doc = await get_titik(client, walidata)
    assert doc["lokasi_dibulatkan"] is True
    got = sorted(tuple(f["geometry"]["coordinates"]) for f in doc["features"])
    # the same rounding as the record's masked content (the feed, the snapshot, GET one record)
    want = sorted((m["lon"], m["lat"]) for m in (mask_record_data(rec)["lokasi"] for rec in records))
    assert got == want
    assert all(round(c, 2) == c for f in doc["features"] for c in f["geometry"]["coordinates"])
    lo_lon, lo_lat, hi_lon, hi_lat = doc["bbox"]
    assert all(round(c, 2) == c for c in doc["bbox"]) and lo_lon <= hi_lon and lo_lat <= hi_lat
    # nothing exact shown, nothing logged
    assert await pg.fetchval("SELECT count(*) FROM access_log WHERE endpoint = 'GET /api/v1/kampanye/titik'") == 0


async def test_a_box_tells_a_key_without_the_grant_no_more_than_the_rounded_points(client, keys, enum_key, verif):
    # two records in one rounding cell (both round to -2.98, 104.75): halving boxes inside the
    # cell and watching the counts (a bisection) must not tell where in the cell either lies
    await seed(client, enum_key, verif, points=[(-2.9812, 104.7533), (-2.9788, 104.7519)])
    walidata = await keys.make("walidata", name="walidata-bisection", pii=False)
    whole = await get_titik(client, walidata, bbox="104.7451,-2.9849,104.7549,-2.9751")
    assert whole["jumlah"] == 2
    for box in ("104.7451,-2.9849,104.7500,-2.9800", "104.7520,-2.9790,104.7530,-2.9785", "104.7534,-2.9811,104.7535,-2.9810"):
        assert (await get_titik(client, walidata, bbox=box))["jumlah"] == 2, box


async def test_above_the_threshold_the_answer_is_clusters_that_add_up(client, override_settings, enum_key, verif, dinas, keys):
    await seed(client, enum_key, verif)
    override_settings(map_max_points=5)
    doc = await get_titik(client, dinas)
    assert doc["jenis"] == "klaster" and doc["jumlah"] == 12 and doc["ukuran_sel"] > 0
    props = [f["properties"] for f in doc["features"]]
    assert all(p["klaster"] is True for p in props)
    assert sum(p["jumlah"] for p in props) == 12
    for s in ("masuk", "diterima", "ditolak"):
        assert sum(p[s] for p in props) == 4
    assert all(p["masuk"] + p["diterima"] + p["ditolak"] == p["jumlah"] for p in props)
    # the cells: at most 32 along the area's larger side, whatever the zoom asked; 16 without one
    fine = await get_titik(client, dinas, zoom=22)
    span = max(doc["bbox"][2] - doc["bbox"][0], doc["bbox"][3] - doc["bbox"][1])
    assert fine["ukuran_sel"] == span / 32 and doc["ukuran_sel"] == span / 16
    assert (await get_titik(client, dinas, zoom=5))["ukuran_sel"] == 360 / 2**5 / 4
    # a key without the grant gets clusters of rounded points, their centres rounded too
    walidata = await keys.make("walidata", name="walidata-tanpa-pii", pii=False)
    masked = await get_titik(client, walidata)
    assert masked["jenis"] == "klaster" and sum(f["properties"]["jumlah"] for f in masked["features"]) == 12
    assert all(round(c, 2) == c for f in masked["features"] for c in f["geometry"]["coordinates"])
    # a map naming its box and zoom: the clusters of the box, counted in the same scan
    boxed = await get_titik(client, dinas, bbox="104,-3.5,105,-2", zoom=10)
    assert boxed["jenis"] == "klaster" and boxed["jumlah"] == 12 and boxed["per_status"] == doc["per_status"]
    assert sum(f["properties"]["jumlah"] for f in boxed["features"]) == 12 and boxed["bbox"] == doc["bbox"]
    assert boxed["ukuran_sel"] == max(360 / 2**10 / 4, 1.5 / 32)
    # a status filter counts only that status; a box only what lies inside it
    assert (await get_titik(client, dinas, status="ditolak"))["jumlah"] == 4
    south = await get_titik(client, dinas, bbox="104,-3.5,105,-2.98")
    assert south["jumlah"] == sum(1 for lat, _ in POINTS if lat <= -2.98)
    assert south["jenis"] == "titik"


async def test_points_are_paged_below_the_threshold(client, enum_key, verif, dinas):
    records = await seed(client, enum_key, verif)
    seen, cursor, pages = [], None, 0
    while True:
        doc = await get_titik(client, dinas, limit=5, **({"cursor": cursor} if cursor else {}))
        pages += 1
        seen += [f["properties"]["submission_id"] for f in doc["features"]]
        cursor = doc["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(rec["submission_id"] for rec in records)


async def test_the_kabkota_box_when_an_operator_loaded_one(client, pg, enum_key, verif, dinas):
    await seed(client, enum_key, verif, POINTS[:2])
    await pg.execute(
        "INSERT INTO wilayah_bbox (kode, lat_min, lat_max, lon_min, lon_max, sumber) VALUES ('16.07', -3.4, -1.6, 104.0, 105.4, 'uji')"
    )
    doc = await get_titik(client, dinas)
    assert doc["kotak_wilayah"] == {"bbox": [104.0, -3.4, 105.4, -1.6], "sumber": "uji"}


async def test_bad_input_and_scope(client, keys, enum_key, verif, dinas):
    from tests.support.problems import assert_problem

    async def ask(key, **params):
        return await client.get(TITIK, params={"periode": "2022", "kode_wilayah": "16.07", **params}, headers=auth(key))

    def named(r, field):
        body = assert_problem(r, "invalid-input")
        assert [e["field"] for e in body["errors"]] == [field], body

    named(await ask(dinas, kode_wilayah="16"), "kode_wilayah")  # a provinsi: the map is per kabkota
    named(await ask(dinas, kode_wilayah="16.99"), "kode_wilayah")
    named(await ask(dinas, periode="1999"), "periode")
    named(await ask(dinas, bbox="104,-3"), "bbox")
    named(await ask(dinas, bbox="105,-3,104,-2"), "bbox")
    named(await ask(dinas, bbox="nan,-3,104,-2"), "bbox")
    named(await ask(dinas, limit=0), "limit")
    named(await ask(dinas, limit=100_000), "limit")
    named(await ask(dinas, cursor="bukan-kursor"), "cursor")
    r = await ask(dinas, zoom=23)
    assert_problem(r, "invalid-input")
    assert_problem(await ask(verif, kode_wilayah="16.71"), "outside-scope")
    assert_problem(await ask(enum_key), "role-forbidden")
    assert_problem(await client.get(TITIK, params={"periode": "2022", "kode_wilayah": "16.07"}), "unauthorized")


# ---------------------------------------------------------------- the enumerator flag lokasi_luar

BOX_1607 = "INSERT INTO wilayah_bbox (kode, lat_min, lat_max, lon_min, lon_max, sumber) VALUES ('16.07', -3.4, -1.6, 104.0, 105.4, 'uji')"


async def test_lokasi_luar_flags_an_enumerator_with_records_outside_the_kabkota_box(client, pg, enum_key, dinas):
    from app.kampanye.service.titik import LUAR_MARGIN, LUAR_MINIMAL

    inside = {"lat": -2.9, "lon": 104.7}
    # just past the margin, and far away (Jakarta)
    outside = [{"lat": -3.4 - LUAR_MARGIN - 0.001, "lon": 104.7}, {"lat": -6.2, "lon": 106.8}, {"lat": -2.9, "lon": 105.5}]
    within_margin = {"lat": -3.4 - LUAR_MARGIN / 2, "lon": 104.7}
    for lokasi in outside:
        await post_one(client, enum_key, enumerator_id="ENUM-LUAR", lokasi=lokasi)
    await post_one(client, enum_key, enumerator_id="ENUM-LUAR", lokasi=inside)
    for lokasi in outside[: LUAR_MINIMAL - 1] + [within_margin, inside]:
        await post_one(client, enum_key, enumerator_id="ENUM-TEPI", lokasi=lokasi)
    await post_one(client, enum_key, enumerator_id="ENUM-TANPA")  # no lokasi at all

    async def table():
        r = await client.get("/api/v1/kampanye/enumerator", params={"periode": "2022", "kode_wilayah": "16.07"}, headers=auth(dinas))
        assert r.status_code == 200, r.text
        return r.json()

    # no box loaded: the flag cannot apply, and says so (null, not 0)
    doc = await table()
    assert {i["enumerator_id"]: i["lokasi_di_luar"] for i in doc["items"]} == {"ENUM-LUAR": None, "ENUM-TEPI": None, "ENUM-TANPA": None}
    assert doc["aturan"]["lokasi_luar"] == {"minimal": LUAR_MINIMAL, "margin_derajat": LUAR_MARGIN}

    await pg.execute(BOX_1607)
    doc = await table()
    rows = {i["enumerator_id"]: i for i in doc["items"]}
    assert rows["ENUM-LUAR"]["lokasi_di_luar"] == 3 and "lokasi_luar" in rows["ENUM-LUAR"]["tanda"]
    assert rows["ENUM-TEPI"]["lokasi_di_luar"] == 2 and "lokasi_luar" not in rows["ENUM-TEPI"]["tanda"]
    assert rows["ENUM-TANPA"]["lokasi_di_luar"] == 0 and rows["ENUM-TANPA"]["tanda"] == []
    # the same count by plain SQL over the records
    recount = await pg.fetch(
        """SELECT enumerator_id, count(*) AS n FROM submissions s JOIN wilayah_bbox b ON b.kode = s.kode_kabkota
           WHERE lokasi_lat < lat_min - $1 OR lokasi_lat > lat_max + $1 OR lokasi_lon < lon_min - $1 OR lokasi_lon > lon_max + $1
           GROUP BY 1""",
        LUAR_MARGIN,
    )
    assert {r["enumerator_id"]: r["n"] for r in recount} == {"ENUM-LUAR": 3, "ENUM-TEPI": 2}


# ---------------------------------------------------------------- kumkm wilayah bbox


def run_cli(*args, database_url):
    import os
    import subprocess
    import sys

    from tests.support.common import ROOT

    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


async def test_the_operator_loads_boxes_from_geojson_or_csv_all_or_nothing(tmp_path, pg, database_url):
    import orjson

    geo = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"kode": "16.07", "nama": "Banyuasin"},
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [
                        [[[104.0, -3.0], [105.0, -3.0], [105.0, -2.0], [104.0, -3.0]]],
                        [[[104.5, -3.4], [105.4, -1.6], [104.2, -1.9], [104.5, -3.4]]],
                    ],
                },
            },
            {"type": "Feature", "properties": {"kode_kabkota": "16.71"}, "bbox": [104.6, -3.1, 104.9, -2.9], "geometry": None},
        ],
    }
    f = tmp_path / "batas.geojson"
    f.write_bytes(orjson.dumps(geo))
    done = run_cli("wilayah", "bbox", str(f), database_url=database_url)
    assert done.returncode == 0, done.stderr
    rows = {r["kode"]: tuple(r)[1:] for r in await pg.fetch("SELECT kode, lat_min, lat_max, lon_min, lon_max, sumber FROM wilayah_bbox")}
    assert rows == {"16.07": (-3.4, -1.6, 104.0, 105.4, "batas.geojson"), "16.71": (-3.1, -2.9, 104.6, 104.9, "batas.geojson")}

    # a CSV replaces what it names; one bad line (or an unknown kabkota) loads nothing
    good = tmp_path / "kotak.csv"
    good.write_text("kode,lat_min,lat_max,lon_min,lon_max\n16.07,-3.5,-1.5,103.9,105.5\n")
    done = run_cli("wilayah", "bbox", str(good), "--sumber", "BIG 2024", database_url=database_url)
    assert done.returncode == 0, done.stderr
    assert tuple(await pg.fetchrow("SELECT lat_min, lon_max, sumber FROM wilayah_bbox WHERE kode = '16.07'")) == (-3.5, 105.5, "BIG 2024")
    for content, said in (
        ("kode,lat_min,lat_max,lon_min,lon_max\n16.71,-3.0,-2.0,104.0,105.0\n16.07,-1.0,-2.0,104.0,105.0\n", "baris 3"),
        ("kode,lat_min,lat_max,lon_min,lon_max\n16.99,-3.0,-2.0,104.0,105.0\n", "16.99"),
        ("kode,lat_min,lat_max,lon_min,lon_max\n16,-3.0,-2.0,104.0,105.0\n", "kabupaten/kota"),
        ("kode,lat,lon\n16.07,-3,104\n", "berkepala"),
    ):
        bad = tmp_path / "buruk.csv"
        bad.write_text(content)
        done = run_cli("wilayah", "bbox", str(bad), database_url=database_url)
        assert done.returncode == 1 and said in done.stderr and "nothing loaded" in done.stderr, (content, done.stderr)
    assert tuple(await pg.fetchrow("SELECT lat_min, sumber FROM wilayah_bbox WHERE kode = '16.07'")) == (-3.5, "BIG 2024")
    assert await pg.fetchval("SELECT lat_min FROM wilayah_bbox WHERE kode = '16.71'") == -3.1
