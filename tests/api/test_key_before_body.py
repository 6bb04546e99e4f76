"""Every write of the API checks the key and the role from the headers alone, before any of
its body is read: a client without a key, or with a key whose role may not write there, is
refused at once, even when it announces 8 MB and sends none of it. Walked over every write
route in the committed OpenAPI document, so a new route cannot slip past."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest

from tests.support.common import ROOT

OPENAPI = json.loads((ROOT / "openapi" / "openapi.json").read_text())
SAMPLE = {
    "submission_id": str(uuid.uuid4()),
    "kode_wilayah": "16.07",
    "periode": "2022",
    "tahun": "2022",
    "indikator_id": "1",
    "tujuan_id": "1",
    "sasaran_id": "1",
    "kandidat_id": "1",
    "id_kumkm": "U0000000012",
    "id_a": "U0000000012",
    "id_b": "U0000000023",
}
WRITES = sorted(
    (method.upper(), path.format(**SAMPLE))
    for path, ops in OPENAPI["paths"].items()
    for method in ops
    if method in ("post", "put", "patch", "delete") and path.startswith("/api/")
)
# The media type each write takes (its OpenAPI request body's first; JSON when it says none):
# the body announced is one the route would read (another is refused 415 by BodyGuard, which
# runs before the key is looked at).
MEDIA = {
    path.format(**SAMPLE): next(iter(op.get("requestBody", {}).get("content", {"application/json": None})))
    for path, ops in OPENAPI["paths"].items()
    for method, op in ops.items()
    if method in ("post", "put", "patch", "delete") and path.startswith("/api/")
}


def test_the_walk_covers_the_write_routes():
    assert len(WRITES) >= 16, WRITES


def _announce(port: int, method: str, path: str, key: str | None) -> tuple[bytes, float]:
    """Send the headers of an 8 MB JSON body and nothing more; the answer and how long it took."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {MEDIA.get(path, 'application/json')}\r\n"
        f"Content-Length: 8000000\r\n" + (f"Authorization: Bearer {key}\r\n" if key else "") + "\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        start = time.monotonic()
        s.sendall(head.encode())
        s.settimeout(5)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            pass
        return answer, time.monotonic() - start


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_no_key_is_refused_before_the_body(live_server, method, path):
    answer, took = _announce(live_server.port, method, path, None)
    assert answer.startswith(b"HTTP/1.1 401 "), (method, path, answer[:200])
    assert took < 2, took


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_an_unknown_key_is_refused_before_the_body(live_server, method, path):
    answer, took = _announce(live_server.port, method, path, "kumkm_not_a_real_key_000000000000")
    assert answer.startswith(b"HTTP/1.1 401 "), (method, path, answer[:200])
    assert took < 2, took


@pytest.mark.parametrize(("method", "path"), [w for w in WRITES if "/submissions" not in w[1] or "/verifikasi" in w[1]])
async def test_a_role_that_may_not_write_there_is_refused_before_the_body(live_server, keys, method, path):
    """An enumerator may post and correct records, nothing else."""
    enumerator = await keys.make("enumerator", "16.07", name="enum-body")
    answer, took = _announce(live_server.port, method, path, enumerator)
    assert answer.startswith(b"HTTP/1.1 403 "), (method, path, answer[:300])
    assert b"role-forbidden" in answer or took < 2, answer[:300]
    assert took < 2, took


@pytest.mark.parametrize(("method", "path"), [w for w in WRITES if "/verifikasi" in w[1] or "/targets" in w[1]])
async def test_a_walidata_key_is_refused_on_decisions_and_targets(live_server, walidata, method, path):
    answer, took = _announce(live_server.port, method, path, walidata)
    assert answer.startswith(b"HTTP/1.1 403 "), (method, path, answer[:300])
    assert took < 2, took


async def test_an_allowed_key_still_writes(client, dinas):
    """The check before the body hands its answer on: the write itself goes through."""
    r = await client.put(
        "/api/v1/targets/2022/16.07",
        json={"target": 1234, "dasar_hukum": "SK 1/2022", "berlaku_mulai": "2022-01-01"},
        headers={"Authorization": f"Bearer {dinas}"},
    )
    assert r.status_code in (200, 201), r.text
