"""OpenRosa under hostile input (issue 26): an edit may not take another record's id, XML is
parsed with caps and off the event loop, a refused body is answered in OpenRosa XML, echoed
names are cut, formList links never follow the Host header, and a wrong key is refused before
the body arrives. Over HTTP against the live service and its real database, raw sockets where
an HTTP client library would not send what an attacker sends."""

from __future__ import annotations

import asyncio
import time
import uuid
from xml.etree.ElementTree import fromstring

import pytest

from app.core.settings import settings
from tests.support.common import auth
from tests.support.factories import umkm
from tests.support.openrosa_helpers import instance, message, post, xml_doc

LIST_NS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"


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


async def _record(client, key: str, sid: str) -> dict:
    r = await client.get(f"/api/v1/submissions/{sid}", headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


async def _raw(port: int, head: bytes, body=(), timeout: float = 10) -> tuple[int, dict, bytes]:
    """One request over a raw socket: the head as given, then the body's pieces (the server may
    answer and close before they are all sent); the answer's status, headers and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        for piece in body:
            try:
                writer.write(piece)
                await writer.drain()
            except (ConnectionError, OSError):
                break
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = raw.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        content = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), timeout)
        return int(lines[0].split()[1]), headers, content
    finally:
        writer.close()


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
    assert (await _record(client, lain, b))["version"] == 1  # nothing was corrected
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
    r = await post(
        client, enum_banyuasin, instance({**fixed_a, "alamat": "Jl. Merdeka No. 4"}, instance_id=str(uuid.uuid4()), deprecated_id=e1)
    )
    assert r.status_code == 201, r.text
    got = await _record(client, enum_banyuasin, a)
    assert (got["version"], got["data"]["alamat"]) == (3, "Jl. Merdeka No. 4")


async def test_a_new_instance_under_an_edits_id_does_not_take_the_owners_record(client, keys, enum_banyuasin, verif, pg):
    """A new instance (no deprecatedID) whose instanceID is an edit's of someone else's record
    is stored as its sender's own record (new instances are not checked against edits: that
    would cost every phone's post a round trip), but it takes nothing from the owner: the
    owner's retry of that edit is still a replay, and the owner's next edit, naming the edit
    as deprecatedID, still reaches the owner's record (the edit came first, so it wins)."""
    lain = await keys.make("enumerator", "16.07", name="enum-banyuasin-lain")
    milik_a = umkm()
    a = milik_a["submission_id"]
    assert (await post(client, enum_banyuasin, instance(milik_a))).status_code == 201
    await _reject(client, verif, a)
    edit = str(uuid.uuid4())
    fixed_a = {**milik_a, "alamat": "Jl. Merdeka No. 3"}
    r = await post(client, enum_banyuasin, instance(fixed_a, instance_id=edit, deprecated_id=a))
    assert r.status_code == 201, r.text

    # another enumerator's new record under the edit's id
    squat = {**umkm(nama_usaha="Toko Lain", nik_pemilik="1607014205850002"), "submission_id": edit}
    r = await post(client, lain, instance(squat))
    assert r.status_code == 201, r.text
    assert a not in r.text

    # the owner's phone sends its edit again: a replay, not a conflict
    r = await post(client, enum_banyuasin, instance(fixed_a, instance_id=edit, deprecated_id=a))
    assert r.status_code == 202, r.text

    # the owner's next edit, naming the edit as deprecatedID, reaches the owner's record
    await _reject(client, verif, a, version=2)
    r = await post(
        client, enum_banyuasin, instance({**fixed_a, "alamat": "Jl. Merdeka No. 4"}, instance_id=str(uuid.uuid4()), deprecated_id=edit)
    )
    assert r.status_code == 201, r.text
    got = await _record(client, enum_banyuasin, a)
    assert (got["version"], got["data"]["alamat"]) == (3, "Jl. Merdeka No. 4")
    squatted = await _record(client, lain, edit)
    assert (squatted["version"], squatted["data"]["nama_usaha"]) == (1, "Toko Lain")  # its own, untouched


async def test_an_edit_id_taken_before_the_fix_does_not_hold_the_owners_record(client, keys, enum_banyuasin, verif, pg):
    """A row left by the old bug (an edit of B's record remembered under A's record id) no
    longer sends the owner's edit of A's record to B's record."""
    lain = await keys.make("enumerator", "16.07", name="enum-banyuasin-lain")
    milik_a, milik_b = umkm(), umkm(nama_usaha="Toko Lain", nik_pemilik="1607014205850002")
    a, b = milik_a["submission_id"], milik_b["submission_id"]
    assert (await post(client, enum_banyuasin, instance(milik_a))).status_code == 201
    assert (await post(client, lain, instance(milik_b))).status_code == 201
    await pg.execute(
        "INSERT INTO openrosa_instances (instance_id, submission_id, deprecated_id, content_hash) VALUES ($1, $2, $2, '\\x00')",
        uuid.UUID(a),
        uuid.UUID(b),
    )
    # the id is the record's own: its instance sent again is a replay, not refused as an edit's id
    assert (await post(client, enum_banyuasin, instance(milik_a))).status_code == 202
    await _reject(client, verif, a)
    r = await post(
        client, enum_banyuasin, instance({**milik_a, "alamat": "Jl. Merdeka No. 3"}, instance_id=str(uuid.uuid4()), deprecated_id=a)
    )
    assert r.status_code == 201, r.text
    assert (await _record(client, enum_banyuasin, a))["version"] == 2
    assert (await _record(client, lain, b))["version"] == 1


# ------------------------------------------------------------------------------ 3. XML caps, off the loop


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (xml_doc("<a>" * 40 + "</a>" * 40), "tingkat"),
        (xml_doc("<a/>" * 5000), "elemen"),
        (xml_doc("", "".join(f' a{i}="1"' for i in range(500))), "atribut"),
        (xml_doc("", "".join(f' xmlns:a{i}="urn:a{i}"' for i in range(500))), "atribut"),
    ],
    ids=["depth", "elements", "attributes", "namespaces"],
)
async def test_xml_beyond_the_caps_is_refused_naming_the_cap(client, enum_banyuasin, pg, doc, words):
    r = await post(client, enum_banyuasin, doc)
    assert r.status_code == 422, r.text
    nature, text = message(r)
    assert nature == "error" and text.startswith("Data ditolak, periksa isian. xml_submission_file ")
    assert "xml_submission_file:" not in text  # the field named once, by its message
    assert words in text, text
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 0


async def test_an_instance_larger_than_any_form_makes_is_413(client, enum_banyuasin):
    big = instance(umkm(), extra="<catatan>" + "x" * 600_000 + "</catatan>")
    r = await post(client, enum_banyuasin, big)
    assert r.status_code == 413, r.text
    assert r.headers["x-openrosa-version"] == "1.0"
    assert message(r)[1] == "Kiriman terlalu besar. xml_submission_file paling besar 262144 byte"
    # a well-made one is still taken
    assert (await post(client, enum_banyuasin, instance(umkm()))).status_code == 201


async def test_parsing_beyond_the_bound_is_503_with_retry_after(client, enum_banyuasin):
    """The parses in flight are bounded: beyond the bound the phone is told to come back."""
    from app.openrosa import service

    held = 0
    while service.parse_slots.acquire(blocking=False):
        held += 1
    try:
        assert held > 0
        # larger than what is read on the loop (an ordinary 1-2 KB instance never waits)
        padded = instance(umkm(), extra="<catatan>" + "x" * (service.INLINE_BYTES + 1000) + "</catatan>")
        r = await post(client, enum_banyuasin, padded)
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) > 0 and r.headers["x-openrosa-version"] == "1.0"
        assert message(r)[1].startswith("Server sedang sibuk")
    finally:
        for _ in range(held):
            service.parse_slots.release()
    assert (await post(client, enum_banyuasin, instance(umkm()))).status_code == 201


# ------------------------------------------------------------------------------ 7. refusals in XML, names cut


async def test_a_body_over_the_limit_is_413_in_openrosa_xml(live_server, enum_banyuasin):
    over = settings.max_body_bytes + 1
    ctype = "multipart/form-data; boundary=x"
    base = (
        f"POST /openrosa/{enum_banyuasin}/submission HTTP/1.1\r\nHost: 127.0.0.1:{live_server.port}\r\n"
        f"Content-Type: {ctype}\r\nX-OpenRosa-Version: 1.0\r\n"
    )
    # said by Content-Length: refused before the body
    status, headers, body = await _raw(live_server.port, f"{base}Content-Length: {over}\r\n\r\n".encode())
    assert status == 413 and headers["content-type"] == "text/xml; charset=utf-8"
    assert headers["x-openrosa-version"] == "1.0"
    assert message(body) == ("error", f"Kiriman terlalu besar. body paling besar {settings.max_body_bytes} byte")
    # found while reading a chunked body
    piece = b"x" * (1024 * 1024)
    chunks = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n"] * 9
    status, headers, body = await _raw(live_server.port, f"{base}Transfer-Encoding: chunked\r\n\r\n".encode(), chunks)
    assert status == 413 and headers["content-type"] == "text/xml; charset=utf-8"
    assert message(body)[1].startswith("Kiriman terlalu besar.")
    # the JSON API keeps its problem+json
    status, headers, body = await _raw(
        live_server.port,
        (
            f"POST /api/v1/submissions HTTP/1.1\r\nHost: 127.0.0.1:{live_server.port}\r\n"
            f"Authorization: Bearer {enum_banyuasin}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {over}\r\n\r\n"
        ).encode(),
    )
    assert status == 413 and headers["content-type"] == "application/problem+json"


async def test_attachment_and_form_names_are_cut_when_echoed(client, enum_banyuasin):
    long_name = "a" * 7000 + ".jpg"
    r = await client.post(
        f"/openrosa/{enum_banyuasin}/submission",
        headers={"X-OpenRosa-Version": "1.0"},
        files={
            "xml_submission_file": ("submission.xml", instance(umkm()), "text/xml"),
            "b" * 7000: (long_name, b"\xff\xd8\xff", "image/jpeg"),
        },
    )
    assert r.status_code == 422
    text = message(r)[1]
    assert "a" * 100 in text and "a" * 101 not in text and "b" * 101 not in text
    assert len(r.content) < 2000
    other_form = instance(umkm()).replace(b'id="pl_kumkm"', b'id="' + b"f" * 7000 + b'"')
    r = await post(client, enum_banyuasin, other_form)
    assert r.status_code == 422 and len(r.content) < 2000
    # a question the form does not have, by a long name: its message starts with the name, cut
    q = "q" * 7000
    r = await post(client, enum_banyuasin, instance(umkm(), extra=f"<{q}>x</{q}>"))
    text = message(r)[1]
    assert r.status_code == 422 and text.startswith("Data ditolak, periksa isian. " + "q" * 100 + "… "), text
    assert "q" * 101 not in text and len(r.content) < 2000
    # many attachments: ten are named; more parts than any phone sends: refused as such
    many = [(f"foto_{i}.jpg", b"\xff\xd8\xff", "image/jpeg") for i in range(50)]
    r = await post(client, enum_banyuasin, instance(umkm()), *many)
    text = message(r)[1]
    assert r.status_code == 422 and text.count("foto_") == 2 * 10 and len(r.content) < 3000
    assert text.endswith("(formulir tidak memiliki pertanyaan berkas); body memuat 40 lampiran lain")
    r = await post(client, enum_banyuasin, instance(umkm()), *[(f"foto_{i}.jpg", b"\xff\xd8\xff", "image/jpeg") for i in range(150)])
    assert r.status_code == 422 and "body memuat lebih dari 100 bagian multipart" in message(r)[1]


# ------------------------------------------------------------------------------ 7. formList links


async def test_form_list_links_never_follow_the_host_header(client, live_server, enum_banyuasin, override_settings):
    base = f"/openrosa/{enum_banyuasin}"

    async def links(host: str | None) -> list[str]:
        headers = {"Host": host} if host else {}
        xform = fromstring((await client.get(f"{base}/formList", headers=headers)).content).find(f"{LIST_NS}xform")
        man = fromstring((await client.get(f"{base}/forms/pl_kumkm/manifest", headers=headers)).content)
        return [
            xform.findtext(f"{LIST_NS}downloadUrl"),
            xform.findtext(f"{LIST_NS}manifestUrl"),
            man.find(f"{MANIFEST_NS}mediaFile").findtext(f"{MANIFEST_NS}downloadUrl"),
        ]

    served = f"{live_server.url}/openrosa/{enum_banyuasin}/forms/pl_kumkm/"
    assert all(u.startswith(served) for u in await links(None))
    # a Host the service does not serve: the links name the address the request came in on
    for host in ("evil.example", f"evil.example:{live_server.port}", f"127.0.0.1:{live_server.port}@evil.example"):
        got = await links(host)
        assert all(u.startswith(served) for u in got), (host, got)
    # KUMKM_PUBLIC_URL, when set, is the one base
    override_settings(public_url="https://kumkm.example.go.id/kumkm")
    public = f"https://kumkm.example.go.id/kumkm/openrosa/{enum_banyuasin}/forms/pl_kumkm/"
    for host in (None, "evil.example"):
        got = await links(host)
        assert all(u.startswith(public) for u in got), (host, got)


# ------------------------------------------------------------------------------ 4. the key before the body


@pytest.mark.parametrize("who", ["unknown", "verifikator"])
async def test_a_wrong_key_is_refused_before_the_body_arrives(live_server, verif, who):
    key, status = ("kumkm_bukan-kunci-yang-benar", 401) if who == "unknown" else (verif, 403)
    head = (
        f"POST /openrosa/{key}/submission HTTP/1.1\r\nHost: 127.0.0.1:{live_server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\nX-OpenRosa-Version: 1.0\r\n"
        f"Content-Length: 8000000\r\n\r\n"
    ).encode()
    t = time.perf_counter()
    got, headers, body = await _raw(live_server.port, head, timeout=5)
    assert got == status and time.perf_counter() - t < 2
    assert headers["content-type"] == "text/xml; charset=utf-8" and message(body)[0] == "error"
