"""Progress over time (docs/kampanye.md): every figure equals a known answer and a plain-SQL
recount on a seeded campaign, in the three time zones; bad input is a 4xx naming the field."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import openpyxl
import pytest

from app.kampanye.service.kemajuan import pace
from app.record import zona
from tests.support import factories
from tests.support.common import auth
from tests.support.problems import assert_problem
from tests.support.verification_helpers import correct, tolak

PATH = "/api/v1/kampanye/kemajuan"
START = dt.date(2022, 8, 1)
DAYS = 30
# records per day per kabupaten/kota: Kota Palembang and Banyuasin (WIB), Kota Makassar (WITA),
# Kota Jayapura (WIT)
PER_DAY = {"16.71": 10, "16.07": 4, "73.71": 3, "91.71": 2}

# Day d's records are captured at 16:30 UTC (23:30 WIB, 00:30 WITA and 01:30 WIT of the next
# day) and arrive at 18:30 UTC (the next day everywhere); record i of a day is ditolak when
# i % 5 == 0, masuk when 1, else diterima.
SEED = """
    INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, status,
                             enumerator_id, captured_at, content_hash, dibuat_oleh, dibuat_pada, diperbarui_pada)
    SELECT gen_random_uuid(), '2022', 'umkm', k.kab, left(k.kab, 2), k.kab,
           CASE i % 5 WHEN 0 THEN 'ditolak' WHEN 1 THEN 'masuk' ELSE 'diterima' END, 'ENUM-' || i,
           timestamptz '2022-08-01 16:30+00' + d * interval '1 day', '\\x00'::bytea, 'test',
           timestamptz '2022-08-01 18:30+00' + d * interval '1 day', timestamptz '2022-08-01 18:30+00' + d * interval '1 day'
    FROM jsonb_each_text($1::jsonb) AS k (kab, per), generate_series(0, $2 - 1) AS d, generate_series(0, k.per::int - 1) AS i
"""

RECOUNT = """
    SELECT ((CASE WHEN $3 = 'tangkap' THEN captured_at ELSE dibuat_pada END AT TIME ZONE 'UTC')
            + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date AS hari,
           count(*) AS masuk, count(*) FILTER (WHERE status = 'diterima') AS diterima,
           count(*) FILTER (WHERE status = 'ditolak') AS ditolak, count(*) FILTER (WHERE status = 'masuk') AS belum
    FROM submissions
    WHERE periode = $1 AND ($2::text IS NULL OR kode_kabkota = $2 OR kode_provinsi = $2)
    GROUP BY 1 ORDER BY 1
"""


def status_of(i: int) -> str:
    return {0: "ditolak", 1: "masuk"}.get(i % 5, "diterima")


def known(kabkota: list[str], menurut: str) -> dict[str, tuple[int, int, int, int]]:
    """The seeded answer without the database: per local day (masuk, diterima, ditolak, belum)."""
    out: dict[str, Counter] = {}
    for kab in kabkota:
        per = PER_DAY[kab]
        shift = 0 if (menurut == "tangkap" and zona.zona(kab) == "WIB") else 1
        for d in range(DAYS):
            day = (START + dt.timedelta(days=d + shift)).isoformat()
            c = out.setdefault(day, Counter())
            for i in range(per):
                c["masuk"] += 1
                c[status_of(i)] += 0 if status_of(i) == "masuk" else 1
                c["belum"] += status_of(i) == "masuk"
    return {d: (c["masuk"], c["diterima"], c["ditolak"], c["belum"]) for d, c in out.items()}


async def recount(pg, kode, menurut) -> dict[str, tuple[int, int, int, int]]:
    rows = await pg.fetch(RECOUNT, "2022", kode, menurut)
    return {r["hari"].isoformat(): (r["masuk"], r["diterima"], r["ditolak"], r["belum"]) for r in rows}


def days_of(doc) -> dict[str, tuple[int, int, int, int]]:
    return {h["hari"]: (h["masuk"], h["diterima"], h["ditolak"], h["belum_diverifikasi"]) for h in doc["harian"] if h["masuk"]}


@pytest.fixture
async def campaign(pg, client, admin):
    await pg.execute(SEED, __import__("json").dumps(PER_DAY), DAYS)
    targets = {
        "16.71": {"target": 600, "batas_waktu": "2022-09-30"},
        "16.07": {"target": 1000},  # no deadline
        "16.03": {"target": 900, "batas_waktu": "2022-09-15"},  # no records yet
        "16.06": {"target": 50, "batas_waktu": "2022-08-15"},  # past its deadline
        "16": {"target": 2000, "batas_waktu": "2022-10-31"},
    }
    for kode, t in targets.items():
        body = {**t, "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-07-01"}
        r = await client.put(f"/api/v1/targets/2022/{kode}", json=body, headers=auth(admin))
        assert r.status_code == 201, r.text


async def get(client, key, **params):
    r = await client.get(PATH, params={"periode": "2022", **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


async def test_kabkota_figures_equal_the_known_answer_and_a_recount(client, dinas, pg, campaign):
    for menurut in ("tangkap", "terima"):
        doc = await get(client, dinas, kode_wilayah="16.71", menurut=menurut, sampai="2022-08-31")
        assert days_of(doc) == known(["16.71"], menurut) == await recount(pg, "16.71", menurut)
        assert doc["zona"] == "WIB" and doc["sampai"] == "2022-08-31"
    doc = await get(client, dinas, kode_wilayah="16.71", menurut="tangkap", sampai="2022-08-30")
    # captured 23:30 WIB: the first local day is 1 August, the last 30 August
    assert doc["dari"] == "2022-08-01" and len(doc["harian"]) == 30
    assert [h["kumulatif_masuk"] for h in doc["harian"]] == [10 * (d + 1) for d in range(30)]
    assert doc["harian"][-1]["kumulatif_diterima"] == 30 * 6 and doc["harian"][-1]["kumulatif_ditolak"] == 30 * 2
    assert {h["target"] for h in doc["harian"]} == {600}
    k = doc["kumulatif"]
    assert (k["masuk"], k["diterima"], k["ditolak"], k["belum_diverifikasi"]) == (300, 180, 60, 60)
    assert k["masuk_vs_target"] == "0.50000000" and k["persen"]["masuk_vs_target"] == "50,00%"
    assert doc["target"] == {"target": 600, "target_dari": "wilayah", "batas_waktu": "2022-09-30", "batas_waktu_dari": "wilayah"}
    # sampai is in the past: the pace windows end on it; 10 a day; 300 left over 31 days
    assert doc["akhir_laju"] == "2022-08-30"
    laju = doc["laju"]
    assert (laju["laju_7_hari"], laju["laju_14_hari"]) == ("10.00", "10.00")
    assert (laju["sisa_target"], laju["sisa_hari"], laju["laju_dibutuhkan"]) == (300, 31, "9.68")
    assert laju["rasio_laju"] == "1.03333333" and laju["selisih_laju"] == "0.32"
    # 300 more at 10 a day: 30 days after 30 August
    assert doc["proyeksi"] == {"status": "tepat_waktu", "tanggal": "2022-09-29", "alasan": None}
    assert doc["anak"] == []


async def test_a_range_shows_its_days_and_cumulates_from_the_first_record(client, dinas, campaign):
    doc = await get(client, dinas, kode_wilayah="16.71", menurut="tangkap", dari="2022-08-11", sampai="2022-09-05")
    assert doc["harian"][0] == {
        "hari": "2022-08-11",
        "masuk": 10,
        "diterima": 6,
        "ditolak": 2,
        "belum_diverifikasi": 2,
        "kumulatif_masuk": 110,
        "kumulatif_diterima": 66,
        "kumulatif_ditolak": 22,
        "target": 600,
    }
    assert len(doc["harian"]) == 26 and doc["harian"][-1]["masuk"] == 0 and doc["harian"][-1]["kumulatif_masuk"] == 300
    # the 7 days up to 5 September hold one captured day (30 August, WIB)
    assert doc["laju"]["laju_7_hari"] == "1.43"  # 10 / 7
    assert doc["laju"]["laju_14_hari"] == "5.71"  # 80 / 14 (23 to 30 August)


async def test_provinsi_children_most_behind_first(client, dinas, pg, campaign):
    doc = await get(client, dinas, kode_wilayah="16", menurut="terima", sampai="2022-08-31")
    assert days_of(doc) == known(["16.71", "16.07"], "terima") == await recount(pg, "16", "terima")
    # the provinsi's target is the sum of its kabupaten/kota allocations; its own revision's deadline
    assert doc["target"] == {"target": 2550, "target_dari": "anak", "batas_waktu": "2022-10-31", "batas_waktu_dari": "wilayah"}
    assert doc["kumulatif"]["masuk"] == 420
    anak = doc["anak"]
    # past its deadline; no records against 56,25 a day; ahead of pace; no deadline
    assert [a["kode"] for a in anak] == ["16.06", "16.03", "16.71", "16.07"]
    by = {a["kode"]: a for a in anak}
    assert by["16.06"]["lewat_batas_waktu"] and by["16.06"]["sisa_target"] == 50 and by["16.06"]["laju_dibutuhkan"] is None
    assert by["16.03"]["laju_dibutuhkan"] == "60.00" and by["16.03"]["rasio_laju"] == "0.00000000"  # 900 over 15 days
    assert by["16.03"]["proyeksi"] == {"status": "tidak_diketahui", "tanggal": None, "alasan": "tanpa_laju"}
    assert by["16.07"]["masuk"] == 120 and by["16.07"]["laju_7_hari"] == "4.00"
    assert by["16.07"]["proyeksi"] == {"status": "tidak_diketahui", "tanggal": None, "alasan": "tanpa_batas_waktu"}
    assert by["16.71"]["masuk"] == 300 and by["16.71"]["zona"] == "WIB"


async def test_nasional_sums_each_provinsi_own_days(client, walidata, pg, campaign):
    for menurut in ("tangkap", "terima"):
        doc = await get(client, walidata, menurut=menurut, sampai="2022-09-01")
        assert days_of(doc) == known(list(PER_DAY), menurut) == await recount(pg, None, menurut)
    doc = await get(client, walidata, menurut="tangkap", sampai="2022-09-01")
    # the same instants: 1 August is only WIB's day, 31 August only WITA's and WIT's
    assert days_of(doc)["2022-08-01"][0] == 14 and days_of(doc)["2022-08-31"][0] == 5
    assert doc["zona"] is None and doc["wilayah"] is None
    # Sumatera Selatan counts as its own page shows it (its kabupaten/kota's 2.550, not its own
    # row's 2.000): the two pages never disagree about one provinsi
    assert doc["target"]["target"] == 2550 and doc["target"]["target_dari"] == "anak"
    sumsel = await get(client, walidata, menurut="tangkap", sampai="2022-09-01", kode_wilayah="16")
    assert doc["anak"][0]["target"] == sumsel["target"]["target"] == 2550
    # Sumatera Selatan behind its pace (10 a day against 2.130 in 60 days); the others without a target
    assert [a["kode"] for a in doc["anak"]] == ["16", "73", "91"]
    assert (doc["anak"][0]["laju_7_hari"], doc["anak"][0]["laju_dibutuhkan"], doc["anak"][0]["sisa_hari"]) == ("10.00", "35.50", 60)
    assert {a["kode"]: a["zona"] for a in doc["anak"]} == {"16": "WIB", "73": "WITA", "91": "WIT"}
    assert sum(a["masuk"] for a in doc["anak"]) == doc["kumulatif"]["masuk"] == 19 * DAYS


# 10 records a day in Kota Palembang on each of the 7 days before today (12:00 WIB, arriving an hour later)
LAST_WEEK = """
    INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, status,
                             enumerator_id, captured_at, content_hash, dibuat_oleh, dibuat_pada, diperbarui_pada)
    SELECT gen_random_uuid(), $1, 'umkm', '16.71', '16', '16.71', 'masuk', 'ENUM-' || i,
           $2::timestamptz - d * interval '1 day', '\\x00'::bytea, 'test',
           $2::timestamptz - d * interval '1 day' + interval '1 hour', $2::timestamptz - d * interval '1 day' + interval '1 hour'
    FROM generate_series(1, 7) AS d, generate_series(1, 10) AS i
"""


async def test_the_deadline_day_is_still_a_working_day(client, dinas, pg, admin):
    # Kota Palembang's deadline is today: 70 records against 90, so 20 are due by tonight. Today
    # is not over, so it is a day to work, not a day passed (on the page of the kabupaten/kota
    # and in its provinsi's child table alike).
    today = zona.hari_ini("16")
    periode = str(today.year)
    await pg.execute(LAST_WEEK, periode, dt.datetime.combine(today, dt.time(5, 0), dt.UTC))
    body = {"target": 90, "dasar_hukum": "Kepdep 1/2026", "berlaku_mulai": f"{periode}-01-01", "batas_waktu": today.isoformat()}
    r = await client.put(f"/api/v1/targets/{periode}/16.71", json=body, headers=auth(admin))
    assert r.status_code == 201, r.text
    r = await client.get(PATH, params={"periode": periode, "kode_wilayah": "16.71"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["sampai"] == today.isoformat() and doc["akhir_laju"] == (today - dt.timedelta(days=1)).isoformat()
    expected = {"laju_7_hari": "10.00", "sisa_target": 20, "sisa_hari": 1, "laju_dibutuhkan": "20.00", "lewat_batas_waktu": False}
    assert {k: doc["laju"][k] for k in expected} == expected
    assert doc["laju"]["rasio_laju"] == "0.50000000"
    # 20 more at 10 a day: today and tomorrow, one day late
    assert doc["proyeksi"] == {"status": "terlambat", "tanggal": (today + dt.timedelta(days=1)).isoformat(), "alasan": None}
    r = await client.get(PATH, params={"periode": periode, "kode_wilayah": "16"}, headers=auth(dinas))
    kota = next(a for a in r.json()["anak"] if a["kode"] == "16.71")
    assert {k: kota[k] for k in expected} == expected
    # today named as `sampai` is the same day, not over either
    r = await client.get(PATH, params={"periode": periode, "kode_wilayah": "16.71", "sampai": today.isoformat()}, headers=auth(dinas))
    assert r.json()["laju"]["lewat_batas_waktu"] is False
    # once the deadline day is over (akhir_laju reaches it), the deadline has passed
    past = pace(90, today, 70, 70, 70, today)
    assert past["lewat_batas_waktu"] and past["sisa_hari"] == 0 and past["laju_dibutuhkan"] is None


async def test_zone_function_in_sql_equals_python(pg):
    rows = await pg.fetch("SELECT kode, kumkm_zona_jam(kode) AS jam FROM wilayah WHERE level = 1")
    assert len(rows) >= 34
    assert all(r["jam"] == zona.OFFSET_JAM[zona.zona(r["kode"])] for r in rows)


async def test_ingest_decisions_and_corrections_keep_the_days_exact(client, enum_banyuasin, verif, dinas, pg):
    recs = [factories.umkm(captured_at=f"2022-06-0{d}T23:30:00+07:00") for d in (1, 2, 3)]
    for rec in recs:
        assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum_banyuasin))).status_code == 201
    assert (await tolak(client, verif, recs[0]["submission_id"])).status_code == 200
    r = await client.post(
        f"/api/v1/submissions/{recs[1]['submission_id']}/verifikasi", json={"status": "diterima", "version": 1}, headers=auth(verif)
    )
    assert r.status_code == 200, r.text
    # the correction moves the record's capture to another day and puts it back to masuk
    assert (await correct(client, enum_banyuasin, recs[0], captured_at="2022-06-05T08:00:00+07:00")).status_code == 200
    # captured in June 2022, arrived today: each range holds all of them
    for menurut, sampai in (("tangkap", "2022-12-31"), ("terima", None)):
        doc = await get(client, dinas, kode_wilayah="16.07", menurut=menurut, **({"sampai": sampai} if sampai else {}))
        assert days_of(doc) == await recount(pg, "16.07", menurut)
    doc = await get(client, dinas, kode_wilayah="16.07", menurut="tangkap", sampai="2022-06-30")
    assert {h["hari"]: h["masuk"] for h in doc["harian"] if h["masuk"]} == {"2022-06-02": 1, "2022-06-03": 1, "2022-06-05": 1}
    assert doc["kumulatif"]["diterima"] == 1 and doc["kumulatif"]["belum_diverifikasi"] == 2
    # no target: pace shown, projection unknown, never a 500
    assert doc["target"]["target"] is None and doc["proyeksi"]["alasan"] == "tanpa_target"


async def test_downloads_csv_and_xlsx(client, dinas, campaign):
    params = {"periode": "2022", "kode_wilayah": "16", "menurut": "tangkap", "sampai": "2022-08-31"}
    r = await client.get(PATH, params={**params, "format": "csv"}, headers=auth(dinas))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Tanggal,Data Masuk") and lines[1].startswith("01/08/2022,14,")
    r = await client.get(PATH, params={**params, "format": "csv-data", "tabel": "anak"}, headers=auth(dinas))
    assert r.text.splitlines()[1].startswith("1,16.06,")
    # the display CSV: Kota Palembang keeps 60 a week against 300 in 30 days: 6/7 of the pace needed
    r = await client.get(PATH, params={**params, "format": "csv", "tabel": "anak"}, headers=auth(dinas))
    palembang = next(line for line in r.text.splitlines() if ",16.71," in line)
    assert '"85,71%"' in palembang and '"8,57"' in palembang and '"10,00"' in palembang
    r = await client.get(PATH, params={**params, "format": "xlsx", "tabel": "anak"}, headers=auth(dinas))
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert "16.06" in values and "Kota Palembang" in " ".join(str(v) for v in values)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"dari": "2022-09-01", "sampai": "2022-08-01"}, "dari"),
        ({"dari": "2022-01-01", "sampai": "2023-01-02"}, "sampai"),
        ({"kode_wilayah": "16.07.01"}, "kode_wilayah"),
        ({"kode_wilayah": "99"}, "kode_wilayah"),
        ({"menurut": "kemarin"}, "menurut"),
        ({"periode": "1999"}, "periode"),
        ({"sampai": "31-08-2022"}, "sampai"),
        ({"dari": "2099-01-01"}, "dari"),  # after today, sampai left to today
        ({"dari": "2020-01-01"}, "dari"),  # more than a round before today
        ({"sampai": "9999-12-31"}, "sampai"),  # the day arithmetic would leave the calendar
        ({"dari": "0001-01-01", "sampai": "0001-01-05"}, "dari"),
    ],
)
async def test_bad_input_names_the_field(client, dinas, params, field):
    r = await client.get(PATH, params={"periode": "2022", "kode_wilayah": "16", **params}, headers=auth(dinas))
    problem = assert_problem(r, "invalid-input")
    assert any(field in str(e.get("field", "")) or field in str(e.get("loc", "")) for e in problem["errors"]), problem


async def test_scope_and_role(client, dinas, enum_key, keys):
    assert_problem(await client.get(PATH, params={"periode": "2022", "kode_wilayah": "73.71"}, headers=auth(dinas)), "outside-scope")
    assert_problem(await client.get(PATH, params={"periode": "2022"}, headers=auth(dinas)), "outside-scope")
    assert_problem(await client.get(PATH, params={"periode": "2022", "kode_wilayah": "16"}, headers=auth(enum_key)), "role-forbidden")
    verif_makassar = await keys.make("verifikator", "73.71")
    r = await client.get(PATH, params={"periode": "2022", "kode_wilayah": "73.71"}, headers=auth(verif_makassar))
    assert r.status_code == 200 and r.json()["zona"] == "WITA"
    assert_problem(await client.get(PATH, params={"periode": "2022", "kode_wilayah": "73"}, headers=auth(verif_makassar)), "outside-scope")
