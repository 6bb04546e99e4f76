"""The walidata feed and snapshot.

Exactly once, even when transactions commit out of order: every `changes` row carries the id
of the transaction that wrote it (`xid`, a 64-bit xid8). A read takes the horizon
`pg_snapshot_xmin(pg_current_snapshot())`: every transaction with a smaller id has ended
(committed, or aborted and left no rows), and any transaction that writes later is given a
larger id. So the changes below the horizon are a final set that never grows, and paging
through it in (xid, id) order with a (xid, id) cursor delivers each committed change once.
A change of a transaction still in flight is never passed: it waits below no cursor.

A snapshot is one REPEATABLE READ transaction. Its cursor is (snapshot xmin, 0) plus the
snapshot itself: changes of transactions the snapshot saw (committed between its xmin and
xmax and not in flight) are already in it, so the feed skips those, and delivers everything
else, until the position passes the snapshot's xmax.

Both stream in chunks from a raw asyncpg connection, so memory does not grow with the size
of the result."""
from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import orjson

from app.core import db
from app.core.access import Principal, can_see_pii, log_access, roles
from app.core.errors import TOO_MANY
from app.core.record import flat
from app.core.settings import settings
from app.sync import queries
from app.sync.cursor import Cursor, Snapshot

log = logging.getLogger("kumkm.sync")

SYNC_ROLES = roles("sync.pull")
CHUNK = 2000
MAX_LIMIT = 1_000_000
COPY_BLOCK = 256 * 1024
# A stream of at least PARALLEL_MIN rows is cut into ranges of about RANGE_ROWS rows (changes
# in (xid, id) order; snapshot rows by ranges of table pages, ROWS_PER_PAGE lines of about
# 1.2 kB a page), read by two connections at once (one query runs on one core) and sent in
# order. At most PARALLEL ranges are held at a time, so memory stays flat: two ranges of about
# a kilobyte a row (20,000 rows: peak RSS ~155 MB; 100,000 rows measured ~280 MB, too close
# to the 300 MB budget).
# KUMKM_SYNC_PARALLEL=1 turns it off (one connection per stream); only 1 and 2 are meaningful.
PARALLEL = int(os.environ.get("KUMKM_SYNC_PARALLEL", "2"))
PARALLEL_MIN = 100_000
RANGE_ROWS = int(os.environ.get("KUMKM_SYNC_RANGE_ROWS", "20000"))
ROWS_PER_PAGE = 6
HELPER_WAIT = 1.0            # seconds to wait for a second pooled connection, else run alone


@dataclass(frozen=True)
class Scope:
    """What a caller may pull: a wilayah (provinsi or kabkota; None = national), optionally
    one periode, with or without personal data."""
    wilayah: str | None
    periode: str | None
    pii: bool


def scope_of(principal: Principal, periode: str | None) -> Scope:
    # Everything a sync returns lies inside the key's own wilayah, so one decision holds for
    # every row: the same rule as a single read of a record in that wilayah.
    pii = can_see_pii(principal, principal.kode_wilayah or "", None)
    return Scope(principal.kode_wilayah, periode, pii)


# Seconds a client turned away by the stream limits is asked to wait: a feed page or a
# snapshot of a provinsi takes seconds to minutes.
STREAM_RETRY_AFTER = 10


class StreamSlots:
    """Admission of sync streams in this process: at most KUMKM_STREAMS_MAX at once, and
    KUMKM_STREAMS_PER_KEY for one key, so one client (or a handful of stalled ones) cannot hold
    every stream. Beyond either: 429 with Retry-After, at once, before any connection is taken."""

    def __init__(self):
        self.open = 0
        self.by_key: dict[int, int] = {}

    def take(self, key_id: int) -> None:
        if self.by_key.get(key_id, 0) >= settings.streams_per_key:
            raise TOO_MANY(f"this key already has {settings.streams_per_key} sync streams open; "
                          "finish reading one first", headers={"Retry-After": str(STREAM_RETRY_AFTER)})
        if self.open >= settings.streams_max:
            raise TOO_MANY("the service is serving as many sync streams as it allows; try again shortly",
                          headers={"Retry-After": str(STREAM_RETRY_AFTER)})
        self.open += 1
        self.by_key[key_id] = self.by_key.get(key_id, 0) + 1

    def give(self, key_id: int) -> None:
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

    def __init__(self):
        self._sa = None
        self.pg = None
        self._closed = False

    async def open(self) -> RawConnection:
        self._sa = db.get_stream_engine().connect()
        await self._sa.start()
        raw = await self._sa.get_raw_connection()
        self.pg = raw.driver_connection
        return self

    async def close(self, clean: bool) -> None:
        if self._closed or self._sa is None:
            return
        self._closed = True
        if self.pg is None:          # the open itself failed or timed out: nothing to return
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
    cursor: Cursor | None = None
    conn: RawConnection | None = None
    scope: Scope | None = None
    tr: object = None            # the asyncpg transaction the stream reads in
    helpers: list | None = None  # extra connections of a parallel stream
    more: bool | None = None
    slot: bool = False           # holds one of the process's stream slots
    _finished: bool = False

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
            await log_access(self.principal, self.endpoint, detail, self.rows)


# ------------------------------------------------------------------------- change feed

async def open_feed(principal: Principal, after: Cursor, limit: int, periode: str | None,
                    after_text: str | None) -> StreamState:
    scope = scope_of(principal, periode)
    async with _admitted(principal) as conn:
        tr = conn.pg.transaction(readonly=True)
        await tr.start()
        await conn.pg.execute(queries.BEGIN_SYNC)
        horizon = await conn.pg.fetchval(queries.HORIZON)
    state = StreamState("GET /api/v1/sync/changes", principal,
                        {"after": after_text, "limit": limit, "periode": periode,
                         "kode_wilayah": scope.wilayah, "pii": scope.pii, "horizon": horizon},
                        cursor=after, conn=conn, scope=scope, tr=tr, slot=True)
    return state


@asynccontextmanager
async def _admitted(principal: Principal):
    """A stream slot and a connection of the streams' pool for a stream being opened; both
    are given back if opening fails, and otherwise handed to the StreamState."""
    slots.take(principal.id)
    conn = RawConnection()
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
        await task           # raises what COPY raised
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
                q.put_nowait(exc)   # the response raises it when it reaches this job
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
                task.exception()    # retrieved: it was raised above, or the stream was cut


async def open_helper(state: StreamState, snapshot_id: str | None):
    """A second connection for a parallel stream: in the given exported snapshot (REPEATABLE
    READ), or in a read-only READ COMMITTED transaction. None when the pool has none to spare
    soon; the stream then runs on one connection."""
    helper = RawConnection()
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


async def _feed_copy(state: StreamState, limit: int) -> AsyncIterator[bytes]:
    """The common case (no snapshot to skip, personal data visible): PostgreSQL builds every
    line including its cursor; the last line's cursor is where the page ends."""
    pg, scope, pos = state.conn.pg, state.scope, state.cursor
    horizon = state.detail["horizon"]
    n = 0
    last = b""
    lines = helper_tr = None
    if PARALLEL > 1 and limit >= PARALLEL_MIN:
        bounds = await pg.fetch(queries.CHANGE_BOUNDS, str(pos.xid), pos.id, horizon, limit,
                                scope.wilayah, scope.periode, RANGE_ROWS)
        opened = await open_helper(state, None) if len(bounds) * RANGE_ROWS >= PARALLEL_MIN else None
        if opened is not None:
            helper, helper_tr = opened
            jobs, lo = [], (str(pos.xid), pos.id)
            for xid, id_ in bounds:
                jobs.append((queries.CHANGE_RANGE_LINES,
                             (*lo, horizon, limit, scope.wilayah, scope.periode, xid, id_)))
                lo = (xid, id_)
            lines = ordered_copy([pg, helper.pg], jobs)
    if lines is None:
        lines = copy_lines(pg, queries.CHANGE_LINES, str(pos.xid), pos.id, horizon,
                           limit, scope.wilayah, scope.periode)
    async for block in lines:
        n += block.count(b"\n")
        last = block[block.rfind(b"\n", 0, len(block) - 1) + 1:]
        state.rows = n
        yield block
    if n:
        state.cursor = Cursor.decode(orjson.loads(last)["cursor"])
    state.rows = n
    if helper_tr is not None:
        await helper_tr.commit()


async def feed_body(state: StreamState, limit: int) -> AsyncIterator[bytes]:
    """Change lines in (xid, id) order, then the trailing line. Each line carries the cursor
    that resumes right after it."""
    scope, tr = state.scope, state.tr
    pg = state.conn.pg
    horizon = state.detail["horizon"]
    if state.cursor.snapshot is None and scope.pii:
        async for block in _feed_copy(state, limit):
            yield block
        await tr.commit()
        yield await _feed_end(state, limit, state.rows)
        return
    stmt = await pg.prepare(queries.CHANGES)
    pos: Cursor = state.cursor
    delivered = 0
    while delivered < limit:
        snap_text = pos.snapshot.text() if pos.snapshot is not None else None
        # Skipped rows do not count against the limit, so with a snapshot in the cursor a
        # chunk is always full size.
        want = CHUNK if snap_text is not None else min(CHUNK, limit - delivered)
        rows = await stmt.fetch(str(pos.xid), pos.id, horizon, want, snap_text, scope.wilayah,
                                scope.periode)
        out = []
        for xid, id_, skip, change, line in rows:
            pos = pos.after(int(xid), id_)
            if skip:
                continue
            record = flat.record_line(line, scope.pii) if line is not None else "null"
            out.append('{"cursor":"' + pos.encode() + '",' + change + ',"record":' + record + "}\n")
            delivered += 1
            if delivered == limit:
                break
        state.cursor = pos
        state.rows = delivered
        if out:
            yield "".join(out).encode()
        if len(rows) < want:
            break
    await tr.commit()
    yield await _feed_end(state, limit, delivered)


async def _feed_end(state: StreamState, limit: int, delivered: int) -> bytes:
    state.more = delivered == limit
    state.complete = True
    # The access log is written before the trailing line, so a consumer that has the trailer
    # can rely on the request being on record.
    await state.finish()
    return orjson.dumps({"end": True, "cursor": state.cursor.encode(), "count": delivered,
                         "more": state.more}) + b"\n"


# ------------------------------------------------------------------------- snapshot

async def snapshot_cursor(pg) -> tuple[Snapshot, Cursor]:
    """The PostgreSQL snapshot a REPEATABLE READ transaction reads with, and the feed cursor
    that continues from what it sees.

    With nothing in flight (xmin = xmax) the snapshot sees exactly the changes below xmin, so
    the cursor is the position of the last of them: the very cursor a consumer that pulled the
    whole feed up to the same point holds, and the same string as long as nothing is written
    (xmin itself moves with every transaction anywhere, e.g. the access log's, so "(xmin, 0)"
    would change on every call). With transactions in flight the snapshot travels in the
    cursor: the feed then skips what the snapshot already saw (docs/sync.md)."""
    snap = Snapshot.parse(await pg.fetchval(queries.CURRENT_SNAPSHOT))
    if snap.xmax > snap.xmin:
        return snap, Cursor(snap.xmin, 0, snap)
    last = await pg.fetchrow(queries.LAST_CHANGE)
    return snap, (Cursor(int(last[0]), last[1]) if last is not None else Cursor())


async def open_snapshot(principal: Principal, periode: str | None, fmt: str) -> StreamState:
    scope = scope_of(principal, periode)
    async with _admitted(principal) as conn:
        tr = conn.pg.transaction(isolation="repeatable_read", readonly=True)
        await tr.start()
        await conn.pg.execute(queries.BEGIN_SYNC)
        snap, cursor = await snapshot_cursor(conn.pg)
    state = StreamState("GET /api/v1/sync/snapshot", principal,
                        {"periode": periode, "format": fmt, "kode_wilayah": scope.wilayah,
                         "pii": scope.pii, "snapshot": snap.text()},
                        cursor=cursor, conn=conn, scope=scope, tr=tr, slot=True)
    return state


async def snapshot_rows(pg, scope: Scope) -> AsyncIterator[list[str]]:
    """Chunks of stored record lines of the current records, read through a server-side
    cursor inside the caller's transaction."""
    cur = await pg.cursor(queries.SNAPSHOT, scope.periode, scope.wilayah)
    while True:
        rows = await cur.fetch(CHUNK)
        if not rows:
            return
        yield [line for (line,) in rows]


async def _snapshot_copy(state: StreamState) -> AsyncIterator[bytes]:
    """Snapshot lines as stored; a large table is read by two connections sharing the
    stream's snapshot (pg_export_snapshot), range of pages by range of pages, in order."""
    pg, scope = state.conn.pg, state.scope
    pages = await pg.fetchval(queries.SNAPSHOT_PAGES) if PARALLEL > 1 else 0
    opened = None
    if pages * ROWS_PER_PAGE >= PARALLEL_MIN:
        opened = await open_helper(state, await pg.fetchval(queries.EXPORT_SNAPSHOT))
    if opened is None:
        async for block in copy_lines(pg, queries.SNAPSHOT, scope.periode, scope.wilayah):
            yield block
        return
    helper, helper_tr = opened
    step = max(1, RANGE_ROWS // ROWS_PER_PAGE)
    edges = list(range(0, pages, step))
    jobs = [(queries.SNAPSHOT_RANGE_LINES, (scope.periode, scope.wilayah, lo, hi))
            for lo, hi in zip(edges, [*edges[1:], None], strict=True)]
    async for block in ordered_copy([pg, helper.pg], jobs):
        yield block
    await helper_tr.commit()


async def snapshot_body(state: StreamState, fmt: str) -> AsyncIterator[bytes]:
    scope, tr = state.scope, state.tr
    pg = state.conn.pg
    n = 0
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(flat.COLUMNS)
        async for lines in snapshot_rows(pg, scope):
            for line in lines:
                cells = flat.flatten(orjson.loads(flat.record_line(line, scope.pii)))
                writer.writerow([flat.csv_value(cells[c]) for c in flat.COLUMNS])
            n += len(lines)
            state.rows = n
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    elif scope.pii:
        async for block in _snapshot_copy(state):
            n += block.count(b"\n")
            state.rows = n
            yield block
    else:
        async for lines in snapshot_rows(pg, scope):
            text = "\n".join(flat.record_line(line, scope.pii) for line in lines)
            n += len(lines)
            state.rows = n
            yield (text + "\n").encode()
    await tr.commit()
    state.complete = True
    await state.finish()
    if fmt != "csv":
        yield orjson.dumps({"end": True, "cursor": state.cursor.encode(), "count": n}) + b"\n"


async def finish_quietly(state: StreamState) -> None:
    """Called when a response ends however it ended; shielded so that a cancelled request
    still returns its connection and leaves its trace in the access log."""
    try:
        await asyncio.shield(state.finish())
    except Exception:
        log.exception("finishing a sync stream failed")
