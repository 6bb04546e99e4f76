"""Partner programs' look-ups (issue 30 section 2, docs/mitra.md): what a look-up answers and
never answers (the personal-data rule on every answer shape: JSON, CSV, xlsx, errors, the access
log), the refusals that guard against enumeration, the batch file, the bounds (rate, daily
quota: 429 with Retry-After), the audit per purpose per day, and the key's CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys

import openpyxl
import pytest

from tests.support import registry_helpers
from tests.support.common import ROOT, auth
from tests.support.entitas import gabung
from tests.support.factories import nik
from tests.support.problems import assert_problem

CEK = "/api/v1/kumkm/cek"
BATCH = "/api/v1/kumkm/cek/batch"
AUDIT = "/api/v1/audit/mitra"

NIB_A = "9120001234567"
NIB_C = "9120007654321"
NIK_A = nik("160701", perempuan=True, serial=4321)
NAMA_A = "Warung Makan Bu Siti"
NIK_KOP = "1607012345678901"
BH_KOP = "123/BH/XII/2010"
NIB_JAMBI = "9120009999999"
OTHER_DESA = "15.01.01.2001"

# What a look-up must never show, whoever asks and however the answer is written.
PERSONAL = (NIK_A, "Siti Aminah", "Jl. Merdeka", "081234567890", "Bu Siti", "bu siti", "Sederhana")


@pytest.fixture
async def dunia(client, admin, pg):
    """Three accepted UMKM and one koperasi, linked by the service's linker: A (NIB, the owner's
    NIK and name) and C (another NIB) in Banyuasin (16.07), one in Kerinci, Jambi (15.01), and a
    koperasi in Banyuasin. Returns their id_kumkm."""
    a = await registry_helpers.accepted(client, admin, admin, nib=NIB_A, nik_pemilik=NIK_A, nama_usaha=NAMA_A)
    c = await registry_helpers.accepted(client, admin, admin, nib=NIB_C, nama_usaha="Bengkel Las Jaya")
    j = await registry_helpers.accepted(client, admin, admin, nib=NIB_JAMBI, kode_wilayah=OTHER_DESA, nik_pemilik=nik("150101"))
    k = await registry_helpers.accepted(client, admin, admin, jenis="koperasi", nik_koperasi=NIK_KOP, nomor_badan_hukum=BH_KOP)
    ids = await registry_helpers.linked(pg, [a, c, j, k])
    return {
        "a": ids[a["submission_id"]],
        "c": ids[c["submission_id"]],
        "jambi": ids[j["submission_id"]],
        "kop": ids[k["submission_id"]],
        "recs": (a, c),
    }


@pytest.fixture
async def mitra(keys):
    return await keys.make("mitra", name="bank-kur", tujuan=("kur", "bantuan"))


def no_personal(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, f"{value!r} in {text[:500]}"


ANSWER_KEYS = {
    "terdaftar",
    "tujuan",
    "id_kumkm",
    "jenis",
    "skala_usaha",
    "sektor",
    "kode_kabkota",
    "nama_kabkota",
    "status_verifikasi",
    "periode_terakhir",
}


async def test_each_question_answers_the_profile_and_nothing_personal(client, dunia, mitra):
    asked = [
        ({"nib": NIB_A}, dunia["a"]),
        ({"nib": "912-000-123-4567"}, dunia["a"]),
        ({"nik_pemilik": NIK_A, "nama_usaha": "WARUNG MAKAN BU SITI"}, dunia["a"]),
        ({"nik_pemilik": NIK_A, "nama_usaha": "bu  siti"}, dunia["a"]),
        ({"nik_koperasi": NIK_KOP}, dunia["kop"]),
        ({"nomor_badan_hukum": "123 bh xii 2010"}, dunia["kop"]),
    ]
    for question, want in asked:
        r = await client.post(CEK, json={"tujuan": "kur", **question}, headers=auth(mitra))
        assert r.status_code == 200, (question, r.text)
        body = r.json()
        assert set(body) == ANSWER_KEYS
        assert body["terdaftar"] is True and body["id_kumkm"] == want, (question, body)
        assert (body["kode_kabkota"], body["nama_kabkota"], body["status_verifikasi"], body["periode_terakhir"]) == (
            "16.07",
            "Kabupaten Banyuasin",
            "diterima",
            "2022",
        )
        no_personal(r.text)
    a = (await client.post(CEK, json={"tujuan": "bantuan", "nib": NIB_A}, headers=auth(mitra))).json()
    assert (a["jenis"], a["skala_usaha"], a["sektor"], a["tujuan"]) == ("umkm", "mikro", "I", "bantuan")
    kop = (await client.post(CEK, json={"tujuan": "kur", "nik_koperasi": NIK_KOP}, headers=auth(mitra))).json()
    assert (kop["jenis"], kop["skala_usaha"], kop["sektor"]) == ("koperasi", None, None)


async def test_not_registered_and_names_that_differ_are_not_guessed(client, dunia, mitra):
    """Not registered: the same keys, null. A name that only looks alike is not the usaha (no
    fuzzy match: a partner cannot walk a person's businesses by near names); the same NIK's
    other usaha answers only to its own name."""
    for question in (
        {"nib": "9120000000001"},
        {"nik_pemilik": NIK_A, "nama_usaha": "Warung Bu Sity"},
        {"nik_pemilik": NIK_A, "nama_usaha": "Bengkel Las Jaya"},
        {"nik_pemilik": nik("160701", serial=1), "nama_usaha": NAMA_A},
        {"nik_koperasi": "1607012345678900"},
    ):
        r = await client.post(CEK, json={"tujuan": "kur", **question}, headers=auth(mitra))
        assert r.status_code == 200, r.text
        assert r.json() == {"terdaftar": False, "tujuan": "kur", **{k: None for k in ANSWER_KEYS - {"terdaftar", "tujuan"}}}


REFUSED = [
    ({"nib": "912000123456"}, "nib", "harus tepat 13 angka"),
    ({"nib": "91200012345678"}, "nib", "harus tepat 13 angka"),
    ({"nib": "912000123456X"}, "nib", "harus tepat 13 angka"),
    ({"nib": "9120001234%"}, "nib", "karakter pengganti"),
    ({"nib": "912000123456*"}, "nib", "karakter pengganti"),
    ({"nik_koperasi": "160701234567890?"}, "nik_koperasi", "karakter pengganti"),
    ({"nik_koperasi": "16070123456789"}, "nik_koperasi", "harus tepat 16 angka"),
    ({"nomor_badan_hukum": "12/BH"}, "nomor_badan_hukum", "tidak lengkap"),
    ({"nomor_badan_hukum": "123_BH_XII_2010"}, "nomor_badan_hukum", "karakter pengganti"),
    ({"nik_pemilik": NIK_A}, "nama_usaha", "NIK saja tidak dijawab"),
    ({"nik_pemilik": NIK_A[:15], "nama_usaha": NAMA_A}, "nik_pemilik", "harus tepat 16 angka"),
    ({"nik_pemilik": NIK_A, "nama_usaha": "Warung %"}, "nama_usaha", "karakter pengganti"),
    ({"nik_pemilik": NIK_A, "nama_usaha": "UD A"}, "nama_usaha", "terlalu pendek"),
    ({"nama_usaha": NAMA_A}, "nama_usaha", "kirim tepat satu pengenal"),
    ({}, "nib", "kirim tepat satu pengenal"),
    ({"nib": NIB_A, "nik_pemilik": NIK_A, "nama_usaha": NAMA_A}, "nik_pemilik", "satu pengenal saja"),
    ({"nib": NIB_A, "nama_usaha": NAMA_A}, "nama_usaha", "hanya dipakai bersama nik_pemilik"),
]


@pytest.mark.parametrize(("question", "field", "reason"), REFUSED, ids=[f"{i}-{r[1]}" for i, r in enumerate(REFUSED)])
async def test_enumeration_guards_refuse_with_422_never_echoing_the_value(client, dunia, mitra, pg, question, field, reason):
    r = await client.post(CEK, json={"tujuan": "kur", **question}, headers=auth(mitra))
    body = assert_problem(r, "invalid-input")
    assert body["errors"][0]["field"] == field and reason in body["detail"], body
    assert body["detail"].startswith(field), body
    for value in question.values():
        assert value not in r.text
    no_personal(r.text)
    log = await pg.fetch("SELECT detail::text AS d FROM access_log WHERE endpoint = 'POST /api/v1/kumkm/cek'")
    assert len(log) == 1 and '"hasil": "ditolak"' in log[0]["d"] and '"tujuan": "kur"' in log[0]["d"]
    for value in question.values():
        if value not in (NIB_A,):  # a NIB (a business register, not personal) may be logged; here it is not, being refused
            assert value not in log[0]["d"]


async def test_purpose_is_required_known_and_the_keys(client, dunia, mitra, pg):
    assert_problem(await client.post(CEK, json={"nib": NIB_A}, headers=auth(mitra)), "invalid-input")
    body = assert_problem(await client.post(CEK, json={"tujuan": "judi", "nib": NIB_A}, headers=auth(mitra)), "invalid-input")
    assert body["detail"].startswith("tujuan tidak dikenal") and "judi" not in body["detail"]
    body = assert_problem(await client.post(CEK, json={"tujuan": "pelatihan", "nib": NIB_A}, headers=auth(mitra)), "forbidden")
    assert body["errors"][0]["field"] == "tujuan"
    counts = await pg.fetch("SELECT tujuan, sum(ditolak)::bigint AS ditolak FROM mitra_pemakaian GROUP BY tujuan ORDER BY tujuan")
    assert [tuple(c) for c in counts] == [("-", 2), ("pelatihan", 1)]


async def test_a_wilayah_key_finds_only_inside_it_a_national_one_everywhere(client, dunia, keys):
    sumsel = await keys.make("mitra", "16", name="bank-sumsel")
    nasional = await keys.make("mitra", name="bank-nasional")
    inside = await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(sumsel))
    outside = await client.post(CEK, json={"tujuan": "kur", "nib": NIB_JAMBI}, headers=auth(sumsel))
    assert inside.json()["terdaftar"] is True and outside.json()["terdaftar"] is False
    found = (await client.post(CEK, json={"tujuan": "kur", "nib": NIB_JAMBI}, headers=auth(nasional))).json()
    assert found["terdaftar"] is True and found["kode_kabkota"] == "15.01" and found["id_kumkm"] == dunia["jambi"]


async def test_a_merged_entity_answers_its_survivor(client, dunia, mitra, pg):
    a, c = dunia["recs"]
    await gabung(pg, a["submission_id"], c["submission_id"])
    body = (await client.post(CEK, json={"tujuan": "kur", "nib": NIB_C}, headers=auth(mitra))).json()
    assert body["id_kumkm"] == dunia["a"]
    # an identifier still pointing at the retired entity (two merges deep) is followed to the live one
    x = await pg.fetchval(
        "INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota) VALUES ('U9999999990', 'umkm', '16', '16.07') RETURNING id_kumkm"
    )
    await pg.execute("UPDATE kumkm SET digabung_ke = $1 WHERE id_kumkm = $2", x, dunia["c"])
    await pg.execute("UPDATE kumkm SET digabung_ke = $1 WHERE id_kumkm = $2", dunia["a"], x)
    await pg.execute("UPDATE kumkm_pengenal SET id_kumkm = $1 WHERE nilai = $2", dunia["c"], NIB_C)
    body = (await client.post(CEK, json={"tujuan": "kur", "nib": NIB_C}, headers=auth(mitra))).json()
    assert body["id_kumkm"] == dunia["a"] and body["terdaftar"] is True


async def test_every_look_up_is_in_the_access_log_with_purpose_and_outcome(client, dunia, mitra, pg):
    await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(mitra))
    await client.post(CEK, json={"tujuan": "bantuan", "nik_pemilik": NIK_A, "nama_usaha": NAMA_A}, headers=auth(mitra))
    await client.post(CEK, json={"tujuan": "kur", "nib": "9120000000001"}, headers=auth(mitra))
    await client.post(CEK, json={"tujuan": "kur", "nik_pemilik": NIK_A}, headers=auth(mitra))
    rows = await pg.fetch("SELECT key_name, role, endpoint, detail FROM access_log ORDER BY id")
    import json

    got = [(r["key_name"], r["role"], json.loads(r["detail"])) for r in rows]
    assert [(n, role, d["tujuan"], d["hasil"], d.get("dengan"), d.get("id_kumkm")) for n, role, d in got] == [
        ("bank-kur", "mitra", "kur", "terdaftar", "nib", dunia["a"]),
        ("bank-kur", "mitra", "bantuan", "terdaftar", "nik_pemilik", dunia["a"]),
        ("bank-kur", "mitra", "kur", "tidak_terdaftar", "nib", None),
        ("bank-kur", "mitra", "kur", "ditolak", None, None),
    ]
    assert got[0][2]["nilai"] == NIB_A and "nilai" not in got[1][2]
    everything = "".join(str(r["detail"]) for r in rows)
    assert NIK_A not in everything and "siti" not in everything.lower()


# ---------------------------------------------------------------- bounds


async def test_daily_quota_429_until_wib_midnight_and_batch_rows_count(client, dunia, keys):
    key = await keys.make("mitra", name="kuota-kecil", kuota=4)
    for _ in range(2):
        assert (await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key))).status_code == 200
    # a refused look-up is a look-up too
    assert (await client.post(CEK, json={"tujuan": "kur", "nib": "1"}, headers=auth(key))).status_code == 422
    three = "nib\n" + f"{NIB_A}\n" * 3
    r = await client.post(BATCH, params={"tujuan": "kur"}, content=three, headers={**auth(key), "Content-Type": "text/csv"})
    body = assert_problem(r, "too-many-requests")
    assert body["detail"].startswith("kuota") and "tersisa 1" in body["detail"]
    assert 1 <= int(r.headers["Retry-After"]) <= 86_400
    assert (await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key))).status_code == 200
    r = await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key))
    assert_problem(r, "too-many-requests")
    import datetime as dt

    wib = dt.datetime.now(dt.timezone(dt.timedelta(hours=7)))
    midnight = (wib + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert abs(int(r.headers["Retry-After"]) - (midnight - wib).total_seconds()) <= 5


async def test_rate_limit_429_with_retry_after_one_second(client, dunia, keys):
    key = await keys.make("mitra", name="lambat", per_detik=2)
    results = await asyncio.gather(*(client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key)) for _ in range(8)))
    refused = [r for r in results if r.status_code == 429]
    # 8 at once: the bucket of 2 lets 2 through (a third only once 0.5 s has passed)
    assert len(refused) >= 4, [r.status_code for r in results]
    for r in refused:
        body = assert_problem(r, "too-many-requests")
        assert body["detail"].startswith("per_detik") and r.headers["Retry-After"] == "1"
    await asyncio.sleep(1.1)
    assert (await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key))).status_code == 200


async def test_bounds_hold_for_the_holder_across_a_rotation(client, dunia, keys):
    key = await keys.make("mitra", name="putar", kuota=2)
    for _ in range(2):
        assert (await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key))).status_code == 200
    nxt = await keys.make("mitra", name="putar", kuota=2, successor_of=key)
    assert_problem(await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(nxt)), "too-many-requests")


# ---------------------------------------------------------------- batch

BATCH_ROWS = [
    ({"nib": NIB_A}, "terdaftar"),
    ({"nik_pemilik": NIK_A, "nama_usaha": NAMA_A}, "terdaftar"),
    ({"nib": "9120000000001"}, "tidak_terdaftar"),
    ({"nib": "91200012"}, "ditolak"),
    ({"nib": "9120001%"}, "ditolak"),
    ({"nik_pemilik": NIK_A}, "ditolak"),
    ({"nomor_badan_hukum": BH_KOP, "tujuan": "bantuan"}, "terdaftar"),
    ({"nib": NIB_A, "tujuan": "pelatihan"}, "ditolak"),
]
COLUMNS = ["tujuan", "nib", "nik_koperasi", "nomor_badan_hukum", "nik_pemilik", "nama_usaha"]


def batch_csv(rows, columns=COLUMNS, delimiter=",") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(columns)
    for values, _ in rows:
        w.writerow([values.get(c, "") for c in columns])
    return buf.getvalue()


async def post_batch(client, key, text, fmt="csv", tujuan="kur", media="text/csv"):
    data = text.encode() if isinstance(text, str) else text
    return await client.post(BATCH, params={"tujuan": tujuan, "format": fmt}, content=data, headers={**auth(key), "Content-Type": media})


async def test_batch_csv_answers_each_row_in_order_without_personal_data(client, dunia, mitra, pg):
    r = await post_batch(client, mitra, batch_csv(BATCH_ROWS))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["baris"], row["hasil"]) for row in rows] == [(str(i + 2), want) for i, (_, want) in enumerate(BATCH_ROWS)]
    assert rows[0]["id_kumkm"] == dunia["a"] and rows[1]["id_kumkm"] == dunia["a"] and rows[6]["id_kumkm"] == dunia["kop"]
    assert rows[6]["tujuan"] == "bantuan" and rows[0]["tujuan"] == "kur"
    assert rows[3]["alasan"].startswith("nib harus tepat 13 angka")
    assert "karakter pengganti" in rows[4]["alasan"] and "NIK saja" in rows[5]["alasan"]
    assert rows[7]["alasan"].startswith("tujuan pelatihan") and rows[2]["alasan"] == ""
    assert list(rows[0]) == ["baris", "tujuan", "hasil", "alasan", *sorted(ANSWER_KEYS - {"terdaftar", "tujuan"}, key=list(rows[0]).index)]
    no_personal(r.text)
    assert NIK_A not in r.text
    logged = await pg.fetch("SELECT detail->>'hasil' AS h, (detail->>'baris')::int AS b FROM access_log ORDER BY id")
    assert [(x["b"], x["h"]) for x in logged] == [(i + 2, want) for i, (_, want) in enumerate(BATCH_ROWS)]
    text = "".join(x["d"] for x in await pg.fetch("SELECT detail::text AS d FROM access_log"))
    assert NIK_A not in text


async def test_batch_xlsx_and_semicolons(client, dunia, mitra):
    r = await post_batch(client, mitra, batch_csv(BATCH_ROWS, delimiter=";"), fmt="xlsx")
    assert r.status_code == 200, r.text
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    cells = [[c for c in row] for row in wb.active.iter_rows(values_only=True)]
    flat = " ".join(str(c) for row in cells for c in row if c is not None)
    no_personal(flat)
    header = next(i for i, row in enumerate(cells) if row and row[0] == "baris")
    body = [row for row in cells[header + 1 :] if row and isinstance(row[0], int)]
    assert [(row[0], row[2]) for row in body] == [(i + 2, want) for i, (_, want) in enumerate(BATCH_ROWS)]
    assert body[0][4] == dunia["a"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("nib,warna\n9120001234567,merah\n", "baris 1, kolom 2 (warna)"),
        ("nib,nib\n9120001234567,9120001234567\n", "baris 1, kolom 2 (nib)"),
        ("tujuan,nama_usaha\nkur,Warung\n", "baris 1"),
        ("tujuan,nib\nkur,9120001234567\nkur,9120001234567,extra\n", "baris 3, kolom 3"),
        ("tujuan,nib,nik_pemilik\nkur,9120001234567\n", "baris 2, kolom 3 (nik_pemilik)"),
        ('tujuan,nib\nkur,"9120001234567\n', "baris"),
        (b"tujuan,nib\nkur,\xff\xfe\n", "baris 2"),
        ("", "baris 1"),
        ("tujuan,nib\n", "tidak ada baris data"),
    ],
)
async def test_a_malformed_file_is_422_naming_row_and_column(client, dunia, mitra, pg, text, where):
    body = assert_problem(await post_batch(client, mitra, text), "invalid-input")
    assert where in body["detail"], body
    assert body["detail"].startswith("berkas")
    assert await pg.fetchval("SELECT count(*) FROM access_log") == 0


async def test_a_file_without_its_header_never_sends_the_nik_back(client, dunia, mitra):
    nik = "3507014101900001"
    body = assert_problem(await post_batch(client, mitra, f"{nik},Warung Bu Siti\n"), "invalid-input")
    assert "baris 1, kolom 1 (bukan nama kolom)" in body["detail"], body
    assert nik not in str(body)


async def test_a_file_over_10000_rows_is_413_and_10000_are_answered(client, dunia, mitra):
    rows = "nib\n" + f"{NIB_A}\n" * 10_001
    assert_problem(await post_batch(client, mitra, rows), "payload-too-large")
    r = await post_batch(client, mitra, "nib\n" + f"{NIB_A}\n" * 10_000)
    assert r.status_code == 200, r.text[:300]
    assert r.text.count("terdaftar") == 10_000
    big = "nib,nama_usaha\n" + ("9120001234567," + "x" * 190 + "\n") * 22_000  # over 4 MiB
    assert_problem(await post_batch(client, mitra, big), "payload-too-large")


async def test_batch_takes_only_csv(client, mitra):
    r = await client.post(BATCH, json={"nib": NIB_A}, headers=auth(mitra))
    body = assert_problem(r, "unsupported-media-type")
    assert "text/csv" in body["detail"]


async def test_batch_without_a_purpose_refuses_the_rows(client, dunia, mitra):
    r = await post_batch(client, mitra, f"nib\n{NIB_A}\n", tujuan=None)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["hasil"] == "ditolak" and rows[0]["alasan"].startswith("tujuan wajib diisi")


# ---------------------------------------------------------------- audit


async def test_audit_per_purpose_per_day_json_csv_xlsx(client, dunia, mitra, keys, admin):
    other = await keys.make("mitra", name="dinsos", tujuan=("bantuan",))
    for tujuan, q in (("kur", {"nib": NIB_A}), ("kur", {"nib": "9120000000001"}), ("bantuan", {"nib": NIB_A}), ("kur", {"nib": "1"})):
        await client.post(CEK, json={"tujuan": tujuan, **q}, headers=auth(mitra))
    await post_batch(client, other, f"nib\n{NIB_A}\n{NIB_A}\n", tujuan="bantuan")
    from app.record.reference import today_wib

    today = today_wib().isoformat()
    r = await client.get(AUDIT, headers=auth(admin))
    assert r.status_code == 200, r.text
    items = [
        (i["hari"], i["nama"], i["tujuan"], i["terdaftar"], i["tidak_terdaftar"], i["ditolak"], i["jumlah"]) for i in r.json()["items"]
    ]
    assert items == [
        (today, "bank-kur", "bantuan", 1, 0, 0, 1),
        (today, "bank-kur", "kur", 1, 1, 1, 3),
        (today, "dinsos", "bantuan", 2, 0, 0, 2),
    ]
    key_id = await _key_id(keys, "dinsos")
    one = (await client.get(AUDIT, params={"key_id": key_id}, headers=auth(admin))).json()["items"]
    assert [(i["nama"], i["jumlah"]) for i in one] == [("dinsos", 2)]
    c = await client.get(AUDIT, params={"format": "csv-data"}, headers=auth(admin))
    assert c.status_code == 200 and list(csv.reader(io.StringIO(c.text)))[3] == [
        today,
        str(key_id),
        "dinsos",
        "bantuan",
        "2",
        "0",
        "0",
        "2",
    ]
    x = await client.get(AUDIT, params={"format": "xlsx"}, headers=auth(admin))
    assert x.status_code == 200 and x.content[:2] == b"PK"
    assert_problem(await client.get(AUDIT, headers=auth(mitra)), "role-forbidden")
    assert_problem(await client.get(AUDIT, params={"dari": "2026-12-07", "sampai": "2026-12-01"}, headers=auth(admin)), "invalid-input")
    assert_problem(await client.get(AUDIT, params={"key_id": 999999}, headers=auth(admin)), "not-found")


async def _key_id(keys, name: str) -> int:
    import asyncpg

    from tests.support.common import asyncpg_params

    conn = await asyncpg.connect(**asyncpg_params(keys.url))
    try:
        return await conn.fetchval("SELECT id FROM api_keys WHERE name = $1", name)
    finally:
        await conn.close()


# ---------------------------------------------------------------- the key


async def test_me_tells_a_partner_its_purposes_and_bounds(client, keys):
    key = await keys.make("mitra", name="bank-me", tujuan=("kur",), kuota=500, per_detik=5)
    body = (await client.get("/api/v1/me", headers=auth(key))).json()
    assert (body["role"], body["actions"], body["tujuan"], body["kuota_harian"], body["per_detik"]) == (
        "mitra",
        ["kumkm.cek"],
        ["kur"],
        500,
        5,
    )


async def test_only_a_partner_looks_up(client, admin, enum_key):
    for key in (admin, enum_key):
        assert_problem(await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key)), "role-forbidden")


def kumkm(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


async def test_cli_creates_a_partner_key_with_purposes_and_quota(database_url, live_server, pg, client, dunia):
    out = kumkm(
        "apikey", "create", "--role", "mitra", "--name", "bank-x", "--purpose", "kur", "--purpose", "bantuan", "--quota", "3",
        database_url=database_url,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    row = await pg.fetchrow("SELECT role, mitra_tujuan, mitra_kuota_harian, mitra_per_detik FROM api_keys WHERE name = 'bank-x'")
    assert tuple(row) == ("mitra", ["bantuan", "kur"], 3, 10)
    listed = kumkm("apikey", "list", database_url=database_url).stdout
    assert "bantuan,kur 3/day 10/s" in listed and key not in listed
    for _ in range(3):
        assert (await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key))).status_code == 200
    assert_problem(await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key)), "too-many-requests")
    for bad in (
        ["--role", "mitra", "--name", "bank-y", "--quota", "3"],
        ["--role", "mitra", "--name", "bank-y", "--purpose", "kur"],
        ["--role", "dinas", "--name", "bank-y", "--purpose", "kur", "--quota", "3"],
        ["--role", "mitra", "--name", "bank-y", "--purpose", "kur", "--quota", "0"],
        ["--role", "mitra", "--name", "bank-y", "--purpose", "kur", "--quota", "3", "--pii"],
    ):
        refused = kumkm("apikey", "create", *bad, database_url=database_url)
        assert refused.returncode == 2 and refused.stdout == "", (bad, refused.stdout, refused.stderr)
    assert kumkm("apikey", "create", "--role", "mitra", "--purpose", "judi", "--quota", "3", database_url=database_url).returncode == 2
    rotated = kumkm(
        "apikey",
        "rotate",
        "bank-x"[:0] + str(await pg.fetchval("SELECT id FROM api_keys WHERE name = 'bank-x'")),
        database_url=database_url,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert tuple(
        await pg.fetchrow("SELECT mitra_tujuan, mitra_kuota_harian FROM api_keys WHERE name = 'bank-x' ORDER BY id DESC LIMIT 1")
    ) == (
        ["bantuan", "kur"],
        3,
    )


async def test_malformed_json_bodies_never_echo_a_nik(client, mitra, pg):
    """Refusals made before the look-up's own rules (the body's shape) do not repeat what was
    sent either, in the answer or in the access log, where they are refused look-ups like the
    rules' own (counted under the purpose they named, `-` when none)."""
    number = int(NIK_A)
    for body in (
        {"tujuan": "kur", "nik_pemilik": number, "nama_usaha": NAMA_A},
        {"tujuan": "kur", "nik": NIK_A, "nama_usaha": NAMA_A},
        {"tujuan": "kur", "nik_pemilik": NIK_A * 70, "nama_usaha": NAMA_A},
        [NIK_A],
    ):
        r = await client.post(CEK, json=body, headers=auth(mitra))
        assert_problem(r, "invalid-input")
        assert NIK_A not in r.text and str(number) not in r.text, r.text
    rows = await pg.fetch("SELECT key_name, endpoint, detail::text AS detail FROM access_log ORDER BY id")
    assert [(r["key_name"], r["endpoint"]) for r in rows] == [("bank-kur", "POST /api/v1/kumkm/cek")] * 4
    import json

    details = [json.loads(r["detail"]) for r in rows]
    assert [(d["tujuan"], d["hasil"]) for d in details] == [("kur", "ditolak")] * 3 + [("-", "ditolak")]
    assert all(d["alasan"] for d in details)
    everything = "".join(r["detail"] for r in rows)
    assert NIK_A not in everything and str(number) not in everything and "siti" not in everything.lower()
    counts = await pg.fetch("SELECT tujuan, sum(ditolak)::bigint AS n FROM mitra_pemakaian GROUP BY tujuan ORDER BY tujuan")
    assert [(c["tujuan"], c["n"]) for c in counts] == [("-", 1), ("kur", 3)]
