"""The entity API and the verifikator's actions over HTTP (docs/registry-api.md): profile and
history under the records' scope and personal-data rules, the candidate queue, tautkan,
bukan-sama and pisahkan with their undo, every row of the issue's bad-input table that HTTP can
show (kill -9 is tests/ops/test_registry_crash.py), the look-up and the list with downloads."""

from __future__ import annotations

import asyncio
import io

import openpyxl
import pytest

from app.registry import idkumkm
from tests.support.common import auth
from tests.support.factories import nik
from tests.support.helpers import report_csv
from tests.support.problems import assert_problem
from tests.support.registry_helpers import accepted, assert_whole, entitas, kandidat, versi

NIB = "9120001234567"


async def get_entitas(client, key, id_kumkm):
    return await client.get(f"/api/v1/kumkm/{id_kumkm}", headers=auth(key))


async def pair(client, pg, enum_key, verif, **over):
    """Two entities of one person's usaha (same NIK, similar names), one record each, and an
    open candidate between them."""
    owner = nik(perempuan=True, serial=4321)
    a = await accepted(client, enum_key, verif, nama_usaha="Warung Sederhana", nik_pemilik=owner, **over)
    b = await accepted(client, enum_key, verif, nama_usaha="Toko Sederhana Jaya", nik_pemilik=owner, periode="2023", **over)
    ea, eb = await entitas(pg, [a]), await entitas(pg, [b])
    kid = await kandidat(pg, ea, eb)
    return a, b, ea, eb, kid


async def decide(client, key, kid, action, va, vb, **body):
    return await client.post(f"/api/v1/kumkm/kandidat/{kid}/{action}", json={"versi_a": va, "versi_b": vb, **body}, headers=auth(key))


# ---------------------------------------------------------------- one entity


async def test_profile_history_and_personal_data(client, pg, keys, enum_key, verif, dinas):
    old = await accepted(
        client, enum_key, verif, nama_usaha="Warung Sederhana", nib=NIB, periode="2022", modal_usaha=25_000_000, telepon="081200000001"
    )
    new = await accepted(
        client,
        enum_key,
        verif,
        nama_usaha="Warung Sederhana Jaya",
        nib=NIB,
        periode="2023",
        modal_usaha=900_000_000,
        telepon=...,
        alamat="Jl. Baru No. 9",
    )
    eid = await entitas(pg, [old, new])
    r = await get_entitas(client, verif, eid)
    assert r.status_code == 200, r.text
    e = r.json()
    assert (e["id_kumkm"], e["id_diminta"], e["digabung_ke"], e["jenis"], e["kode_kabkota"]) == (eid, eid, None, "umkm", "16.07")
    p = e["profil"]
    # the latest periode's value, with the periode it came from; a field the latest record left
    # out comes from the earlier one
    assert p["nama_usaha"] == {"nilai": "Warung Sederhana Jaya", "periode": "2023", "submission_id": new["submission_id"]}
    assert p["modal_usaha"]["nilai"] == 900_000_000 and p["skala_usaha"]["periode"] == "2023"
    assert p["telepon"] == {"nilai": "081200000001", "periode": "2022", "submission_id": old["submission_id"]}
    assert p["alamat"]["nilai"] == "Jl. Baru No. 9" and e["pii_masked"] is False
    assert e["pengenal"] == {"nib": [NIB]}
    assert sorted(t["periode"] for t in e["tautan"]) == ["2022", "2023"]
    assert [x["aksi"] for x in e["peristiwa"]] == ["dibuat", "ditautkan", "ditautkan"]
    logged = await pg.fetch("SELECT key_name, endpoint, detail FROM access_log WHERE endpoint LIKE '%kumkm%'")
    assert [(x["key_name"], x["endpoint"]) for x in logged] == [("verif-banyuasin", "GET /api/v1/kumkm/{id_kumkm}")]

    # masked, by the records' rule: an enumerator (not these records' holder), a walidata
    # without the grant; in full for the dinas of the provinsi
    other_enum = await keys.make("enumerator", "16.07", name="enum-lain")
    plain_walidata = await keys.make("walidata", name="walidata-tanpa-pii")
    for key in (other_enum, plain_walidata):
        m = (await get_entitas(client, key, eid)).json()
        assert m["pii_masked"] is True
        assert m["profil"]["alamat"]["nilai"] == "(disamarkan)"
        assert m["profil"]["nik_pemilik"]["nilai"] != new["nik_pemilik"]
        assert m["profil"]["nama_usaha"]["nilai"] == "Warung Sederhana Jaya"
    assert (await get_entitas(client, dinas, eid)).json()["profil"]["alamat"]["nilai"] == "Jl. Baru No. 9"
    assert await pg.fetchval("SELECT count(*) FROM access_log WHERE endpoint LIKE '%kumkm%'") == 2


async def test_id_forms_scope_and_absence(client, pg, keys, enum_key, verif):
    eid = await entitas(pg, [await accepted(client, enum_key, verif)])
    typed = "-".join([eid[:1].lower(), eid[1:4], eid[4:7], eid[7:]])
    assert (await get_entitas(client, verif, typed)).json()["id_kumkm"] == eid
    wrong = eid[:-1] + str((int(eid[-1]) + 1) % 10)
    body = assert_problem(await get_entitas(client, verif, wrong), "invalid-input")
    assert body["errors"][0]["field"] == "id_kumkm" and "angka periksa" in body["detail"]
    assert_problem(await get_entitas(client, verif, "X123"), "invalid-input")
    assert_problem(await get_entitas(client, verif, idkumkm.make("umkm", 999_999_999)), "not-found")
    muara_enim = await keys.make("verifikator", "16.03", name="verif-muara-enim")
    assert_problem(await get_entitas(client, muara_enim, eid), "outside-scope")


# ---------------------------------------------------------------- the candidate queue


async def test_kandidat_queue(client, pg, keys, enum_key, verif):
    a, b, ea, eb, kid = await pair(client, pg, enum_key, verif)
    c = await accepted(client, enum_key, verif, nama_usaha="Kedai Lain")
    ec = await entitas(pg, [c])
    low = await kandidat(pg, ea, ec, skor=0.812)
    r = await client.get("/api/v1/kumkm/kandidat", params={"limit": 1}, headers=auth(verif))
    assert r.status_code == 200, r.text
    page = r.json()
    (item,) = page["items"]
    assert (item["id"], item["skor"], item["status"]) == (kid, 0.95, "terbuka")
    assert {item["a"]["id_kumkm"], item["b"]["id_kumkm"]} == {ea, eb}
    sides = {item["a"]["id_kumkm"]: item["a"], item["b"]["id_kumkm"]: item["b"]}
    assert sides[ea]["nama"] == "Warung Sederhana" and sides[eb]["periode"] == ["2023"]
    assert sides[ea]["alamat"] == a["alamat"]  # the verifikator of the kabupaten sees it
    assert [x["kode"] for x in item["alasan"]] == ["nik_pemilik_sama", "nama_mirip"]
    nxt = (await client.get("/api/v1/kumkm/kandidat", params={"limit": 1, "cursor": page["next_cursor"]}, headers=auth(verif))).json()
    assert [x["id"] for x in nxt["items"]] == [low] and nxt["next_cursor"] is None
    assert await pg.fetchval("SELECT count(*) FROM access_log WHERE endpoint = 'GET /api/v1/kumkm/kandidat'") == 2
    # a national admin names the kabupaten/kota; others are refused
    admin = await keys.make("admin", name="admin-pusat")
    assert_problem(await client.get("/api/v1/kumkm/kandidat", headers=auth(admin)), "invalid-input")
    assert len((await client.get("/api/v1/kumkm/kandidat", params={"kabkota": "16.07"}, headers=auth(admin))).json()["items"]) == 2
    assert_problem(await client.get("/api/v1/kumkm/kandidat", headers=auth(enum_key)), "role-forbidden")
    assert_problem(await client.get("/api/v1/kumkm/kandidat", params={"kabkota": "16.03"}, headers=auth(verif)), "outside-scope")
    assert_problem(await client.get("/api/v1/kumkm/kandidat", params={"cursor": "xyz"}, headers=auth(verif)), "invalid-input")


# ---------------------------------------------------------------- tautkan, and its undo


async def test_tautkan_then_split_undoes_it(client, pg, enum_key, verif):
    owner = nik(perempuan=True, serial=4321)
    a = await accepted(client, enum_key, verif, nama_usaha="Warung Sederhana", nik_pemilik=owner)
    b = await accepted(client, enum_key, verif, nama_usaha="Toko Sederhana Jaya", nik_pemilik=owner, periode="2023", nib="9120009999999")
    ea, eb = await entitas(pg, [a]), await entitas(pg, [b])
    kid = await kandidat(pg, ea, eb)
    r = await decide(client, verif, kid, "tautkan", 1, 1, catatan="pemilik dan alamat sama")
    assert r.status_code == 200, r.text
    out = r.json()
    # the earlier entity survives; the later keeps its id, pointing at it
    assert (out["id_kumkm"], out["digabung"], out["submission_ids"]) == (ea, eb, [b["submission_id"]])
    assert out["kandidat"]["status"] == "ditautkan" and out["versi"] == 2
    retired = (await get_entitas(client, verif, eb)).json()
    assert (retired["id_kumkm"], retired["id_diminta"], retired["digabung_ke"]) == (ea, eb, ea)
    assert retired["id_lama"] == [eb] and retired["pengenal"] == {"nib": ["9120009999999"]}
    assert sorted(t["submission_id"] for t in retired["tautan"]) == sorted([a["submission_id"], b["submission_id"]])
    assert retired["profil"]["nama_usaha"]["periode"] == "2023"
    event = await pg.fetchrow("SELECT oleh, oleh_key, alasan FROM kumkm_peristiwa WHERE aksi = 'digabung' AND id_kumkm = $1", ea)
    assert (event["oleh"], event["alasan"]) == ("verif-banyuasin", "pemilik dan alamat sama") and event["oleh_key"]
    # the walidata's line of the moved record carries the survivor's id (and a change says so)
    line_id = "SELECT id_kumkm FROM sync_records WHERE submission_id = $1"
    assert await pg.fetchval(line_id, b["submission_id"]) == ea
    await assert_whole(pg)

    # a stale versi of the survivor: 409 with the current state
    stale = assert_problem(
        await client.post(f"/api/v1/kumkm/{ea}/pisahkan", json={"versi": 1, "submission_ids": [b["submission_id"]]}, headers=auth(verif)),
        "state-conflict",
    )
    assert stale["current_versi"] == 2
    undo = await client.post(
        f"/api/v1/kumkm/{ea}/pisahkan",
        json={"versi": 2, "submission_ids": [b["submission_id"]], "catatan": "salah tautkan"},
        headers=auth(verif),
    )
    assert undo.status_code == 200, undo.text
    assert undo.json()["ke"] == eb and undo.json()["dihidupkan"] is True
    back = (await get_entitas(client, verif, eb)).json()
    assert (back["id_kumkm"], back["digabung_ke"], back["pengenal"]) == (eb, None, {"nib": ["9120009999999"]})
    assert [t["dasar"] for t in back["tautan"]] == ["baru"]  # each link's own rule, restored
    assert await pg.fetchval(line_id, b["submission_id"]) == eb
    assert [x["aksi"] for x in back["peristiwa"]][-2:] == ["digabung", "dipisah"]
    await assert_whole(pg)


async def test_stale_versi_and_decided_candidate_409(client, pg, enum_key, verif, verif2):
    a, b, ea, eb, kid = await pair(client, pg, enum_key, verif)
    body = assert_problem(await decide(client, verif, kid, "tautkan", 1, 7), "state-conflict")
    assert (body["current_status"], body["current_versi_a"], body["current_versi_b"]) == ("terbuka", 1, 1)
    assert (await decide(client, verif, kid, "bukan-sama", 1, 1)).status_code == 200
    body = assert_problem(await decide(client, verif2, kid, "tautkan", 1, 1), "state-conflict")
    assert body["current_status"] == "bukan_sama"
    assert await versi(pg, ea) == 1 and await versi(pg, eb) == 1
    assert_problem(await decide(client, verif, 999_999, "tautkan", 1, 1), "not-found")


async def test_merge_repoints_other_candidates(client, pg, enum_key, verif):
    a, b, ea, eb, kid = await pair(client, pg, enum_key, verif)
    c = await accepted(client, enum_key, verif, nama_usaha="Warung Sederhana Baru")
    ec = await entitas(pg, [c])
    d = await accepted(client, enum_key, verif, nama_usaha="Warung Sederhana Lama")
    ed = await entitas(pg, [d])
    to_c = await kandidat(pg, eb, ec, skor=0.9)  # re-pointed to (ea, ec)
    to_a = await kandidat(pg, ea, ed, skor=0.9)  # already open with the survivor ...
    dup = await kandidat(pg, eb, ed, skor=0.85)  # ... so this one goes usang
    out = (await decide(client, verif, kid, "tautkan", 1, 1)).json()
    assert out["kandidat_dialihkan"] == [to_c] and out["kandidat_usang"] == [dup]
    rows = {r["id"]: (r["id_a"], r["id_b"], r["status"]) for r in await pg.fetch("SELECT * FROM kumkm_kandidat")}
    assert rows[to_c] == (*sorted((ea, ec)), "terbuka") and rows[dup][2] == "usang"
    assert rows[to_a][2] == "terbuka"
    # a verifikator who read the re-pointed candidate before the merge is told it changed
    assert_problem(await decide(client, verif, to_c, "tautkan", 1, 1), "state-conflict")


# ---------------------------------------------------------------- bukan-sama, and its undo


async def test_bukan_sama_and_undo(client, pg, enum_key, verif):
    a, b, ea, eb, kid = await pair(client, pg, enum_key, verif)
    r = await decide(client, verif, kid, "bukan-sama", 1, 1, catatan="dua usaha berbeda")
    assert r.status_code == 200, r.text
    assert r.json()["kandidat"]["status"] == "bukan_sama"
    row = await pg.fetchrow("SELECT * FROM kumkm_bukan_sama")
    assert (row["id_a"], row["id_b"], row["oleh"], row["alasan"]) == (*sorted((ea, eb)), "verif-banyuasin", "dua usaha berbeda")
    # the ids in either order, typed loosely
    undo = await client.delete(f"/api/v1/kumkm/bukan-sama/{eb.lower()}/{ea}", params={"catatan": "keliru"}, headers=auth(verif))
    assert undo.status_code == 200, undo.text
    assert await pg.fetchval("SELECT count(*) FROM kumkm_bukan_sama") == 0
    events = await pg.fetch("SELECT id_kumkm, alasan FROM kumkm_peristiwa WHERE aksi = 'bukan_sama_dibatalkan'")
    assert sorted(e["id_kumkm"] for e in events) == sorted([ea, eb]) and events[0]["alasan"] == "keliru"
    assert_problem(await client.delete(f"/api/v1/kumkm/bukan-sama/{ea}/{eb}", headers=auth(verif)), "not-found")
    assert_problem(await client.delete(f"/api/v1/kumkm/bukan-sama/{ea}/{eb}", headers=auth(enum_key)), "role-forbidden")


# ---------------------------------------------------------------- the bad-input table


async def test_pair_across_provinsi_needs_both_in_scope(client, pg, keys, enum_key, verif):
    admin = await keys.make("admin", name="admin-pusat")
    here = await accepted(client, enum_key, verif, nama_usaha="Warung Sederhana")
    there = await accepted(client, admin, admin, kode_wilayah="32.01", nik_pemilik=nik("320101"), nama_usaha="Warung Sederhana")
    eh, et = await entitas(pg, [here]), await entitas(pg, [there])
    kid = await kandidat(pg, eh, et)
    provinsi_key = await keys.make("verifikator", "16", name="verif-sumsel")
    for key in (verif, provinsi_key):
        assert_problem(await decide(client, key, kid, "tautkan", 1, 1), "outside-scope")
        assert_problem(await decide(client, key, kid, "bukan-sama", 1, 1), "outside-scope")
        assert_problem(
            await client.post(f"/api/v1/kumkm/{eh}/tautkan", json={"versi": 1, "dengan": et, "versi_dengan": 1}, headers=auth(key)),
            "outside-scope",
        )
    assert await versi(pg, eh) == 1 and await versi(pg, et) == 1
    assert (await decide(client, admin, kid, "tautkan", 1, 1)).status_code == 200


async def test_koperasi_with_umkm_and_self_are_422(client, pg, enum_key, verif):
    u = await entitas(pg, [await accepted(client, enum_key, verif)])
    k = await entitas(pg, [await accepted(client, enum_key, verif, jenis="koperasi")])
    kid = await kandidat(pg, u, k)
    body = assert_problem(await decide(client, verif, kid, "tautkan", 1, 1), "invalid-input")
    assert "koperasi" in body["detail"]
    body = assert_problem(
        await client.post(f"/api/v1/kumkm/{u}/tautkan", json={"versi": 1, "dengan": k, "versi_dengan": 1}, headers=auth(verif)),
        "invalid-input",
    )
    assert body["errors"][0]["field"] == "dengan"
    body = assert_problem(
        await client.post(f"/api/v1/kumkm/{u}/tautkan", json={"versi": 1, "dengan": u.lower(), "versi_dengan": 1}, headers=auth(verif)),
        "invalid-input",
    )
    assert "dirinya sendiri" in body["detail"]
    assert_problem(await client.delete(f"/api/v1/kumkm/bukan-sama/{u}/{u}", headers=auth(verif)), "invalid-input")
    assert await versi(pg, u) == 1 and await versi(pg, k) == 1


async def test_split_none_all_or_foreign_is_422_and_new_entity_is_undone_by_tautkan(client, pg, enum_key, verif):
    # one koperasi over two rounds (the same NIK koperasi), its nomor badan hukum changed
    recs = [
        await accepted(
            client, enum_key, verif, jenis="koperasi", nik_koperasi="1607010000000001", nomor_badan_hukum="123/BH/XII/2010", periode="2022"
        ),
        await accepted(
            client, enum_key, verif, jenis="koperasi", nik_koperasi="1607010000000001", nomor_badan_hukum="77/BH/III/2023", periode="2023"
        ),
    ]
    eid = await entitas(pg, recs)
    v = await versi(pg, eid)  # 1 or 2: the linker may have linked both in one batch
    other = await accepted(client, enum_key, verif)
    url = f"/api/v1/kumkm/{eid}/pisahkan"
    sids = [r["submission_id"] for r in recs]
    assert_problem(await client.post(url, json={"versi": v, "submission_ids": []}, headers=auth(verif)), "invalid-input")
    assert_problem(await client.post(url, json={"versi": v, "submission_ids": sids}, headers=auth(verif)), "invalid-input")
    body = assert_problem(
        await client.post(url, json={"versi": v, "submission_ids": [other["submission_id"]]}, headers=auth(verif)), "invalid-input"
    )
    assert body["errors"][0]["field"] == "submission_ids"
    r = await client.post(url, json={"versi": v, "submission_ids": [sids[1]]}, headers=auth(verif))
    assert r.status_code == 200, r.text
    new = r.json()["ke"]
    assert r.json()["dihidupkan"] is False and idkumkm.valid(new) and new[0] == "K"
    # the identifier only the moved record carries goes with it; the one both carry stays
    assert (await get_entitas(client, verif, new)).json()["pengenal"] == {"nomor_badan_hukum": ["77BHIII2023"]}
    assert (await get_entitas(client, verif, eid)).json()["pengenal"] == {
        "nik_koperasi": ["1607010000000001"],
        "nomor_badan_hukum": ["123BHXII2010"],
    }
    await assert_whole(pg)
    # undo: merge the new entity back (it was created later, so the original survives)
    back = await client.post(f"/api/v1/kumkm/{new}/tautkan", json={"versi": 2, "dengan": eid, "versi_dengan": v + 1}, headers=auth(verif))
    assert back.status_code == 200, back.text
    assert back.json()["id_kumkm"] == eid
    assert len((await get_entitas(client, verif, eid)).json()["tautan"]) == 2


async def test_concurrent_link_and_split_one_wins(client, pg, enum_key, verif, verif2):
    for i in range(4):
        shared = f"91200000000{i:02d}"
        a = await accepted(client, enum_key, verif, nib=shared)
        extra = await accepted(client, enum_key, verif, nib=shared, periode="2023")
        b = await accepted(client, enum_key, verif, periode="2023")
        ea, eb = await entitas(pg, [a, extra]), await entitas(pg, [b])
        kid = await kandidat(pg, ea, eb)
        va = await versi(pg, ea)
        link = decide(client, verif, kid, "tautkan", va, 1)
        split = client.post(
            f"/api/v1/kumkm/{ea}/pisahkan", json={"versi": va, "submission_ids": [a["submission_id"]]}, headers=auth(verif2)
        )
        results = await asyncio.gather(link, split)
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409)
        assert_problem(loser, "state-conflict")
        assert loser.json().get("current_versi", loser.json().get("current_versi_a")) == va + 1
        await assert_whole(pg)


# ---------------------------------------------------------------- look-up and list


async def test_lookup_by_identifier(client, pg, keys, enum_key, verif):
    u = await entitas(pg, [await accepted(client, enum_key, verif, nib=NIB)])
    k = await entitas(
        pg,
        [await accepted(client, enum_key, verif, jenis="koperasi", nik_koperasi="1607010000000001", nomor_badan_hukum="123/BH/XII/2010")],
    )

    async def look(key, **params):
        return await client.get("/api/v1/kumkm", params=params, headers=auth(key))

    spaced = f"{NIB[:4]} {NIB[4:8]}-{NIB[8:]}"
    assert [e["id_kumkm"] for e in (await look(enum_key, nib=spaced)).json()["items"]] == [u]
    assert [e["id_kumkm"] for e in (await look(verif, nik_koperasi="1607010000000001")).json()["items"]] == [k]
    assert [e["id_kumkm"] for e in (await look(verif, nomor_badan_hukum="123 bh xii 2010")).json()["items"]] == [k]
    assert (await look(verif, nib="0000000000000")).json()["items"] == []
    elsewhere = await keys.make("dinas", "32", name="dinas-jabar")
    assert (await look(elsewhere, nib=NIB)).json()["items"] == []
    assert_problem(await look(verif, nib=NIB, nik_koperasi="1"), "invalid-input")
    assert_problem(await look(verif, nib=NIB, wilayah="16.07"), "invalid-input")
    assert_problem(await look(verif, nib="---"), "invalid-input")


async def test_list_pages_and_downloads(client, pg, keys, enum_key, verif):
    ids = [await entitas(pg, [await accepted(client, enum_key, verif, nama_usaha=f"Usaha {i}")]) for i in range(3)]
    k = await entitas(pg, [await accepted(client, enum_key, verif, jenis="koperasi")])
    first = (await client.get("/api/v1/kumkm", params={"wilayah": "16.07", "limit": 2}, headers=auth(verif))).json()
    assert [e["id_kumkm"] for e in first["items"]] == sorted([*ids, k])[:2]
    rest = (
        await client.get("/api/v1/kumkm", params={"wilayah": "16.07", "limit": 2, "cursor": first["next_cursor"]}, headers=auth(verif))
    ).json()
    assert [e["id_kumkm"] for e in first["items"] + rest["items"]] == sorted([*ids, k]) and rest["next_cursor"] is None
    umkm_only = await client.get("/api/v1/kumkm", params={"wilayah": "16", "jenis": "umkm"}, headers=auth(verif))
    assert_problem(umkm_only, "outside-scope")  # a kabupaten key asking for its provinsi
    own = (await client.get("/api/v1/kumkm", params={"jenis": "umkm"}, headers=auth(verif))).json()
    assert sorted(e["id_kumkm"] for e in own["items"]) == sorted(ids)
    assert "alamat" not in own["items"][0]

    rows = report_csv(await client.get("/api/v1/kumkm", params={"wilayah": "16.07", "format": "csv"}, headers=auth(verif)))
    assert rows[0][:4] == ["No", "ID KUMKM", "Jenis", "Nama"]
    assert sorted(r[1] for r in rows[1:]) == sorted([*ids, k])
    x = await client.get("/api/v1/kumkm", params={"wilayah": "16.07", "format": "xlsx"}, headers=auth(verif))
    assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(x.content)).active
    values = [c for row in sheet.iter_rows(values_only=True) for c in row]
    assert all(i in values for i in [*ids, k])
    nation = await keys.make("dinas", "32", name="dinas-jabar")
    assert (await client.get("/api/v1/kumkm", headers=auth(nation))).json()["items"] == []
    assert_problem(await client.get("/api/v1/kumkm", params={"wilayah": "16.07.01"}, headers=auth(verif)), "invalid-input")


@pytest.mark.parametrize("path", ["/api/v1/kumkm/kandidat/1/tautkan", "/api/v1/kumkm/kandidat/1/bukan-sama"])
async def test_actions_need_a_decider(client, enum_key, dinas, path):
    for key in (enum_key, dinas):
        assert_problem(await client.post(path, json={"versi_a": 1, "versi_b": 1}, headers=auth(key)), "role-forbidden")
