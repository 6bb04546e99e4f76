"""One real PostgreSQL per test run (embedded, in a temporary directory, unless DATABASE_URL
names a server, where a throw-away database is made), one live service on loopback, and a
clean slate for every test. The fixtures every kind of test shares are here; the helpers they
import are in tests/support. Each test is marked with its kind, the folder it is in
(tests/unit, tests/api, tests/ops): `pytest -m unit` runs the fast part alone."""

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
from app.registry.linker import KUNCI_LATAR
from app.web.server import uvicorn_options
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.common import ARTIFACTS, Keys, asyncpg_params, auth

# Names other modules imported from here before tests/support held them.
__all__ = ["ARTIFACTS", "Keys", "asyncpg_params", "auth"]

TESTS = Path(__file__).resolve().parent
KINDS = ("unit", "api", "ops")


def pytest_collection_modifyitems(config, items):
    """The kind of a test is the folder it is in. A unit test has no database and no server:
    one that asks for them is a mistake of placement, told at collection."""
    for item in items:
        path = Path(str(item.path)).resolve()
        parts = path.relative_to(TESTS).parts if path.is_relative_to(TESTS) else ()
        kind = parts[0] if len(parts) > 1 and parts[0] in KINDS else None
        if kind is None:  # a file straight in tests/ (not yet sorted) has no kind
            continue
        item.add_marker(kind)
        if kind == "unit" and {"database_url", "live_server"} & set(item.fixturenames):
            raise pytest.UsageError(f"{item.nodeid} uses the database or the service: it belongs in tests/api")


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
        # The socket stays bound from here to uvicorn's listen: a port picked, closed and bound
        # again later could be taken in between by any connection on a busy machine.
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", loop="asyncio", lifespan="on", **uvicorn_options()
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

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
        self.sock.close()


async def _tables_to_empty(url: str) -> tuple[str, ...]:
    """Every table of the migrated database but those the migrations fill (wilayah, periode,
    predikat_bawaan, alembic_version): read from the catalog, so a new table is emptied
    between tests without anyone listing it."""
    conn = await asyncpg.connect(**asyncpg_params(url))
    try:
        tables = await conn.fetch(
            "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        )
        return tuple([t["name"] for t in tables if not await conn.fetchval(f"SELECT EXISTS (SELECT FROM {t['name']})")])
    finally:
        await conn.close()


TABLES_TO_EMPTY = pytest.StashKey[tuple[str, ...]]()


@pytest.fixture(scope="session")
def database_url(pytestconfig):
    url, drop = _make_database()
    db.set_url(url)
    os.environ["DATABASE_URL"] = url
    db.migrate(url)
    # read here, before any fixture or test wrote a row
    pytestconfig.stash[TABLES_TO_EMPTY] = asyncio.run(_tables_to_empty(url))
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
async def linker_paused(database_url):
    """The live service's background linker (app.registry.linker) kept idle, its turn's session
    lock held here: a test that links records itself is then the only linker."""
    import asyncpg

    from app.registry.linker import KUNCI_LATAR
    from tests.support.common import asyncpg_params

    conn = await asyncpg.connect(**asyncpg_params(database_url))
    await conn.execute(f"SELECT pg_advisory_lock({KUNCI_LATAR})")
    yield
    await conn.close()


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
    tables = request.config.stash[TABLES_TO_EMPTY]

    async def truncate():
        conn = await asyncpg.connect(**asyncpg_params(url))
        try:
            # The live service's background linker paused (its turn's lock, held until this
            # connection closes): a batch of it in flight would take the tables in another
            # order than TRUNCATE, a deadlock whose victim could be TRUNCATE.
            await conn.execute("SELECT pg_advisory_lock($1)", KUNCI_LATAR)
            await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    asyncio.run(truncate())
    auth_service.clear_cache()


@pytest.fixture
def keys(database_url):
    return Keys(database_url)


@pytest.fixture
async def client(live_server):
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as c:
        yield c


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


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, installed by tests.support.debian when missing (the dashboard and the
    verifikasi page are tested in it)."""
    from tests.support.debian import ensure_installed

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
