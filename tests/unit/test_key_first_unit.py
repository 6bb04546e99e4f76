"""app.security.authn.KeyFirst over the service's own routes, without a database: a write
without a key is refused before its body by the route the path names, whatever paths came
before it; what it remembers of a path is what the walk over the routes finds for it (method by
method); and what it remembers stays small however many distinct, unknown or long paths a
client sends (such a flood costs what a walk over the routes costs, never memory)."""

from __future__ import annotations

import asyncio
import uuid

from starlette.routing import Match

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


def _walk(guard: authn.KeyFirst, path: str, method: str):
    scope = _scope(path, method)
    return next(((a, act) for route, a, act in guard._writes() if route.matches(scope)[0] is Match.FULL), None)


def _guard() -> authn.KeyFirst:
    app = create_app(migrate_on_start=False)
    return authn.KeyFirst(None, routes=lambda: app.routes)


def test_refused_before_the_body_and_remembered_as_the_walk_finds():
    guard = _guard()
    sid = str(uuid.uuid4())
    asked = [
        ("POST", "/api/v1/kumkm/cek"),
        ("POST", "/api/v1/submissions"),
        ("PUT", f"/api/v1/submissions/{sid}"),  # one path, two methods, two actions
        ("POST", f"/api/v1/submissions/{sid}/verifikasi"),
        ("PUT", "/api/v1/targets/2024/16.07"),
    ]
    for method, path in asked:
        # a write route the path names, asked without a key: 401 from KeyFirst, the app not called
        for _ in range(2):  # the walk, then from memory
            assert _ask(guard, path, method) == (401, False), (method, path)
        assert guard._found[("", method, path)] == _walk(guard, path, method) is not None
    actions = {guard._found[("", m, p)][1] for m, p in asked}
    assert {"kumkm.cek", "record.post", "record.correct", "record.decide", "target.write"} <= actions
    # the same path under a method no write route has there: on to the router (its 405), not kept
    assert _ask(guard, f"/api/v1/submissions/{sid}", "PATCH") == (None, True)
    assert ("", "PATCH", f"/api/v1/submissions/{sid}") not in guard._found


def test_what_it_remembers_stays_small():
    guard = _guard()
    # paths no write route has: on to the app (its 404), none remembered
    for i in range(2000):
        assert _ask(guard, f"/api/v1/tidak-ada/{i}") == (None, True)
    assert len(guard._found) == 0
    # a long path a write route takes (60 KiB of id): refused as any, not remembered
    assert _ask(guard, "/api/v1/submissions/" + "a" * 60_000, "PUT") == (401, False)
    assert len(guard._found) == 0
    # more distinct paths of a write route than it keeps: the oldest go
    for i in range(authn._FOUND_MAX + 300):
        assert _ask(guard, f"/api/v1/submissions/{i}", "PUT") == (401, False)
    assert len(guard._found) == authn._FOUND_MAX
    assert ("", "PUT", "/api/v1/submissions/0") not in guard._found
    assert ("", "PUT", f"/api/v1/submissions/{authn._FOUND_MAX + 299}") in guard._found
    assert max(len(p) for _, _, p in guard._found) <= authn._FOUND_PATH_MAX
    # after the flood, the same answers as before it
    assert _ask(guard, "/api/v1/kumkm/cek") == (401, False)
    # a read is not KeyFirst's: on to the app, nothing remembered
    assert _ask(guard, "/api/v1/kumkm/cek", method="GET") == (None, True)
    assert ("", "GET", "/api/v1/kumkm/cek") not in guard._found
