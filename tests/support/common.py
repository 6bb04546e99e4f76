"""The names almost every test needs: the repository's root, the API key header, the
parameters of a direct database connection, keys made straight in the database, and ports."""

from __future__ import annotations

import asyncio
import inspect
import random
import socket
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from app.keys import service as auth_service

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def asyncpg_params(url: str) -> dict:
    u = make_url(url)
    params = {"user": u.username or "postgres", "database": u.database, "password": u.password}
    host = u.query.get("host") or u.host
    params["host"] = host
    if u.port or u.query.get("port"):
        params["port"] = int(u.port or u.query.get("port"))
    return params


class Keys:
    """Makes API keys straight in the database, as `kumkm apikey create` would."""

    def __init__(self, url: str):
        self.url = url

    async def make(
        self,
        role: str,
        wilayah: str | None = None,
        *,
        name: str | None = None,
        pii: bool = False,
        expires_at=None,
        successor_of: str | None = None,
        tujuan: tuple[str, ...] = ("kur", "bantuan"),
        kuota: int = 100_000,
        per_detik: int = 10_000,
    ) -> str:
        """A new key; `successor_of` (a key) makes it that key's holder's next key, as
        `kumkm apikey rotate` does, instead of a new holder. A mitra key carries `tujuan`,
        `kuota` (per day) and `per_detik`; the defaults do not bound a test."""
        key = auth_service.new_key()
        conn = await asyncpg.connect(**asyncpg_params(self.url))
        try:
            identity = None
            if successor_of is not None:
                identity = await conn.fetchval("SELECT identity_id FROM api_keys WHERE key_hash = $1", auth_service.hash_key(successor_of))
            await conn.execute(
                "INSERT INTO api_keys (name, role, kode_wilayah, key_prefix, key_hash, pii, expires_at, "
                "identity_id, mitra_tujuan, mitra_kuota_harian, mitra_per_detik) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                name or f"{role}-{wilayah or 'nasional'}",
                role,
                wilayah,
                key[:14],
                auth_service.hash_key(key),
                pii,
                expires_at,
                identity,
                *((list(tujuan), kuota, per_detik) if role == "mitra" else (None, None, None)),
            )
        finally:
            await conn.close()
        return key


async def eventually(check, timeout: float = 30, every: float = 0.05):
    """Waits until `check()` (a function, or a coroutine function) gives something true, for at
    most `timeout` seconds, and returns what it gave last. For what the service does after it
    has answered (a key's last use written, a key cache told by the database, a log row): a
    fixed number of tries 50 ms apart assumed how fast a machine is, and a loaded one was slower."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(every)


# Ports for servers that run in another process (kumkm serve, PostgreSQL, etcd, Patroni,
# PgBouncer), which cannot be handed a bound socket: the port is picked here and bound there
# later. Asking the kernel for port 0 and closing it gave a port from the ephemeral range, the
# very range the kernel also hands every outgoing connection, so on a machine running several
# suites a client's connection could take the port before the server bound it. These come
# from below that range (ip_local_port_range starts at 32768), and one run never hands out the
# same port twice, so a port freed by a stopped server is not given to the next one while the
# old one may linger in TIME_WAIT.
_PORTS = range(20000, 32000)
_random = random.SystemRandom()  # not the global one, which hypothesis seeds alike in every run
_handed: set[int] = set()


def free_port() -> int:
    for _ in range(1000):
        port = _random.choice(_PORTS)
        if port in _handed:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")
