"""OpenRosa for ODK Collect / KoboCollect / Enketo, over HTTP against the live service: the form
and its media as a phone downloads them, submissions in the shapes Collect and Enketo send,
replays, edits (deprecatedID) as corrections, refusals, and the record that comes out being the
JSON API's record."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
from xml.etree.ElementTree import fromstring

import pytest

from app.openrosa import xlsform
from tests.support.common import auth
from tests.support.factories import DESA, koperasi, umkm
from tests.support.openrosa_helpers import files, instance
from tests.support.problems import assert_problem

OR_NS = "{http://openrosa.org/http/response}"
LIST_NS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"
# What differs between two records of the same content made at different moments or ids.
VOLATILE = ("submission_id", "dibuat_pada", "diperbarui_pada")


def message(r) -> tuple[str, str]:
    """(nature, text) of an OpenRosaResponse."""
    doc = fromstring(r.content)
    assert doc.tag == f"{OR_NS}OpenRosaResponse", r.text
    msg = doc.find(f"{OR_NS}message")
    return msg.get("nature"), msg.text


async def post(client, key: str, xml: bytes, *attachments):
    return await client.post(f"/openrosa/{key}/submission", files=files(xml, *attachments), headers={"X-OpenRosa-Version": "1.0"})


# ------------------------------------------------------------------------------ the form


def test_workbook_is_built_from_the_csv_sheets(tmp_path):
    """The committed XLSForm is exactly what `kumkm openrosa xlsform` makes from the sheets."""
    xlsform.write_xlsx(tmp_path / "built.xlsx")
    assert (tmp_path / "built.xlsx").read_bytes() == xlsform.XLSX.read_bytes(), (
        "app/openrosa/form/pl-kumkm.xlsx is stale: run `./dev kumkm openrosa xlsform`"
    )
    assert xlsform.xlsx_sheets() == xlsform.read_sheets()


def test_xlsform_converts_with_pyxform():
    form = xlsform.convert()
    doc = fromstring(form.xml)
    xf = "{http://www.w3.org/2002/xforms}"
    data = doc.find(f".//{xf}instance/{xf}data")
    assert data.get("id") == "pl_kumkm" and data.get("version") == form.version
    assert data.find(f"{xf}meta/{xf}instanceID") is not None
    # the wilayah cascade reads the per-key media file
    assert any(i.get("src") == "jr://file-csv/wilayah.csv" for i in doc.iter(f"{xf}instance"))
    binds = {b.get("nodeset"): b for b in doc.iter(f"{xf}bind")}
    assert "regex(., '^[0-9]{16}$')" in binds["/data/umkm/nik_pemilik"].get("constraint")
    assert "mod 40" in binds["/data/umkm/nik_pemilik"].get("constraint")  # the birth date check
    assert "regex(., '^[0-9]{5}$')" in binds["/data/umkm/kbli"].get("constraint")
    assert binds["/data/umkm/modal_usaha"].get("constraint") == "regex(., '^[0-9]{1,18}$')"
    assert binds["/data/koperasi/anggota_laki_laki"].get("type") == "int"
    assert binds["/data/umkm"].get("relevant").strip() == "/data/jenis ='umkm'"


# ------------------------------------------------------------------------------ downloads


async def test_form_list_form_manifest_and_media(client, enum_banyuasin):
    base = f"/openrosa/{enum_banyuasin}"
    r = await client.get(f"{base}/formList", headers={"X-OpenRosa-Version": "1.0"})
    assert r.status_code == 200
    assert r.headers["x-openrosa-version"] == "1.0"
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    xform = fromstring(r.content).find(f"{LIST_NS}xform")
    assert xform.findtext(f"{LIST_NS}formID") == "pl_kumkm"
    download = xform.findtext(f"{LIST_NS}downloadUrl")
    assert download == f"{str(client.base_url).rstrip('/')}/openrosa/{enum_banyuasin}/forms/pl_kumkm/form.xml"

    got = await client.get(download)
    assert got.status_code == 200 and got.headers["x-openrosa-version"] == "1.0"
    assert xform.findtext(f"{LIST_NS}hash") == "md5:" + hashlib.md5(got.content).hexdigest()
    assert xform.findtext(f"{LIST_NS}version") == xlsform.form().version

    man = await client.get(xform.findtext(f"{LIST_NS}manifestUrl"))
    assert man.status_code == 200 and man.headers["x-openrosa-version"] == "1.0"
    media = fromstring(man.content).find(f"{MANIFEST_NS}mediaFile")
    assert media.findtext(f"{MANIFEST_NS}filename") == "wilayah.csv"
    csv_r = await client.get(media.findtext(f"{MANIFEST_NS}downloadUrl"))
    assert csv_r.status_code == 200
    assert media.findtext(f"{MANIFEST_NS}hash") == "md5:" + hashlib.md5(csv_r.content).hexdigest()
    rows = list(csv.DictReader(io.StringIO(csv_r.text)))
    # the enumerator's kabupaten/kota only: Banyuasin, its kecamatan and its desa
    assert {r["name"][:5] for r in rows} == {"16.07"}
    assert [r for r in rows if r["tingkat"] == "kabkota"] == [
        {"name": "16.07", "label": "Kabupaten Banyuasin", "tingkat": "kabkota", "induk": "16"}
    ]
    desa = {r["name"]: r for r in rows if r["tingkat"] == "desa"}
    assert desa[DESA] == {"name": DESA, "label": "Sungai Rebo", "tingkat": "desa", "induk": "16.07.01"}
    kecamatan = {r["name"] for r in rows if r["tingkat"] == "kecamatan"}
    assert all(r["induk"] in kecamatan for r in desa.values())

    # `formID` filters the list; another form is not there
    other = await client.get(f"{base}/formList", params={"formID": "lain"})
    assert fromstring(other.content).find(f"{LIST_NS}xform") is None
    missing = await client.get(f"{base}/forms/lain/form.xml")
    assert missing.status_code == 404
    assert message(missing) == (
        "error",
        "Tidak ditemukan. form_id lain tidak ada: server ini punya formulir pl_kumkm dan pemutakhiran_kumkm",
    )
    missing = await client.get(f"{base}/forms/pl_kumkm/media/foto.jpg")
    assert missing.status_code == 404
    assert message(missing)[1] == ("Tidak ditemukan. filename foto.jpg tidak ada: formulir ini hanya punya satu berkas media, wilayah.csv")


async def test_media_of_a_provinsi_key_covers_its_kabupaten(client, enum_key):
    r = await client.get(f"/openrosa/{enum_key}/forms/pl_kumkm/media/wilayah.csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    kabkota = {r["name"] for r in rows if r["tingkat"] == "kabkota"}
    assert "16.07" in kabkota and "16.71" in kabkota and all(k.startswith("16.") for k in kabkota)


async def test_head_submission_tells_the_size_limit(client, enum_banyuasin):
    r = await client.head(f"/openrosa/{enum_banyuasin}/submission")
    assert r.status_code == 204
    assert r.headers["x-openrosa-version"] == "1.0"
    assert int(r.headers["x-openrosa-accept-content-length"]) == 8 * 1024 * 1024


# ------------------------------------------------------------------------------ submissions


def _same_record(a: dict, b: dict) -> None:
    a, b = dict(a), dict(b)
    if a["jenis"] == "umkm":
        # the same owner and business twice: each is flagged as the other's likely duplicate
        # (which record it is stays the verifikator's to see: null for the enumerator)
        assert a["kemungkinan_duplikat"] is b["kemungkinan_duplikat"] is True
        assert (a.pop("duplikat_dengan"), b.pop("duplikat_dengan")) == (None, None)
    for k in VOLATILE:
        a.pop(k), b.pop(k)
    a["data"] = {k: v for k, v in a["data"].items() if k != "submission_id"}
    b["data"] = {k: v for k, v in b["data"].items() if k != "submission_id"}
    assert a == b


@pytest.mark.parametrize("style", ["collect", "enketo"])
@pytest.mark.parametrize("make", [umkm, koperasi], ids=["umkm", "koperasi"])
async def test_a_submission_is_the_record_the_json_api_makes(client, enum_banyuasin, pg, style, make):
    rec = make(lokasi={"lat": -2.91234, "lon": 104.71234}, aset=75_000_000)
    r = await post(client, enum_banyuasin, instance(rec, style=style))
    assert r.status_code == 201, r.text
    assert message(r) == ("submit_success", "Data diterima dan tersimpan dengan status masuk (menunggu verifikasi).")
    assert r.headers["x-openrosa-version"] == "1.0"

    twin = {**rec, "submission_id": str(uuid.uuid4())}
    j = await client.post("/api/v1/submissions", json=twin, headers=auth(enum_banyuasin))
    assert j.status_code == 201
    from_xml = (await client.get(f"/api/v1/submissions/{rec['submission_id']}", headers=auth(enum_banyuasin))).json()
    from_json = (await client.get(f"/api/v1/submissions/{twin['submission_id']}", headers=auth(enum_banyuasin))).json()
    _same_record(from_xml, from_json)
    assert from_xml["status"] == "masuk" and from_xml["version"] == 1 and from_xml["dibuat_oleh"] == "enum-banyuasin"

    # the same walidata feed line, but for the id and the times
    lines = {
        str(row["submission_id"]): row["line"]
        for row in await pg.fetch(
            "SELECT submission_id, line FROM sync_records WHERE submission_id = ANY($1::uuid[])",
            [rec["submission_id"], twin["submission_id"]],
        )
    }
    import orjson

    a, b = (orjson.loads(lines[rec["submission_id"]]), orjson.loads(lines[twin["submission_id"]]))
    for line in (a, b):
        for k in ("submission_id", "dibuat_pada", "diperbarui_pada"):
            line.pop(k, None)
        line["data"].pop("submission_id")
    assert a == b


async def test_replay_is_accepted_once_and_other_content_is_409(client, enum_banyuasin, pg):
    rec = umkm()
    first = await post(client, enum_banyuasin, instance(rec))
    assert first.status_code == 201
    again = await post(client, enum_banyuasin, instance(rec, style="enketo"))  # the same content, sent again
    assert again.status_code == 202
    assert message(again) == ("submit_success", "Data ini sudah diterima sebelumnya; tidak disimpan dua kali.")
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 1
    assert await pg.fetchval("SELECT count(*) FROM submission_versions") == 1

    other = await post(client, enum_banyuasin, instance({**rec, "nama_usaha": "Toko Lain"}))
    assert other.status_code == 409
    nature, text = message(other)
    assert nature == "error"
    assert text == (
        "Data ditolak: instanceID ini sudah dipakai untuk data dengan isi lain. "
        "meta/instanceID sudah dipakai untuk isi yang lain: yang tersimpan tidak diubah; "
        "kiriman baru perlu instanceID baru"
    )


async def test_invalid_answers_get_the_json_apis_messages_naming_the_question(client, enum_banyuasin):
    bad = umkm(nik_pemilik="1607013205850001", kbli="34101", modal_usaha=..., hasil_penjualan_tahunan=...)
    r = await post(client, enum_banyuasin, instance(bad))
    assert r.status_code == 422
    j = await client.post("/api/v1/submissions", json=bad, headers=auth(enum_banyuasin))
    assert_problem(j, "invalid-input")
    errors = j.json()["errors"]
    # each message starts with its question's name, so the phone shows it once, as it is
    assert all(e["message"].startswith(e["field"] + " ") for e in errors), errors
    expected = "; ".join(e["message"] for e in errors)
    assert message(r) == ("error", f"Data ditolak, periksa isian. {expected}")
    assert [e["field"] for e in errors] == ["nik_pemilik", "kbli", "modal_usaha"]


async def _json_errors(client, key: str, record: dict) -> str:
    """The field errors the JSON API gives for the same content, as the phone's message lists
    them: each message as it is (it starts with its field)."""
    j = await client.post("/api/v1/submissions", json=record, headers=auth(key))
    assert_problem(j, "invalid-input")
    return "; ".join(e["message"] for e in j.json()["errors"])


async def test_money_that_is_not_a_whole_number_is_refused(client, enum_banyuasin, pg):
    bad = umkm(modal_usaha="25000000.5")
    r = await post(client, enum_banyuasin, instance(bad))
    assert r.status_code == 422
    expected = await _json_errors(client, enum_banyuasin, bad)
    assert expected.startswith("modal_usaha ")
    assert message(r)[1] == f"Data ditolak, periksa isian. {expected}"
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 0


async def test_unknown_question_and_broken_xml(client, enum_banyuasin):
    rec = umkm()
    r = await post(client, enum_banyuasin, instance(rec, extra="<catatan>x</catatan>"))
    expected = await _json_errors(client, enum_banyuasin, {**rec, "catatan": "x"})
    assert expected.startswith("catatan ")
    assert r.status_code == 422 and message(r)[1] == f"Data ditolak, periksa isian. {expected}"
    r = await post(client, enum_banyuasin, b"<data id='pl_kumkm'><periode>2022</data>")
    assert r.status_code == 422
    assert message(r)[1].startswith("Data ditolak, periksa isian. xml_submission_file bukan XML yang sah (libxml2: ")
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<data id='pl_kumkm'><periode>&b;</periode></data>"
    )
    r = await post(client, enum_banyuasin, bomb)
    assert r.status_code == 422
    assert message(r)[1] == (
        "Data ditolak, periksa isian. xml_submission_file tidak boleh memuat deklarasi tipe dokumen (DTD) atau karakter NUL"
    )
    r = await post(
        client, enum_banyuasin, instance(umkm()).replace(b"<data ", b"<data x='1' ", 1).replace(b'id="pl_kumkm"', b'id="formulir_lain"')
    )
    assert r.status_code == 422
    assert (
        message(r)[1]
        == "Data ditolak, periksa isian. id harus pl_kumkm atau pemutakhiran_kumkm (formulir server ini), bukan 'formulir_lain'"
    )
    no_id = instance(umkm()).replace(b"<instanceID>", b"<x>").replace(b"</instanceID>", b"</x>")
    r = await post(client, enum_banyuasin, no_id)
    assert r.status_code == 422
    assert message(r)[1].startswith("Data ditolak, periksa isian. meta/instanceID wajib diisi")
    r = await client.post(f"/openrosa/{enum_banyuasin}/submission", content=instance(umkm()), headers={"content-type": "text/xml"})
    assert r.status_code == 415
    assert message(r) == (
        "error",
        "Kiriman bukan multipart/form-data. Content-Type harus multipart/form-data dengan bagian xml_submission_file (diterima: text/xml)",
    )


async def test_attachments_are_refused_and_nothing_is_stored(client, enum_banyuasin, pg):
    rec = umkm()
    r = await post(client, enum_banyuasin, instance(rec), ("foto_usaha.jpg", b"\xff\xd8\xff\xe0jpeg", "image/jpeg"))
    assert r.status_code == 422
    assert message(r) == (
        "error",
        "Lampiran ditolak: formulir PL-KUMKM tidak memakai foto atau berkas. "
        "foto_usaha.jpg ditolak: lampiran 'foto_usaha.jpg' tidak disimpan (formulir "
        "tidak memiliki pertanyaan berkas)",
    )
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 0
    # the same instance without the file is then stored
    assert (await post(client, enum_banyuasin, instance(rec))).status_code == 201


async def test_wrong_key_role_and_other_kabupaten(client, keys, enum_banyuasin, verif, pg):
    rec = umkm()
    r = await post(client, "kumkm_bukan-kunci-yang-benar", instance(rec))
    assert r.status_code == 401
    assert message(r)[1] == (
        "Kunci tidak dikenal, sudah dicabut atau kedaluwarsa; minta kunci baru ke dinas. "
        "kunci di URL server ini (pengaturan proyek di ODK Collect) tidak berlaku"
    )
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert (await client.get("/openrosa/kumkm_salah/formList")).status_code == 401

    r = await post(client, verif, instance(rec))
    assert r.status_code == 403
    assert message(r)[1] == (
        "Kunci ini bukan kunci petugas pendataan (enumerator). role verifikator tidak boleh "
        "mengirim data pendataan; yang boleh: enumerator, admin"
    )
    assert (await client.get(f"/openrosa/{verif}/formList")).status_code == 403

    # an enumerator of Kabupaten Banyuasin posting a desa of Kota Palembang
    r = await post(client, enum_banyuasin, instance(umkm(kode_wilayah="16.71.01.1001")))
    assert r.status_code == 403
    assert message(r)[1] == (
        "Data ditolak: wilayah di luar wilayah tugas kunci ini. kode_wilayah di luar wilayah kunci ini (16.07 dan wilayah di dalamnya)"
    )
    palembang = await keys.make("enumerator", "16.71", name="enum-palembang")
    r = await post(client, palembang, instance(rec))
    assert r.status_code == 403
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 0


# ------------------------------------------------------------------------------ messages (issue 26, item 9)

# Words of the English messages this transport used to answer with (as tests/api/test_api_polish.py
# looks for them in the JSON API's): looked for in what the phone shows, with names and
# libxml2's own marked words taken out.
_ENGLISH = re.compile(
    r"\b(the|is|are|must|required|not|outside|already|with|only|this|cannot|unknown|"
    r"needs|should|invalid|stale|exactly|least|most|than|before|between|used|"
    r"database|busy|try|has|one|got|refused|no)\b",
    re.I,
)
_MULTIPART = "multipart/form-data; boundary=b"


def _body(*parts: bytes) -> bytes:
    return b"".join(b"--b\r\n" + p for p in parts) + b"--b--\r\n"


async def test_every_refusal_a_phone_shows_is_indonesian_naming_its_field_once(client, keys, enum_banyuasin, verif):
    """What ODK Collect shows for each refusal of this transport: the Indonesian lead, then the
    message, which starts with the field it is about (once: no `field: field ...`), with no
    English words."""
    base = f"/openrosa/{enum_banyuasin}"
    sub = f"{base}/submission"
    xml = instance(umkm())
    stored = umkm()
    assert (await post(client, enum_banyuasin, instance(stored))).status_code == 201

    async def raw(content: bytes, ctype: str = _MULTIPART):
        return await client.post(sub, content=content, headers={"content-type": ctype})

    part = b'Content-Disposition: form-data; name="xml_submission_file"; filename="s.xml"\r\n\r\n'
    cases = [  # (answer, status, the field the message starts with)
        (await client.get("/openrosa/kumkm_bukan-kunci/formList"), 401, "kunci"),
        (await client.get(f"/openrosa/{verif}/formList"), 403, "role"),
        (await client.get(f"{base}/forms/lain/manifest"), 404, "form_id"),
        (await client.get(f"{base}/forms/pl_kumkm/media/lain.csv"), 404, "filename"),
        (await raw(xml, "text/xml"), 415, "Content-Type"),
        (await raw(_body(part + xml + b"\r\n"), "multipart/form-data"), 422, "Content-Type"),
        (await raw(_body(b"Content-Type: text/xml\r\n\r\n" + xml + b"\r\n")), 422, "body"),
        (await raw(_body(b'Content-Disposition: form-data; name="xml_submission_file"')), 422, "body"),
        (await raw(_body(b'Content-Disposition: form-data; name="lain"\r\n\r\nx\r\n')), 422, "xml_submission_file"),
        (await raw(_body(part + xml + b"\r\n", part + xml + b"\r\n")), 422, "xml_submission_file"),
        (await post(client, enum_banyuasin, xml.replace(b"Warung", "Warung \u00e9".encode("latin-1"))), 422, "xml_submission_file"),
        (await post(client, enum_banyuasin, b"<!DOCTYPE d><data id='pl_kumkm'/>"), 422, "xml_submission_file"),
        (await post(client, enum_banyuasin, b"<data id='pl_kumkm'><periode>2022</data>"), 422, "xml_submission_file"),
        (
            await post(client, enum_banyuasin, xml.replace(b"<instanceID>", b"<x>").replace(b"</instanceID>", b"</x>")),
            422,
            "meta/instanceID",
        ),
        (await post(client, enum_banyuasin, xml.replace(b'id="pl_kumkm"', b'id="lain"')), 422, "id"),
        (
            await post(client, enum_banyuasin, instance(umkm(), instance_id=str(uuid.uuid4()), deprecated_id="bukan-uuid")),
            422,
            "meta/deprecatedID",
        ),
        (
            await post(client, enum_banyuasin, instance(umkm(), instance_id=str(uuid.uuid4()), deprecated_id=str(uuid.uuid4()))),
            404,
            "meta/deprecatedID",
        ),
        (await post(client, enum_banyuasin, instance({**stored, "alamat": "Jl. Lain"})), 409, "meta/instanceID"),
        (
            await post(
                client,
                enum_banyuasin,
                instance({**stored, "alamat": "Jl. X"}, instance_id=str(uuid.uuid4()), deprecated_id=stored["submission_id"]),
            ),
            409,
            "status",
        ),
        (await post(client, enum_banyuasin, xml, ("foto.jpg", b"\xff\xd8", "image/jpeg")), 422, "foto.jpg"),
        (await post(client, enum_banyuasin, instance(umkm(nik_pemilik="123", kbli="1"))), 422, "nik_pemilik"),
    ]
    for r, status, field in cases:
        assert r.status_code == status, (field, r.text)
        nature, text = message(r)
        lead, _, rest = text.partition(". ")
        assert nature == "error" and lead and rest.startswith(field + " "), (field, text)
        assert not re.search(r"(?:^|; )([^\s;:]+): \1\b", rest), text  # no `field: field ...`
        words = re.sub(r"\(libxml2: [^)]*\)", "", text)
        for name in (
            field,
            "multipart/form-data",
            "xml_submission_file",
            "Content-Disposition: form-data; name",
            "Content-Type",
            "ODK Collect",
        ):
            words = words.replace(name, "")
        assert not _ENGLISH.search(words), text


# ------------------------------------------------------------------------------ edits


async def _reject(client, verifikator: str, sid: str, version: int = 1, dari: str = "masuk") -> None:
    r = await client.post(
        f"/api/v1/submissions/{sid}/verifikasi",
        headers=auth(verifikator),
        json={
            "status": "ditolak",
            "dari": dari,
            "version": version,
            "alasan_kode": "data_tidak_valid",
            **({"catatan": "masih salah"} if dari != "masuk" else {}),
        },
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("style", ["collect", "enketo"])
async def test_an_edit_with_deprecated_id_is_a_correction(client, keys, enum_banyuasin, verif, pg, style):
    rec = umkm()
    sid = rec["submission_id"]
    assert (await post(client, enum_banyuasin, instance(rec, style=style))).status_code == 201

    # an edit of a record that is not ditolak: the PUT rule, 409
    b_id = str(uuid.uuid4())
    fixed = {**rec, "nama_usaha": "Warung Makan Sederhana Jaya"}
    r = await post(client, enum_banyuasin, instance(fixed, style=style, instance_id=b_id, deprecated_id=sid))
    assert r.status_code == 409 and message(r)[1].startswith("Perbaikan ditolak")

    await _reject(client, verif, sid)
    r = await post(client, enum_banyuasin, instance(fixed, style=style, instance_id=b_id, deprecated_id=sid))
    assert r.status_code == 201, r.text
    assert message(r)[1].startswith("Perbaikan diterima")
    got = (await client.get(f"/api/v1/submissions/{sid}", headers=auth(enum_banyuasin))).json()
    assert (got["version"], got["status"], got["data"]["nama_usaha"]) == (2, "masuk", "Warung Makan Sederhana Jaya")
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 1

    # the edit again: accepted, nothing new; the same instanceID with other content: 409
    again = await post(client, enum_banyuasin, instance(fixed, style=style, instance_id=b_id, deprecated_id=sid))
    assert again.status_code == 202
    other = await post(client, enum_banyuasin, instance({**fixed, "alamat": "Jl. Lain"}, style=style, instance_id=b_id, deprecated_id=sid))
    assert other.status_code == 409
    assert await pg.fetchval("SELECT count(*) FROM submission_versions") == 2

    # an edit of the edit finds the record through the first edit's instanceID
    await _reject(client, verif, sid, version=2)
    c_id = str(uuid.uuid4())
    r = await post(
        client, enum_banyuasin, instance({**fixed, "alamat": "Jl. Merdeka No. 3"}, style=style, instance_id=c_id, deprecated_id=b_id)
    )
    assert r.status_code == 201
    got = (await client.get(f"/api/v1/submissions/{sid}", headers=auth(enum_banyuasin))).json()
    assert (got["version"], got["data"]["alamat"]) == (3, "Jl. Merdeka No. 3")
    riwayat = (await client.get(f"/api/v1/submissions/{sid}/riwayat", headers=auth(enum_banyuasin))).json()
    assert [i["aksi"] for i in riwayat["items"]] == ["dibuat", "diverifikasi", "dikoreksi", "diverifikasi", "dikoreksi"]

    # another enumerator's key may not edit it (the PUT rule: only the holder), nor may an edit
    # name a record that was never sent
    await _reject(client, verif, sid, version=3)
    other_enum = await keys.make("enumerator", "16.07", name="enum-banyuasin-lain")
    r = await post(
        client, other_enum, instance({**fixed, "alamat": "Jl. X"}, style=style, instance_id=str(uuid.uuid4()), deprecated_id=c_id)
    )
    assert r.status_code == 403
    never = str(uuid.uuid4())
    r = await post(client, enum_banyuasin, instance(umkm(), style=style, instance_id=str(uuid.uuid4()), deprecated_id=never))
    assert r.status_code == 404
    assert message(r)[1] == (
        f"Tidak ditemukan. meta/deprecatedID {never} tidak ditemukan: perbaikan harus mengganti data yang pernah terkirim ke server ini"
    )
