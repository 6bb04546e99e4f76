"""Database plumbing: one async engine per process, resolved from DATABASE_URL or the
embedded server, and the schema brought to head by Alembic only."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Depends
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.core.settings import settings

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("kumkm.db")

_engine: AsyncEngine | None = None
_stream_engine: AsyncEngine | None = None
_url: str | None = None

ROOT = Path(__file__).resolve().parent.parent.parent


def normalize_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// forms and use the asyncpg driver.

    libpq's multi-host form, `postgresql://user@h1:5432,h2:5432/kumkm?target_session_attrs=
    read-write`, becomes SQLAlchemy's `...@/kumkm?host=h1:5432&host=h2:5432&...`: asyncpg then
    tries the hosts in order and takes the first that matches target_session_attrs (read-write:
    the primary), on every new connection."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            url = "postgresql+asyncpg://" + url[len(prefix) :]
            break
    return _multi_host(url)


def _multi_host(url: str) -> str:
    parts = urlsplit(url)
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    if "," not in hostlist:
        return url
    hosts = []
    for h in hostlist.split(","):
        # libpq's default port where one is left out; SQLAlchemy wants every port spelled out
        hosts.append(h if h.rsplit("]", 1)[-1].count(":") else f"{h}:5432")
    query = [("host", h) for h in hosts] + parse_qsl(parts.query, keep_blank_values=True)
    netloc = f"{userinfo}@" if userinfo else ""
    return parts._replace(netloc=netloc, query=urlencode(query, safe="/:,")).geturl()


def resolve_url(*, start_embedded: bool = True) -> str:
    """The database this process uses: DATABASE_URL, or an embedded server under KUMKM_DATA_DIR."""
    global _url
    if _url is None:
        if settings.database_url:
            _url = normalize_url(settings.database_url)
        elif start_embedded:
            from app.infra import embedded

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


def _pooler_args() -> dict[str, Any]:
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


async def connect_each_host(
    *args: Any, host: Any = None, port: Any = None, timeout: float = 60, target_session_attrs: str | None = None, **kwargs: Any
) -> Any:
    """asyncpg.connect, with libpq's meaning of a multi-host URL's connect timeout: each host
    gets it in turn. asyncpg counts it across the whole list, so a first host that hangs
    (a frozen node after a failover, rather than one that refuses) used all of it and the
    next host, the new primary, was never tried: no write came back until the frozen one
    refused (tests/test_patroni.py). prefer-standby looks for a standby on every host first."""
    import asyncpg

    if not isinstance(host, list) or len(host) < 2:
        return await asyncpg.connect(*args, host=host, port=port, timeout=timeout, target_session_attrs=target_session_attrs, **kwargs)
    ports = port if isinstance(port, list) else [port] * len(host)
    passes = ["standby", "any"] if target_session_attrs == "prefer-standby" else [target_session_attrs]
    failure: Exception | None = None
    for attrs in passes:
        for h, p in zip(host, ports, strict=True):
            try:
                return await asyncpg.connect(*args, host=h, port=p, timeout=timeout, target_session_attrs=attrs, **kwargs)
            except Exception as exc:  # refused, timed out, not the kind of server asked for
                failure = exc
    assert failure is not None
    raise failure


def make_engine(
    url: str, *, pool_size: int, application_name: str, pre_ping: bool = False, connect_timeout: float | None = None, **connect_args: Any
) -> AsyncEngine:
    """Every engine of this process is made here, so that each one handles a database that
    goes away the same way (watch_faults): the request pool, the streams' pool, the replicas'
    pools (app.infra.replicas, which ping at checkout and connect with a shorter timeout), and
    any other pool added next to them."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        # No overflow: a connection opened for a burst and closed after it costs the server a
        # fork and cold caches; a request rather waits a moment for a pooled one.
        max_overflow=0,
        pool_timeout=settings.pool_timeout,
        pool_pre_ping=pre_ping,
        # asyncpg caches prepared statements per connection; the hot statements are few.
        # `timeout` bounds connecting to each host (connect_each_host): a server that does not
        # answer makes a 503 after it, not a request hanging for asyncpg's 60 s.
        connect_args={
            "server_settings": {"application_name": application_name},
            "timeout": connect_timeout or settings.connect_timeout,
            "async_creator_fn": connect_each_host,
            **connect_args,
        },
    )
    watch_faults(engine)
    return engine


def get_engine() -> AsyncEngine:
    """The request path's pool. A request that finds every connection busy for
    KUMKM_DB_POOL_TIMEOUT seconds is answered 503 with Retry-After (app.core.errors); a write
    whose commit the database does not confirm within as long is answered so too
    (CommitUnconfirmed)."""
    global _engine
    if _engine is None:
        _engine = make_engine(
            resolve_url(),
            pool_size=settings.pool_size,
            application_name="kumkm",
            # asyncpg caches prepared statements per connection (the hot
            # statements are few), except behind a transaction pooler
            **_pooler_args(),
        )
        event.listen(_engine.sync_engine, "connect", _hear_cut_commits)
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
        _stream_engine = make_engine(direct_url(), pool_size=settings.streams_max * STREAM_CONNECTIONS, application_name="kumkm-stream")
    return _stream_engine


async def dispose_engine() -> None:
    global _engine, _stream_engine
    for engine in (_engine, _stream_engine):
        if engine is not None:
            await engine.dispose()
    _engine = _stream_engine = None


# ------------------------------------------------------------------ faults
#
# A server that crashed, restarted, or was demoted by a failover leaves every pooled connection
# to it useless (closed, or read-only). The first request that finds out is answered 503
# (app.core.errors) and drops the connections of every pool to that server: each is replaced,
# as it is next taken from its pool, by a new one, which for a multi-host URL goes to whichever
# host is the primary now. Pools are grouped by URL, so a fault of one server never costs the
# connections to another (a replica).

_dropped_at: dict[str, float] = {}  # URL -> when its connections were last dropped
_on_drop: list[Callable[[str], None]] = []


def watch_faults(engine: AsyncEngine) -> None:
    """Make an engine drop its connections when any of them shows the server gone or read-only."""
    from app.core.errors import Fault, fault_kind

    key = engine.url.render_as_string(hide_password=False)
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "handle_error")
    def _on_error(ctx: Any) -> None:
        if _raw_of(ctx) in _abandoned:
            # closed by the bound of a commit (below): that connection goes; the others are no
            # less fit than before
            ctx.is_disconnect = True
            return
        if fault_kind(ctx.original_exception) in (Fault.UNAVAILABLE, Fault.READ_ONLY):
            # SQLAlchemy then discards this connection at once, and the rest of its pool
            # as they come back (the connections of other pools go by drop_connections).
            ctx.is_disconnect = True
            drop_connections(key)

    @event.listens_for(sync_engine, "connect")
    def _stamp(_dbapi_conn: Any, record: Any) -> None:
        record.info["kumkm_made"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _check(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if record.info.get("kumkm_made", 0.0) < _dropped_at.get(key, -1.0):
            # SQLAlchemy closes it and hands out a new connection in its place
            raise DisconnectionError("connection made before the server was found gone or read-only")


def drop_connections(url_key: str) -> None:
    """Every connection to this server made until now is closed before its next use."""
    first = url_key not in _dropped_at or time.monotonic() - _dropped_at[url_key] > 1.0
    _dropped_at[url_key] = time.monotonic()
    if first:
        log.info("dropping every pooled connection to the database: one of them found it gone or read-only")
        for callback in list(_on_drop):
            callback(url_key)


def on_drop(callback: Callable[[str], None]) -> Callable[[], None]:
    """Call back (with the server's URL) when a pool drops its connections: a connection kept
    outside the pools (the key-change listener) follows the primary the same way. Returns the
    function that stops the calls."""
    _on_drop.append(callback)
    return lambda: _on_drop.remove(callback) if callback in _on_drop else None


def follows_primary() -> bool:
    """Whether DATABASE_URL asks for the primary (target_session_attrs=read-write or primary):
    then a connection that finds itself on a server that no longer takes writes moves on."""
    from sqlalchemy.engine import make_url

    return make_url(resolve_url()).query.get("target_session_attrs") in ("read-write", "primary")


def engine_key(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


# ------------------------------------------------------------------ the bound of a commit
#
# With a synchronous standby, PostgreSQL acknowledges a COMMIT only once the standby has it,
# and waits for that without any limit: statement_timeout does not cover the wait, and the
# transaction keeps its row locks meanwhile, so every writer queues behind it. A standby that
# is gone (promoted by a failover, stopped, cut off) would hold every write of the service for
# as long as the clients wait. So every write's statements (each one its own commit) and a
# transaction's COMMIT are bounded here at KUMKM_DB_POOL_TIMEOUT: past it the service closes
# that connection and answers 503 with Retry-After (CommitUnconfirmed is a TimeoutError, an
# OSError, which app.core.errors takes for the database unavailable); the write may be stored
# or not, and the client's retry is safe (records and decisions are idempotent).
#
# Closed, not cancelled: a cancel (asyncpg's own timeout sends one) ends the server's wait and
# makes the transaction visible, committed on this server only, to the next statement, so the
# client's retry would be acknowledged as a "duplicate" of a record the standby may never get,
# lost by the failover. With the connection closed the server's session keeps waiting, its
# transaction invisible and its locks held (a retry waits behind them, bounded likewise), until
# the standby confirms it or the server is fenced (its sessions ended; app.infra.standby) or
# stopped. Each such session holds a connection slot meanwhile: a standby gone for long is
# brought back, failed over, or taken out of synchronous_standby_names (docs/replicas.md).
# Reads (connect()) keep no bound: a report may rightly take longer.


class CommitUnconfirmed(TimeoutError):
    """The database did not confirm a write's commit within KUMKM_DB_POOL_TIMEOUT, or cut its
    wait for the synchronous standby short: committed on this server or not, it may not
    survive a failover. Answered 503 + Retry-After; the client's retry is idempotent."""


_abandoned: weakref.WeakSet[Any] = weakref.WeakSet()


def _arm(raw: Any) -> asyncio.TimerHandle | None:
    if raw is None:
        return None
    return asyncio.get_running_loop().call_later(settings.pool_timeout, _abandon, raw)


def _abandon(raw: Any) -> None:
    # terminate() closes the socket at once and sends no cancel (the comment above says why);
    # the call waiting on it fails with "connection was closed in the middle of operation"
    _abandoned.add(raw)
    raw.terminate()


def _unconfirmed(exc: BaseException | None = None) -> CommitUnconfirmed:
    return CommitUnconfirmed(
        f"the database did not confirm the write within KUMKM_DB_POOL_TIMEOUT "
        f"({settings.pool_timeout:g} s): a synchronous standby gone, or the server "
        f"overloaded" + (f" ({type(exc).__name__})" if exc is not None else "")
    )


async def _raw(conn: AsyncConnection) -> Any:
    return (await conn.get_raw_connection()).driver_connection


def _raw_of(ctx: Any) -> Any:
    """The asyncpg connection behind a SQLAlchemy error context, when there is one."""
    try:
        return ctx.connection.connection.driver_connection
    except Exception:  # no connection, or already invalidated
        return None


_cut_commits: weakref.WeakSet[Any] = weakref.WeakSet()


def _hear_cut_commits(dbapi_conn: Any, _record: Any) -> None:
    """A commit whose wait for the synchronous standby the server cut short itself (an
    operator's pg_cancel_backend) returns success with only a WARNING: "canceling wait for
    synchronous replication ... might not have been replicated". That write must not be
    acknowledged either. asyncpg hands notices to listeners (call_soon, before the statement's
    own result reaches its caller); the write helpers look before they return."""
    raw = getattr(dbapi_conn, "driver_connection", None) or getattr(dbapi_conn, "_connection", None)
    if raw is not None:
        raw.add_log_listener(_on_notice)


def _on_notice(conn: Any, message: Any) -> None:
    # PostgreSQL's English text (lc_messages of the embedded server, and the default); a
    # server translating its messages is left to the bound alone
    if "synchronous replication" in (getattr(message, "message", "") or ""):
        _cut_commits.add(conn)


def _confirmed(raw: Any) -> None:
    if raw is not None and raw in _cut_commits:
        _cut_commits.discard(raw)
        raise CommitUnconfirmed("the database cut the commit's wait for the synchronous standby short: the write may be lost by a failover")


def _cut_by_bound(raw: Any, exc: BaseException) -> bool:
    """An error from a write whose connection the bound closed: it says nothing of whether the
    commit happened, so the write is answered as unconfirmed (503), never as that error."""
    return raw is not None and raw in _abandoned and isinstance(exc, Exception) and not isinstance(exc, CommitUnconfirmed)


async def _settle(conn: AsyncConnection, raw: Any) -> None:
    """After a write's last statement returned: a connection the bound closed meanwhile is not
    handed out again, and a commit whose wait the server cut short is not acknowledged."""
    if raw is not None and raw in _abandoned:
        await conn.invalidate()
    _confirmed(raw)


# A replay (a record or decision sent again and answered as already there) acknowledges what an
# earlier request wrote, and that may be committed on this server without being on the
# synchronous standby yet: its commit's wait for the standby ended by the server itself (a kill
# and crash recovery, a fast shutdown, a fence, a cancel), so the rows became visible here
# first. Acknowledged as it is, the record would be lost by a failover before the standby has
# it. So before a replay is answered, one tiny commit waits, like any commit, until the standby
# holds the WAL up to it, which holds the earlier write (bounded like any commit: 503 when not
# confirmed). It must write WAL in a transaction with an id: PostgreSQL waits for the standby
# only then (RecordTransactionCommit), so `SELECT pg_current_xact_id()` alone would not wait;
# a transactional logical message is the smallest such write. Without a synchronous standby it
# is a plain commit.
REPLAY_BARRIER = "SELECT pg_logical_emit_message(true, 'kumkm', 'replay')"


async def replay_barrier(conn: Any = None) -> None:
    """REPLAY_BARRIER on the given asyncpg connection (db.driver()) or SQLAlchemy autocommit
    connection (db.autocommit()), else on one of its own."""
    from sqlalchemy import text

    if conn is None:
        async with autocommit() as own:
            await own.execute(text(REPLAY_BARRIER))
    elif isinstance(conn, AsyncConnection):
        await conn.execute(text(REPLAY_BARRIER))
    else:
        await conn.execute(REPLAY_BARRIER)


# What to do once a transaction of transaction() has committed: its connection -> callbacks.
_after_commit: dict[AsyncConnection, list[Callable[[], None]]] = {}


def after_commit(conn: AsyncConnection, callback: Callable[[], None]) -> None:
    """Call `callback` once the transaction `conn` is in (transaction(), a route's unit of
    work) has committed and the commit is confirmed; never when it rolls back. For what must
    not happen before the write is visible: a cache dropped earlier could be filled again
    from the old rows by a request in between (the key cache after a rotation)."""
    try:
        _after_commit[conn].append(callback)
    except KeyError:
        raise RuntimeError("after_commit needs the connection of db.transaction() or of a unit of work") from None


@asynccontextmanager
async def transaction() -> AsyncIterator[AsyncConnection]:
    """One transaction; its COMMIT is bounded (above). Its statements are not: a transaction of
    the CLI may load tens of thousands of rows; a statement of a request's transaction that
    waits behind a commit in wait is bounded by that commit's own bound, which ends its wait.
    Then what after_commit asked for, in order."""
    async with get_engine().connect() as conn:
        raw = await _raw(conn)
        timer = None
        callbacks: list[Callable[[], None]] = []
        _after_commit[conn] = callbacks
        try:
            async with conn.begin():
                yield conn
                timer = _arm(raw)
        except BaseException as exc:
            if _cut_by_bound(raw, exc):
                raise _unconfirmed(exc) from exc
            raise
        finally:
            _after_commit.pop(conn, None)
            if timer is not None:
                timer.cancel()
        await _settle(conn, raw)  # the bound may have closed it after the COMMIT had returned
        for callback in callbacks:
            callback()


@asynccontextmanager
async def autocommit() -> AsyncIterator[AsyncConnection]:
    """Each statement commits on its own; together bounded (above). Hot writes that are one
    statement use it, so row locks (the status counters) are held only while the server runs
    the statement, never while this process's event loop is busy with other requests."""
    async with get_engine().connect() as conn:
        raw = await _raw(conn)
        timer = _arm(raw)
        try:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")
        except BaseException as exc:
            if _cut_by_bound(raw, exc):
                raise _unconfirmed(exc) from exc
            raise
        finally:
            if timer is not None:
                timer.cancel()
        await _settle(conn, raw)  # every statement had returned: confirmed


@asynccontextmanager
async def driver() -> AsyncIterator[Any]:
    """The pooled asyncpg connection itself, outside any transaction (each statement commits
    on its own, as in autocommit(), bounded likewise), for the few hot statements where
    SQLAlchemy's per-call work costs more than the statement. A connection that broke under
    it is invalidated so the pool does not hand it out again."""
    from app.core.errors import Fault, fault_kind

    engine = get_engine()
    async with engine.connect() as conn:
        raw = await _raw(conn)
        if raw is not None and raw.is_closed():
            # the server went away while it sat in the pool (e.g. a failover): a new one
            await conn.invalidate()
            raw = await _raw(conn)
        timer = _arm(raw)
        try:
            yield raw
        except BaseException as exc:
            # An error the server sent about the statement leaves the connection fit for the
            # next one; anything else (the connection lost, the protocol left mid-statement,
            # a cancellation, the bound above) may not: never hand it out again.
            cut = raw in _abandoned
            kind = fault_kind(exc)
            broken = kind in (Fault.UNAVAILABLE, Fault.READ_ONLY) and not cut
            if broken or cut or raw.is_closed() or not _answered(exc):
                await conn.invalidate()
            if broken:
                drop_connections(engine_key(engine))
            if _cut_by_bound(raw, exc):
                raise _unconfirmed(exc) from exc
            raise
        finally:
            if timer is not None:
                timer.cancel()
        await _settle(conn, raw)  # every statement had returned: confirmed


def _answered(exc: BaseException) -> bool:
    """Whether the server answered with an error, leaving the connection in a known state.
    Anything else (the server gone mid-statement, a cancelled request) may leave the driver
    with an operation it still thinks in progress: the next request to borrow that connection
    would fail with 'another operation is in progress', so it is invalidated instead
    (added for failover: replicas branch; the faults branch owns reconnection)."""
    from asyncpg import PostgresError

    state = getattr(exc, "sqlstate", None)
    return isinstance(exc, PostgresError) and not (state or "").startswith(("08", "57P"))


def pool_has_room(share: float = 0.5) -> bool:
    """Whether at least `share` of the request pool is free now: a request that could use a
    second connection for speed (never for correctness) takes one only then, so requests that
    each hold one and wait for another cannot fill the pool and wait on each other."""
    pool: Any = get_engine().sync_engine.pool
    size, used = int(pool.size()), int(pool.checkedout())
    return size > 0 and used <= size * (1 - share)


@asynccontextmanager
async def connect() -> AsyncIterator[AsyncConnection]:
    """For reads of one statement: autocommit spares the BEGIN and ROLLBACK round trips. No
    bound: a read never waits for a standby, and a report may rightly take long."""
    async with get_engine().connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


def alembic_config(url: str | None = None) -> Config:
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


async def schema_revision() -> str | None:
    """The revision the database's schema is at; None before the first migration."""
    from sqlalchemy import text

    from app.core.errors import sqlstate_of

    try:
        async with connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception as exc:
        if sqlstate_of(exc) == "42P01":  # undefined_table: not migrated yet
            return None
        raise


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused/x")).get_current_head()
    if head is None:  # migrations/versions is empty: a broken install
        raise RuntimeError("no Alembic revision in migrations/versions")
    return head


async def unit_of_work() -> AsyncIterator[AsyncConnection]:
    """One request, one transaction: the connection a route hands to every service call that
    must commit or fail together. Committed when the route returns, before the response is
    sent (the dependency's scope is the function), so a client never holds a 2xx for a write
    that did not commit; rolled back when anything raises."""
    async with transaction() as conn:
        yield conn


# The FastAPI dependency of a write route that takes a unit of work: `conn: UnitOfWork`.
UnitOfWork = Annotated[AsyncConnection, Depends(unit_of_work, scope="function")]
