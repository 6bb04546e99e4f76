"""The feed cursor: where a consumer stands in the change feed.

A position is the (xid, id) of the last change delivered; the feed returns changes after
it, in (xid, id) order. A cursor handed out by a snapshot also carries that snapshot
(xmin:xmax:xip), because the snapshot already contains the changes of every transaction
that was visible to it; the feed skips those until it has passed the snapshot's xmax, after
which the snapshot is dropped from the cursor.

On a Citus cluster the national feed has one such position per provinsi (ClusterCursor): each
provinsi's changes carry the transaction ids of the worker that holds it, which are not
comparable with another worker's, so no single position can say where the nation stands.

Consumers must treat the string as opaque: its encoding may change between versions, and
the service keeps accepting the old ones. The text is app.core.pagination's (base64 of a tagged
ASCII text), byte for byte what consumers hold since the first release: the tags `1` and `2`
are the versions; app.sync.queries builds the same text in SQL for a line without snapshot."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from app.core import pagination
from app.core.pagination import CursorError

__all__ = ["Cursor", "EntitasCursor", "ClusterCursor", "CursorError", "Snapshot", "decode_any", "MAX_XIP", "MAX_PROVINSI"]

_SNAPSHOT = re.compile(r"^([0-9]{1,20}):([0-9]{1,20}):((?:[0-9]{1,20})(?:,[0-9]{1,20})*)?$")
_INT = re.compile(r"^[0-9]{1,20}$")
# A pg_snapshot lists the transactions in flight when it was taken (at most max_connections
# plus prepared transactions); a longer list cannot come from this service.
MAX_XIP = 600
_U64 = 2**64 - 1


@dataclass(frozen=True)
class Snapshot:
    xmin: int
    xmax: int
    xip: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        m = _SNAPSHOT.match(text)
        if not m:
            raise CursorError("malformed snapshot")
        xmin, xmax = int(m.group(1)), int(m.group(2))
        xip = tuple(int(x) for x in m.group(3).split(",")) if m.group(3) else ()
        if not xmin <= xmax <= _U64 or len(xip) > MAX_XIP or any(not xmin <= x < xmax for x in xip):
            raise CursorError("inconsistent snapshot")
        return cls(xmin, xmax, xip)

    def text(self) -> str:
        """PostgreSQL's own text form of a pg_snapshot."""
        return f"{self.xmin}:{self.xmax}:{','.join(map(str, self.xip))}"


@dataclass(frozen=True)
class Cursor:
    """A position in the record feed (`changes`). Its text starts with TAG, the format's
    version; a feed of another table in (xid, id) order is a subclass with a tag of its own
    (EntitasCursor), so that no feed reads another's position as its own."""

    TAG: ClassVar[str] = "1"
    xid: int = 0
    id: int = 0
    snapshot: Snapshot | None = None

    def after(self, xid: int, id_: int) -> Cursor:
        """The position just after change (xid, id); the snapshot is kept while it can still
        hide a later change, i.e. while xid is below its xmax."""
        snap = self.snapshot if self.snapshot is not None and xid < self.snapshot.xmax else None
        return type(self)(xid, id_, snap)

    def encode(self) -> str:
        raw = f"{self.TAG}:{self.xid}:{self.id}"
        if self.snapshot is not None:
            raw += ":" + self.snapshot.text()
        return pagination.encode(raw)

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        if text is None or text == "":
            return cls()
        return cls._parse(pagination.decode(text))

    @classmethod
    def _parse(cls, raw: str) -> Cursor:
        parts = raw.split(":", 3)
        if len(parts) < 3 or parts[0] != cls.TAG or not _INT.match(parts[1]) or not _INT.match(parts[2]):
            raise CursorError("not a cursor given by this service")
        xid, id_ = int(parts[1]), int(parts[2])
        if xid > _U64 or id_ > 2**63 - 1:
            raise CursorError("cursor out of range")
        snap = Snapshot.parse(parts[3]) if len(parts) == 4 else None
        if snap is not None and xid >= snap.xmax:
            snap = None
        return cls(xid, id_, snap)


@dataclass(frozen=True)
class EntitasCursor(Cursor):
    """A position in the entity feed (`kumkm_peristiwa`, GET /api/v1/sync/entitas/feed): the
    same (xid, id) and snapshot as a record feed position, under its own tag. Never on a Citus
    cluster: the registry of entities is kept on the coordinator alone (docs/registry.md), so
    its transaction ids are one server's."""

    TAG: ClassVar[str] = "entitas.1"


_CLUSTER_VERSION = "2"
_PROVINSI = re.compile(r"^[0-9]{2}$")
# 38 provinsi today; the bound leaves room for new ones and keeps a hostile cursor small.
MAX_PROVINSI = 100


@dataclass(frozen=True)
class ClusterCursor:
    """Where a consumer stands in the national feed of a Citus cluster: one position (a Cursor,
    with the snapshot of a snapshot cursor while it can still hide a change) per provinsi, in
    that provinsi's worker's transaction ids, and the provinsi the next page starts with (`at`,
    "" for the first), so that pages go round the provinsi and one provinsi's backlog never
    holds the others back.

    Text (before base64, docs/sync.md): `2|at|KK:xid:id[:n];...|snapshot|snapshot...`: the
    positions in provinsi order, those still at the start left out, each naming by index `n`
    the snapshot it carries (provinsi on one worker share theirs, so each is written once)."""

    positions: tuple[tuple[str, Cursor], ...] = ()
    at: str = ""

    @classmethod
    def of(cls, positions: dict[str, Cursor], at: str = "") -> ClusterCursor:
        """The canonical cursor: positions in provinsi order, none at the start (Cursor())."""
        return cls(tuple(sorted((p, c) for p, c in positions.items() if c != Cursor())), at)

    def position(self, provinsi: str) -> Cursor:
        for p, c in self.positions:
            if p == provinsi:
                return c
        return Cursor()

    def _raw(self, marked: str | None = None) -> str:
        """The raw text; with `marked`, that provinsi's xid:id is written as NUL (line_encoder)."""
        snaps: list[Snapshot] = []
        index: dict[Snapshot, int] = {}
        items = []
        for p, c in self.positions:
            tail = ""
            if c.snapshot is not None:
                k = index.get(c.snapshot)
                if k is None:
                    k = index[c.snapshot] = len(snaps)
                    snaps.append(c.snapshot)
                tail = f":{k}"
            items.append(f"{p}:\0{tail}" if p == marked else f"{p}:{c.xid}:{c.id}{tail}")
        return "|".join([_CLUSTER_VERSION, self.at, ";".join(items), *(s.text() for s in snaps)])

    def encode(self) -> str:
        return pagination.encode(self._raw())

    def line_encoder(self, provinsi: str, at: str):
        """encode(pos) -> the cursor text of this cursor with `provinsi` at `pos` and the next
        page starting at `at`: the cursor of every change line of a page, built from a prefix
        and a suffix made once per provinsi and snapshot rather than from all 38 positions a
        line."""
        others = dict(self.positions)
        cache: dict[Snapshot | None, tuple[str, str]] = {}

        def encode(pos: Cursor) -> str:
            parts = cache.get(pos.snapshot)
            if parts is None:
                raw = ClusterCursor(tuple(sorted({**others, provinsi: pos}.items())), at)._raw(marked=provinsi)
                head, _, tail = raw.partition("\0")
                parts = cache[pos.snapshot] = (head, tail)
            return pagination.encode(f"{parts[0]}{pos.xid}:{pos.id}{parts[1]}")

        return encode

    @classmethod
    def decode(cls, text: str | None) -> ClusterCursor:
        if text is None or text == "":
            return cls()
        return cls._parse(pagination.decode(text))

    @classmethod
    def _parse(cls, raw: str) -> ClusterCursor:
        parts = raw.split("|")
        if len(parts) < 3 or parts[0] != _CLUSTER_VERSION:
            raise CursorError("not a cursor of the national feed of this cluster")
        at, items = parts[1], parts[2]
        if at and not _PROVINSI.match(at):
            raise CursorError("malformed cursor")
        if len(parts) - 3 > MAX_PROVINSI:
            raise CursorError("too many snapshots")
        snaps = [Snapshot.parse(s) for s in parts[3:]]
        positions: dict[str, Cursor] = {}
        for item in items.split(";") if items else ():
            f = item.split(":")
            if len(f) not in (3, 4) or not _PROVINSI.match(f[0]) or f[0] in positions or not all(_INT.match(x) for x in f[1:]):
                raise CursorError("malformed position")
            xid, id_ = int(f[1]), int(f[2])
            if xid > _U64 or id_ > 2**63 - 1:
                raise CursorError("cursor out of range")
            snap = None
            if len(f) == 4:
                if int(f[3]) >= len(snaps):
                    raise CursorError("position names a snapshot the cursor lacks")
                snap = snaps[int(f[3])]
                if xid >= snap.xmax:
                    snap = None
            positions[f[0]] = Cursor(xid, id_, snap)
            if len(positions) > MAX_PROVINSI:
                raise CursorError("too many positions")
        return cls.of(positions, at)


def decode_any(text: str | None) -> Cursor | ClusterCursor:
    """A cursor of any feed this service serves: one position (one server, or one provinsi of
    a cluster) or the national feed of a cluster; no text is the start (Cursor())."""
    if text is None or text == "":
        return Cursor()
    raw = pagination.decode(text)
    return ClusterCursor._parse(raw) if raw.startswith(_CLUSTER_VERSION + "|") else Cursor._parse(raw)
