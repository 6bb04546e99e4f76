"""Walidata streams (feed pages, snapshots) hold a database connection for as long as their
client reads. Clients that stop reading, on purpose or on a bad link, must never take the
service down: streams have their own bounded pool, a limit per key and overall (429 with
Retry-After beyond it), and a stream whose client takes nothing for
KUMKM_STREAM_STALL_SECONDS is closed and its connections returned."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from urllib.parse import urlparse

import orjson
import pytest

from tests.support.common import auth, eventually
from tests.support.factories import umkm
from tests.support.problems import assert_problem
from tests.support.sync_helpers import bulk_records

RECORDS = 30_000  # ~9 MB a snapshot: more than the socket buffers between a stalled client and us
READERS = 60
STALL = 6.0


def _stalled_reader(url: str, key: str, path: str) -> socket.socket:
    """A client that asks for a stream and then never reads: a tiny receive window, so the
    service's socket buffer fills and its writes wait."""
    u = urlparse(url)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((u.hostname, u.port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {u.hostname}\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
    return s


def _status_line(s: socket.socket) -> tuple[int, bytes]:
    s.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1024)
        if not chunk:
            break
        head += chunk
    return int(head.split(b" ", 2)[1]), head


def _closed_by_server(s: socket.socket, within: float) -> bool:
    """Drain what was sent; True when the server closed the connection (EOF or reset)."""
    s.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if not s.recv(1 << 20):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


async def _stream_connections(pg) -> int:
    return await pg.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kumkm-stream' AND state <> 'idle'")


async def test_stalled_readers_never_starve_posts_and_reports(client, live_server, keys, pg, override_settings):
    from app.core.settings import settings

    override_settings(stream_stall_seconds=STALL)
    await bulk_records(pg, RECORDS)
    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    dinas = await keys.make("dinas", "16", name="dinas-sumsel")
    readers = [
        await keys.make("walidata" if i % 2 else "dinas", None if i % 2 else "16", name=f"pembaca-{i}", pii=True)
        for i in range(READERS // 2)
    ]

    socks = []
    for key in readers:  # two streams a key: a snapshot and a large feed page
        socks.append(await asyncio.to_thread(_stalled_reader, live_server.url, key, "/api/v1/sync/snapshot"))
        socks.append(await asyncio.to_thread(_stalled_reader, live_server.url, key, "/api/v1/sync/changes?limit=100000"))
    try:
        # every stream is admitted or refused once the admitted ones hold their connections (a
        # fixed second was not always enough on a loaded machine)
        async def all_admitted() -> bool:
            return await _stream_connections(pg) == settings.streams_max

        await eventually(all_admitted)
        opened = time.monotonic()

        # meanwhile the request path answers at once, and correctly
        latencies = []
        for _ in range(20):
            t = time.monotonic()
            r = await client.post("/api/v1/submissions", json=umkm(), headers=auth(enum))
            latencies.append(time.monotonic() - t)
            assert r.status_code == 201, r.text
            t = time.monotonic()
            r = await client.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16"}, headers=auth(dinas))
            latencies.append(time.monotonic() - t)
            assert r.status_code == 200, r.text
        jumlah = r.json()["jumlah"]
        assert jumlah["masuk"] == RECORDS + 20
        assert max(latencies) < 1.0, latencies
        assert time.monotonic() - opened < STALL  # all of it while the readers were stalled

        # as many streams as the service admits are open (and stuck); the rest were told to wait
        statuses = [await asyncio.to_thread(_status_line, s) for s in socks]
        admitted = [s for s, (code, _) in zip(socks, statuses, strict=True) if code == 200]
        refused = [head for code, head in statuses if code == 429]
        assert len(admitted) == settings.streams_max
        assert len(admitted) + len(refused) == READERS
        assert all(b"retry-after: 10" in h.lower() and b"application/problem+json" in h for h in refused)
        assert await _stream_connections(pg) == settings.streams_max

        # the stalled streams are closed after the stall limit and give their connections back
        closed = await asyncio.gather(*(asyncio.to_thread(_closed_by_server, s, STALL + 20) for s in admitted))
        assert all(closed)

        async def none_left() -> bool:
            return await _stream_connections(pg) == 0

        assert await eventually(none_left)
    finally:
        for s in socks:
            s.close()

    # every admitted stream is on record (the refused ones never started); one marked complete
    # had produced every row before its client stalled (the log is written before the end line)
    rows = await pg.fetch("SELECT detail, rows FROM access_log WHERE endpoint LIKE 'GET /api/v1/sync/%'")
    assert len(rows) == settings.streams_max
    for r in rows:
        assert orjson.loads(r["detail"])["complete"] is False or r["rows"] == RECORDS
    assert sum(1 for r in rows if orjson.loads(r["detail"])["complete"] is False) >= settings.streams_max // 2

    # and a reader that reads gets the whole snapshot
    r = await client.get("/api/v1/sync/snapshot", headers=auth(readers[1]))
    lines = r.text.splitlines()
    assert len(lines) == RECORDS + 20 + 1 and orjson.loads(lines[-1])["count"] == RECORDS + 20
    print(
        f"\n{READERS} stalled readers ({settings.streams_max} admitted, {READERS - settings.streams_max} "
        f"refused 429): 20 posts + 20 capaian reads, median {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )


async def test_one_key_gets_at_most_its_share_of_streams(client, live_server, keys, pg, override_settings):
    from app.core.settings import settings
    from app.sync.service.streams import slots

    override_settings(stream_stall_seconds=3.0)
    await bulk_records(pg, RECORDS)
    walidata = await keys.make("walidata", name="kemenkop", pii=True)
    other = await keys.make("walidata", name="bps", pii=True)
    socks = [
        await asyncio.to_thread(_stalled_reader, live_server.url, walidata, "/api/v1/sync/snapshot")
        for _ in range(settings.streams_per_key)
    ]
    try:
        # the live service runs in this process: its admission is read, not guessed by a sleep
        await eventually(lambda: slots.open == settings.streams_per_key)
        r = await client.get("/api/v1/sync/changes", params={"limit": 1}, headers=auth(walidata))
        assert_problem(r, "too-many-requests")
        assert r.headers["retry-after"] == "10"
        assert f"sudah membuka {settings.streams_per_key} aliran sync" in r.json()["detail"]
        r = await client.get("/api/v1/sync/changes", params={"limit": 1}, headers=auth(other))
        assert r.status_code == 200, r.text
        # once the stalled ones are closed, the key may stream again
        assert all(await asyncio.gather(*(asyncio.to_thread(_closed_by_server, s, 20) for s in socks)))
        await eventually(lambda: slots.open == 0)
        r = await client.get("/api/v1/sync/changes", params={"limit": 1}, headers=auth(walidata))
        assert r.status_code == 200, r.text
    finally:
        for s in socks:
            s.close()


async def test_the_nightly_job_waits_when_the_service_is_busy(live_server, keys, monkeypatch, override_settings, tmp_path):
    """`kumkm sync pull` takes 429 and 503 as 'come back after Retry-After', a few times."""
    from app.sync import consumer

    walidata = await keys.make("walidata", name="kemenkop", pii=True)
    override_settings(streams_max=0)  # every stream refused
    waits: list[float] = []
    monkeypatch.setattr(consumer.time, "sleep", waits.append)
    with pytest.raises(consumer.PullError, match="HTTP 429"):
        await asyncio.to_thread(consumer.pull, url=live_server.url, key=walidata, state_path=tmp_path / "s.json", out_dir=tmp_path / "out")
    assert waits == [10.0] * consumer.BUSY_RETRIES
    override_settings(streams_max=16)
    summary = await asyncio.to_thread(
        consumer.pull, url=live_server.url, key=walidata, state_path=tmp_path / "s.json", out_dir=tmp_path / "out"
    )
    assert summary["pages"] == 1
