"""The plumbing every walidata stream shares: admission (stream slots per process and per
key), a raw asyncpg connection of the streams' pool, COPY output in blocks of whole lines,
parallel COPY in order, and the end of a stream (connections back, access log written).

The one place in sync, submissions and verification where a service takes its connections
itself rather than from its route's unit of work (app.infra.db.UnitOfWork): a stream outlives
its route. The route returns the response before the first row is read, and the stream's
REPEATABLE READ (or read-only feed) transaction must stay open on one connection of the
streams' own pool (db.get_stream_engine, or a standby's: app.infra.replicas) for the stream's
whole life, and its access-log entry is written after the response has started."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from app.core.errors import TOO_MANY, describe, fault_kind
from app.core.settings import settings
from app.infra import db
from app.security.accesslog import log_access
from app.security.principal import Principal
from app.sync import queries
from app.sync.cursor import ClusterCursor, Cursor
from app.sync.service.limits import COPY_BLOCK, HELPER_WAIT
from app.sync.service.scope import Scope

log = logging.getLogger("kumkm.sync")

# Seconds a client turned away by the stream limits is asked to wait: a feed page or a
# snapshot of a provinsi takes seconds to minutes.
STREAM_RETRY_AFTER = 10


class StreamSlots:
    """Admission of sync streams in this process: at most KUMKM_STREAMS_MAX at once, and
    KUMKM_STREAMS_PER_KEY for one key, so one client (or a handful of stalled ones) cannot hold
    every stream. Beyond either: 429 with Retry-After, at once, before any connection is taken."""

    def __init__(self):
        self.open = 0
        self.by_key: dict[int | None, int] = {}

    def take(self, key_id: int | None) -> None:
        if self.by_key.get(key_id, 0) >= settings.streams_per_key:
            raise TOO_MANY(
                f"kunci ini sudah membuka {settings.streams_per_key} aliran sync; selesaikan membaca salah satunya dulu",
                headers={"Retry-After": str(STREAM_RETRY_AFTER)},
            )
        if self.open >= settings.streams_max:
            raise TOO_MANY(
                "layanan sedang melayani aliran sync sebanyak yang diizinkan; coba lagi sebentar lagi",
                headers={"Retry-After": str(STREAM_RETRY_AFTER)},
            )
        self.open += 1
        self.by_key[key_id] = self.by_key.get(key_id, 0) + 1

    def give(self, key_id: int | None) -> None:
        self.open -= 1
        left = self.by_key.get(key_id, 1) - 1
        if left:
            self.by_key[key_id] = left
        else:
            self.by_key.pop(key_id, None)


slots = StreamSlots()


class RawConnection:
    """A raw asyncpg connection borrowed from the streams' own pool (db.get_stream_engine).
    It goes back to the pool only when the stream ended cleanly; a stream cut short (client
    gone or stalled, error) may have left a query or a transaction open, so that connection is
    discarded."""

    def __init__(self, engine=None):
        # the streams' pool of the primary, or of the standby a snapshot reads (app.infra.replicas)
        self._engine = engine
        self._sa = None
        self.pg = None
        self._closed = False

    async def open(self) -> RawConnection:
        self._sa = (self._engine or db.get_stream_engine()).connect()
        await self._sa.start()
        raw = await self._sa.get_raw_connection()
        self.pg = raw.driver_connection
        return self

    async def close(self, clean: bool) -> None:
        if self._closed or self._sa is None:
            return
        self._closed = True
        if self.pg is None:  # the open itself failed or timed out: nothing to return
            try:
                await self._sa.close()
            except Exception:
                log.exception("closing a sync connection that never opened failed")
            return
        try:
            if not clean or self.pg.is_in_transaction():
                # A cancelled fetch may still be running on it: cut it off at once rather
                # than wait for a graceful close that could hang.
                self.pg.terminate()
                await self._sa.invalidate()
            await self._sa.close()
        except Exception:  # closing must never mask what happened to the stream
            log.exception("closing a sync connection failed")


@dataclass
class StreamState:
    """What a stream did, for its trailing line and the access log."""

    endpoint: str
    principal: Principal
    detail: dict
    rows: int = 0
    complete: bool = False
    cursor: Cursor | ClusterCursor | None = None
    conn: RawConnection | None = None
    scope: Scope | None = None
    tr: Any = None  # the asyncpg transaction the stream reads in
    helpers: list | None = None  # extra connections of a parallel stream
    more: bool | None = None
    slot: bool = False  # holds one of the process's stream slots
    engine: object = None  # the pool of conn (a standby's for a snapshot read there)
    source: Any = None  # what the stream reads (app.sync.service.sources.Source)
    _finished: bool = False

    @property
    def pg(self) -> Any:
        """The raw asyncpg connection of the stream, while it is open."""
        assert self.conn is not None
        return self.conn.pg

    async def finish(self) -> None:
        """Return the connection and the stream slot and write the access log, once,
        whatever happened."""
        if self._finished:
            return
        self._finished = True
        if self.slot:
            self.slot = False
            slots.give(self.principal.id)
        try:
            helpers, self.helpers = self.helpers or [], None
            for helper in helpers:
                await helper.close(clean=self.complete)
            if self.conn is not None:
                conn, self.conn = self.conn, None
                await conn.close(clean=self.complete)
        finally:
            detail = dict(self.detail, complete=self.complete)
            if self.more is not None:
                detail["more"] = self.more
            if self.cursor is not None:
                detail["cursor"] = self.cursor.encode()
            # Through the streams' own pool (on the primary), never the request pool: this runs
            # after the response has started, and a request pool exhausted by an overload must
            # not cut a finished stream (the slot just given back guarantees a connection here).
            async with db.get_stream_engine().begin() as c:
                await log_access(self.principal, self.endpoint, detail, self.rows, conn=c)


@asynccontextmanager
async def admitted(principal: Principal, engine=None):
    """A stream slot and a connection of the streams' pool (the primary's, or `engine`) for a
    stream being opened; both are given back if opening fails, and otherwise handed to the
    StreamState."""
    slots.take(principal.id)
    conn = RawConnection(engine)
    try:
        await conn.open()
        yield conn
    except BaseException:
        slots.give(principal.id)
        await conn.close(clean=False)
        raise


class LineBlocks:
    """COPY hands over a row or a few at a time; this gathers them into blocks of whole lines
    of about COPY_BLOCK bytes, as built (queries.unescape)."""

    def __init__(self):
        self.buf = bytearray()

    def add(self, data: bytes) -> bytes | None:
        buf = self.buf
        buf.extend(data)
        if len(buf) >= COPY_BLOCK:
            cut = buf.rfind(b"\n") + 1
            if cut:
                block = queries.unescape(bytes(buf[:cut]))
                del buf[:cut]
                return block
        return None

    def rest(self) -> bytes | None:
        """What is left at the end of COPY (every row ends with a newline)."""
        if not self.buf:
            return None
        block, self.buf = bytes(self.buf), bytearray()
        return queries.unescape(block if block.endswith(b"\n") else block + b"\n")


async def copy_lines(pg, query: str, *args) -> AsyncIterator[bytes]:
    """The output of COPY (query) in blocks of whole lines. A small queue between COPY and the
    response keeps memory flat: COPY waits while the client is slow."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=4)
    done = object()
    blocks = LineBlocks()

    async def sink(data: bytes) -> None:
        block = blocks.add(data)
        if block:
            await queue.put(block)

    async def run():
        try:
            await pg.copy_from_query(query, *args, output=sink, **queries.COPY_OPTIONS)
            if block := blocks.rest():
                await queue.put(block)
        finally:
            await queue.put(done)

    task = asyncio.get_running_loop().create_task(run())
    try:
        while True:
            block = await queue.get()
            if block is done:
                break
            yield block
        await task  # raises what COPY raised
    finally:
        if not task.done():
            task.cancel()


async def ordered_copy(pgs: list, jobs: list[tuple[str, tuple]]) -> AsyncIterator[bytes]:
    """The output of COPY (query) for every (query, args) job, in job order, in blocks of whole
    lines. Connection k runs jobs k, k+n, ... one after the other; a job starts only once the
    response has reached the job n-1 places before it, so at most n jobs' output is held."""
    n = len(pgs)
    done = object()
    queues = [asyncio.Queue() for _ in jobs]
    may_start = [asyncio.Event() for _ in jobs]

    async def worker(k: int) -> None:
        for j in range(k, len(jobs), n):
            await may_start[j].wait()
            query, args = jobs[j]
            q = queues[j]
            blocks = LineBlocks()

            async def sink(data: bytes, blocks=blocks, q=q) -> None:
                block = blocks.add(data)
                if block:
                    q.put_nowait(block)

            try:
                await pgs[k].copy_from_query(query, *args, output=sink, **queries.COPY_OPTIONS)
            except BaseException as exc:
                q.put_nowait(exc)  # the response raises it when it reaches this job
                raise
            if block := blocks.rest():
                q.put_nowait(block)
            q.put_nowait(done)

    loop = asyncio.get_running_loop()
    for j in range(min(n, len(jobs))):
        may_start[j].set()
    tasks = [loop.create_task(worker(k)) for k in range(min(n, len(jobs)))]
    try:
        for j, q in enumerate(queues):
            if j + n - 1 < len(jobs):
                may_start[j + n - 1].set()
            while True:
                block = await q.get()
                if block is done:
                    break
                if isinstance(block, BaseException):
                    raise block
                yield block
        for task in tasks:
            await task
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: it was raised above, or the stream was cut


async def open_helper(state: StreamState, snapshot_id: str | None):
    """A second connection for a parallel stream: in the given exported snapshot (REPEATABLE
    READ), or in a read-only READ COMMITTED transaction. None when the pool has none to spare
    soon; the stream then runs on one connection."""
    # on the stream's own server: an exported snapshot exists only there
    helper = RawConnection(state.engine)
    try:
        await asyncio.wait_for(helper.open(), HELPER_WAIT)
    except (TimeoutError, Exception):
        await helper.close(clean=False)
        log.warning("no second connection for a parallel sync stream; running on one")
        return None
    state.helpers = (state.helpers or []) + [helper]
    if snapshot_id is None:
        tr = helper.pg.transaction(readonly=True)
        await tr.start()
    else:
        tr = helper.pg.transaction(isolation="repeatable_read", readonly=True)
        await tr.start()
        await helper.pg.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
    await helper.pg.execute(queries.BEGIN_SYNC)
    return helper, tr


async def finish_quietly(state: StreamState) -> None:
    """Called when a response ends however it ended; shielded so that a cancelled request
    still returns its connection and leaves its trace in the access log."""
    try:
        await asyncio.shield(state.finish())
    except Exception as exc:
        if fault_kind(exc) is None:
            log.exception("finishing a sync stream failed")
        else:  # the database is away: its access-log line is lost with it, and health says so
            log.warning("finishing a sync stream: its access-log line was not written (%s)", describe(exc))
