"""Batches give one outcome per item and store what is valid; keys only reach their wilayah."""

from __future__ import annotations

import uuid

import pytest

from tests.support.common import auth
from tests.support.factories import koperasi, nik, umkm
from tests.support.problems import assert_problem


async def test_batch_stores_valid_items_and_rejects_others(client, enum_banyuasin, pg):
    good1, good2 = umkm(), koperasi()
    bad = umkm(nib="12")
    stored = umkm()
    await client.post("/api/v1/submissions", json=stored, headers=auth(enum_banyuasin))
    conflicting = {**stored, "modal_usaha": 1}
    r = await client.post(
        "/api/v1/submissions/batch", json={"items": [good1, bad, good2, stored, conflicting, "not an object"]}, headers=auth(enum_banyuasin)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    outcomes = [(i["outcome"], i["status"]) for i in body["items"]]
    assert outcomes == [("created", 201), ("rejected", 422), ("created", 201), ("duplicate", 200), ("rejected", 409), ("rejected", 422)]
    assert (body["created"], body["duplicate"], body["rejected"]) == (2, 1, 3)
    assert body["items"][1]["errors"][0]["field"] == "nib"
    assert body["items"][1]["submission_id"] == bad["submission_id"]
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 3
    # every stored item is whole: record, version 1, history and change entry
    assert await pg.fetchval("SELECT count(*) FROM submission_versions") == 3
    assert await pg.fetchval("SELECT count(*) FROM submission_history") == 3
    assert await pg.fetchval("SELECT count(*) FROM changes") == 3


async def test_batch_replay_is_all_duplicates(client, enum_banyuasin, pg):
    items = [umkm() for _ in range(20)]
    first = (await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(enum_banyuasin))).json()
    again = (await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(enum_banyuasin))).json()
    assert first["created"] == 20 and again["duplicate"] == 20 and again["created"] == 0
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 20


async def test_same_id_twice_in_one_batch(client, enum_banyuasin, pg):
    rec = umkm()
    body = (
        await client.post("/api/v1/submissions/batch", json={"items": [rec, rec, {**rec, "aset": 5}]}, headers=auth(enum_banyuasin))
    ).json()
    assert [i["outcome"] for i in body["items"]] == ["created", "duplicate", "rejected"]
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 1


async def test_batch_limits(client, enum_banyuasin):
    r = await client.post("/api/v1/submissions/batch", json={"items": [umkm() for _ in range(1001)]}, headers=auth(enum_banyuasin))
    assert_problem(r, "payload-too-large")
    assert r.json()["errors"][0]["field"] == "items"
    r = await client.post("/api/v1/submissions/batch", json={"items": []}, headers=auth(enum_banyuasin))
    assert_problem(r, "invalid-input")
    r = await client.post("/api/v1/submissions/batch", json=[umkm()], headers=auth(enum_banyuasin))
    assert_problem(r, "invalid-input")
    r = await client.post("/api/v1/submissions/batch", json={"items": [umkm()], "x": 1}, headers=auth(enum_banyuasin))
    assert_problem(r, "invalid-input")
    assert r.json()["errors"][0]["field"] == "x"
    r = await client.post(
        "/api/v1/submissions/batch", content=b"{nope", headers={**auth(enum_banyuasin), "content-type": "application/json"}
    )
    assert_problem(r, "malformed-json")


async def test_batch_of_1000_is_accepted(client, enum_banyuasin, pg):
    r = await client.post("/api/v1/submissions/batch", json={"items": [umkm() for _ in range(1000)]}, headers=auth(enum_banyuasin))
    assert r.status_code == 200 and r.json()["created"] == 1000
    assert await pg.fetchval("SELECT sum(n) FROM rekap_status WHERE status = 'masuk'") == 1000


async def test_oversized_body_is_413_before_parsing(client, enum_banyuasin):
    r = await client.post(
        "/api/v1/submissions/batch", content=b"[" * (9 * 1024 * 1024), headers={**auth(enum_banyuasin), "content-type": "application/json"}
    )
    assert_problem(r, "payload-too-large")


async def test_deeply_nested_json_is_a_4xx(client, enum_banyuasin):
    # orjson refuses nesting deeper than 1024 levels: "not valid JSON", said as such
    for path in ("/api/v1/submissions", "/api/v1/submissions/batch"):
        r = await client.post(
            path, content=b"[" * 100_000 + b"]" * 100_000, headers={**auth(enum_banyuasin), "content-type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["code"] == "malformed-json", r.text


async def test_missing_or_wrong_key_is_401(client):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = await client.get("/api/v1/wilayah", headers=headers)
        assert_problem(r, "unauthorized")
        assert r.json()["status"] == 401
        r = await client.post("/api/v1/submissions", json=umkm(), headers=headers)
        assert_problem(r, "unauthorized")


async def test_revoked_and_expired_keys_are_401(client, keys, pg):
    import datetime as dt

    expired = await keys.make("enumerator", "16", expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert_problem(await client.get("/api/v1/wilayah", headers=auth(expired)), "unauthorized")
    k = await keys.make("enumerator", "16", name="to-revoke")
    await pg.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'to-revoke'")
    assert_problem(await client.get("/api/v1/wilayah", headers=auth(k)), "unauthorized")


async def test_keys_are_stored_hashed(keys, pg):
    k = await keys.make("admin")
    stored = await pg.fetchrow("SELECT key_hash, key_prefix FROM api_keys")
    assert k.encode() not in bytes(stored["key_hash"]) and len(stored["key_hash"]) == 32


async def test_enumerator_posts_only_into_its_scope(client, keys, enum_banyuasin):
    outside = umkm(kode_wilayah="16.71.01.1001", nik_pemilik=nik("167101"))
    r = await client.post("/api/v1/submissions", json=outside, headers=auth(enum_banyuasin))
    assert_problem(r, "outside-scope")
    assert r.json()["errors"][0]["field"] == "kode_wilayah"
    body = (await client.post("/api/v1/submissions/batch", json={"items": [outside, umkm()]}, headers=auth(enum_banyuasin))).json()
    assert [(i["outcome"], i["status"]) for i in body["items"]] == [("rejected", 403), ("created", 201)]
    national = await keys.make("enumerator", None, name="enum-nasional")
    assert (await client.post("/api/v1/submissions", json=outside, headers=auth(national))).status_code == 201


@pytest.mark.parametrize("role", ["verifikator", "dinas", "walidata"])
async def test_only_enumerators_and_admin_post(client, keys, role):
    k = await keys.make(role, "16")
    assert_problem(await client.post("/api/v1/submissions", json=umkm(), headers=auth(k)), "role-forbidden")
    assert_problem(await client.post("/api/v1/submissions/batch", json={"items": [umkm()]}, headers=auth(k)), "role-forbidden")
    admin = await keys.make("admin")
    assert (await client.post("/api/v1/submissions", json=umkm(), headers=auth(admin))).status_code == 201


async def test_reading_outside_scope_is_403(client, keys):
    admin = await keys.make("admin")
    rec = umkm()
    await client.post("/api/v1/submissions", json=rec, headers=auth(admin))
    jambi = await keys.make("dinas", "15")
    r = await client.get(f"/api/v1/submissions/{rec['submission_id']}", headers=auth(jambi))
    assert_problem(r, "outside-scope")
    r = await client.get("/api/v1/submissions", params={"kode_wilayah": "16"}, headers=auth(jambi))
    assert_problem(r, "outside-scope")


async def test_personal_data_is_masked_for_roles_that_do_not_need_it(client, keys, pg):
    owner = await keys.make("enumerator", "16", name="pemilik-data")
    rec = umkm(nik_pemilik="1607015205850001", nama_pemilik="Siti Aminah", telepon="081234567890")
    await client.post("/api/v1/submissions", json=rec, headers=auth(owner))
    other_enum = await keys.make("enumerator", "16", name="lain")
    walidata = await keys.make("walidata")
    walidata_pii = await keys.make("walidata", pii=True, name="walidata-pii")
    dinas = await keys.make("dinas", "16.07")
    url = f"/api/v1/submissions/{rec['submission_id']}"
    for k in (other_enum, walidata):
        d = (await client.get(url, headers=auth(k))).json()
        assert d["pii_masked"] is True
        assert d["data"]["nik_pemilik"] == "1607**********01"
        assert d["data"]["nama_pemilik"] == "S*** A*****"
        assert d["data"]["telepon"].endswith("890") and "081234" not in d["data"]["telepon"]
        assert d["data"]["alamat"] != rec["alamat"]
    for k in (owner, dinas, walidata_pii):
        d = (await client.get(url, headers=auth(k))).json()
        assert d["pii_masked"] is False and d["data"]["nik_pemilik"] == rec["nik_pemilik"]
    logged = await pg.fetch("SELECT key_name FROM access_log ORDER BY id")
    # the creating POST only echoes what the owner sent: nothing to log there
    assert [r["key_name"] for r in logged] == ["pemilik-data", "dinas-16.07", "walidata-pii"]


async def test_keyset_pagination_visits_every_record_once(client, keys):
    admin = await keys.make("admin")
    ids = set()
    for kode in ("16.07.01.2001", "16.71.01.1001"):
        items = [umkm(kode_wilayah=kode, nik_pemilik=nik(kode.replace(".", "")[:6])) for _ in range(25)]
        await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(admin))
        ids |= {i["submission_id"] for i in items}
    await client.post("/api/v1/submissions/batch", json={"items": [koperasi() for _ in range(5)]}, headers=auth(admin))
    seen, cursor = [], None
    while True:
        params = {"kode_wilayah": "16", "jenis": "umkm", "limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/submissions", params=params, headers=auth(admin))).json()
        seen += [i["submission_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 50 and set(seen) == ids
    assert seen == sorted(seen)


@pytest.mark.parametrize("kode,expected", [("16", 3), ("16.07", 2), ("16.07.01", 2), ("16.07.01.2001", 1), ("16.71", 1)])
async def test_list_filters_by_wilayah_at_any_level(client, keys, kode, expected):
    admin = await keys.make("admin")
    items = [umkm(), umkm(kode_wilayah="16.07.01.2002"), umkm(kode_wilayah="16.71")]
    await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(admin))
    page = (await client.get("/api/v1/submissions", params={"kode_wilayah": kode}, headers=auth(admin))).json()
    assert len(page["items"]) == expected


async def test_list_filters_by_periode_status_and_rejects_bad_params(client, keys, pg):
    admin = await keys.make("admin")
    a, b = umkm(), umkm(periode="2023")
    await client.post("/api/v1/submissions/batch", json={"items": [a, b]}, headers=auth(admin))
    await pg.execute("UPDATE submissions SET status = 'diterima' WHERE submission_id = $1", uuid.UUID(a["submission_id"]))
    get = lambda **p: client.get("/api/v1/submissions", params=p, headers=auth(admin))  # noqa: E731
    assert [i["submission_id"] for i in (await get(periode="2023")).json()["items"]] == [b["submission_id"]]
    assert [i["submission_id"] for i in (await get(status="diterima")).json()["items"]] == [a["submission_id"]]
    assert_problem(await get(status="selesai"), "invalid-input")
    assert_problem(await get(kode_wilayah="99.99"), "invalid-input")
    assert_problem(await get(cursor="abc"), "invalid-input")
    assert_problem(await get(limit=0), "invalid-input")


async def test_a_scoped_key_lists_its_own_wilayah_by_default(client, keys):
    admin = await keys.make("admin")
    await client.post(
        "/api/v1/submissions/batch", json={"items": [umkm(), umkm(kode_wilayah="32.01", nik_pemilik=nik("320101"))]}, headers=auth(admin)
    )
    dinas = await keys.make("dinas", "16")
    page = (await client.get("/api/v1/submissions", headers=auth(dinas))).json()
    assert [i["kode_kabkota"] for i in page["items"]] == ["16.07"]
