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

On a Citus cluster the same rule holds per provinsi, on the worker that holds it (its
changes carry that worker's transaction ids): a key of a provinsi or kabupaten/kota pages its
provinsi's feed with one position, a national key pages every provinsi with a position each
(app.sync.cursor.ClusterCursor), and a national snapshot reads each provinsi in its worker's
own REPEATABLE READ transaction.

The entity feed of the Basis Data Tunggal (`kumkm_peristiwa`, GET /api/v1/sync/entitas/feed)
and its snapshot are the same machinery over another table (app.sync.service.sources): the
same rule, a cursor of its own tag, one server only (the registry is the coordinator's).

Both stream in chunks from a raw asyncpg connection, so memory does not grow with the size
of the result."""

from __future__ import annotations

from app.sync.service.feed import feed_body, open_feed
from app.sync.service.limits import MAX_LIMIT
from app.sync.service.scope import Scope, on_cluster, scope_of
from app.sync.service.snapshot import open_snapshot, snapshot_body, snapshot_cursor, snapshot_rows
from app.sync.service.sources import ENTITAS, RECORDS, Source
from app.sync.service.streams import RawConnection, StreamState, finish_quietly

__all__ = [
    "feed_body",
    "open_feed",
    "MAX_LIMIT",
    "Scope",
    "on_cluster",
    "scope_of",
    "open_snapshot",
    "snapshot_body",
    "snapshot_rows",
    "snapshot_cursor",
    "RawConnection",
    "StreamState",
    "finish_quietly",
    "Source",
    "RECORDS",
    "ENTITAS",
]
