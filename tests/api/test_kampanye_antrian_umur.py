"""The backlog's age (docs/kampanye.md, backlog): median, 90th percentile, oldest and the count
over the threshold equal a known answer and a plain-SQL recount; the queue walks oldest-first."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from tests.support import factories
from tests.support.common import auth
from tests.support.problems import assert_problem
from tests.support.verification_helpers import correct, tolak

PATH = "/api/v1/kampanye/antrian-umur"
# hours waited by the records in masuk, per kabupaten/kota; and one decided record each (not counted)
WAITS = {"16.07": [1, 5, 30, 50, 100, 200, 400], "16.71": [2, 300], "73.71": [10]}

SEED = """
    INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, status,
                             enumerator_id, captured_at, content_hash, dibuat_oleh, dibuat_pada, diperbarui_pada)
    SELECT gen_random_uuid(), '2022', 'umkm', kab, left(kab, 2), kab, status, 'ENUM-1',
           -- captured in the reverse order of arrival: the capture order is not the waiting order
           timestamptz '2022-06-01 08:00+07' + w * interval '1 minute', '\\x00'::bytea, 'test',
           $2::timestamptz - w * interval '1 hour', $2::timestamptz - w * interval '1 hour'
    FROM jsonb_to_recordset($1::jsonb) AS x (kab text, w int, status text)
"""

RECOUNT = """
    SELECT kode_kabkota, count(*) AS n,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY $2::timestamptz - diperbarui_pada) AS m,
           percentile_disc(0.9) WITHIN GROUP (ORDER BY $2::timestamptz - diperbarui_pada) AS p,
           max($2::timestamptz - diperbarui_pada) AS o,
           count(*) FILTER (WHERE $2::timestamptz - diperbarui_pada > interval '7 days') AS lewat
    FROM submissions WHERE status = 'masuk' AND periode = $1 AND kode_provinsi = '16' GROUP BY 1
"""


@pytest.fixture
async def backlog(pg):
    base = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rows = [{"kab": k, "w": w, "status": "masuk"} for k, ws in WAITS.items() for w in ws]
    rows += [{"kab": k, "w": 999, "status": "diterima"} for k in WAITS]
    await pg.execute(SEED, __import__("json").dumps(rows), base)
    return base


def expected(hours: list[int], pada: dt.datetime, base: dt.datetime) -> dict:
    ages = sorted(((pada - (base - dt.timedelta(hours=h))) // dt.timedelta(seconds=1)) for h in hours)
    n = len(ages)
    return {
        "belum_diverifikasi": n,
        "median_detik": ages[math.ceil(0.5 * n) - 1],
        "p90_detik": ages[math.ceil(0.9 * n) - 1],
        "terlama_detik": ages[-1],
        "lewat_ambang": sum(1 for h in hours if h > 7 * 24),
    }


async def test_ages_equal_the_known_answer_and_a_recount(client, dinas, pg, backlog):
    r = await client.get(PATH, params={"periode": "2022", "kode_wilayah": "16"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    doc = r.json()
    pada = dt.datetime.fromisoformat(doc["pada"].replace("Z", "+00:00"))
    keys = ("belum_diverifikasi", "median_detik", "p90_detik", "terlama_detik", "lewat_ambang")
    got = {row["kode"]: {k: row[k] for k in keys} for row in doc["rows"]}
    assert got == {k: expected(WAITS[k], pada, backlog) for k in ("16.07", "16.71")}
    truth = {
        r["kode_kabkota"]: {
            "belum_diverifikasi": r["n"],
            "median_detik": r["m"] // dt.timedelta(seconds=1),
            "p90_detik": r["p"] // dt.timedelta(seconds=1),
            "terlama_detik": r["o"] // dt.timedelta(seconds=1),
            "lewat_ambang": r["lewat"],
        }
        for r in await pg.fetch(RECOUNT, "2022", pada)
    }
    assert got == truth
    # the longest waits first: 16.07 has two over 7 days, 16.71 one
    assert [row["kode"] for row in doc["rows"]] == ["16.07", "16.71"]
    assert {k: doc["jumlah"][k] for k in keys} == expected(WAITS["16.07"] + WAITS["16.71"], pada, backlog)
    row = doc["rows"][0]
    assert row["terlama_hari"] == f"{400 / 24:.2f}" and row["median_hari"] == f"{50 / 24:.2f}" and row["zona"] == "WIB"
    assert row["terlama_sejak"].startswith((backlog - dt.timedelta(hours=400)).strftime("%Y-%m-%dT%H:%M:%S"))
    # a threshold of 2 days counts more
    r = await client.get(PATH, params={"periode": "2022", "kode_wilayah": "16.07", "ambang_hari": 2}, headers=auth(dinas))
    assert [x["lewat_ambang"] for x in r.json()["rows"]] == [4]  # 50, 100, 200 and 400 hours


async def test_nasional_and_empty(client, walidata, dinas, backlog):
    doc = (await client.get(PATH, params={"periode": "2022"}, headers=auth(walidata))).json()
    assert {r["kode"]: r["zona"] for r in doc["rows"]} == {"16.07": "WIB", "16.71": "WIB", "73.71": "WITA"}
    assert doc["jumlah"]["belum_diverifikasi"] == 10
    doc = (await client.get(PATH, params={"periode": "2023", "kode_wilayah": "16"}, headers=auth(dinas))).json()
    assert doc["rows"] == [] and doc["jumlah"]["belum_diverifikasi"] == 0 and doc["jumlah"]["median_detik"] is None


async def test_downloads(client, dinas, backlog):
    r = await client.get(PATH, params={"periode": "2022", "kode_wilayah": "16", "format": "csv"}, headers=auth(dinas))
    lines = r.text.lstrip("\ufeff").splitlines()
    assert "Lewat 7 Hari" in lines[0] and lines[1].startswith("1,16.07,") and lines[-1].startswith(",,Jumlah,,9,")
    r = await client.get(PATH, params={"periode": "2022", "kode_wilayah": "16", "format": "xlsx"}, headers=auth(dinas))
    assert r.status_code == 200 and r.content[:2] == b"PK"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"ambang_hari": 0}, "ambang_hari"), ({"ambang_hari": -3}, "ambang_hari"), ({"kode_wilayah": "16.07.01"}, "kode_wilayah")],
)
async def test_bad_input(client, dinas, params, field):
    r = await client.get(PATH, params={"periode": "2022", "kode_wilayah": "16", **params}, headers=auth(dinas))
    problem = assert_problem(r, "invalid-input")
    assert problem["errors"][0]["field"] == field and problem["errors"][0]["message"].startswith(field)


async def test_scope(client, dinas, enum_key):
    assert_problem(await client.get(PATH, params={"periode": "2022", "kode_wilayah": "73"}, headers=auth(dinas)), "outside-scope")
    assert_problem(await client.get(PATH, params={"periode": "2022"}, headers=auth(dinas)), "outside-scope")
    assert_problem(await client.get(PATH, params={"periode": "2022", "kode_wilayah": "16"}, headers=auth(enum_key)), "role-forbidden")


async def test_queue_oldest_first_pages_and_keeps_its_cursor(client, verif, backlog):
    q = "/api/v1/verifikasi/antrian"
    params = {"periode": "2022", "kabkota": "16.07", "urut": "terlama", "limit": 3}
    seen, cursor = [], None
    while True:
        r = await client.get(q, params={**params, **({"cursor": cursor} if cursor else {})}, headers=auth(verif))
        assert r.status_code == 200, r.text
        seen += [it["diperbarui_pada"] for it in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 and seen == sorted(seen)  # the longest wait first
    default = (await client.get(q, params={"periode": "2022", "kabkota": "16.07"}, headers=auth(verif))).json()
    assert [it["diperbarui_pada"] for it in default["items"]] == sorted(seen, reverse=True)  # captured in reverse
    first = (await client.get(q, params=params, headers=auth(verif))).json()
    r = await client.get(q, params={"periode": "2022", "kabkota": "16.07", "cursor": first["next_cursor"]}, headers=auth(verif))
    assert r.status_code == 422 and "cursor" in r.text  # a cursor belongs to its order
    r = await client.get(q, params={**params, "urut": "baru"}, headers=auth(verif))
    assert r.status_code == 422 and "urut" in r.text


async def test_a_corrected_record_waits_from_its_correction(client, enum_banyuasin, verif, pg):
    rec = factories.umkm()
    assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum_banyuasin))).status_code == 201
    await pg.execute("UPDATE submissions SET dibuat_pada = now() - interval '20 days', diperbarui_pada = now() - interval '20 days'")
    assert (await tolak(client, verif, rec["submission_id"])).status_code == 200
    assert (await correct(client, enum_banyuasin, rec, nama_usaha="Warung Makan Sederhana Baru")).status_code == 200
    doc = (await client.get(PATH, params={"periode": "2022", "kode_wilayah": "16.07"}, headers=auth(verif))).json()
    assert doc["rows"][0]["belum_diverifikasi"] == 1 and doc["rows"][0]["terlama_detik"] < 3600 and doc["rows"][0]["lewat_ambang"] == 0
