"""Verification over HTTP: who may decide what, the optimistic concurrency rule, corrections
as versions, the history, batches, and the counts that cannot drift from the records."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.verification.schemas import ALASAN_KODE
from tests.support.common import auth
from tests.support.helpers import post_one, post_records
from tests.support.verification_helpers import (
    DESA_BANYUASIN,
    KAB_MUARA_ENIM,
    KOTA_PALEMBANG,
    assert_consistent,
    correct,
    decide,
    recount,
    rekap,
    tolak,
)


@pytest.fixture
async def rec(client, enum_key):
    return await post_one(client, enum_key)


async def record(client, key, sid):
    r = await client.get(f"/api/v1/submissions/{sid}", headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


async def riwayat(client, key, sid):
    r = await client.get(f"/api/v1/submissions/{sid}/riwayat", headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def fields(r, status: int = 422) -> dict:
    return {e["field"]: e["message"] for e in problem(r, status)["errors"]}


# ---------------------------------------------------------------- allowed transitions


async def test_masuk_to_diterima_keeps_the_version_and_is_recorded(client, verif, rec, pg):
    sid = rec["submission_id"]
    r = await decide(client, verif, sid, "diterima")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "diterima" and body["dari"] == "masuk" and body["version"] == 1
    assert body["diputuskan_oleh"] == "verif-banyuasin" and body["replay"] is False
    assert body["submission_id"] == sid and body["diputuskan_pada"].endswith("Z")
    assert (await record(client, verif, sid))["status"] == "diterima"
    last = (await riwayat(client, verif, sid))[-1]
    assert (last["aksi"], last["dari"], last["ke"], last["oleh"], last["oleh_role"], last["version"]) == (
        "diverifikasi",
        "masuk",
        "diterima",
        "verif-banyuasin",
        "verifikator",
        1,
    )
    # the decision's own change (the registry's linker may add its `ditautkan` right after it)
    change = await pg.fetchrow(
        "SELECT status, jenis_perubahan, version, kode_kabkota FROM changes "
        "WHERE jenis_perubahan NOT IN ('ditautkan', 'dilepas') ORDER BY id DESC LIMIT 1"
    )
    assert tuple(change) == ("diterima", "status", 1, "16.07")


@pytest.mark.parametrize("alasan", sorted(ALASAN_KODE))
async def test_masuk_to_ditolak_with_each_alasan(client, verif, rec, alasan):
    catatan = {"catatan": "nama usaha tidak sesuai papan nama"} if alasan == "lainnya" else {}
    r = await tolak(client, verif, rec["submission_id"], alasan=alasan, **catatan)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ditolak" and r.json()["alasan_kode"] == alasan
    last = (await riwayat(client, verif, rec["submission_id"]))[-1]
    assert last["alasan_kode"] == alasan and last["catatan"] == catatan.get("catatan")


async def test_alasan_is_accepted_as_synonym_of_alasan_kode(client, verif, rec):
    r = await decide(client, verif, rec["submission_id"], "ditolak", alasan="duplikat")
    assert r.status_code == 200, r.text
    assert r.json()["alasan_kode"] == "duplikat"


async def test_reversals_need_catatan_and_go_both_ways(client, verif, rec):
    sid = rec["submission_id"]
    assert (await decide(client, verif, sid, "diterima")).status_code == 200
    r = await tolak(client, verif, sid, dari="diterima", alasan="duplikat")
    assert fields(r)["catatan"].startswith("catatan wajib diisi untuk membatalkan keputusan diterima")
    r = await tolak(client, verif, sid, dari="diterima", alasan="duplikat", catatan="ganda dengan 16.07 lain")
    assert r.status_code == 200, r.text
    assert (r.json()["dari"], r.json()["status"]) == ("diterima", "ditolak")
    r = await decide(client, verif, sid, "diterima", dari="ditolak")
    assert "catatan" in fields(r)
    r = await decide(client, verif, sid, "diterima", dari="ditolak", catatan="ternyata bukan duplikat")
    assert r.status_code == 200, r.text
    trail = [(h["dari"], h["ke"]) for h in await riwayat(client, verif, sid)]
    assert trail == [(None, "masuk"), ("masuk", "diterima"), ("diterima", "ditolak"), ("ditolak", "diterima")]


async def test_admin_and_provinsi_verifikator_may_decide(client, keys, enum_key):
    admin = await keys.make("admin", name="admin")
    prov = await keys.make("verifikator", "16", name="verif-sumsel")
    a, b = await post_records(client, enum_key, 2)
    assert (await decide(client, admin, a["submission_id"], "diterima")).status_code == 200
    assert (await tolak(client, prov, b["submission_id"])).status_code == 200


# ---------------------------------------------------------------- refused transitions


@pytest.mark.parametrize(
    "first,status,dari,extra",
    [
        ("diterima", "diterima", "masuk", {}),
        ("diterima", "ditolak", "masuk", {"alasan_kode": "duplikat"}),
        ("ditolak", "ditolak", "masuk", {"alasan_kode": "duplikat"}),
        ("ditolak", "diterima", "masuk", {}),
    ],
)
async def test_a_decided_record_cannot_be_decided_as_if_masuk(client, verif, verif2, rec, first, status, dari, extra):
    sid = rec["submission_id"]
    r = await (tolak(client, verif, sid) if first == "ditolak" else decide(client, verif, sid, "diterima"))
    assert r.status_code == 200
    r = await decide(client, verif2, sid, status, dari=dari, **extra)
    body = problem(r, 409)
    assert body["current_status"] == first and body["current_version"] == 1
    assert body["errors"][0]["field"] == "dari"


async def test_reversal_of_a_masuk_record_is_409(client, verif, rec):
    r = await tolak(client, verif, rec["submission_id"], dari="diterima", catatan="salah lihat")
    body = problem(r, 409)
    assert body["current_status"] == "masuk" and body["current_version"] == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({"status": "masuk", "version": 1}, "status"),
        ({"status": "diverifikasi", "version": 1}, "status"),
        ({"version": 1}, "status"),
        ({"status": "diterima"}, "version"),
        ({"status": "diterima", "version": 0}, "version"),
        ({"status": "diterima", "version": "1"}, "version"),
        ({"status": "diterima", "version": 1, "dari": "diterima"}, "dari"),
        ({"status": "ditolak", "version": 1}, "alasan_kode"),
        ({"status": "ditolak", "version": 1, "alasan_kode": "jelek"}, "alasan_kode"),
        ({"status": "ditolak", "version": 1, "alasan_kode": "lainnya"}, "catatan"),
        ({"status": "ditolak", "version": 1, "alasan_kode": "lainnya", "catatan": "   "}, "catatan"),
        ({"status": "diterima", "version": 1, "alasan_kode": "duplikat"}, "alasan_kode"),
        ({"status": "diterima", "version": 1, "alasan": "duplikat", "alasan_kode": "duplikat"}, "alasan"),
        ({"status": "diterima", "version": 1, "oleh": "saya"}, "oleh"),
        ({"status": "diterima", "version": 2**31}, "version"),
        ({"status": "ditolak", "version": 1, "alasan_kode": "lainnya", "catatan": "a\u0000b"}, "catatan"),
    ],
)
async def test_bad_decisions_name_the_field(client, verif, rec, body, field, pg):
    r = await client.post(f"/api/v1/submissions/{rec['submission_id']}/verifikasi", json=body, headers=auth(verif))
    assert field in fields(r), r.text
    assert await pg.fetchval("SELECT status FROM submissions") == "masuk"


async def test_malformed_json_and_bad_id_are_4xx(client, verif):
    r = await client.post(
        f"/api/v1/submissions/{uuid.uuid4()}/verifikasi", content=b"{nope", headers={**auth(verif), "content-type": "application/json"}
    )
    body = problem(r, 400)
    assert (body["status"], body["title"]) == (400, "Malformed JSON")
    assert body["detail"].startswith("body bukan JSON yang sah")
    r = await decide(client, verif, "not-a-uuid", "diterima")
    assert "submission_id" in fields(r)


async def test_unknown_record_is_404(client, verif):
    problem(await decide(client, verif, str(uuid.uuid4()), "diterima"), 404)


@pytest.mark.parametrize(
    "role,wilayah", [("enumerator", "16"), ("dinas", "16"), ("walidata", None), ("verifikator", "16.71"), ("verifikator", "13")]
)
async def test_others_may_not_decide(client, keys, rec, role, wilayah, pg):
    key = await keys.make(role, wilayah, name=f"{role}-x")
    problem(await decide(client, key, rec["submission_id"], "diterima"), 403)
    assert await pg.fetchval("SELECT status FROM submissions") == "masuk"
    assert await pg.fetchval("SELECT count(*) FROM submission_history") == 1


async def test_stale_version_is_409_with_the_current_state(client, verif, enum_key, rec):
    sid = rec["submission_id"]
    assert (await tolak(client, verif, sid)).status_code == 200
    assert (await correct(client, enum_key, rec, nama_usaha="Warung Makan Sederhana Jaya")).status_code == 200
    body = problem(await decide(client, verif, sid, "diterima", version=1), 409)
    assert (body["current_status"], body["current_version"]) == ("masuk", 2)
    assert body["errors"][0]["field"] == "version"
    assert (await decide(client, verif, sid, "diterima", version=2)).status_code == 200


async def test_same_decider_repeating_a_decision_is_a_harmless_replay(client, verif, verif2, rec, pg):
    sid = rec["submission_id"]
    first = await tolak(client, verif, sid, alasan="lainnya", catatan="foto kabur")
    again = await tolak(client, verif, sid, alasan="lainnya", catatan="foto kabur")
    assert first.status_code == again.status_code == 200
    assert again.json()["replay"] is True
    assert again.json()["diputuskan_pada"] == first.json()["diputuskan_pada"]
    assert await pg.fetchval("SELECT count(*) FROM submission_history WHERE aksi = 'diverifikasi'") == 1
    # Another verifikator, or another reason, is not a replay: it lost the race.
    problem(await tolak(client, verif2, sid, alasan="lainnya", catatan="foto kabur"), 409)
    problem(await tolak(client, verif, sid, alasan="duplikat"), 409)


async def test_concurrent_double_decisions_have_exactly_one_winner(client, enum_key, verif, verif2, pg):
    recs = await post_records(client, enum_key, 25)
    calls = []
    for i, rec in enumerate(recs):
        sid = rec["submission_id"]
        a = decide(client, verif, sid, "diterima")
        b = tolak(client, verif2, sid, alasan="duplikat") if i % 2 else decide(client, verif2, sid, "diterima")
        calls += [a, b]
    results = await asyncio.gather(*calls)
    for i in range(0, len(results), 2):
        pair = results[i : i + 2]
        codes = sorted(r.status_code for r in pair)
        assert codes == [200, 409], [r.text for r in pair]
        winner = next(r for r in pair if r.status_code == 200).json()
        loser = next(r for r in pair if r.status_code == 409).json()
        assert loser["current_status"] == winner["status"] and loser["current_version"] == 1
    assert await pg.fetchval("SELECT count(*) FROM submission_history WHERE aksi = 'diverifikasi'") == 25
    await assert_consistent(pg)


# ---------------------------------------------------------------- corrections


async def test_correction_is_a_new_version_back_to_masuk(client, verif, enum_key, rec, pg):
    sid = rec["submission_id"]
    assert (await tolak(client, verif, sid, alasan="data_tidak_valid")).status_code == 200
    r = await correct(client, enum_key, rec, modal_usaha=2_000_000_000, nama_usaha="Rumah Makan Sederhana")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["version"], body["skala_usaha"]) == ("masuk", 2, "kecil")
    assert body["data"]["nama_usaha"] == "Rumah Makan Sederhana"
    assert await pg.fetchval("SELECT modal_usaha FROM submissions") == 2_000_000_000
    # Earlier versions stay readable, as they were.
    r = await client.get(f"/api/v1/submissions/{sid}/versi", headers=auth(verif))
    assert r.status_code == 200
    assert r.json()["current_version"] == 2
    assert [(v["version"], v["dibuat_oleh"]) for v in r.json()["items"]] == [(1, "enum-sumsel"), (2, "enum-sumsel")]
    v1 = (await client.get(f"/api/v1/submissions/{sid}/versi/1", headers=auth(verif))).json()
    v2 = (await client.get(f"/api/v1/submissions/{sid}/versi/2", headers=auth(verif))).json()
    assert v1["data"]["nama_usaha"] == "Warung Makan Sederhana" and v1["data"]["modal_usaha"] == 25_000_000
    assert v1["current"] is False and v2["current"] is True
    assert v2["data"]["nama_usaha"] == "Rumah Makan Sederhana"
    problem(await client.get(f"/api/v1/submissions/{sid}/versi/3", headers=auth(verif)), 404)
    trail = [(h["aksi"], h["dari"], h["ke"], h["version"]) for h in await riwayat(client, verif, sid)]
    assert trail == [("dibuat", None, "masuk", 1), ("diverifikasi", "masuk", "ditolak", 1), ("dikoreksi", "ditolak", "masuk", 2)]
    assert await pg.fetchval("SELECT jenis_perubahan FROM changes ORDER BY id DESC LIMIT 1") == "dikoreksi"
    await assert_consistent(pg)


async def test_identical_correction_replay_is_200_without_a_new_version(client, verif, enum_key, rec, pg):
    sid = rec["submission_id"]
    await tolak(client, verif, sid)
    first = await correct(client, enum_key, rec, alamat="Jl. Merdeka No. 10")
    again = await correct(client, enum_key, rec, alamat="Jl. Merdeka No. 10")
    assert first.status_code == again.status_code == 200
    assert again.json()["version"] == 2
    assert await pg.fetchval("SELECT count(*) FROM submission_versions WHERE submission_id = $1", uuid.UUID(sid)) == 2
    assert await pg.fetchval("SELECT count(*) FROM submission_history WHERE aksi = 'dikoreksi'") == 1
    # A different correction of a record that is masuk again is refused.
    body = problem(await correct(client, enum_key, rec, alamat="Jl. Merdeka No. 11"), 409)
    assert (body["current_status"], body["current_version"]) == ("masuk", 2)


async def test_concurrent_identical_corrections_store_one_version(client, verif, enum_key, rec, pg):
    await tolak(client, verif, rec["submission_id"])
    results = await asyncio.gather(*[correct(client, enum_key, rec, alamat="Jl. Sudirman 5") for _ in range(8)])
    assert {r.status_code for r in results} == {200}
    assert await pg.fetchval("SELECT version FROM submissions") == 2
    await assert_consistent(pg)


@pytest.mark.parametrize("state", ["masuk", "diterima"])
async def test_only_ditolak_records_can_be_corrected(client, verif, enum_key, rec, state, pg):
    if state == "diterima":
        await decide(client, verif, rec["submission_id"], "diterima")
    body = problem(await correct(client, enum_key, rec, alamat="Jl. Lain"), 409)
    assert (body["current_status"], body["current_version"]) == (state, 1)
    assert await pg.fetchval("SELECT count(*) FROM submission_versions") == 1


async def test_unchanged_correction_of_version_1_is_422(client, verif, enum_key, rec):
    await tolak(client, verif, rec["submission_id"])
    assert "body" in fields(await correct(client, enum_key, rec))


async def test_only_the_owner_or_admin_may_correct(client, keys, verif, enum_key, rec):
    await tolak(client, verif, rec["submission_id"])
    other_enum = await keys.make("enumerator", "16", name="enum-lain")
    dinas = await keys.make("dinas", "16", name="dinas")
    problem(await correct(client, other_enum, rec, alamat="Jl. A"), 403)
    problem(await correct(client, verif, rec, alamat="Jl. A"), 403)
    problem(await correct(client, dinas, rec, alamat="Jl. A"), 403)
    admin = await keys.make("admin", name="admin")
    r = await correct(client, admin, rec, alamat="Jl. A")
    assert r.status_code == 200 and r.json()["version"] == 2
    # A key that merely carries the same name is another holder; the holder's next key (a
    # rotation) is the same owner.
    await tolak(client, verif, rec["submission_id"], version=2)
    namesake = await keys.make("enumerator", "16.07", name="enum-sumsel")
    problem(await correct(client, namesake, rec, alamat="Jl. B"), 403)
    same_owner = await keys.make("enumerator", "16.07", name="enum-sumsel", successor_of=enum_key)
    assert (await correct(client, same_owner, rec, alamat="Jl. B")).status_code == 200


@pytest.mark.parametrize(
    "change,field",
    [
        ({"submission_id": str(uuid.uuid4())}, "submission_id"),
        ({"periode": "2023"}, "periode"),
        ({"enumerator_id": "ENUM-999"}, "enumerator_id"),
        ({"kode_wilayah": "13.71"}, "kode_wilayah"),  # another provinsi
        ({"nik_pemilik": "1234"}, "nik_pemilik"),  # the ingest rules apply
        ({"kbli": "04101"}, "kbli"),
        ({"skala_usaha": "kecil"}, "skala_usaha"),
    ],
)
async def test_bad_corrections_name_the_field(client, keys, verif, enum_key, rec, change, field, pg):
    await tolak(client, verif, rec["submission_id"])
    admin = await keys.make("admin", name="admin")  # national scope: only the rule can refuse it
    r = await correct(client, admin, rec, **change)
    assert field in fields(r), r.text
    assert await pg.fetchval("SELECT (status, version)::text FROM submissions") == "(ditolak,1)"


async def test_correction_with_nul_text_is_422_not_500(client, verif, enum_key, rec):
    await tolak(client, verif, rec["submission_id"])
    assert "nama_usaha" in fields(await correct(client, enum_key, rec, nama_usaha="Warung\u0000Baru"))


async def test_a_correction_names_every_invalid_field_at_once(client, verif, enum_key, rec):
    # The same single validation pass as ingest: the NIK's reference check comes with the
    # structural errors, and a body without jenis is still checked field by field.
    await tolak(client, verif, rec["submission_id"])
    body = {**rec, "nik_pemilik": "1699011205850001", "status_tempat": "keliling", "modal_usaha": "banyak"}
    del body["jenis"]
    r = await client.put(f"/api/v1/submissions/{rec['submission_id']}", json=body, headers=auth(enum_key))
    errors = fields(r)
    assert set(errors) == {"jenis", "nik_pemilik", "status_tempat", "modal_usaha"}, errors
    assert errors["jenis"] == "jenis wajib diisi: umkm atau koperasi"


async def test_correction_may_not_change_jenis(client, verif, enum_key, rec):
    await tolak(client, verif, rec["submission_id"])
    from tests.support.factories import koperasi

    body = koperasi(submission_id=rec["submission_id"])
    r = await client.put(f"/api/v1/submissions/{rec['submission_id']}", json=body, headers=auth(enum_key))
    assert "jenis" in fields(r)


async def test_correction_outside_the_enumerators_scope_is_403(client, keys, verif, rec):
    narrow = await keys.make("enumerator", "16.07", name="enum-sumsel")
    await tolak(client, verif, rec["submission_id"])
    problem(await correct(client, narrow, rec, kode_wilayah=KOTA_PALEMBANG), 403)


async def test_correction_to_another_kabkota_moves_the_counts(client, keys, verif, enum_key, rec, pg):
    await tolak(client, verif, rec["submission_id"], alasan="di_luar_wilayah")
    r = await correct(client, enum_key, rec, kode_wilayah=KOTA_PALEMBANG)
    assert r.status_code == 200 and r.json()["kode_kabkota"] == "16.71"
    assert await rekap(pg) == {("2022", "16.71", "masuk"): 1}
    # Now the Palembang verifikator decides it, and Banyuasin's no longer may.
    problem(await decide(client, verif, rec["submission_id"], "diterima", version=2), 403)
    palembang = await keys.make("verifikator", "16.71", name="verif-palembang")
    assert (await decide(client, palembang, rec["submission_id"], "diterima", version=2)).status_code == 200
    await assert_consistent(pg)


async def test_correction_of_unknown_record_is_404(client, enum_key):
    from tests.support.factories import umkm

    body = umkm()
    problem(await client.put(f"/api/v1/submissions/{body['submission_id']}", json=body, headers=auth(enum_key)), 404)


async def test_versions_are_masked_for_who_may_not_see_personal_data(client, keys, enum_key, rec):
    other_enum = await keys.make("enumerator", "16", name="enum-lain")
    v = (await client.get(f"/api/v1/submissions/{rec['submission_id']}/versi/1", headers=auth(other_enum))).json()
    assert v["pii_masked"] is True and v["data"]["nik_pemilik"] != rec["nik_pemilik"]
    v = (await client.get(f"/api/v1/submissions/{rec['submission_id']}/versi/1", headers=auth(enum_key))).json()
    assert v["pii_masked"] is False and v["data"]["nik_pemilik"] == rec["nik_pemilik"]
    outside = await keys.make("dinas", "13", name="dinas-sumbar")
    problem(await client.get(f"/api/v1/submissions/{rec['submission_id']}/versi/1", headers=auth(outside)), 403)
    problem(await client.get(f"/api/v1/submissions/{rec['submission_id']}/versi", headers=auth(outside)), 403)


# ---------------------------------------------------------------- history


async def test_riwayat_lists_every_transition_oldest_first_and_is_append_only(client, keys, verif, enum_key, rec, pg):
    sid = rec["submission_id"]
    await tolak(client, verif, sid, alasan="data_tidak_lengkap")
    await correct(client, enum_key, rec, telepon="0711-123456")
    await decide(client, verif, sid, "diterima", version=2)
    await tolak(client, verif, sid, version=2, dari="diterima", alasan="duplikat", catatan="ganda")
    items = await riwayat(client, verif, sid)
    assert [(h["aksi"], h["dari"], h["ke"], h["version"], h["oleh"], h["alasan_kode"]) for h in items] == [
        ("dibuat", None, "masuk", 1, "enum-sumsel", None),
        ("diverifikasi", "masuk", "ditolak", 1, "verif-banyuasin", "data_tidak_lengkap"),
        ("dikoreksi", "ditolak", "masuk", 2, "enum-sumsel", None),
        ("diverifikasi", "masuk", "diterima", 2, "verif-banyuasin", None),
        ("diverifikasi", "diterima", "ditolak", 2, "verif-banyuasin", "duplikat"),
    ]
    times = [h["pada"] for h in items]
    assert times == sorted(times)
    import asyncpg

    with pytest.raises(asyncpg.RaiseError):
        await pg.execute("UPDATE submission_history SET alasan_kode = NULL")
    with pytest.raises(asyncpg.RaiseError):
        await pg.execute("DELETE FROM submission_history")
    outside = await keys.make("verifikator", "16.71", name="verif-palembang")
    problem(await client.get(f"/api/v1/submissions/{sid}/riwayat", headers=auth(outside)), 403)
    problem(await client.get(f"/api/v1/submissions/{uuid.uuid4()}/riwayat", headers=auth(verif)), 404)


# ---------------------------------------------------------------- batch


async def test_batch_gives_each_item_its_own_outcome(client, keys, enum_key, verif, pg):
    ok1, ok2, stale, outside, replayed = await post_records(client, enum_key, 5)
    outside = await post_one(client, enum_key, kode_wilayah=KOTA_PALEMBANG)
    await decide(client, verif, stale["submission_id"], "diterima")
    await decide(client, verif, replayed["submission_id"], "diterima")
    items = [
        {"submission_id": ok1["submission_id"], "status": "diterima", "version": 1},
        {"submission_id": ok2["submission_id"], "status": "ditolak", "version": 1, "alasan_kode": "duplikat"},
        {"submission_id": ok2["submission_id"], "status": "ditolak", "version": 1, "alasan_kode": "duplikat"},
        {"submission_id": ok1["submission_id"], "status": "ditolak", "version": 1, "alasan_kode": "duplikat"},
        {"submission_id": stale["submission_id"], "status": "ditolak", "version": 1, "alasan_kode": "duplikat"},
        {"submission_id": outside["submission_id"], "status": "diterima", "version": 1},
        {"submission_id": str(uuid.uuid4()), "status": "diterima", "version": 1},
        {"submission_id": ok1["submission_id"], "status": "ditolak", "version": 1},
        {"submission_id": "bukan-uuid", "status": "diterima", "version": 1},
        "not an object",
        {"submission_id": replayed["submission_id"], "status": "diterima", "version": 1},
        {"submission_id": ok1["submission_id"], "status": "diterima", "version": 2**40},
    ]
    r = await client.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(verif))
    assert r.status_code == 200, r.text
    body = r.json()
    got = [(o["index"], o["outcome"], o["status"]) for o in body["items"]]
    assert got == [
        (0, "decided", 200),
        (1, "decided", 200),
        (2, "duplicate", 200),
        (3, "rejected", 409),
        (4, "rejected", 409),
        (5, "rejected", 403),
        (6, "rejected", 404),
        (7, "rejected", 422),
        (8, "rejected", 422),
        (9, "rejected", 422),
        (10, "duplicate", 200),
        (11, "rejected", 422),
    ]
    assert (body["decided"], body["duplicate"], body["rejected"]) == (2, 2, 8)
    assert body["items"][11]["errors"][0]["field"] == "version"
    assert body["items"][3]["current_status"] == "diterima" and body["items"][4]["current_version"] == 1
    assert body["items"][7]["errors"][0]["field"] == "alasan_kode"
    assert body["items"][8]["errors"][0]["field"] == "submission_id"
    statuses = dict(await pg.fetch("SELECT submission_id::text, status FROM submissions"))
    assert statuses[ok1["submission_id"]] == "diterima" and statuses[ok2["submission_id"]] == "ditolak"
    assert statuses[outside["submission_id"]] == "masuk"
    await assert_consistent(pg)


async def test_batch_of_1000_and_its_replay(client, enum_key, verif, pg):
    recs = await post_records(client, enum_key, 1000)
    items = [
        {
            "submission_id": r["submission_id"],
            "status": "diterima" if i % 3 else "ditolak",
            "version": 1,
            **({} if i % 3 else {"alasan_kode": "bukan_kumkm"}),
        }
        for i, r in enumerate(recs)
    ]
    r = await client.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(verif))
    assert r.status_code == 200 and r.json()["decided"] == 1000, r.text
    r = await client.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(verif))
    assert r.json()["duplicate"] == 1000
    assert await recount(pg) == {("2022", "16.07", "diterima"): 666, ("2022", "16.07", "ditolak"): 334}
    await assert_consistent(pg)


async def test_batch_envelope_errors(client, keys, verif):
    url = "/api/v1/verifikasi/batch"
    item = {"submission_id": str(uuid.uuid4()), "status": "diterima", "version": 1}
    problem(await client.post(url, json={"items": [item] * 1001}, headers=auth(verif)), 413)
    assert "items" in fields(await client.post(url, json={"items": []}, headers=auth(verif)))
    assert "items" in fields(await client.post(url, json=[item], headers=auth(verif)))
    assert "extra" in fields(await client.post(url, json={"items": [item], "extra": 1}, headers=auth(verif)))
    problem(await client.post(url, content=b"{", headers={**auth(verif), "content-type": "application/json"}), 400)
    enum = await keys.make("enumerator", "16", name="e")
    problem(await client.post(url, json={"items": [item]}, headers=auth(enum)), 403)
    problem(await client.post(url, json={"items": [item]}), 401)


async def test_overlapping_batches_at_once_do_not_deadlock_and_have_one_winner_each(client, enum_key, verif, verif2, pg):
    recs = await post_records(client, enum_key, 400)
    ids = [r["submission_id"] for r in recs]

    def batch(order, status):
        extra = {"alasan_kode": "duplikat"} if status == "ditolak" else {}
        return {"items": [{"submission_id": s, "status": status, "version": 1, **extra} for s in order]}

    calls = [
        client.post("/api/v1/verifikasi/batch", json=batch(ids, "diterima"), headers=auth(verif)),
        client.post("/api/v1/verifikasi/batch", json=batch(ids[::-1], "ditolak"), headers=auth(verif2)),
        client.post("/api/v1/verifikasi/batch", json=batch(ids[200:] + ids[:200], "ditolak"), headers=auth(verif)),
    ]
    results = await asyncio.gather(*calls)
    assert all(r.status_code == 200 for r in results), [r.text[:300] for r in results]
    decided = sum(r.json()["decided"] for r in results)
    assert decided == 400
    assert await pg.fetchval("SELECT count(*) FROM submission_history WHERE aksi = 'diverifikasi'") == 400
    await assert_consistent(pg)


# ---------------------------------------------------------------- the count invariant under a storm


async def test_counts_equal_a_recount_after_a_concurrent_storm(client, keys, enum_key, verif, verif2, pg):
    prov = await keys.make("verifikator", "16", name="verif-sumsel")
    palembang = await post_records(client, enum_key, 100, kode_wilayah=KOTA_PALEMBANG)
    banyuasin = await post_records(client, enum_key, 200, kode_wilayah=DESA_BANYUASIN)
    rejected = await post_records(client, enum_key, 60, kode_wilayah=KAB_MUARA_ENIM)
    r = await client.post(
        "/api/v1/verifikasi/batch",
        headers=auth(prov),
        json={
            "items": [
                {
                    "submission_id": x["submission_id"],
                    "status": "ditolak",
                    "version": 1,
                    "alasan_kode": "lainnya",
                    "catatan": "foto tidak ada",
                }
                for x in rejected
            ]
        },
    )
    assert r.json()["decided"] == 60

    async def ingest(n):
        from tests.support.factories import umkm

        items = [umkm(kode_wilayah=[DESA_BANYUASIN, KOTA_PALEMBANG, KAB_MUARA_ENIM][i % 3]) for i in range(n)]
        return await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(enum_key))

    async def race_single(rec, i):
        sid = rec["submission_id"]
        return await asyncio.gather(
            decide(client, verif, sid, "diterima"),
            tolak(client, verif2, sid, alasan="duplikat") if i % 2 else decide(client, prov, sid, "diterima"),
        )

    async def batch(recs, status):
        extra = {"alasan_kode": "data_tidak_valid"} if status == "ditolak" else {}
        return await client.post(
            "/api/v1/verifikasi/batch",
            headers=auth(prov),
            json={"items": [{"submission_id": x["submission_id"], "status": status, "version": 1, **extra} for x in recs]},
        )

    async def correct_or_reverse(rec, i):
        # The enumerator corrects while the verifikator reverses: exactly one of them wins.
        return await asyncio.gather(
            correct(client, enum_key, rec, alamat=f"Jl. Koreksi {i}"),
            decide(client, prov, rec["submission_id"], "diterima", dari="ditolak", catatan="cukup"),
        )

    tasks = [ingest(150) for _ in range(4)]
    tasks += [race_single(rec, i) for i, rec in enumerate(banyuasin[:100])]
    tasks += [batch(palembang[:50], "diterima"), batch(palembang[25:100], "ditolak"), batch(banyuasin[100:200], "ditolak")]
    tasks += [correct_or_reverse(rec, i) for i, rec in enumerate(rejected)]
    results = await asyncio.gather(*tasks)

    for r in results[:4]:
        assert r.status_code == 200 and r.json()["created"] == 150, r.text
    for pair in results[4:104]:
        assert sorted(x.status_code for x in pair) == [200, 409], [x.text for x in pair]
    for pair in results[107:]:
        assert sorted(x.status_code for x in pair) == [200, 409], [x.text for x in pair]
    batch_results = [r.json() for r in results[104:107]]
    # palembang[25:50] were in two batches: each went to exactly one of them.
    assert sum(b["decided"] for b in batch_results) == 200
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 360 + 600
    await assert_consistent(pg)
    totals = await recount(pg)
    masuk = sum(n for (p, k, s), n in totals.items())
    assert masuk == 960  # masuk = belum diverifikasi + diterima + ditolak, over every kabkota
