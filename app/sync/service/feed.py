"""A feed: a page of events after a cursor, below the horizon. The record feed (`changes`) and
the entity feed (`kumkm_peristiwa`) are both served here, each described by its Source."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import orjson

from app.core.errors import INVALID
from app.security.principal import Principal
from app.sync import queries
from app.sync.cursor import ClusterCursor, Cursor
from app.sync.service import limits
from app.sync.service.scope import scope_of
from app.sync.service.sources import RECORDS, Source
from app.sync.service.streams import StreamState, admitted, copy_lines, open_helper, ordered_copy

log = logging.getLogger("kumkm.sync")

# ------------------------------------------------------------------------- change feed

_WRONG_CURSOR = (
    "after bukan kursor feed ini: kursor feed nasional klaster hanya untuk kunci nasional, "
    "kursor satu server atau satu provinsi hanya untuk feed-nya sendiri; kirim cursor dari "
    "feed atau snapshot kunci ini apa adanya"
)


async def open_feed(
    principal: Principal, after: Cursor | ClusterCursor, limit: int, periode: str | None, after_text: str | None, source: Source = RECORDS
) -> StreamState:
    scope = scope_of(principal, periode, cluster=source.cluster)
    if scope.national_on_cluster and not after_text:
        after = ClusterCursor()
    if not isinstance(after, ClusterCursor) and type(after) is not source.cursor:
        raise INVALID(_WRONG_CURSOR, errors=[{"field": "after", "message": _WRONG_CURSOR, "type": "value_error"}])
    if isinstance(after, ClusterCursor) != scope.national_on_cluster:
        raise INVALID(_WRONG_CURSOR, errors=[{"field": "after", "message": _WRONG_CURSOR, "type": "value_error"}])
    async with admitted(principal) as conn:
        tr = conn.pg.transaction(readonly=True)
        await tr.start()
        await conn.pg.execute(queries.BEGIN_SYNC)
        horizon: str | dict[str, str]
        if scope.national_on_cluster:
            # every provinsi's horizon on its own worker, taken before any change is read
            await conn.pg.execute(queries.ONE_CONNECTION_PER_WORKER)
            horizon = {p: h for p, h in await conn.pg.fetch(queries.HORIZONS_CITUS)}
        elif scope.provinsi is None:
            horizon = await conn.pg.fetchval(queries.HORIZON)
        else:
            # on Citus: the horizon of the worker that holds the provinsi (queries.HORIZON_CITUS)
            horizon = await conn.pg.fetchval(queries.HORIZON_CITUS, scope.provinsi)
    state = StreamState(
        source.feed_endpoint,
        principal,
        {"after": after_text, "limit": limit, "periode": periode, "kode_wilayah": scope.wilayah, "pii": scope.pii, "horizon": horizon},
        cursor=after,
        conn=conn,
        scope=scope,
        tr=tr,
        slot=True,
        source=source,
    )
    return state


async def _feed_copy(state: StreamState, limit: int) -> AsyncIterator[bytes]:
    """The common case (no snapshot to skip): PostgreSQL builds every line including its
    cursor; the last line's cursor is where the page ends. Lines as stored, personal data
    included: the caller masks them for a key that may not see it."""
    pg, scope, pos, sql = state.pg, state.scope, state.cursor, state.source.feed
    assert scope is not None and isinstance(pos, Cursor)  # a feed's state has both
    horizon = state.detail["horizon"]
    n = 0
    last = b""
    lines = helper_tr = None
    if scope.provinsi is not None:
        # on Citus: one routed statement on the provinsi's worker (a helper connection would
        # read in another transaction there, with no exported snapshot to share)
        lines = copy_lines(
            pg, queries.CHANGE_LINES_CITUS, str(pos.xid), pos.id, horizon, limit, scope.wilayah, scope.periode, scope.provinsi
        )
    elif limits.PARALLEL > 1 and limit >= limits.PARALLEL_MIN:
        bounds = await pg.fetch(sql.bounds, str(pos.xid), pos.id, horizon, limit, scope.wilayah, scope.periode, limits.RANGE_ROWS)
        opened = await open_helper(state, None) if len(bounds) * limits.RANGE_ROWS >= limits.PARALLEL_MIN else None
        if opened is not None:
            helper, helper_tr = opened
            jobs, lo = [], (str(pos.xid), pos.id)
            for xid, id_ in bounds:
                jobs.append((sql.range_lines, (*lo, horizon, limit, scope.wilayah, scope.periode, xid, id_)))
                lo = (xid, id_)
            lines = ordered_copy([pg, helper.pg], jobs)
    if lines is None:
        lines = copy_lines(pg, sql.lines, str(pos.xid), pos.id, horizon, limit, scope.wilayah, scope.periode)
    async for block in lines:
        n += block.count(b"\n")
        last = block[block.rfind(b"\n", 0, len(block) - 1) + 1 :]
        state.rows = n
        yield block
    if n:
        state.cursor = type(pos).decode(orjson.loads(last)["cursor"])
    state.rows = n
    if helper_tr is not None:
        await helper_tr.commit()


async def feed_body(state: StreamState, limit: int) -> AsyncIterator[bytes]:
    """Event lines in (xid, id) order, then the trailing line. Each line carries the cursor
    that resumes right after it."""
    scope, tr, source = state.scope, state.tr, state.source
    assert scope is not None  # a feed's state has one
    mask = source.mask_feed
    if scope.national_on_cluster:
        async for block in _national_lines(state, limit):
            yield block if scope.pii else mask(block)
        await tr.commit()
        yield await _feed_end(state, limit, state.rows)
        return
    pg, start = state.pg, state.cursor
    assert isinstance(start, Cursor)  # one position: one server or one provinsi
    horizon = state.detail["horizon"]
    if start.snapshot is None:
        async for block in _feed_copy(state, limit):
            yield block if scope.pii else mask(block)
        await tr.commit()
        yield await _feed_end(state, limit, state.rows)
        return
    stmt = await pg.prepare(source.feed.rows if scope.provinsi is None else queries.CHANGES_CITUS)
    extra = () if scope.provinsi is None else (scope.provinsi,)
    state_member = ',"' + source.state_key + '":'
    pos = start
    delivered = 0
    while delivered < limit:
        snap_text = pos.snapshot.text() if pos.snapshot is not None else None
        # Skipped rows do not count against the limit, so with a snapshot in the cursor a
        # chunk is always full size.
        want = limits.CHUNK if snap_text is not None else min(limits.CHUNK, limit - delivered)
        rows = await stmt.fetch(str(pos.xid), pos.id, horizon, want, snap_text, scope.wilayah, scope.periode, *extra)
        out = []
        for xid, id_, skip, change, line in rows:
            pos = pos.after(int(xid), id_)
            if skip:
                continue
            out.append('{"cursor":"' + pos.encode() + '",' + change + state_member + (line if line is not None else "null") + "}\n")
            delivered += 1
            if delivered == limit:
                break
        state.cursor = pos
        state.rows = delivered
        if out:
            block = "".join(out).encode()
            yield block if scope.pii else mask(block)
        if len(rows) < want:
            break
    await tr.commit()
    yield await _feed_end(state, limit, delivered)


async def _national_lines(state: StreamState, limit: int) -> AsyncIterator[bytes]:
    """The national feed of a Citus cluster: provinsi after provinsi, each read on its own
    worker below that worker's horizon from its own position, exactly as one provinsi's feed
    (queries.CHANGES_CITUS); each line's cursor holds every provinsi's position as of that line.
    The page starts with the cursor's `at` and goes round the provinsi in code order; its
    cursors start the next page after the provinsi they were read in, so a provinsi with a
    backlog larger than a page takes a page in turn with the others rather than first.

    Lines are assembled here from rows (not by COPY): their cursor is the composite one."""
    pg, scope = state.pg, state.scope
    start = state.cursor
    assert scope is not None and isinstance(start, ClusterCursor)
    horizons: dict[str, str] = state.detail["horizon"]
    order = sorted(horizons)
    first = next((i for i, p in enumerate(order) if p >= start.at), 0)
    order = order[first:] + order[:first]
    positions = dict(start.positions)
    stmt = await pg.prepare(queries.CHANGES_CITUS)
    delivered = 0
    for k, provinsi in enumerate(order):
        # where a page after this provinsi starts; "" (the first provinsi) is the canonical
        # form, so a page that went round every provinsi and found nothing hands back the
        # cursor it was given
        following = order[(k + 1) % len(order)]
        following = "" if following == min(order) else following
        encode = ClusterCursor.of(positions, start.at).line_encoder(provinsi, following)
        pos, horizon = positions.get(provinsi, Cursor()), horizons[provinsi]
        caught_up = False
        while delivered < limit:
            snap_text = pos.snapshot.text() if pos.snapshot is not None else None
            # Skipped rows do not count against the limit, so with a snapshot in the position
            # a chunk is always full size.
            want = limits.CHUNK if snap_text is not None else min(limits.CHUNK, limit - delivered)
            rows = await stmt.fetch(str(pos.xid), pos.id, horizon, want, snap_text, None, scope.periode, provinsi)
            out = []
            taken = 0
            for xid, id_, skip, change, line in rows:
                taken += 1
                pos = pos.after(int(xid), id_)
                if skip:
                    continue
                out.append('{"cursor":"' + encode(pos) + '",' + change + ',"record":' + (line if line is not None else "null") + "}\n")
                delivered += 1
                if delivered == limit:
                    break
            positions[provinsi] = pos
            state.cursor = ClusterCursor.of(positions, following)
            state.rows = delivered
            if out:
                yield "".join(out).encode()
            if len(rows) < want and taken == len(rows):
                caught_up = True
                break
        if caught_up and pos.snapshot is not None and int(horizon) >= pos.snapshot.xmax:
            # Every change below the horizon is read, and the horizon is past the snapshot:
            # no later change can be hidden by it. The position becomes "everything below the
            # horizon", as a snapshot cursor's (xmin, 0) is, without the snapshot, so a quiet
            # provinsi's cursor does not carry its snapshot for ever.
            positions[provinsi] = Cursor(int(horizon), 0)
            state.cursor = ClusterCursor.of(positions, following)
        if delivered == limit:
            break


async def _feed_end(state: StreamState, limit: int, delivered: int) -> bytes:
    state.more = delivered == limit
    state.complete = True
    # The access log is written before the trailing line, so a consumer that has the trailer
    # can rely on the request being on record.
    await state.finish()
    assert state.cursor is not None  # a feed's state has one
    return orjson.dumps({"end": True, "cursor": state.cursor.encode(), "count": delivered, "more": state.more}) + b"\n"
