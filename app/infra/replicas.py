"""Reads that may go to hot standbys (DATABASE_REPLICA_URL), and how fresh each answer is.

Reports (capaian pendataan, agregat, indikator capaian, the dashboard's data) and the walidata
snapshot read a replica when one is close enough behind the primary; everything else — every
write, the change feed, key lookups — stays on the primary (docs/replicas.md says why).

How far behind a standby is, is measured in WAL, not guessed from timestamps: every
CHECK_INTERVAL the monitor reads the primary's WAL position L(t) and each standby's replay
position. A standby that has replayed L(t) holds every transaction committed on the primary
up to time t, so its data is *fresh as of* the latest such t. Lag is now minus that moment:
an upper bound, correct when the primary is idle (the standby catches up with an unchanging
position at once) and when replay is paused or the standby unreachable (the moment stops
moving, the lag grows). A standby lagging more than KUMKM_REPLICA_MAX_LAG_SECONDS, down, or
no longer in recovery (promoted: it is a primary now, reached through DATABASE_URL) is passed
over for the primary. With the primary unreachable no moment can be proven, so every standby
soon counts as lagging: reads go to the primary and get its 503 rather than data of unknown age.

Every response of a routed read says where its data came from (FreshnessHeaders):
`X-Data-Source` (primary | replica), `X-Data-Lag-Seconds` and `X-Data-As-Of` (every change
committed up to then is in the answer)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.settings import settings
from app.infra import db

log = logging.getLogger("kumkm.replicas")

# Seconds between two measurements; a read's lag is at most this much older than the truth.
CHECK_INTERVAL = 0.5
# A standby (or the primary) that does not answer a measurement in this time counts as down.
CHECK_TIMEOUT = 2.0
# Seconds a replica connection attempt may take before the read goes to the primary instead.
CONNECT_TIMEOUT = 3.0

# The WAL positions as numbers: pg_lsn minus the origin is a numeric byte count.
PRIMARY_POSITION = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text"
STANDBY_POSITION = """SELECT pg_is_in_recovery(),
    (COALESCE(pg_last_wal_replay_lsn(), '0/0'::pg_lsn) - '0/0'::pg_lsn)::text"""


def split_hosts(url: str) -> list[str]:
    """One URL per host of a multi-host URL, as libpq and SQLAlchemy write them:
    `?host=/run/a,/run/b&port=5432,5433`, `?host=a:5432&host=b:5433`, or a single host.
    target_session_attrs is dropped: each standby is measured and chosen here."""
    u = make_url(db.normalize_url(url))
    query = dict(u.query)
    query.pop("target_session_attrs", None)
    hosts_q = query.pop("host", None)
    ports_q = query.pop("port", None)
    if hosts_q is None:
        return [u.set(query=query).render_as_string(hide_password=False)]
    hosts = list(hosts_q) if isinstance(hosts_q, tuple) else hosts_q.split(",")
    ports: list[str | None]
    if ports_q is None:
        ports = [None] * len(hosts)
    else:
        ports = list(ports_q) if isinstance(ports_q, tuple) else list(ports_q.split(","))
        if len(ports) == 1:
            ports = ports * len(hosts)
    if len(ports) != len(hosts):
        raise ValueError("DATABASE_REPLICA_URL: give one port for every host, or one for all")
    out = []
    for host, port in zip(hosts, ports, strict=True):
        host = host.strip()
        if not host.startswith("/") and ":" in host and port is None:
            host, port = host.rsplit(":", 1)
        q = dict(query, host=host)
        if port:
            q["port"] = port.strip()
        out.append(u.set(query=q, host=None, port=None).render_as_string(hide_password=False))
    return out


def label_of(url: str) -> str:
    """host:port of a one-host URL, for logs and `kumkm replica status` (never the password)."""
    u = make_url(url)
    host = u.query.get("host") or u.host or "localhost"
    port = u.query.get("port") or u.port or 5432
    return f"{host}:{port}"


def _connect_args(url: str) -> dict[str, Any]:
    """asyncpg.connect() arguments of a URL, as SQLAlchemy's asyncpg dialect makes them (so a
    multi-host DATABASE_URL with target_session_attrs reaches whichever host is the primary)."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    _, args = dialect().create_connect_args(make_url(url))
    return dict(args)


@dataclass
class Replica:
    url: str
    label: str
    in_recovery: bool | None = None
    # Wall-clock time (time.time()) up to which every commit of the primary is visible here.
    fresh_as_of: float | None = None
    error: str | None = None
    _engine: AsyncEngine | None = None
    _stream_engine: AsyncEngine | None = None
    _probe: Any = None  # the monitor's own asyncpg connection

    def lag(self, now: float) -> float | None:
        return None if self.fresh_as_of is None else max(0.0, now - self.fresh_as_of)

    def usable(self, now: float) -> bool:
        lag = self.lag(now)
        return self.in_recovery is True and lag is not None and lag <= settings.replica_max_lag

    def state(self, now: float) -> str:
        if self.error is not None:
            return "down"
        if self.in_recovery is False:
            return "not a standby"
        if self.in_recovery is None:
            return "unknown"
        return "ok" if self.usable(now) else "lagging"

    def engine(self) -> AsyncEngine:
        if self._engine is None:
            # Pinged at checkout: a standby restarted or stopped since leaves dead connections
            # in the pool, and a report would fail on one instead of going to the primary. A
            # report's queries cost far more than the round trip.
            self._engine = db.make_engine(
                self.url,
                pool_size=settings.replica_pool_size,
                application_name="kumkm-replica",
                pre_ping=True,
                connect_timeout=CONNECT_TIMEOUT,
            )
        return self._engine

    def stream_engine(self) -> AsyncEngine:
        if self._stream_engine is None:
            self._stream_engine = db.make_engine(
                self.url,
                pool_size=settings.streams_max * db.STREAM_CONNECTIONS,
                application_name="kumkm-replica-stream",
                pre_ping=True,
                connect_timeout=CONNECT_TIMEOUT,
            )
        return self._stream_engine

    def down(self, exc: BaseException) -> None:
        """Seen failing: skipped until a measurement finds it answering again."""
        self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        self.fresh_as_of = None

    async def close(self) -> None:
        for engine in (self._engine, self._stream_engine):
            if engine is not None:
                await engine.dispose()
        self._engine = self._stream_engine = None
        if self._probe is not None:
            self._probe.terminate()
            self._probe = None


@dataclass
class Monitor:
    """Measures the primary's WAL position and every standby's replay position, in the
    background of each worker process."""

    replicas: list[Replica]
    primary_url: str
    # (time, primary WAL position) of recent measurements, oldest first
    history: deque[tuple[float, int]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    _primary_probe: Any = None
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    async def _probe(self, current: Any, url: str) -> Any:
        if current is None or current.is_closed():
            # each host of a multi-host URL within CHECK_TIMEOUT (db.connect_each_host)
            current = await db.connect_each_host(
                **_connect_args(url), timeout=CHECK_TIMEOUT, server_settings={"application_name": "kumkm-replica-monitor"}
            )
        return current

    async def _primary_position(self) -> int | None:
        try:
            self._primary_probe = await self._probe(self._primary_probe, self.primary_url)
            return int(await self._primary_probe.fetchval(PRIMARY_POSITION, timeout=CHECK_TIMEOUT))
        except Exception as exc:  # down, restarting, or in recovery itself: no proof of freshness
            log.debug("replica monitor: primary position unavailable: %s", exc)
            if self._primary_probe is not None:
                self._primary_probe.terminate()
                self._primary_probe = None
            return None

    async def _measure(self, r: Replica) -> None:
        try:
            r._probe = await self._probe(r._probe, r.url)
            in_recovery, replayed = await r._probe.fetchrow(STANDBY_POSITION, timeout=CHECK_TIMEOUT)
        except Exception as exc:
            if r.error is None:
                log.warning("replica %s is unreachable; reads go to the primary: %s", r.label, exc)
            r.down(exc)
            if r._probe is not None:
                r._probe.terminate()
                r._probe = None
            return
        if r.error is not None:
            log.info("replica %s answers again", r.label)
        r.error = None
        if r.in_recovery is not False and not in_recovery:
            log.warning("replica %s is not in recovery (promoted?); reads there are stopped", r.label)
        r.in_recovery = in_recovery
        replayed = int(replayed)
        caught_up = [t for t, position in self.history if position <= replayed]
        if caught_up:
            r.fresh_as_of = max(caught_up[-1], r.fresh_as_of or 0.0)

    async def check(self) -> None:
        now = time.time()
        position = await self._primary_position()
        if position is not None:
            self.history.append((now, position))
        # Older measurements cannot make any standby usable again; keep what may.
        keep = settings.replica_max_lag + 2 * CHECK_INTERVAL + CHECK_TIMEOUT
        while self.history and self.history[0][0] < now - keep:
            self.history.popleft()
        await asyncio.gather(*(self._measure(r) for r in self.replicas))

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.check()
            except Exception:  # the monitor must outlive any one failed round
                log.exception("replica monitor round failed")
            await asyncio.sleep(max(0.05, CHECK_INTERVAL - (time.monotonic() - started)))

    def choose(self) -> Route:
        """A usable standby, taking turns among them, else the primary."""
        now = time.time()
        usable = [r for r in self.replicas if r.usable(now)]
        if not usable:
            return PRIMARY
        chosen: Replica = usable[next(self._turn) % len(usable)]
        assert chosen.fresh_as_of is not None  # usable() proved it
        return Route(chosen, chosen.fresh_as_of)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        for r in self.replicas:
            await r.close()
        if self._primary_probe is not None:
            self._primary_probe.terminate()
            self._primary_probe = None


_monitor: Monitor | None = None


async def start() -> None:
    """Start measuring the standbys of DATABASE_REPLICA_URL (none: every read is a primary read).
    Called by the app's lifespan, after the primary's URL is resolved."""
    global _monitor
    if _monitor is not None or not settings.database_replica_url:
        return
    replicas = [Replica(url, label_of(url)) for url in split_hosts(settings.database_replica_url)]
    _monitor = Monitor(replicas, db.resolve_url())
    # One measurement before the first request, so a healthy standby serves from the start.
    with contextlib.suppress(Exception):
        await _monitor.check()
    _monitor.task = asyncio.get_running_loop().create_task(_monitor.run())
    log.info(
        "reads of reports may go to %d replica(s): %s (max lag %.1f s)",
        len(replicas),
        ", ".join(r.label for r in replicas),
        settings.replica_max_lag,
    )


async def stop() -> None:
    global _monitor
    if _monitor is not None:
        monitor, _monitor = _monitor, None
        await monitor.stop()


def status() -> list[dict[str, Any]]:
    """Each standby as this process sees it (for logs, tests and operators)."""
    now = time.time()
    if _monitor is None:
        return []
    return [{"replica": r.label, "state": r.state(now), "lag_seconds": r.lag(now), "error": r.error} for r in _monitor.replicas]


# --------------------------------------------------------------------------- freshness

# Set per request by FreshnessHeaders: a mutable record that a routed read fills in. Mutable,
# because the endpoint may run in a copy of the request's context (a task of its own).
_freshness: ContextVar[dict[str, Any] | None] = ContextVar("kumkm_freshness", default=None)


def _record(source: str, as_of: float, now: float) -> None:
    holder = _freshness.get()
    if holder is None:
        return
    lag = max(0.0, now - as_of)
    # Several reads in one request: the answer is as fresh as its stalest read.
    if "as_of" in holder and holder["as_of"] <= as_of:
        return
    holder.update(source=source, as_of=as_of, lag=lag)


def headers_of(holder: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    as_of = dt.datetime.fromtimestamp(holder["as_of"], dt.UTC).isoformat(timespec="milliseconds")
    return [
        (b"x-data-source", holder["source"].encode()),
        (b"x-data-lag-seconds", f"{holder['lag']:.3f}".encode()),
        (b"x-data-as-of", as_of.replace("+00:00", "Z").encode()),
    ]


class FreshnessHeaders:
    """Pure ASGI middleware: responses of routed reads carry X-Data-Source, X-Data-Lag-Seconds
    and X-Data-As-Of (set when the response starts, which for a stream is after its
    connection was chosen)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        holder: dict[str, Any] = {}
        token = _freshness.set(holder)

        async def send_with_freshness(message: Message) -> None:
            if message["type"] == "http.response.start" and holder:
                message = dict(message, headers=[*message.get("headers", []), *headers_of(holder)])
            await send(message)

        try:
            await self.app(scope, receive, send_with_freshness)
        finally:
            _freshness.reset(token)


# Documented on every routed endpoint (OpenAPI `headers` of the 200 response).
FRESHNESS_HEADERS = {
    "X-Data-Source": {
        "description": "`primary`, or `replica` when a hot standby answered",
        "schema": {"type": "string", "enum": ["primary", "replica"]},
    },
    "X-Data-Lag-Seconds": {
        "description": "at most this many seconds of the primary's latest commits may be missing from the answer (0 from the primary)",
        "schema": {"type": "string"},
    },
    "X-Data-As-Of": {
        "description": "every change committed up to this moment (UTC) is in the answer",
        "schema": {"type": "string", "format": "date-time"},
    },
}


# --------------------------------------------------------------------------- routed reads


@dataclass(frozen=True)
class Route:
    """Where one read goes: a standby, with the moment its data was proven fresh as of when it
    was chosen (replay only moves forward, so whatever is read there later holds every commit
    up to that moment), or the primary (replica None)."""

    replica: Replica | None
    as_of: float = 0.0

    def still_fresh(self) -> bool:
        """Still within the limit now that the connection (or the snapshot) is there: getting
        one may take a while under load, and an answer must never say it lags more than
        KUMKM_REPLICA_MAX_LAG_SECONDS."""
        return self.replica is None or time.time() - self.as_of <= settings.replica_max_lag

    def record(self) -> None:
        """Say in the response where its data came from and how fresh it is."""
        now = time.time()
        if self.replica is None:
            _record("primary", now, now)
        else:
            _record("replica", self.as_of, now)


PRIMARY = Route(None)


async def _replica_connection(engine: AsyncEngine, r: Replica) -> AsyncConnection | None:
    """A connection of the replica's pool, or None when the replica refuses (the read then goes
    to the primary, and the replica is skipped until the monitor finds it answering)."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    conn = engine.connect()
    try:
        await conn.start()
    except PoolTimeout:
        raise  # busy, not down: 503 with Retry-After like the primary's pool
    except Exception as exc:
        log.warning("replica %s refused a connection; reading the primary: %s", r.label, exc)
        r.down(exc)
        return None
    return conn


@contextlib.asynccontextmanager
async def connect() -> AsyncIterator[AsyncConnection]:
    """A connection for a report: on a usable standby when there is one, else the primary
    (autocommit, as db.connect). The response says which, and how fresh (FreshnessHeaders)."""
    route = choose()
    if route.replica is not None:
        conn = await _replica_connection(route.replica.engine(), route.replica)
        if conn is not None and not route.still_fresh():
            await conn.close()  # grew too stale while the connection came
            conn = None
        if conn is not None:
            route.record()
            try:
                yield await conn.execution_options(isolation_level="AUTOCOMMIT")
            finally:
                await conn.close()
            return
    async with db.connect() as conn:
        PRIMARY.record()
        yield conn


def choose() -> Route:
    """Where a report reads: a usable standby, else the primary."""
    return _monitor.choose() if _monitor is not None else PRIMARY


def stream_engine(route: Route) -> AsyncEngine:
    """The pool a snapshot stream of this route reads from."""
    return db.get_stream_engine() if route.replica is None else route.replica.stream_engine()


# Before a snapshot's cursor is handed out, the synchronous standby must hold every
# transaction id the snapshot knows of (docs/replicas.md, "The snapshot cursor across a
# failover"): one committed transaction with an id, which waits for the synchronous standby
# like any commit, is that barrier. Without a synchronous standby it is skipped.
SYNC_STANDBYS = "SELECT current_setting('synchronous_standby_names')"
# (a transaction that only takes an id writes no WAL, and PostgreSQL then waits for no standby:
# the barrier writes a transactional logical message, as app.infra.db.REPLAY_BARRIER does)
BARRIER = "SELECT pg_logical_emit_message(true, 'kumkm', 'snapshot barrier')"


async def sync_barrier() -> None:
    async with db.connect() as conn:
        from sqlalchemy import text

        if not (await conn.execute(text(SYNC_STANDBYS))).scalar():
            return
    async with db.transaction() as conn:
        from sqlalchemy import text

        await conn.execute(text(BARRIER))
