"""Database plumbing: one async engine per process, resolved from DATABASE_URL or the
embedded server, and the schema brought to head by Alembic only."""
from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.core.settings import settings

_engine: AsyncEngine | None = None
_stream_engine: AsyncEngine | None = None
_url: str | None = None

ROOT = Path(__file__).resolve().parent.parent.parent


def normalize_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// forms and use the asyncpg driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    return url


def resolve_url(*, start_embedded: bool = True) -> str:
    """The database this process uses: DATABASE_URL, or an embedded server under KUMKM_DATA_DIR."""
    global _url
    if _url is None:
        if settings.database_url:
            _url = normalize_url(settings.database_url)
        elif start_embedded:
            from app.core import embedded

            _url = embedded.start(settings.data_dir / "pgdata")
        else:
            raise RuntimeError("no DATABASE_URL and the embedded server is not started")
    return _url


def direct_url() -> str:
    """The server itself, for what a transaction-mode pooler cannot carry: a LISTEN that must
    stay on one server connection, transactions held for as long as a stream is read, and
    migrations. KUMKM_DIRECT_DATABASE_URL when DATABASE_URL is such a pooler, else the same."""
    if settings.direct_database_url:
        return normalize_url(settings.direct_database_url)
    return resolve_url()


def _pooler_args() -> dict[str, int]:
    """Connection options for DATABASE_URL. Behind a pooler in transaction mode (PgBouncer
    1.18, as Debian ships it, keeps no prepared statements) a named statement prepared on one
    server connection is not there on the next: with both statement caches off, asyncpg and
    SQLAlchemy send unnamed statements, parsed and run in one exchange on one server link."""
    if not settings.direct_database_url:
        return {}
    return {"statement_cache_size": 0, "prepared_statement_cache_size": 0}


def set_url(url: str) -> None:
    """Point this process at a given database (tests and the CLI use it)."""
    global _url, _engine, _stream_engine
    _url = normalize_url(url)
    _engine = _stream_engine = None


def get_engine() -> AsyncEngine:
    """The request path's pool. A request that finds every connection busy for
    KUMKM_DB_POOL_TIMEOUT seconds is answered 503 with Retry-After (app.core.errors)."""
    global _engine
    if _engine is None:
        _engine = create_async_engine(
            resolve_url(),
            pool_size=settings.pool_size,
            # No overflow: a connection opened for a burst and closed after it costs the server a
            # fork and cold caches; a request rather waits a moment for a pooled one.
            max_overflow=0,
            pool_timeout=settings.pool_timeout,
            pool_pre_ping=False,
            # asyncpg caches prepared statements per connection (the hot statements are few),
            # except behind a transaction pooler (_pooler_args).
            connect_args={"server_settings": {"application_name": "kumkm"}, **_pooler_args()},
        )
    return _engine


# Connections a sync stream may hold: its own, and a helper when it reads in parallel.
STREAM_CONNECTIONS = 2


def get_stream_engine() -> AsyncEngine:
    """The pool of the walidata streams (feed pages, snapshots). A stream holds its connection
    for as long as its client takes to read, so streams draw on this pool only, sized for the
    streams admitted at once (KUMKM_STREAMS_MAX): however many clients stall, the request
    path keeps every one of its connections."""
    global _stream_engine
    if _stream_engine is None:
        _stream_engine = create_async_engine(
            direct_url(),
            pool_size=settings.streams_max * STREAM_CONNECTIONS,
            max_overflow=0,
            pool_timeout=settings.pool_timeout,
            pool_pre_ping=False,
            connect_args={"server_settings": {"application_name": "kumkm-stream"}},
        )
    return _stream_engine


async def dispose_engine() -> None:
    global _engine, _stream_engine
    for engine in (_engine, _stream_engine):
        if engine is not None:
            await engine.dispose()
    _engine = _stream_engine = None


@asynccontextmanager
async def transaction() -> AsyncIterator[AsyncConnection]:
    async with get_engine().begin() as conn:
        yield conn


@asynccontextmanager
async def autocommit() -> AsyncIterator[AsyncConnection]:
    """Each statement commits on its own. Hot writes that are one statement use it, so row
    locks (the status counters) are held only while the server runs the statement, never
    while this process's event loop is busy with other requests."""
    async with get_engine().connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


@asynccontextmanager
async def driver():
    """The pooled asyncpg connection itself, outside any transaction (each statement commits
    on its own, as in autocommit()), for the few hot statements where SQLAlchemy's per-call
    work costs more than the statement. A connection that broke under it is invalidated so
    the pool does not hand it out again."""
    async with get_engine().connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        if raw is not None and raw.is_closed():
            # the server went away while it sat in the pool (e.g. a failover): a new one
            await conn.invalidate()
            raw = (await conn.get_raw_connection()).driver_connection
        try:
            yield raw
        except BaseException as exc:
            if raw.is_closed() or not _answered(exc):
                await conn.invalidate()
            raise


def _answered(exc: BaseException) -> bool:
    """Whether the server answered with an error, leaving the connection in a known state.
    Anything else (the server gone mid-statement, a cancelled request) may leave the driver
    with an operation it still thinks in progress: the next request to borrow that connection
    would fail with 'another operation is in progress', so it is invalidated instead
    (added for failover: replicas branch; the faults branch owns reconnection)."""
    from asyncpg import PostgresError

    state = getattr(exc, "sqlstate", None)
    return isinstance(exc, PostgresError) and not (state or "").startswith(("08", "57P"))


@asynccontextmanager
async def connect() -> AsyncIterator[AsyncConnection]:
    """For reads of one statement: autocommit spares the BEGIN and ROLLBACK round trips."""
    async with autocommit() as conn:
        yield conn


def alembic_config(url: str | None = None):
    from alembic.config import Config

    ini = ROOT / "alembic.ini"
    # An installed (non-editable) package carries migrations/ but not alembic.ini.
    cfg = Config(str(ini) if ini.exists() else None)
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", (url or direct_url()).replace("%", "%%"))
    return cfg


def migrate(url: str | None = None) -> None:
    """Bring the schema to head. Safe to run at every start: Alembic skips what is applied."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused/x")).get_current_head()


def run_sync(coro):
    return asyncio.run(coro)
