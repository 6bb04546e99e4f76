"""app.security.authn.KeyFirst over the service's own routes, without a database: a write
without a key is refused before its body by the route the path names, whatever paths came
before it, and what it remembers of paths stays bounded however many distinct paths a client
sends (a flood of made-up paths costs what a walk over the routes costs, never memory)."""

from __future__ import annotations

import asyncio

from app.main import create_app
from app.security import authn


def _scope(path: str, method: str = "POST") -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
        "state": {},
    }


def _ask(guard: authn.KeyFirst, path: str, method: str = "POST") -> tuple[int | None, bool]:
    """(the status KeyFirst answered itself, or None) and whether the app behind it was called."""
    reached = []
    sent: list[dict] = []

    async def inner(scope, receive, send):
        reached.append(scope["path"])

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    guard.app = inner
    asyncio.run(guard(_scope(path, method), receive, send))
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    return status, bool(reached)


def test_refused_before_the_body_and_bounded_memory():
    app = create_app(migrate_on_start=False)
    guard = authn.KeyFirst(None, routes=lambda: app.routes)
    # a write route the path names, asked without a key: KeyFirst answers 401, the app is not called
    assert _ask(guard, "/api/v1/kumkm/cek") == (401, False)
    assert _ask(guard, "/api/v1/submissions") == (401, False)
    # paths no write route has: on to the app (its 404/405), each remembered, within the bound
    for i in range(authn._FOUND_MAX + 500):
        assert _ask(guard, f"/api/v1/tidak-ada/{i}") == (None, True)
    assert len(guard._found) == authn._FOUND_MAX
    # after the flood, the same answers as before it (from the walk, then from memory)
    for _ in range(2):
        assert _ask(guard, "/api/v1/kumkm/cek") == (401, False)
        assert _ask(guard, "/api/v1/submissions") == (401, False)
    # a read is not KeyFirst's: on to the app, nothing remembered
    before = len(guard._found)
    assert _ask(guard, "/api/v1/kumkm/cek", method="GET") == (None, True)
    assert len(guard._found) == before
