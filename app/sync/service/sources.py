"""What a feed and its snapshot read: the record feed (`changes`, the records' stored lines) and
the entity feed (`kumkm_peristiwa`, the entities of the Basis Data Tunggal). Both are served by
the same code (feed.py, snapshot.py, streams.py): the horizon, the cursor and its snapshot, the
stream slots, COPY, the parallel ranges and the access log; a Source says only what differs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson

from app.record import flat
from app.security.personal import PII_FIELDS, mask_record_data
from app.sync import queries
from app.sync.cursor import Cursor, EntitasCursor


@dataclass(frozen=True)
class Source:
    """One feed and its snapshot.

    `cursor` the position type (its tag keeps one feed's cursors out of another), `feed` the
    statements (queries.Feed) and `state_key` the member under which each line carries its
    state, `snapshot` the statement of the snapshot's lines ($1 periode · $2 scope). `cluster`:
    served per provinsi on a Citus cluster (the record tables are distributed; the registry's
    are the coordinator's alone). `mask_feed` / `mask_snapshot`: whole NDJSON lines as a key
    without personal data gets them. `snapshot_pages`: the snapshot is `sync_records` in
    physical order, which may be cut into ranges of pages for two connections."""

    name: str
    feed_endpoint: str
    snapshot_endpoint: str
    cursor: type[Cursor]
    feed: queries.Feed
    state_key: str
    snapshot: str
    cluster: bool
    mask_feed: Callable[[bytes], bytes]
    mask_snapshot: Callable[[bytes], bytes]
    snapshot_pages: bool


RECORDS = Source(
    name="records",
    feed_endpoint="GET /api/v1/sync/changes",
    snapshot_endpoint="GET /api/v1/sync/snapshot",
    cursor=Cursor,
    feed=queries.RECORD_FEED,
    state_key="record",
    snapshot=queries.SNAPSHOT,
    cluster=True,
    mask_feed=lambda block: flat.mask_lines(block, nested=True),
    mask_snapshot=lambda block: flat.mask_lines(block, nested=False),
    snapshot_pages=True,
)

_PII_KEYS = tuple(f'"{f}"'.encode() for f in (*PII_FIELDS, "lokasi"))


def _mask_detail(value):
    """Every object in an event's detail masked as a record's content is."""
    if isinstance(value, dict):
        return {k: _mask_detail(v) for k, v in mask_record_data(value).items()}
    if isinstance(value, list):
        return [_mask_detail(v) for v in value]
    return value


def mask_entitas_lines(block: bytes) -> bytes:
    """Entity lines for a key without personal data. An entity's state holds ids, wilayah and
    versions; an event's detail holds what the registry wrote (ids, the rule, the periode). No
    personal data is meant to be there, so a block naming no personal field passes as it is
    (one search per field); a line that does is parsed and its detail masked as a record's
    content would be, so that a detail that ever carries one never leaves unmasked."""
    if not any(key in block for key in _PII_KEYS):
        return block
    lines = block.split(b"\n")
    for i, line in enumerate(lines):
        if line and any(key in line for key in _PII_KEYS):
            obj = orjson.loads(line)
            if "detail" in obj:
                obj["detail"] = _mask_detail(obj["detail"])
            lines[i] = orjson.dumps(obj)
    return b"\n".join(lines)


ENTITAS = Source(
    name="entitas",
    feed_endpoint="GET /api/v1/sync/entitas/feed",
    snapshot_endpoint="GET /api/v1/sync/entitas/snapshot",
    cursor=EntitasCursor,
    feed=queries.ENTITAS_FEED,
    state_key="entitas",
    snapshot=queries.ENTITAS_SNAPSHOT,
    cluster=False,
    mask_feed=mask_entitas_lines,
    mask_snapshot=mask_entitas_lines,
    snapshot_pages=False,
)
