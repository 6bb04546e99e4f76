"""Enumerator apps post records; replays are harmless; bad input is named field by field."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.support.common import auth
from tests.support.factories import DESA, koperasi, nik, now_plus, umkm
from tests.support.helpers import TIME_FIELDS, UTC_TEXT
from tests.support.problems import assert_problem


async def test_post_umkm_creates_masuk_version_1_with_derived_skala(client, enum_key, pg):
    rec = umkm(modal_usaha=1_000_000_000)  # exactly Rp1 M: still mikro
    r = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "masuk" and body["version"] == 1
    assert body["skala_usaha"] == "mikro" and body["sektor"] == "I"
    assert body["kode_kabkota"] == "16.07"
    assert body["dibuat_oleh"] == "enum-sumsel"
    assert body["data"]["nik_pemilik"] == rec["nik_pemilik"]  # the owner sees it unmasked
    history = await pg.fetch("SELECT aksi, dari, ke, oleh, version FROM submission_history")
    assert [tuple(h) for h in history] == [("dibuat", None, "masuk", "enum-sumsel", 1)]


@pytest.mark.parametrize(
    "modal,omzet,expected",
    [
        (1_000_000_000, None, "mikro"),
        (1_000_000_001, None, "kecil"),
        (5_000_000_000, None, "kecil"),
        (5_000_000_001, None, "menengah"),
        (10_000_000_000, None, "menengah"),
        (10_000_000_001, None, "besar"),
        (None, 2_000_000_000, "mikro"),
        (None, 2_000_000_001, "kecil"),
        (None, 15_000_000_000, "kecil"),
        (None, 15_000_000_001, "menengah"),
        (None, 50_000_000_000, "menengah"),
        (None, 50_000_000_001, "besar"),
        (0, 60_000_000_000, "mikro"),  # modal decides whenever it is given
    ],
)
async def test_skala_usaha_follows_pp_7_2021(client, enum_key, modal, omzet, expected):
    rec = umkm(modal_usaha=modal if modal is not None else ..., hasil_penjualan_tahunan=omzet if omzet is not None else ...)
    r = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    assert r.status_code == 201, r.text
    assert r.json()["skala_usaha"] == expected


async def test_client_cannot_set_skala_usaha(client, enum_key):
    r = await client.post("/api/v1/submissions", json=umkm(skala_usaha="menengah"), headers=auth(enum_key))
    assert_problem(r, "invalid-input")
    err = r.json()["errors"][0]
    assert err["field"] == "skala_usaha" and "ditentukan oleh layanan" in err["message"]


async def test_post_koperasi(client, enum_key):
    r = await client.post("/api/v1/submissions", json=koperasi(), headers=auth(enum_key))
    assert r.status_code == 201, r.text
    assert r.json()["jenis"] == "koperasi" and r.json()["skala_usaha"] is None


def _field_errors(r) -> dict:
    assert_problem(r, "invalid-input")
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 422 and body["title"]
    return {e["field"]: e["message"] for e in body["errors"]}


@pytest.mark.parametrize(
    "over,field,fragment",
    [
        ({"nik_pemilik": "16070112058"}, "nik_pemilik", "16 angka"),
        ({"nik_pemilik": "16070112058512ab"}, "nik_pemilik", "16 angka"),
        ({"nik_pemilik": nik("169901")}, "nik_pemilik", "kecamatan"),  # no kecamatan 16.99.01
        ({"nik_pemilik": nik(day=31, month=2)}, "nik_pemilik", "tanggal lahir"),  # 31 February
        ({"nik_pemilik": "1607017205850001"}, "nik_pemilik", "perempuan"),  # day 72 = 32 for a woman
        ({"nib": "123456789012"}, "nib", "13 angka"),
        ({"kbli": "5610"}, "kbli", "5 angka"),
        ({"kbli": "04101"}, "kbli", "golongan"),
        ({"kode_wilayah": "16.07.01"}, "kode_wilayah", "desa"),  # kecamatan level is not enough
        ({"kode_wilayah": "16.07.01.9999"}, "kode_wilayah", "yang ada"),
        ({"kode_wilayah": "16.99"}, "kode_wilayah", "yang ada"),
        ({"modal_usaha": -1}, "modal_usaha", "paling kecil 0"),
        ({"modal_usaha": 1.5}, "modal_usaha", "bilangan bulat"),
        ({"modal_usaha": "1000"}, "modal_usaha", "bilangan bulat"),
        ({"tenaga_kerja_laki_laki": -2}, "tenaga_kerja_laki_laki", "paling kecil 0"),
        ({"captured_at": now_plus(120)}, "captured_at", "masa depan"),  # computed at collection: keep a wide margin
        ({"captured_at": "2022-06-01T09:30:00"}, "captured_at", "zona waktu"),
        ({"captured_at": "0001-01-01T00:00:00+01:00"}, "captured_at", "di luar rentang"),
        ({"captured_at": "1999-12-31T00:00:00Z"}, "captured_at", "sebelum tahun 2000"),
        ({"periode": "2019"}, "periode", "tidak dikenal"),
        ({"periode": "22"}, "periode", "4 angka"),
        ({"warna_favorit": "biru"}, "warna_favorit", "tidak dikenal"),
        ({"modal_usaha": ..., "hasil_penjualan_tahunan": ...}, "modal_usaha", "skala usaha"),
        ({"status_tempat": "keliling"}, "status_tempat", "menetap"),
        ({"submission_id": "not-a-uuid"}, "submission_id", "UUID"),
        ({"platform_digital": "ya"}, "platform_digital", "true atau false"),
    ],
)
async def test_each_validation_rule_names_the_field(client, enum_key, over, field, fragment):
    r = await client.post("/api/v1/submissions", json=umkm(**over), headers=auth(enum_key))
    errors = _field_errors(r)
    assert field in errors, errors
    assert fragment.lower() in errors[field].lower(), errors
    # every message names its field first, so it stands on its own where an app shows it
    assert errors[field].startswith(field), errors


async def test_captured_at_up_to_ten_minutes_ahead_is_accepted(client, enum_key):
    r = await client.post("/api/v1/submissions", json=umkm(captured_at=now_plus(9)), headers=auth(enum_key))
    assert r.status_code == 201, r.text


async def test_nik_for_a_woman_uses_day_plus_40(client, enum_key):
    r = await client.post("/api/v1/submissions", json=umkm(nik_pemilik=nik(day=31, perempuan=True)), headers=auth(enum_key))
    assert r.status_code == 201, r.text


async def test_koperasi_rules(client, enum_key):
    errors = _field_errors(
        await client.post(
            "/api/v1/submissions",
            json=koperasi(jenis_koperasi="arisan", nik_koperasi="123", modal_luar=-5, kewenangan="desa"),
            headers=auth(enum_key),
        )
    )
    assert set(errors) >= {"jenis_koperasi", "nik_koperasi", "modal_luar", "kewenangan"}


async def test_unknown_jenis_and_malformed_json_are_4xx(client, enum_key):
    errors = _field_errors(await client.post("/api/v1/submissions", json=umkm(jenis="pabrik"), headers=auth(enum_key)))
    assert "jenis" in errors
    r = await client.post(
        "/api/v1/submissions", content=b'{"jenis": "umkm",', headers={**auth(enum_key), "content-type": "application/json"}
    )
    assert_problem(r, "malformed-json")
    assert r.json()["title"] == "Malformed JSON"
    # Valid JSON that is not an object: the body as a whole is the invalid field.
    r = await client.post("/api/v1/submissions", content=b"[1, 2]", headers={**auth(enum_key), "content-type": "application/json"})
    assert list(_field_errors(r)) == ["body"]
    assert r.json()["title"] == "Invalid input"


async def test_identical_replay_is_200_and_stores_one_row(client, enum_key, pg):
    rec = umkm()
    first = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    again = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["submission_id"] == first.json()["submission_id"]
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 1
    assert await pg.fetchval("SELECT count(*) FROM changes") == 1
    assert await pg.fetchval("SELECT count(*) FROM submission_history") == 1


async def test_same_instant_in_another_timezone_is_the_same_content(client, enum_key):
    rec = umkm(captured_at="2022-06-01T09:30:00+07:00")
    assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))).status_code == 201
    rec["captured_at"] = "2022-06-01T02:30:00Z"
    assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))).status_code == 200


async def test_same_id_different_content_is_409_and_keeps_the_original(client, enum_key):
    rec = umkm()
    await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    r = await client.post("/api/v1/submissions", json={**rec, "modal_usaha": 99}, headers=auth(enum_key))
    assert_problem(r, "content-conflict")
    assert r.json()["errors"][0]["field"] == "submission_id"
    stored = (await client.get(f"/api/v1/submissions/{rec['submission_id']}", headers=auth(enum_key))).json()
    assert stored["data"]["modal_usaha"] == rec["modal_usaha"]


async def test_fifty_identical_posts_at_once_leave_one_row(client, enum_key, pg):
    rec = umkm()
    rs = await asyncio.gather(*[client.post("/api/v1/submissions", json=rec, headers=auth(enum_key)) for _ in range(50)])
    codes = sorted(r.status_code for r in rs)
    assert codes.count(201) == 1 and codes.count(200) == 49, codes
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 1
    assert await pg.fetchval("SELECT count(*) FROM submission_versions") == 1
    assert await pg.fetchval("SELECT sum(n) FROM rekap_status") == 1


async def test_get_unknown_record_is_404(client, enum_key):
    r = await client.get(f"/api/v1/submissions/{uuid.uuid4()}", headers=auth(enum_key))
    assert_problem(r, "not-found")
    assert r.json()["status"] == 404


async def test_likely_duplicates_are_flagged_on_both_and_both_kept(client, enum_key, verif, pg):
    owner_nik = nik()
    a = umkm(nik_pemilik=owner_nik, nama_usaha="Warung  Bu Siti", enumerator_id="E1")
    b = umkm(nik_pemilik=owner_nik, nama_usaha="warung bu-siti!", enumerator_id="E2", kode_wilayah="16.07.02.2001" if False else DESA)
    c = umkm(nik_pemilik=owner_nik, nama_usaha="Bengkel Motor")  # same owner, other business
    for rec in (a, b, c):
        assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))).status_code == 201
    got = {
        rec["submission_id"]: (await client.get(f"/api/v1/submissions/{rec['submission_id']}", headers=auth(enum_key))).json()
        for rec in (a, b, c)
    }
    assert got[a["submission_id"]]["kemungkinan_duplikat"] is True
    # which records they are is the verifikator's to see, not the enumerator's
    assert got[a["submission_id"]]["duplikat_dengan"] is None
    got = {
        rec["submission_id"]: (await client.get(f"/api/v1/submissions/{rec['submission_id']}", headers=auth(verif))).json()
        for rec in (a, b, c)
    }
    assert got[a["submission_id"]]["duplikat_dengan"] == [b["submission_id"]]
    assert got[b["submission_id"]]["duplikat_dengan"] == [a["submission_id"]]
    assert got[c["submission_id"]]["kemungkinan_duplikat"] is False
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 3


async def test_duplicates_in_another_periode_are_not_flagged(client, enum_key):
    owner_nik = nik()
    a = umkm(nik_pemilik=owner_nik)
    b = umkm(nik_pemilik=owner_nik, periode="2023")
    for rec in (a, b):
        await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    got = (await client.get(f"/api/v1/submissions/{a['submission_id']}", headers=auth(enum_key))).json()
    assert got["kemungkinan_duplikat"] is False


async def test_nul_characters_are_a_422_naming_the_field(client, enum_key, pg):
    r = await client.post("/api/v1/submissions", json=umkm(nama_usaha="Warung\u0000Siti"), headers=auth(enum_key))
    errors = _field_errors(r)
    assert "nama_usaha" in errors and "NUL" in errors["nama_usaha"]
    body = (
        await client.post("/api/v1/submissions/batch", json={"items": [umkm(alamat="a\u0000b"), umkm()]}, headers=auth(enum_key))
    ).json()
    assert [i["outcome"] for i in body["items"]] == ["rejected", "created"]
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 1


# ---------------------------------------------------------------- one answer, every field


async def test_a_record_without_jenis_names_jenis_and_every_other_invalid_field(client, enum_key):
    rec = umkm(nik_pemilik=nik("169901"), periode="2019", status_tempat="keliling", modal_usaha="25.000")
    del rec["jenis"]
    r = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    errors = _field_errors(r)
    assert errors["jenis"] == "jenis wajib diisi: umkm atau koperasi"
    # the fields of the UMKM it looks like are checked too, reference checks (NIK) included
    assert set(errors) == {"jenis", "periode", "nik_pemilik", "status_tempat", "modal_usaha"}, errors
    assert "kecamatan" in errors["nik_pemilik"]
    assert r.json()["detail"].startswith("jenis wajib diisi")


async def test_an_unknown_jenis_is_named_with_the_choices_and_the_rest_is_checked(client, enum_key):
    rec = koperasi(jenis="kop", kewenangan="desa")
    errors = _field_errors(await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key)))
    assert errors["jenis"] == "jenis harus umkm atau koperasi, bukan 'kop'"
    assert "kewenangan" in errors and "kabkota, provinsi atau nasional" in errors["kewenangan"]


async def test_nik_errors_come_with_the_other_field_errors(client, enum_key):
    # Before, the NIK (a reference check) was looked at only once every other field was valid.
    rec = umkm(nik_pemilik=nik(day=31, month=2), kbli="5610", kode_wilayah="16.99", telepon="x")
    errors = _field_errors(await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key)))
    assert set(errors) == {"nik_pemilik", "kbli", "kode_wilayah", "telepon"}, errors
    assert "tanggal lahir" in errors["nik_pemilik"]


async def test_batch_items_name_every_field_too(client, enum_key):
    bad = umkm(nama_usaha="", modal_usaha=..., hasil_penjualan_tahunan=..., nik_pemilik="123")
    r = await client.post("/api/v1/submissions/batch", json={"items": [bad]}, headers=auth(enum_key))
    assert r.status_code == 200, r.text
    fields = [e["field"] for e in r.json()["items"][0]["errors"]]
    assert fields == ["nama_usaha", "nik_pemilik", "modal_usaha"], fields


# ---------------------------------------------------------------- one timestamp format


async def test_a_201_and_its_replay_write_every_instant_alike(client, enum_key):
    import re

    rec = umkm(captured_at="2022-06-01T09:30:00+07:00")
    first = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    again = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))
    read = await client.get(f"/api/v1/submissions/{rec['submission_id']}", headers=auth(enum_key))
    assert (first.status_code, again.status_code, read.status_code) == (201, 200, 200)
    a, b, c = first.json(), again.json(), read.json()
    assert a["captured_at"] == "2022-06-01T02:30:00.000000Z"
    assert a["data"]["captured_at"] == "2022-06-01T02:30:00.000000Z"
    for f in TIME_FIELDS:
        assert re.match(UTC_TEXT, a[f]), (f, a[f])
        assert a[f] == b[f] == c[f], f
    # and the whole answer: the replay is the first answer again
    assert a == b == c
