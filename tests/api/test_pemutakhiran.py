"""Follow-up visits with ODK Entities (docs/pemutakhiran.md), over HTTP against the live service
and its background linker: the whole cycle (a census record accepted -> its entity -> the form
`pemutakhiran_kumkm` and its entity list usaha.csv -> a follow-up from the list in Collect's
shape -> a record of the next periode linked to that entity), conflicts (an out-of-date
baseVersion, two phones at once), the bad-input rows of issue 30 that are this part's, the
JSON list of CAPI apps with its ETag, and the personal-data rule on the list."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import uuid
from xml.etree.ElementTree import fromstring

import pytest

from app.openrosa import xlsform
from app.registry import idkumkm
from tests.support.common import auth
from tests.support.factories import DESA, koperasi, umkm
from tests.support.openrosa_helpers import follow_up, instance, message, post
from tests.support.problems import assert_problem
from tests.support.registry_helpers import entitas, linked

LIST_NS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"
FORM = "pemutakhiran_kumkm"
PII = ("nik_pemilik", "nama_pemilik", "alamat", "telepon")


async def decide(client, key, sid, status="diterima", version=1):
    body = {"status": status, "version": version}
    if status == "ditolak":
        body["alasan"] = [{"kode": "lainnya", "catatan": "uji"}]
    r = await client.post(f"/api/v1/submissions/{sid}/verifikasi", json=body, headers=auth(key))
    assert r.status_code == 200, r.text


async def census(client, pg, enum, verif, **over) -> tuple[dict, str]:
    """A census record posted from Collect (form pl_kumkm), accepted, linked: (record, id_kumkm)."""
    rec = umkm(**over) if over.get("jenis", "umkm") == "umkm" else koperasi(**over)
    r = await post(client, enum, instance(rec))
    assert r.status_code == 201, r.text
    await decide(client, verif, rec["submission_id"])
    return rec, await entitas(pg, [rec])


async def usaha_list(client, key) -> tuple[str, bytes, list[dict]]:
    """As Collect does: the manifest of the follow-up form, then usaha.csv: (hash, bytes, rows)."""
    base = f"/openrosa/{key}/forms/{FORM}"
    man = await client.get(f"{base}/manifest", headers={"X-OpenRosa-Version": "1.0"})
    assert man.status_code == 200, man.text
    files = {m.findtext(f"{MANIFEST_NS}filename"): m for m in fromstring(man.content).iter(f"{MANIFEST_NS}mediaFile")}
    assert set(files) == {"wilayah.csv", "usaha.csv"}
    got = await client.get(files["usaha.csv"].findtext(f"{MANIFEST_NS}downloadUrl"))
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    return files["usaha.csv"].findtext(f"{MANIFEST_NS}hash"), got.content, list(csv.DictReader(io.StringIO(got.text)))


async def pemutakhiran_row(pg, sid):
    return await pg.fetchrow("SELECT * FROM kumkm_pemutakhiran WHERE submission_id = $1", uuid.UUID(sid))


# ------------------------------------------------------------------------------ the form


def test_follow_up_workbook_is_built_from_its_sheets(tmp_path):
    xlsform.write_xlsx(
        tmp_path / "built.xlsx", xlsform.read_sheets(xlsform.FOLLOW_UP_DIR, xlsform.FOLLOW_UP_SHEETS), xlsform.FOLLOW_UP_SHEETS
    )
    assert (tmp_path / "built.xlsx").read_bytes() == xlsform.FOLLOW_UP_XLSX.read_bytes(), (
        "app/openrosa/form/pemutakhiran/pemutakhiran-kumkm.xlsx is stale: run `./dev kumkm openrosa xlsform`"
    )


def test_follow_up_form_declares_the_entity_update():
    """pyxform writes the ODK Entities declaration from the `entities` sheet: an update of the
    entity picked in list `usaha`, its baseVersion read from the list's __version."""
    f = xlsform.follow_up_form()
    assert (f.form_id, f.entities) == (FORM, True)
    doc = fromstring(f.xml)
    xf = "{http://www.w3.org/2002/xforms}"
    model = doc.find(f".//{xf}model")
    assert model.get("{http://www.opendatakit.org/xforms/entities}entities-version") >= "2024.1.0"
    entity = doc.find(f".//{xf}meta/{xf}entity")
    assert (entity.get("dataset"), entity.get("update")) == ("usaha", "1")
    binds = {b.get("nodeset"): b for b in doc.iter(f"{xf}bind")}
    assert binds["/data/meta/entity/@id"].get("calculate").strip() == "/data/id_kumkm"
    assert "__version" in binds["/data/meta/entity/@baseVersion"].get("calculate")
    assert any(i.get("src") == "jr://file-csv/usaha.csv" for i in doc.iter(f"{xf}instance"))
    # the usaha is picked from the list, filtered by the desa chosen
    select = next(s for s in doc.iter(f"{xf}select1") if s.get("ref") == "/data/id_kumkm")
    assert select.find(f"{xf}itemset").get("nodeset") == "instance('usaha')/root/item[desa= /data/wilayah/kode_wilayah ]"


# ------------------------------------------------------------------------------ the whole cycle


async def test_whole_cycle_census_entity_list_follow_up_linked_record(client, pg, enum_banyuasin, verif):
    rec, eid = await census(client, pg, enum_banyuasin, verif, nama_usaha="Warung Bu Siti", nib="9120001234567")

    # the form list carries both forms
    fl = await client.get(f"/openrosa/{enum_banyuasin}/formList", headers={"X-OpenRosa-Version": "1.0"})
    listed = [x.findtext(f"{LIST_NS}formID") for x in fromstring(fl.content).iter(f"{LIST_NS}xform")]
    assert listed == ["pl_kumkm", FORM]
    form = await client.get(f"/openrosa/{enum_banyuasin}/forms/{FORM}/form.xml")
    assert form.status_code == 200 and b"entities-version" in form.content

    digest, data, rows = await usaha_list(client, enum_banyuasin)
    assert digest == "md5:" + hashlib.md5(data).hexdigest()
    (row,) = [r for r in rows if r["name"] == eid]
    assert (row["__version"], row["jenis"], row["desa"], row["nama_usaha"], row["periode_terakhir"]) == (
        "1",
        "umkm",
        DESA,
        "Warung Bu Siti",
        "2022",
    )
    assert row["label"] == f"Warung Bu Siti ({eid})"
    assert list(rows[0])[:3] == ["name", "label", "__version"]
    # unchanged: the same bytes and hash (from the cache)
    again, data2, _ = await usaha_list(client, enum_banyuasin)
    assert (again, data2) == (digest, data)

    # the follow-up of the next periode, from the list, in Collect's shape
    nxt = umkm(periode="2023", nama_usaha="Warung Bu Siti", nik_pemilik=rec["nik_pemilik"], modal_usaha=80_000_000)
    r = await post(client, enum_banyuasin, follow_up(nxt, eid, row["__version"], "aktif"))
    assert r.status_code == 201, r.text
    assert message(r)[0] == "submit_success"
    pm = await pemutakhiran_row(pg, nxt["submission_id"])
    assert (pm["id_kumkm"], pm["versi_dasar"], pm["versi_entitas"], pm["konflik"]) == (eid, 1, 1, None)
    stored = await pg.fetchrow(
        "SELECT status, keadaan_usaha, periode FROM submissions WHERE submission_id = $1", uuid.UUID(nxt["submission_id"])
    )
    assert tuple(stored) == ("masuk", "aktif", "2023")
    got = await client.get(f"/api/v1/submissions/{nxt['submission_id']}", headers=auth(verif))
    assert got.json()["data"]["id_kumkm"] == eid and got.json()["data"]["versi_dasar"] == 1

    # accepted: linked to that entity directly (no new entity, no candidate), its versi moves on
    await decide(client, verif, nxt["submission_id"])
    links = await linked(pg, [rec, nxt])
    assert set(links.values()) == {eid}
    link = await pg.fetchrow("SELECT dasar, periode FROM kumkm_tautan WHERE submission_id = $1", uuid.UUID(nxt["submission_id"]))
    assert tuple(link) == ("pemutakhiran", "2023")
    assert await pg.fetchval("SELECT count(*) FROM kumkm") == 1
    assert await pg.fetchval("SELECT count(*) FROM kumkm_kandidat") == 0
    assert await pg.fetchval("SELECT versi FROM kumkm WHERE id_kumkm = $1", eid) == 2

    # the list changed: a new hash, the new versi and the new round's profile
    digest3, _, rows3 = await usaha_list(client, enum_banyuasin)
    assert digest3 != digest
    (row3,) = [r for r in rows3 if r["name"] == eid]
    assert (row3["__version"], row3["periode_terakhir"], row3["keadaan_terakhir"]) == ("2", "2023", "aktif")


async def test_closed_usaha_is_recorded_and_labelled(client, pg, enum_banyuasin, verif):
    rec, eid = await census(client, pg, enum_banyuasin, verif, nama_usaha="Kios Pak Budi")
    nxt = umkm(periode="2023", nama_usaha="Kios Pak Budi")
    r = await post(client, enum_banyuasin, follow_up(nxt, eid, 1, "tutup"))
    assert r.status_code == 201, r.text
    await decide(client, verif, nxt["submission_id"])
    await linked(pg, [nxt])
    assert await pg.fetchval("SELECT keadaan_usaha FROM submissions WHERE submission_id = $1", uuid.UUID(nxt["submission_id"])) == "tutup"
    # the entity keeps its history: both records stay linked to it
    assert await pg.fetchval("SELECT count(*) FROM kumkm_tautan WHERE id_kumkm = $1", eid) == 2
    _, _, rows = await usaha_list(client, enum_banyuasin)
    (row,) = [r for r in rows if r["name"] == eid]
    assert row["keadaan_terakhir"] == "tutup" and row["label"] == f"Kios Pak Budi [tutup] ({eid})"


# ------------------------------------------------------------------------------ conflicts


async def test_out_of_date_base_version_and_two_phones_are_conflicts(client, pg, enum_banyuasin, verif):
    rec, eid = await census(client, pg, enum_banyuasin, verif, nama_usaha="Bengkel Las Jaya")
    # two phones with the same list (versi 1) visit the same usaha
    a = umkm(periode="2023", nama_usaha="Bengkel Las Jaya", modal_usaha=30_000_000)
    b = umkm(periode="2023", nama_usaha="Bengkel Las Jaya Abadi", modal_usaha=60_000_000)
    ra = await post(client, enum_banyuasin, follow_up(a, eid, 1))
    rb = await post(client, enum_banyuasin, follow_up(b, eid, 1))
    assert (ra.status_code, rb.status_code) == (201, 201)
    assert (await pemutakhiran_row(pg, a["submission_id"]))["konflik"] is None
    assert (await pemutakhiran_row(pg, b["submission_id"]))["konflik"] == "bersamaan"

    # A accepted: the entity moves to versi 2; a phone whose list still says 1 is out of date
    await decide(client, verif, a["submission_id"])
    await linked(pg, [a])
    c = umkm(periode="2024", nama_usaha="Bengkel Las Jaya")
    rc = await post(client, enum_banyuasin, follow_up(c, eid, 1))
    assert rc.status_code == 201, rc.text  # accepted as masuk, nothing lost
    pc = await pemutakhiran_row(pg, c["submission_id"])
    assert (pc["konflik"], pc["versi_dasar"], pc["versi_entitas"]) == ("versi_lama", 1, 2)
    # a phone with the new list (versi 2) is no conflict
    d = umkm(periode="2024", nama_usaha="Bengkel Las Jaya")
    assert (await post(client, enum_banyuasin, follow_up(d, eid, 2))).status_code == 201
    assert (await pemutakhiran_row(pg, d["submission_id"]))["konflik"] is None

    # the queue shows the conflict with both sides: the record's and the entity's as it is now
    q = await client.get(
        "/api/v1/verifikasi/antrian", params={"periode": "2024", "kabkota": "16.07", "konflik": "true"}, headers=auth(verif)
    )
    assert q.status_code == 200, q.text
    (item,) = q.json()["items"]
    pm = item["pemutakhiran"]
    assert item["submission_id"] == c["submission_id"]
    assert (pm["id_kumkm"], pm["konflik"], pm["versi_dasar"], pm["versi_entitas"], pm["versi_sekarang"]) == (eid, "versi_lama", 1, 2, 2)
    assert pm["catatan"]["nama"] == "Bengkel Las Jaya" and pm["catatan"]["keadaan_usaha"] == "aktif"
    assert pm["entitas"]["submission_id"] == a["submission_id"] and pm["entitas"]["periode"] == "2023"
    assert not any(k in str(item) for k in PII)
    q2023 = await client.get(
        "/api/v1/verifikasi/antrian", params={"periode": "2023", "kabkota": "16.07", "konflik": "true"}, headers=auth(verif)
    )
    assert [i["submission_id"] for i in q2023.json()["items"]] == [b["submission_id"]]
    # the decision settles it: accepted, B is linked to the entity like any follow-up
    await decide(client, verif, b["submission_id"])
    assert set((await linked(pg, [b])).values()) == {eid}
    q2023 = await client.get(
        "/api/v1/verifikasi/antrian", params={"periode": "2023", "kabkota": "16.07", "konflik": "true"}, headers=auth(verif)
    )
    assert q2023.json()["items"] == []


async def test_concurrent_follow_ups_from_many_phones_lose_nothing(client, pg, enum_banyuasin, verif):
    rec, eid = await census(client, pg, enum_banyuasin, verif, nama_usaha="Toko Serba Ada")
    recs = [umkm(periode="2023", nama_usaha="Toko Serba Ada") for _ in range(8)]
    answers = await asyncio.gather(*(post(client, enum_banyuasin, follow_up(r, eid, 1)) for r in recs))
    assert [a.status_code for a in answers] == [201] * 8
    rows = await pg.fetch("SELECT nomor, konflik FROM kumkm_pemutakhiran WHERE id_kumkm = $1 ORDER BY nomor", eid)
    # every one stored; exactly the first to arrive is not a conflict
    assert [r["konflik"] for r in rows] == [None] + ["bersamaan"] * 7


# ------------------------------------------------------------------------------ bad input


async def test_unknown_entity_wrong_jenis_and_outside_wilayah(client, pg, keys, enum_key, enum_banyuasin, verif):
    rec, eid = await census(client, pg, enum_banyuasin, verif)
    # an id that no entity has (its check digit is right): 422, as an OpenRosa error document
    ghost = idkumkm.make("umkm", 99999)
    r = await post(client, enum_banyuasin, follow_up(umkm(periode="2023"), ghost, 1))
    assert r.status_code == 422
    nature, text = message(r)
    assert nature == "error" and text.startswith("Data ditolak, periksa isian. id_kumkm") and "tidak ada" in text
    j = await client.post(
        "/api/v1/submissions", json=umkm(periode="2023", id_kumkm=ghost, keadaan_usaha="aktif"), headers=auth(enum_banyuasin)
    )
    assert_problem(j, "invalid-input")
    assert j.json()["errors"][0]["field"] == "id_kumkm"

    # a koperasi follow-up naming a UMKM entity: 422
    kop = koperasi(periode="2023")
    r = await post(client, enum_banyuasin, follow_up(kop, eid, 1))
    assert r.status_code == 422 and "id_kumkm" in message(r)[1]
    j = await client.post(
        "/api/v1/submissions", json=koperasi(periode="2023", id_kumkm=eid, keadaan_usaha="aktif"), headers=auth(enum_banyuasin)
    )
    assert_problem(j, "invalid-input")

    # an entity of Palembang (16.71) named by a Banyuasin enumerator: 403
    plg_desa = await pg.fetchval("SELECT min(kode) FROM wilayah WHERE level = 4 AND kode LIKE '16.71.%'")
    verif_plg = await keys.make("verifikator", "16.71", name="verif-palembang")
    other = umkm(kode_wilayah=plg_desa, nama_usaha="Pempek Cek Ina")
    assert (await client.post("/api/v1/submissions", json=other, headers=auth(enum_key))).status_code == 201
    await decide(client, verif_plg, other["submission_id"])
    plg = await entitas(pg, [other])
    r = await post(client, enum_banyuasin, follow_up(umkm(periode="2023"), plg, 1))
    assert r.status_code == 403
    assert message(r)[1].startswith("Data ditolak: wilayah di luar wilayah tugas kunci ini. id_kumkm")
    j = await client.post(
        "/api/v1/submissions", json=umkm(periode="2023", id_kumkm=plg, keadaan_usaha="aktif"), headers=auth(enum_banyuasin)
    )
    assert_problem(j, "outside-scope")
    listed = await client.get("/api/v1/kumkm/daftar", params={"kode_wilayah": plg_desa}, headers=auth(enum_banyuasin))
    assert_problem(listed, "outside-scope")
    # nothing of the refused ones was stored
    assert await pg.fetchval("SELECT count(*) FROM kumkm_pemutakhiran") == 0


async def test_follow_up_fields_go_together(client, enum_banyuasin):
    cases = [
        ({"keadaan_usaha": "tutup"}, "id_kumkm"),
        ({"versi_dasar": 3}, "id_kumkm"),
        ({"id_kumkm": "U0000012341"}, "keadaan_usaha"),
        ({"id_kumkm": "X12", "keadaan_usaha": "aktif"}, "id_kumkm"),
        ({"id_kumkm": "U0000012341", "keadaan_usaha": "hilang"}, "keadaan_usaha"),
        ({"id_kumkm": "U0000012341", "keadaan_usaha": "aktif", "versi_dasar": 0}, "versi_dasar"),
    ]
    for extra, field in cases:
        r = await client.post("/api/v1/submissions", json=umkm(periode="2023", **extra), headers=auth(enum_banyuasin))
        assert_problem(r, "invalid-input")
        assert field in [e["field"] for e in r.json()["errors"]], (extra, r.json())
    # a baseVersion that is not a number, from a phone
    r = await post(client, enum_banyuasin, follow_up(umkm(periode="2023"), "U0000012341", "abc"))
    assert r.status_code == 422 and "versi_dasar" in message(r)[1]


# ------------------------------------------------------------------------------ CAPI apps


async def test_json_list_pages_with_etag_and_post_naming_id_kumkm(client, pg, enum_banyuasin, verif):
    made = [await census(client, pg, enum_banyuasin, verif, nama_usaha=f"Usaha {i}") for i in range(3)]
    ids = sorted(e for _, e in made)
    url = "/api/v1/kumkm/daftar"
    first = await client.get(url, params={"kode_wilayah": DESA, "limit": 2}, headers=auth(enum_banyuasin))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [i["id_kumkm"] for i in page["items"]] == ids[:2] and page["next_cursor"]
    assert all(i["versi"] == 1 and i["desa"] == DESA for i in page["items"])
    second = await client.get(url, params={"kode_wilayah": DESA, "limit": 2, "cursor": page["next_cursor"]}, headers=auth(enum_banyuasin))
    assert [i["id_kumkm"] for i in second.json()["items"]] == ids[2:] and second.json()["next_cursor"] is None
    # the kabupaten/kota's list holds the same
    kab = await client.get(url, params={"kode_wilayah": "16.07"}, headers=auth(enum_banyuasin))
    assert [i["id_kumkm"] for i in kab.json()["items"]] == ids

    etag = first.headers["etag"]
    same = await client.get(url, params={"kode_wilayah": DESA, "limit": 2}, headers={**auth(enum_banyuasin), "If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""

    # a follow-up over the JSON API naming id_kumkm and versi_dasar
    rec = umkm(periode="2023", id_kumkm=ids[0].lower(), versi_dasar=1, keadaan_usaha="pindah")
    r = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_banyuasin))
    assert r.status_code == 201, r.text
    assert r.json()["data"]["id_kumkm"] == ids[0]  # as the service writes it
    await decide(client, verif, rec["submission_id"])
    await linked(pg, [rec])
    # the first page changed (its first entity moved on): a new ETag, the page again
    changed = await client.get(url, params={"kode_wilayah": DESA, "limit": 2}, headers={**auth(enum_banyuasin), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["items"][0]["versi"] == 2 and changed.json()["items"][0]["keadaan_terakhir"] == "pindah"
    # an untouched page keeps its ETag
    again = await client.get(
        url,
        params={"kode_wilayah": DESA, "limit": 2, "cursor": page["next_cursor"]},
        headers={**auth(enum_banyuasin), "If-None-Match": second.headers["etag"]},
    )
    assert again.status_code == 304

    bad = await client.get(url, params={"kode_wilayah": "16"}, headers=auth(enum_banyuasin))
    assert_problem(bad, "invalid-input")


# ------------------------------------------------------------------------------ personal data


@pytest.mark.parametrize("shape", ["csv", "json"])
async def test_list_carries_no_personal_data(client, pg, keys, enum_banyuasin, verif, shape):
    """An enumerator sees personal data only on records it made itself; the list is shared by
    every enumerator of the wilayah, so it has none, even for the enumerator who made them."""
    rec, eid = await census(
        client, pg, enum_banyuasin, verif, nama_pemilik="Siti Rahmawati", alamat="Jl. Kenanga No. 17", telepon="081377788899"
    )
    other = await keys.make("enumerator", "16.07", name="enum-lain")
    for key in (enum_banyuasin, other):
        if shape == "csv":
            _, data, rows = await usaha_list(client, key)
            text = data.decode()
            columns = set(rows[0])
        else:
            r = await client.get("/api/v1/kumkm/daftar", params={"kode_wilayah": DESA}, headers=auth(key))
            text = r.text
            columns = set(r.json()["items"][0])
        assert not columns & set(PII) and "lokasi" not in columns
        for value in (rec["nik_pemilik"], "Siti Rahmawati", "Jl. Kenanga", "081377788899"):
            assert value not in text


async def test_batch_answers_each_follow_up_on_its_own(client, pg, enum_banyuasin, verif):
    rec, eid = await census(client, pg, enum_banyuasin, verif)
    good = umkm(periode="2023", id_kumkm=eid, versi_dasar=1, keadaan_usaha="aktif")
    ghost = umkm(periode="2023", id_kumkm=idkumkm.make("umkm", 99999), keadaan_usaha="aktif")
    plain = umkm(periode="2023")
    r = await client.post("/api/v1/submissions/batch", json={"items": [good, ghost, plain]}, headers=auth(enum_banyuasin))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["rejected"]) == (2, 1)
    assert [i["outcome"] for i in body["items"]] == ["created", "rejected", "created"]
    assert body["items"][1]["status"] == 422 and body["items"][1]["errors"][0]["field"] == "id_kumkm"
    assert await pg.fetchval("SELECT count(*) FROM kumkm_pemutakhiran") == 1
    assert await pg.fetchval("SELECT count(*) FROM submissions WHERE submission_id = $1", uuid.UUID(ghost["submission_id"])) == 0


async def test_a_follow_up_of_an_entity_merged_since_the_list_is_a_conflict(client, pg, enum_banyuasin, verif):
    # A moves on to versi 2 (an accepted follow-up) and the phone's list says so; A is then
    # merged into B (the one created first, versi 1 -> 2): the phone's 2 counts A's versions,
    # and compared with B's 2 as it is it would not look stale
    _, b = await census(client, pg, enum_banyuasin, verif, nama_usaha="Toko Sumber Rezeki")
    _, a = await census(client, pg, enum_banyuasin, verif, nama_usaha="Toko Sumber Rejeki")
    earlier = umkm(periode="2022", nama_usaha="Toko Sumber Rejeki", id_kumkm=a, versi_dasar=1, keadaan_usaha="aktif")
    assert (await client.post("/api/v1/submissions", json=earlier, headers=auth(enum_banyuasin))).status_code == 201
    await decide(client, verif, earlier["submission_id"])
    await linked(pg, [earlier])
    versi = dict(await pg.fetch("SELECT id_kumkm, versi FROM kumkm WHERE id_kumkm = ANY($1)", [a, b]))
    assert versi[a] > versi[b]
    r = await client.post(
        f"/api/v1/kumkm/{b}/tautkan",
        json={"versi": versi[b], "dengan": a, "versi_dengan": versi[a], "catatan": "satu toko"},
        headers=auth(verif),
    )
    assert r.status_code == 200, r.text
    rec = umkm(periode="2023", nama_usaha="Toko Sumber Rejeki")
    assert (await post(client, enum_banyuasin, follow_up(rec, a, versi[a]))).status_code == 201
    row = await pemutakhiran_row(pg, rec["submission_id"])
    # it goes to the live entity, marked: the entity changed under the phone
    assert (row["id_kumkm"], row["konflik"]) == (b, "versi_lama")


async def test_a_base_version_the_entity_never_had_is_refused(client, pg, enum_banyuasin, verif):
    _, eid = await census(client, pg, enum_banyuasin, verif, nama_usaha="Warung Pojok")
    rec = umkm(periode="2023", id_kumkm=eid, versi_dasar=999_999, keadaan_usaha="aktif")
    r = await client.post("/api/v1/submissions", json=rec, headers=auth(enum_banyuasin))
    problem = assert_problem(r, "invalid-input")
    assert problem["errors"][0]["field"] == "versi_dasar", problem
    # a phone with the right version is then no conflict with it: nothing of it was stored
    ok = umkm(periode="2023", id_kumkm=eid, versi_dasar=1, keadaan_usaha="aktif")
    assert (await client.post("/api/v1/submissions", json=ok, headers=auth(enum_banyuasin))).status_code == 201
    assert (await pemutakhiran_row(pg, ok["submission_id"]))["konflik"] is None
