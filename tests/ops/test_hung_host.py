"""A multi-host DATABASE_URL whose first host hangs (a frozen node after a failover: it
accepts the TCP connection and never answers) instead of refusing: each host gets
KUMKM_DB_CONNECT_TIMEOUT in turn, as libpq does, so the service reaches the next host and
writes go on. asyncpg counts that timeout across the whole list, so the frozen first host
used all of it and the service never became ready."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx

from app.keys import service as auth_service
from tests.support.factories import umkm
from tests.support.pg_servers import TcpPostgres, prepare_with_key
from tests.support.serve_helpers import Served, environment, free_port


class _Frozen:
    """A host that takes connections into its backlog and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


async def test_a_hung_first_host_does_not_stop_the_writes(tmp_path):
    frozen = _Frozen()
    primary = TcpPostgres(free_port())
    key = auth_service.new_key()
    served = None
    try:
        await asyncio.to_thread(primary.init)
        await prepare_with_key(primary, key)
        url = f"postgresql://postgres@127.0.0.1:{frozen.port},127.0.0.1:{primary.port}/kumkm?target_session_attrs=read-write"
        env = environment(database_url=url, KUMKM_DB_CONNECT_TIMEOUT=1)
        served = await asyncio.to_thread(Served(env, log=tmp_path / "serve.log").wait_ready, 60)
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            start = time.monotonic()
            r = await client.post("/api/v1/submissions", json=umkm(), headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 201, r.text
            assert time.monotonic() - start < 10
    finally:
        if served is not None:
            served.stop()
        frozen.close()
        await asyncio.to_thread(primary.stop)
        await asyncio.to_thread(primary.remove)
