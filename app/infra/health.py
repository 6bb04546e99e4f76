"""Whether this process can serve, and what operators hear when the database fails.

- At start the database may not be there yet (a server still booting, a failover, a network
  partition): the service starts anyway, answers 503 with Retry-After on the API and on
  /readyz (with the cause), and a Monitor task tries again with back-off, one log line per
  try, migrating first when this process is the one that migrates. It is ready when the schema
  is at this release's head.
- Later faults are answered by the requests themselves (app.core.errors: 503 or 507); this
  module turns them into one log line when a fault starts, a reminder while it lasts and one
  line when it ends, instead of a line per request, and into gauges on /metrics
  (kumkm_db_up, kumkm_db_disk_full). While the database is marked unavailable the Monitor
  probes it every second, so the gauge and the log say when it is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge

from app.core.errors import Fault, Problem, describe, fault_kind, fault_listeners, problem_response, unavailable
from app.core.settings import settings
from app.infra import citus, db

log = logging.getLogger("kumkm.health")

DB_UP = Gauge(
    "kumkm_db_up",
    "1 while the database answers; 0 from a request that could not reach or use it until a probe reaches it again",
    multiprocess_mode="mostrecent",
)
DISK_FULL = Gauge(
    "kumkm_db_disk_full",
    "1 from a write the database refused for lack of disk space (SQLSTATE 53100) until a write is accepted again",
    multiprocess_mode="mostrecent",
)
DB_RESTARTS = Counter("kumkm_db_restarts_total", "restarts of the embedded PostgreSQL by `kumkm serve` after its postmaster died")

# While a fault lasts, a reminder this often (seconds); a line per request would drown the log.
REMIND_SECONDS = 10.0
DISK_REMIND_SECONDS = 60.0
# Start-up tries of the process that migrates: 0.5 s, 1, 2, 4, then every 5 s (a log line
# each). A process that waits for another to migrate looks every second, quietly.
FIRST_DELAY = 0.5
MAX_DELAY = 5.0
WAIT_SECONDS = 1.0
PROBE_SECONDS = 1.0
# With a multi-host DATABASE_URL that asks for the primary: how often to check we are on it.
PRIMARY_CHECK_SECONDS = 2.0


@dataclass
class _State:
    ready: bool = False  # the schema was found at head since this process started
    cause: str | None = "not checked yet"
    down_since: float | None = None  # monotonic time of the first request that found it away
    refused: int = 0  # requests answered 503 since then
    reminded: float = 0.0
    disk_full_since: float | None = None
    disk_reminded: float = 0.0
    data_directory: str | None = None


state = _State()
_wake: asyncio.Event | None = None


def _now() -> float:
    return time.monotonic()


def note_unavailable(exc: BaseException) -> None:
    """A request found the database away, busy or read-only and was answered 503."""
    now = _now()
    state.refused += 1
    if state.down_since is None:
        state.down_since = state.reminded = now
        state.refused = 1
        DB_UP.set(0)
        log.warning("database unavailable (%s): answering 503 with Retry-After until it is back", describe(exc))
        if _wake is not None:
            _wake.set()
    elif now - state.reminded >= REMIND_SECONDS:
        state.reminded = now
        log.warning(
            "database still unavailable after %.0f s, %d requests answered 503 so far (%s)",
            now - state.down_since,
            state.refused,
            describe(exc),
        )


_busy_said = 0.0


def note_busy(exc: BaseException) -> None:
    """Every pooled connection was in use for KUMKM_DB_POOL_TIMEOUT, or the server is out of
    connections or memory: answered 503. A line at most every 10 s."""
    global _busy_said
    now = _now()
    if now - _busy_said >= REMIND_SECONDS:
        _busy_said = now
        log.warning("database busy (%s): answering 503 with Retry-After", describe(exc))


def note_available() -> None:
    if state.down_since is not None:
        log.warning(
            "database available again after %.1f s; %d requests were answered 503 meanwhile", _now() - state.down_since, state.refused
        )
        state.down_since = None
        state.refused = 0
    DB_UP.set(1)


def note_disk_full(exc: BaseException) -> None:
    """A write was refused for lack of disk space (answered 507). Loud: an ERROR line naming
    the data directory, again every minute while it lasts, and kumkm_db_disk_full = 1."""
    now = _now()
    if state.disk_full_since is None:
        state.disk_full_since = state.disk_reminded = now
        DISK_FULL.set(1)
    elif now - state.disk_reminded < DISK_REMIND_SECONDS:
        return
    state.disk_reminded = now
    lasted = now - state.disk_full_since
    log.error(
        "DISK FULL: the database server refuses writes for lack of disk space in its data "
        "directory %s (%s)%s; writes are answered 507 and resume by themselves once space is "
        "freed there",
        data_directory(),
        describe(exc),
        f", for {lasted:.0f} s now" if lasted else "",
    )


def _on_fault(kind: str | None, exc: BaseException, problem: Problem) -> None:
    """A database fault met while answering a request (app.core.errors)."""
    if kind == Fault.DISK_FULL:
        note_disk_full(exc)
    elif kind == Fault.BUSY:
        note_busy(exc)  # the database is there: not "down", and no probing
    elif problem.status == 503:
        note_unavailable(exc)


fault_listeners.append(_on_fault)


def note_write_accepted() -> None:
    """A write succeeded (app.observability calls this only while disk_full_since is set)."""
    if state.disk_full_since is not None:
        log.warning("database accepts writes again after %.0f s of a full disk", _now() - state.disk_full_since)
        state.disk_full_since = None
        DISK_FULL.set(0)


def data_directory() -> str:
    if state.data_directory:
        return state.data_directory
    if not settings.database_url:
        return str((settings.data_dir / "pgdata").resolve())
    return "of the server in DATABASE_URL"


class NotReady(Exception):
    """The database answers but the schema is not at this release's head."""


class Monitor:
    """One per process (app.main's lifespan). `migrate`: this process brings the schema to head
    itself (a lone uvicorn process); under `kumkm serve` the parent migrates and the workers
    wait for the head. `then` runs once the database is ready (load caches)."""

    def __init__(self, *, migrate: bool, then: Callable[[], Awaitable[Any]] | None = None):
        self.migrate = migrate
        self.then = then
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Try once now (a healthy start is ready before the first request); if the database
        is not there, keep trying in the background and serve 503 meanwhile."""
        global _wake
        _wake = asyncio.Event()
        state.ready = False
        first_error = await self._attempt()
        if first_error is not None:
            self._say_not_ready(first_error, 1, FIRST_DELAY if self.migrate else WAIT_SECONDS)
        self._task = asyncio.get_running_loop().create_task(self._run(first_error is None), name="kumkm-db-monitor")

    async def stop(self) -> None:
        global _wake
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        _wake = None

    async def _attempt(self) -> BaseException | None:
        try:
            if self.migrate:
                await asyncio.to_thread(db.migrate)
            current = await _schema_revision()
            if current != db.head_revision():
                raise NotReady(f"migrations pending: the schema is at {current}, this release needs {db.head_revision()}")
            try:
                await citus.detect()
            except citus.NotDistributed as exc:
                raise NotReady(str(exc)) from None
            if self.then is not None:
                await self.then()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            state.cause = str(exc) if isinstance(exc, NotReady) else describe(exc)
            if not isinstance(exc, NotReady):
                if fault_kind(exc) is None:
                    log.exception("database check at start failed")
                DB_UP.set(0)
            return exc
        state.ready = True
        state.cause = None
        note_available()
        return None

    def _say_not_ready(self, exc: BaseException, attempt: int, delay: float) -> None:
        # The process that migrates logs every try; waiting workers only their first (the
        # parent's lines say the rest), so the log stays one line per retry.
        if self.migrate or attempt == 1:
            log.warning("database not ready (%s): answering 503 meanwhile; try %d again in %.1f s", state.cause, attempt, delay)

    async def _run(self, ready: bool) -> None:
        delay = FIRST_DELAY if self.migrate else WAIT_SECONDS
        attempt = 1
        while not ready:
            await asyncio.sleep(delay)
            attempt += 1
            if self.migrate:
                delay = min(delay * 2, MAX_DELAY)
            error = await self._attempt()
            if error is None:
                log.warning("database ready after %d tries: schema at %s", attempt, db.head_revision())
                ready = True
            else:
                self._say_not_ready(error, attempt, delay)
        state.data_directory = state.data_directory or await _server_data_directory()
        await self._watch()

    async def _watch(self) -> None:
        assert _wake is not None
        follow = db.follows_primary()
        while True:
            if follow:
                try:
                    await asyncio.wait_for(_wake.wait(), PRIMARY_CHECK_SECONDS)
                except TimeoutError:
                    await _check_primary()
                    continue
            else:
                await _wake.wait()
            _wake.clear()
            while state.down_since is not None:
                await asyncio.sleep(PROBE_SECONDS)
                try:
                    await _schema_revision()
                except asyncio.CancelledError:
                    raise
                except Exception:  # still away; the requests say so themselves
                    continue
                note_available()


async def _check_primary() -> None:
    """A failover that demotes the old primary without closing its connections (it turns
    read-only, or becomes a standby) shows to writes only: a process that only reads would go
    on reading from it. So every few seconds: is the server we are connected to still the
    primary? If not, the pools drop their connections and the next ones go to the new one."""
    from sqlalchemy import text

    try:
        async with db.connect() as conn:
            demoted = (await conn.execute(text("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"))).scalar()
    except asyncio.CancelledError:
        raise
    except Exception:  # away: the requests find out and say so
        return
    if demoted:
        log.warning(
            "the database server this process is connected to no longer takes writes "
            "(a failover?): reconnecting to the primary of DATABASE_URL"
        )
        db.drop_connections(db.engine_key(db.get_engine()))


async def _schema_revision() -> str | None:
    return await db.schema_revision()


async def _server_data_directory() -> str | None:
    """The server's data directory, for the disk-full line (readable by superusers and
    members of pg_read_all_settings; otherwise the line says where the server is)."""
    from sqlalchemy import text

    try:
        async with db.connect() as conn:
            return (await conn.execute(text("SELECT current_setting('data_directory')"))).scalar()
    except Exception:
        return None


class ReadyGate:
    """Until the database was found ready at start, API requests are answered 503 with
    Retry-After here, before any of them reaches a schema that may not exist yet."""

    def __init__(self, app: Any, prefix: str = "/api/"):
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if state.ready or scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        response = problem_response(unavailable("basis data belum siap; coba lagi sebentar lagi"))
        await response(scope, receive, send)
