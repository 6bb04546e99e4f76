"""OpenRosa under hostile input (issue 26): an edit may not take another record's id, XML is
parsed with caps and off the event loop, a refused body is answered in OpenRosa XML, echoed
names are cut, formList links never follow the Host header, and a wrong key is refused before
the body arrives. Over HTTP against the live service and its real database, raw sockets where
an HTTP client library would not send what an attacker sends."""
from __future__ import annotations

import uuid
from xml.etree.ElementTree import fromstring

from app.core.settings import settings
from tests.conftest import auth
from tests.factories import umkm
from tests.openrosa_helpers import instance, message, post

LIST_NS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"


async def _reject(client, verifikator: str, sid: str, version: int = 1, dari: str = "masuk") -> None:
    r = await client.post(f"/api/v1/submissions/{sid}/verifikasi", headers=auth(verifikator), json={
        "status": "ditolak", "dari": dari, "version": version, "alasan_kode": "data_tidak_valid",
        **({"catatan": "masih salah"} if dari != "masuk" else {})})
    assert r.status_code == 200, r.text


async def _record(client, key: str, sid: str) -> dict:
    r = await client.get(f"/api/v1/submissions/{sid}", headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


# ------------------------------------------------------------------------------ 2. edits and ids

async def test_an_edit_cannot_take_another_records_id(client, keys, enum_banyuasin, verif, pg):
    """Another enumerator's edit whose new instanceID is the id of someone else's record (or of
    an edit of it, or of a record at all) is 409 and changes nothing; the owner's edits of the
    record, then and later, work."""
    lain = await keys.make("enumerator", "16.07", name="enum-banyuasin-lain")
    milik_a, milik_b = umkm(), umkm(nama_usaha="Toko Lain", nik_pemilik="1607014205850002")
    a, b = milik_a["submission_id"], milik_b["submission_id"]
    assert (await post(client, enum_banyuasin, instance(milik_a))).status_code == 201
    assert (await post(client, lain, instance(milik_b))).status_code == 201
    await _reject(client, verif, b)

    # B's edit of B's own record, naming A's record id as its new instanceID
    fixed_b = {**milik_b, "alamat": "Jl. Pasar 2"}
    r = await post(client, lain, instance(fixed_b, instance_id=a, deprecated_id=b))
    assert r.status_code == 409, r.text
    nature, text = message(r)
    assert nature == "error" and text.startswith("Data ditolak: instanceID ini sudah dipakai")
    assert "meta/instanceID sudah dipakai" in text
    assert (await _record(client, lain, b))["version"] == 1          # nothing was corrected
    assert await pg.fetchval("SELECT count(*) FROM openrosa_instances") == 0
    # an edit's new instanceID equal to its own record's id: the same
    r = await post(client, lain, instance(fixed_b, instance_id=b, deprecated_id=b))
    assert r.status_code == 409

    # the owner's edit of A's record works
    await _reject(client, verif, a)
    e1 = str(uuid.uuid4())
    fixed_a = {**milik_a, "alamat": "Jl. Merdeka No. 3"}
    r = await post(client, enum_banyuasin, instance(fixed_a, instance_id=e1, deprecated_id=a))
    assert r.status_code == 201, r.text
    # B naming A's edit as its new instanceID: 409 too, and the message does not say whose
    r = await post(client, lain, instance(fixed_b, instance_id=e1, deprecated_id=b))
    assert r.status_code == 409 and a not in r.text
    # B's own edit with a new id still works
    r = await post(client, lain, instance(fixed_b, instance_id=str(uuid.uuid4()), deprecated_id=b))
    assert r.status_code == 201, r.text

    # and the owner's later edit, of the edit
    await _reject(client, verif, a, version=2)
    r = await post(client, enum_banyuasin, instance({**fixed_a, "alamat": "Jl. Merdeka No. 4"},
                                                    instance_id=str(uuid.uuid4()), deprecated_id=e1))
    assert r.status_code == 201, r.text
    got = await _record(client, enum_banyuasin, a)
    assert (got["version"], got["data"]["alamat"]) == (3, "Jl. Merdeka No. 4")


async def test_an_edit_id_taken_before_the_fix_does_not_hold_the_owners_record(client, keys, enum_banyuasin,
                                                                              verif, pg):
    """A row left by the old bug (an edit of B's record remembered under A's record id) no
    longer sends the owner's edit of A's record to B's record."""
    lain = await keys.make("enumerator", "16.07", name="enum-banyuasin-lain")
    milik_a, milik_b = umkm(), umkm(nama_usaha="Toko Lain", nik_pemilik="1607014205850002")
    a, b = milik_a["submission_id"], milik_b["submission_id"]
    assert (await post(client, enum_banyuasin, instance(milik_a))).status_code == 201
    assert (await post(client, lain, instance(milik_b))).status_code == 201
    await pg.execute("INSERT INTO openrosa_instances (instance_id, submission_id, deprecated_id, content_hash) "
                     "VALUES ($1, $2, $2, '\\x00')", uuid.UUID(a), uuid.UUID(b))
    await _reject(client, verif, a)
    r = await post(client, enum_banyuasin, instance({**milik_a, "alamat": "Jl. Merdeka No. 3"},
                                                    instance_id=str(uuid.uuid4()), deprecated_id=a))
    assert r.status_code == 201, r.text
    assert (await _record(client, enum_banyuasin, a))["version"] == 2
    assert (await _record(client, lain, b))["version"] == 1


# ------------------------------------------------------------------------------ 7. formList links

async def test_form_list_links_never_follow_the_host_header(client, live_server, enum_banyuasin, monkeypatch):
    base = f"/openrosa/{enum_banyuasin}"

    async def links(host: str | None) -> list[str]:
        headers = {"Host": host} if host else {}
        xform = fromstring((await client.get(f"{base}/formList", headers=headers)).content).find(f"{LIST_NS}xform")
        man = fromstring((await client.get(f"{base}/forms/pl_kumkm/manifest", headers=headers)).content)
        return [xform.findtext(f"{LIST_NS}downloadUrl"), xform.findtext(f"{LIST_NS}manifestUrl"),
                man.find(f"{MANIFEST_NS}mediaFile").findtext(f"{MANIFEST_NS}downloadUrl")]

    served = f"{live_server.url}/openrosa/{enum_banyuasin}/forms/pl_kumkm/"
    assert all(u.startswith(served) for u in await links(None))
    # a Host the service does not serve: the links name the address the request came in on
    for host in ("evil.example", f"evil.example:{live_server.port}", f"127.0.0.1:{live_server.port}@evil.example"):
        got = await links(host)
        assert all(u.startswith(served) for u in got), (host, got)
    # KUMKM_PUBLIC_URL, when set, is the one base
    monkeypatch.setattr(settings, "public_url", "https://kumkm.example.go.id/kumkm")
    public = f"https://kumkm.example.go.id/kumkm/openrosa/{enum_banyuasin}/forms/pl_kumkm/"
    for host in (None, "evil.example"):
        got = await links(host)
        assert all(u.startswith(public) for u in got), (host, got)
