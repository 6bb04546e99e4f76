"""One real PostgreSQL per test run (embedded, in a temporary directory, unless DATABASE_URL
names a server, where a throw-away database is made), one live service on loopback, and a
clean slate for every test."""
from __future__ import annotations

import asyncio
import atexit
import dataclasses
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from sqlalchemy.engine import make_url

from app.infra import db
from app.keys import service as auth_service
from app.web.server import uvicorn_options

MUTABLE_TABLES = ("access_log", "target_pendataan", "rekap_status", "changes", "submission_history", "openrosa_instances",
                  "submission_versions", "submissions", "sync_records", "api_keys",
                  "predikat_skala_band", "predikat_skala", "indikator_realisasi", "indikator_target",
                  "indikator", "sasaran", "tujuan")


def asyncpg_params(url: str) -> dict:
    u = make_url(url)
    params = {"user": u.username or "postgres", "database": u.database, "password": u.password}
    host = u.query.get("host") or u.host
    params["host"] = host
    if u.port or u.query.get("port"):
        params["port"] = int(u.port or u.query.get("port"))
    return params


def _make_database() -> tuple[str, callable]:
    external = os.environ.get("DATABASE_URL")
    if external:
        base = make_url(db.normalize_url(external))
        name = f"kumkm_test_{os.getpid()}"

        async def admin(sql):
            conn = await asyncpg.connect(**asyncpg_params(base.render_as_string(hide_password=False)))
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
        return url, lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    from app.infra import embedded

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-test-"))
    # atexit runs last-registered first: the embedded server stops and deletes its data
    # directory, then this removes what is left of the temporary directory.
    atexit.register(shutil.rmtree, tmp, True)
    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm_test")
    # Before the wheel's own stop: its fast shutdown writes a checkpoint of up to
    # shared_buffers (512 MB) of a directory about to be deleted, which on a loaded machine
    # outlasted pg_ctl's 60 s and ended in "Failed to stop server, killing it instead".
    atexit.register(embedded.stop, tmp / "pgdata", mode="immediate")
    return url, lambda: None


class LiveServer:
    def __init__(self, app):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                loop="asyncio", lifespan="on", **uvicorn_options())
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self):
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.05)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="session")
def database_url():
    url, drop = _make_database()
    db.set_url(url)
    os.environ["DATABASE_URL"] = url
    db.migrate(url)
    yield url
    drop()


@pytest.fixture(scope="session")
def live_server(database_url):
    from app.main import create_app

    server = LiveServer(create_app())
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def pg(database_url):
    """A direct connection for checks a user cannot make over HTTP (recounts, raw rows)."""
    conn = await asyncpg.connect(**asyncpg_params(database_url))
    yield conn
    await conn.close()


@pytest.fixture
def override_settings():
    """The one way a test changes settings: `override_settings(streams_max=0)` puts a new
    Settings with those values in place (frozen and checked, as the environment's are) for the
    rest of the test, in this process and the live server it runs; the process's own are back
    after it (app.core.settings.use)."""
    from app.core.settings import current, use

    before = current()

    def override(**values) -> None:
        use(dataclasses.replace(current(), **values))

    yield override
    use(before)


@pytest.fixture(autouse=True)
def clean_slate(request):
    yield
    if "database_url" not in request.fixturenames:
        return
    url = request.getfixturevalue("database_url")

    async def truncate():
        conn = await asyncpg.connect(**asyncpg_params(url))
        try:
            await conn.execute(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    asyncio.run(truncate())
    auth_service.clear_cache()


class Keys:
    """Makes API keys straight in the database, as `kumkm apikey create` would."""

    def __init__(self, url: str):
        self.url = url

    async def make(self, role: str, wilayah: str | None = None, *, name: str | None = None,
                   pii: bool = False, expires_at=None, successor_of: str | None = None) -> str:
        """A new key; `successor_of` (a key) makes it that key's holder's next key, as
        `kumkm apikey rotate` does, instead of a new holder."""
        key = auth_service.new_key()
        conn = await asyncpg.connect(**asyncpg_params(self.url))
        try:
            identity = None
            if successor_of is not None:
                identity = await conn.fetchval("SELECT identity_id FROM api_keys WHERE key_hash = $1",
                                               auth_service.hash_key(successor_of))
            await conn.execute(
                "INSERT INTO api_keys (name, role, kode_wilayah, key_prefix, key_hash, pii, expires_at, "
                "identity_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                name or f"{role}-{wilayah or 'nasional'}", role, wilayah, key[:14],
                auth_service.hash_key(key), pii, expires_at, identity)
        finally:
            await conn.close()
        return key


@pytest.fixture
def keys(database_url):
    return Keys(database_url)


@pytest.fixture
async def client(live_server):
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as c:
        yield c


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


# The keys many tests act with, made fresh for each test as `kumkm apikey create` would. The
# name is what the service records as the actor (dibuat_oleh, oleh), and tests assert it.

@pytest.fixture
async def enum_key(keys):
    """An enumerator of Sumatera Selatan (provinsi 16)."""
    return await keys.make("enumerator", "16", name="enum-sumsel")


@pytest.fixture
async def enum_banyuasin(keys):
    """An enumerator of Kabupaten Banyuasin only (kabkota 16.07), for scope rules a provinsi
    key would pass."""
    return await keys.make("enumerator", "16.07", name="enum-banyuasin")


@pytest.fixture
async def verif(keys):
    """A verifikator of Kabupaten Banyuasin (16.07)."""
    return await keys.make("verifikator", "16.07", name="verif-banyuasin")


@pytest.fixture
async def verif2(keys):
    """A second verifikator of Kabupaten Banyuasin, for two deciders at once."""
    return await keys.make("verifikator", "16.07", name="verif-banyuasin-2")


@pytest.fixture
async def dinas(keys):
    """The dinas KUMKM of Sumatera Selatan (provinsi 16)."""
    return await keys.make("dinas", "16", name="dinas-sumsel")


@pytest.fixture
async def walidata(keys):
    """The ministry's walidata, allowed to see personal data."""
    return await keys.make("walidata", name="kemenkop", pii=True)


@pytest.fixture
async def admin(keys):
    """The ministry's admin (national scope)."""
    return await keys.make("admin", name="admin-kemenkop")


@pytest.fixture
async def plain_admin(keys):
    """An admin (national scope) named just `admin`."""
    return await keys.make("admin", name="admin")


# ---------------------------------------------------------------- browser tests (Debian chromium)

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# No network beyond loopback in tests, and nothing Chromium would fetch for itself.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, installed by tests.debian when missing (the dashboard and the
    verifikasi page are tested in it)."""
    from tests.debian import ensure_installed

    ensure_installed(CHROMIUM, ["chromium", "fonts-dejavu-core"], "the browser tests")
    ARTIFACTS.mkdir(exist_ok=True)
    return CHROMIUM


@pytest.fixture
async def browser(chromium):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield b
        await b.close()
