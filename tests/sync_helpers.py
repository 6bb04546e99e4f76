"""Helpers for the sync tests: post records, read the feed and the snapshot as a consumer would."""
from __future__ import annotations

import orjson

from tests.conftest import auth
from tests.factories import umkm

FEED = "/api/v1/sync/changes"
SNAPSHOT = "/api/v1/sync/snapshot"


def parse_stream(text: str) -> tuple[list[dict], dict]:
    """(lines before the end line, the end line). Fails when the end line is missing."""
    lines = [orjson.loads(x) for x in text.splitlines() if x]
    assert lines and lines[-1].get("end") is True, f"stream without end line: {text[-300:]!r}"
    return lines[:-1], lines[-1]


async def pull(client, key, after=None, limit=1000, **params) -> tuple[list[dict], dict]:
    q = {"limit": limit, **params}
    if after is not None:
        q["after"] = after
    r = await client.get(FEED, params=q, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return parse_stream(r.text)


async def pull_all(client, key, after=None, limit=1000, **params) -> tuple[list[dict], str | None]:
    """Follow the feed until the end line says there is no more."""
    seen: list[dict] = []
    while True:
        lines, end = await pull(client, key, after, limit, **params)
        seen += lines
        after = end["cursor"]
        if not end["more"]:
            return seen, after


async def post_batch(client, key, n: int, **over) -> list[str]:
    items = [umkm(**over) for _ in range(n)]
    r = await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == n, r.text
    return [i["submission_id"] for i in items]
