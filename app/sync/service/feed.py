"""The change feed: a page of changes after a cursor, below the horizon."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import orjson

from app.core.access import Principal
from app.core.record import flat
from app.sync import queries
from app.sync.cursor import Cursor
from app.sync.service import limits
from app.sync.service.scope import scope_of
from app.sync.service.streams import StreamState, admitted, copy_lines, open_helper, ordered_copy

log = logging.getLogger("kumkm.sync")

# ------------------------------------------------------------------------- change feed

async def open_feed(principal: Principal, after: Cursor, limit: int, periode: str | None,
                    after_text: str | None) -> StreamState:
    scope = scope_of(principal, periode, "feed perubahan")
    async with admitted(principal) as conn:
        tr = conn.pg.transaction(readonly=True)
        await tr.start()
        await conn.pg.execute(queries.BEGIN_SYNC)
        if scope.provinsi is None:
            horizon = await conn.pg.fetchval(queries.HORIZON)
        else:
            # on Citus: the horizon of the worker that holds the provinsi (queries.HORIZON_CITUS)
            horizon = await conn.pg.fetchval(queries.HORIZON_CITUS, scope.provinsi)
    state = StreamState("GET /api/v1/sync/changes", principal,
                        {"after": after_text, "limit": limit, "periode": periode,
                         "kode_wilayah": scope.wilayah, "pii": scope.pii, "horizon": horizon},
                        cursor=after, conn=conn, scope=scope, tr=tr, slot=True)
    return state


async def _feed_copy(state: StreamState, limit: int) -> AsyncIterator[bytes]:
    """The common case (no snapshot to skip): PostgreSQL builds every line including its
    cursor; the last line's cursor is where the page ends. Lines as stored, personal data
    included: the caller masks them for a key that may not see it."""
    pg, scope, pos = state.conn.pg, state.scope, state.cursor
    assert scope is not None and pos is not None     # a feed's state has both
    horizon = state.detail["horizon"]
    n = 0
    last = b""
    lines = helper_tr = None
    if scope.provinsi is not None:
        # on Citus: one routed statement on the provinsi's worker (a helper connection would
        # read in another transaction there, with no exported snapshot to share)
        lines = copy_lines(pg, queries.CHANGE_LINES_CITUS, str(pos.xid), pos.id, horizon,
                           limit, scope.wilayah, scope.periode, scope.provinsi)
    elif limits.PARALLEL > 1 and limit >= limits.PARALLEL_MIN:
        bounds = await pg.fetch(queries.CHANGE_BOUNDS, str(pos.xid), pos.id, horizon, limit,
                                scope.wilayah, scope.periode, limits.RANGE_ROWS)
        opened = await open_helper(state, None) if len(bounds) * limits.RANGE_ROWS >= limits.PARALLEL_MIN else None
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
    assert scope is not None                           # a feed's state has one
    pg = state.conn.pg
    horizon = state.detail["horizon"]
    if state.cursor.snapshot is None:
        async for block in _feed_copy(state, limit):
            yield block if scope.pii else flat.mask_lines(block, nested=True)
        await tr.commit()
        yield await _feed_end(state, limit, state.rows)
        return
    stmt = await pg.prepare(queries.CHANGES if scope.provinsi is None else queries.CHANGES_CITUS)
    extra = () if scope.provinsi is None else (scope.provinsi,)
    pos: Cursor = state.cursor
    delivered = 0
    while delivered < limit:
        snap_text = pos.snapshot.text() if pos.snapshot is not None else None
        # Skipped rows do not count against the limit, so with a snapshot in the cursor a
        # chunk is always full size.
        want = limits.CHUNK if snap_text is not None else min(limits.CHUNK, limit - delivered)
        rows = await stmt.fetch(str(pos.xid), pos.id, horizon, want, snap_text, scope.wilayah,
                                scope.periode, *extra)
        out = []
        for xid, id_, skip, change, line in rows:
            pos = pos.after(int(xid), id_)
            if skip:
                continue
            out.append('{"cursor":"' + pos.encode() + '",' + change + ',"record":'
                       + (line if line is not None else "null") + "}\n")
            delivered += 1
            if delivered == limit:
                break
        state.cursor = pos
        state.rows = delivered
        if out:
            block = "".join(out).encode()
            yield block if scope.pii else flat.mask_lines(block, nested=True)
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


