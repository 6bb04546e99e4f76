"""A method a path does not serve is refused like every other request: 405 as a problem with
its catalog code (method-not-allowed), and the `Allow` header naming the methods it does serve."""

from __future__ import annotations

from app.core.errors import CATALOG
from tests.support.common import auth


def _refused(r, allowed: str) -> None:
    assert r.status_code == 405, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "method-not-allowed" and body["type"] == "urn:kumkm:problem:method-not-allowed"
    assert CATALOG["method-not-allowed"].status == 405
    assert body["title"] == "Method Not Allowed"
    assert body["detail"] == "metode HTTP ini tidak dilayani untuk path ini"
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {allowed}


async def test_a_method_the_path_does_not_serve_is_a_405_problem(client, walidata):
    _refused(await client.post("/healthz"), "GET")
    # under the API too, with a key: the method is refused, not the key
    _refused(await client.delete("/api/v1/me", headers=auth(walidata)), "GET")
