"""The snapshot: every current record (or entity) in scope, from one REPEATABLE READ transaction."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator

import orjson

from app.core.errors import Problem
from app.infra import replicas
from app.record import flat
from app.security.principal import Principal
from app.sync import queries
from app.sync.cursor import ClusterCursor, Cursor, Snapshot
from app.sync.service import limits
from app.sync.service.scope import Scope, scope_of
from app.sync.service.sources import RECORDS, Source
from app.sync.service.streams import StreamState, admitted, copy_lines, open_helper, ordered_copy

log = logging.getLogger("kumkm.sync")

# ------------------------------------------------------------------------- snapshot


async def snapshot_cursor(pg, scope: Scope, cursor: type[Cursor] = Cursor) -> tuple[str | dict[str, str], Cursor | ClusterCursor]:
    """The PostgreSQL snapshot a REPEATABLE READ transaction reads with (its text), and the
    feed cursor that continues from what it sees: the snapshot's xmin, with the snapshot itself
    while transactions were in flight (the feed then skips what the snapshot already saw,
    docs/sync.md).

    Not "the last change the snapshot saw": that cursor (stable while nothing is written) was
    tried and lost exactly-once under concurrent writers and a failover
    (tests/test_failover.py delivered records of the snapshot again), so the cursor keeps the
    proven form and may differ between two exports of an unchanged registry.

    A national snapshot of a Citus cluster: the snapshot of every worker, by provinsi (a dict
    of their texts), each taken by the worker transaction this one keeps on that worker for
    its whole length (one connection per worker), and the cursor with each provinsi's
    position from its worker's snapshot (ClusterCursor). Each provinsi's part is consistent
    and continues that provinsi's feed exactly; the parts are not one instant of the nation
    (a batch spanning two workers may be in one part and still to come in the feed of the
    other), which exactly once per provinsi does not need.

    `cursor`: the position type of the feed the snapshot continues (the entity feed's
    EntitasCursor; transaction ids are the same for every table of one server)."""
    if scope.national_on_cluster:
        await pg.execute(queries.ONE_CONNECTION_PER_WORKER)
        snaps = {p: Snapshot.parse(text) for p, text in await pg.fetch(queries.SNAPSHOTS_CITUS)}
        return ({p: snap.text() for p, snap in snaps.items()}, ClusterCursor.of({p: _start(snap) for p, snap in snaps.items()}))
    # on Citus: the snapshot of the provinsi's worker, the first statement of this transaction
    # there, so every later read of the stream on that worker reads with it
    snap = Snapshot.parse(
        await pg.fetchval(queries.CURRENT_SNAPSHOT)
        if scope.provinsi is None
        else await pg.fetchval(queries.CURRENT_SNAPSHOT_CITUS, scope.provinsi)
    )
    return snap.text(), _start(snap, cursor)


def _start(snap: Snapshot, cursor: type[Cursor] = Cursor) -> Cursor:
    return cursor(snap.xmin, 0, snap if snap.xmax > snap.xmin else None)


async def open_snapshot(principal: Principal, periode: str | None, fmt: str, source: Source = RECORDS) -> StreamState:
    """A snapshot reads a usable standby when there is one (app.infra.replicas): a standby's
    pg_snapshot is a snapshot of the primary's transaction ids (physical replication keeps
    them), so its cursor continues the feed on the primary exactly as one taken there."""
    scope = scope_of(principal, periode, cluster=source.cluster)
    route = replicas.choose()
    state: StreamState | None = None
    try:
        state = await _open_snapshot(principal, periode, fmt, scope, replicas.stream_engine(route), source)
    except Problem:
        raise  # turned away (stream limits): not the standby's fault
    except Exception:
        if route.replica is None:
            raise
        route.replica.down(RuntimeError("a snapshot could not start there"))
    if state is None or not route.still_fresh():
        # the standby failed, or grew too stale, while the snapshot started: the primary serves it
        if state is not None:
            await state.finish()
        route = replicas.PRIMARY
        state = await _open_snapshot(principal, periode, fmt, scope, replicas.stream_engine(route), source)
    try:
        # Before the cursor leaves: a synchronous standby that may be promoted must know every
        # transaction id this snapshot knows (docs/replicas.md).
        await replicas.sync_barrier()
    except BaseException:
        await state.finish()
        raise
    route.record()
    return state


async def _open_snapshot(
    principal: Principal, periode: str | None, fmt: str, scope: Scope, engine, source: Source = RECORDS
) -> StreamState:
    async with admitted(principal, engine) as conn:
        tr = conn.pg.transaction(isolation="repeatable_read", readonly=True)
        await tr.start()
        await conn.pg.execute(queries.BEGIN_SYNC)
        snap, cursor = await snapshot_cursor(conn.pg, scope, source.cursor)
    state = StreamState(
        source.snapshot_endpoint,
        principal,
        {"periode": periode, "format": fmt, "kode_wilayah": scope.wilayah, "pii": scope.pii, "snapshot": snap},
        cursor=cursor,
        conn=conn,
        scope=scope,
        tr=tr,
        slot=True,
        engine=engine,
        source=source,
    )
    return state


async def snapshot_rows(pg, scope: Scope, snapshot: str | dict[str, str]) -> AsyncIterator[list[str]]:
    """Chunks of stored record lines of the current records, read through a server-side
    cursor inside the caller's transaction (`snapshot`: what snapshot_cursor gave)."""
    if scope.national_on_cluster:
        assert isinstance(snapshot, dict)
        for provinsi, snap in sorted(snapshot.items()):
            async for rows in _chunks(pg, queries.SNAPSHOT_PART_CITUS, scope.periode, scope.wilayah, provinsi, snap):
                yield rows
    elif scope.provinsi is None:
        async for rows in _chunks(pg, queries.SNAPSHOT, scope.periode, scope.wilayah):
            yield rows
    else:
        async for rows in _chunks(pg, queries.SNAPSHOT_CITUS, scope.periode, scope.wilayah, scope.provinsi):
            yield rows


async def _chunks(pg, query: str, *args) -> AsyncIterator[list[str]]:
    cur = await pg.cursor(query, *args)
    while True:
        rows = await cur.fetch(limits.CHUNK)
        if not rows:
            return
        yield [line for (line,) in rows]


async def _snapshot_copy(state: StreamState) -> AsyncIterator[bytes]:
    """Snapshot lines as stored; a large table is read by two connections sharing the
    stream's snapshot (pg_export_snapshot), range of pages by range of pages, in order."""
    pg, scope, source = state.pg, state.scope, state.source
    assert scope is not None  # a snapshot's state has one
    if not source.snapshot_pages:
        # a table of its own (the entities): one connection, one read in this transaction
        async for block in copy_lines(pg, source.snapshot, scope.periode, scope.wilayah):
            yield block
        return
    if scope.national_on_cluster:
        # on Citus, national: provinsi after provinsi, each read on its worker in the stream's
        # transaction there, whose snapshot the cursor names for it (checked by the statement)
        for provinsi, snap in sorted(state.detail["snapshot"].items()):
            async for block in copy_lines(pg, queries.SNAPSHOT_PART_CITUS, scope.periode, scope.wilayah, provinsi, snap):
                yield block
        return
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
    jobs = [
        (queries.SNAPSHOT_RANGE_LINES, (scope.periode, scope.wilayah, lo, hi)) for lo, hi in zip(edges, [*edges[1:], None], strict=True)
    ]
    async for block in ordered_copy([pg, helper.pg], jobs):
        yield block
    await helper_tr.commit()


async def snapshot_body(state: StreamState, fmt: str) -> AsyncIterator[bytes]:
    scope, tr, cursor = state.scope, state.tr, state.cursor
    assert scope is not None and cursor is not None  # a snapshot's state has both
    pg = state.pg
    n = 0
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(flat.COLUMNS)
        async for lines in snapshot_rows(pg, scope, state.detail["snapshot"]):
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
            yield block if scope.pii else state.source.mask_snapshot(block)
    await tr.commit()
    state.complete = True
    await state.finish()
    if fmt != "csv":
        yield orjson.dumps({"end": True, "cursor": cursor.encode(), "count": n}) + b"\n"
