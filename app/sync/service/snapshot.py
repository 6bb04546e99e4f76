"""The snapshot: every current record in scope, from one REPEATABLE READ transaction."""
from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator

import orjson

from app.core import replicas
from app.core.access import Principal
from app.core.errors import Problem
from app.core.record import flat
from app.sync import queries
from app.sync.cursor import Cursor, Snapshot
from app.sync.service import limits
from app.sync.service.scope import Scope, scope_of
from app.sync.service.streams import StreamState, admitted, copy_lines, open_helper, ordered_copy

log = logging.getLogger("kumkm.sync")

# ------------------------------------------------------------------------- snapshot

async def snapshot_cursor(pg, provinsi: str | None = None) -> tuple[Snapshot, Cursor]:
    """The PostgreSQL snapshot a REPEATABLE READ transaction reads with, and the feed cursor
    that continues from what it sees: the snapshot's xmin, with the snapshot itself while
    transactions were in flight (the feed then skips what the snapshot already saw,
    docs/sync.md).

    Not "the last change the snapshot saw": that cursor (stable while nothing is written) was
    tried and lost exactly-once under concurrent writers and a failover
    (tests/test_failover.py delivered records of the snapshot again), so the cursor keeps the
    proven form and may differ between two exports of an unchanged registry."""
    # on Citus: the snapshot of the provinsi's worker, the first statement of this transaction
    # there, so every later read of the stream on that worker reads with it
    snap = Snapshot.parse(await pg.fetchval(queries.CURRENT_SNAPSHOT) if provinsi is None
                          else await pg.fetchval(queries.CURRENT_SNAPSHOT_CITUS, provinsi))
    return snap, Cursor(snap.xmin, 0, snap if snap.xmax > snap.xmin else None)


async def open_snapshot(principal: Principal, periode: str | None, fmt: str) -> StreamState:
    """A snapshot reads a usable standby when there is one (app.core.replicas): a standby's
    pg_snapshot is a snapshot of the primary's transaction ids (physical replication keeps
    them), so its cursor continues the feed on the primary exactly as one taken there."""
    scope = scope_of(principal, periode, "snapshot")   # refused before a stream slot is taken
    route = replicas.choose()
    state: StreamState | None = None
    try:
        state = await _open_snapshot(principal, periode, fmt, scope, replicas.stream_engine(route))
    except Problem:
        raise                           # turned away (stream limits): not the standby's fault
    except Exception:
        if route.replica is None:
            raise
        route.replica.down(RuntimeError("a snapshot could not start there"))
    if state is None or not route.still_fresh():
        # the standby failed, or grew too stale, while the snapshot started: the primary serves it
        if state is not None:
            await state.finish()
        route = replicas.PRIMARY
        state = await _open_snapshot(principal, periode, fmt, scope, replicas.stream_engine(route))
    try:
        # Before the cursor leaves: a synchronous standby that may be promoted must know every
        # transaction id this snapshot knows (docs/replicas.md).
        await replicas.sync_barrier()
    except BaseException:
        await state.finish()
        raise
    route.record()
    return state


async def _open_snapshot(principal: Principal, periode: str | None, fmt: str, scope: Scope,
                         engine) -> StreamState:
    async with admitted(principal, engine) as conn:
        tr = conn.pg.transaction(isolation="repeatable_read", readonly=True)
        await tr.start()
        await conn.pg.execute(queries.BEGIN_SYNC)
        snap, cursor = await snapshot_cursor(conn.pg, scope.provinsi)
    state = StreamState("GET /api/v1/sync/snapshot", principal,
                        {"periode": periode, "format": fmt, "kode_wilayah": scope.wilayah,
                         "pii": scope.pii, "snapshot": snap.text()},
                        cursor=cursor, conn=conn, scope=scope, tr=tr, slot=True, engine=engine)
    return state


async def snapshot_rows(pg, scope: Scope) -> AsyncIterator[list[str]]:
    """Chunks of stored record lines of the current records, read through a server-side
    cursor inside the caller's transaction."""
    cur = await (pg.cursor(queries.SNAPSHOT, scope.periode, scope.wilayah) if scope.provinsi is None
                 else pg.cursor(queries.SNAPSHOT_CITUS, scope.periode, scope.wilayah, scope.provinsi))
    while True:
        rows = await cur.fetch(limits.CHUNK)
        if not rows:
            return
        yield [line for (line,) in rows]


async def _snapshot_copy(state: StreamState) -> AsyncIterator[bytes]:
    """Snapshot lines as stored; a large table is read by two connections sharing the
    stream's snapshot (pg_export_snapshot), range of pages by range of pages, in order."""
    pg, scope = state.conn.pg, state.scope
    assert scope is not None                           # a snapshot's state has one
    if scope.provinsi is not None:
        # on Citus: one routed read on the provinsi's worker, in the stream's own transaction
        # (the pages and ctids of the coordinator's empty table say nothing of the shards)
        async for block in copy_lines(pg, queries.SNAPSHOT_CITUS, scope.periode, scope.wilayah, scope.provinsi):
            yield block
        return
    pages = await pg.fetchval(queries.SNAPSHOT_PAGES) if limits.PARALLEL > 1 else 0
    opened = None
    if pages * limits.ROWS_PER_PAGE >= limits.PARALLEL_MIN:
        opened = await open_helper(state, await pg.fetchval(queries.EXPORT_SNAPSHOT))
    if opened is None:
        async for block in copy_lines(pg, queries.SNAPSHOT, scope.periode, scope.wilayah):
            yield block
        return
    helper, helper_tr = opened
    step = max(1, limits.RANGE_ROWS // limits.ROWS_PER_PAGE)
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
    else:
        async for block in _snapshot_copy(state):
            n += block.count(b"\n")
            state.rows = n
            yield block if scope.pii else flat.mask_lines(block, nested=False)
    await tr.commit()
    state.complete = True
    await state.finish()
    if fmt != "csv":
        yield orjson.dumps({"end": True, "cursor": state.cursor.encode(), "count": n}) + b"\n"


