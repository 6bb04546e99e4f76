"""The feed cursor: where a consumer stands in the change feed.

A position is the (xid, id) of the last change delivered; the feed returns changes after
it, in (xid, id) order. A cursor handed out by a snapshot also carries that snapshot
(xmin:xmax:xip), because the snapshot already contains the changes of every transaction
that was visible to it; the feed skips those until it has passed the snapshot's xmax, after
which the snapshot is dropped from the cursor.

Consumers must treat the string as opaque: its encoding may change between versions, and
the service keeps accepting the old ones."""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

_VERSION = "1"
_SNAPSHOT = re.compile(r"^([0-9]{1,20}):([0-9]{1,20}):((?:[0-9]{1,20})(?:,[0-9]{1,20})*)?$")
_INT = re.compile(r"^[0-9]{1,20}$")
# A pg_snapshot lists the transactions in flight when it was taken (at most max_connections
# plus prepared transactions); a longer list cannot come from this service.
MAX_XIP = 600
_U64 = 2**64 - 1


class CursorError(ValueError):
    pass


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
    xid: int = 0
    id: int = 0
    snapshot: Snapshot | None = None

    def after(self, xid: int, id_: int) -> Cursor:
        """The position just after change (xid, id); the snapshot is kept while it can still
        hide a later change, i.e. while xid is below its xmax."""
        snap = self.snapshot if self.snapshot is not None and xid < self.snapshot.xmax else None
        return Cursor(xid, id_, snap)

    def encode(self) -> str:
        raw = f"{_VERSION}:{self.xid}:{self.id}"
        if self.snapshot is not None:
            raw += ":" + self.snapshot.text()
        return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        if text is None or text == "":
            return cls()
        if len(text) > 20_000:
            raise CursorError("cursor too long")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise CursorError("not a cursor given by this service") from None
        parts = raw.split(":", 3)
        if len(parts) < 3 or parts[0] != _VERSION or not _INT.match(parts[1]) or not _INT.match(parts[2]):
            raise CursorError("not a cursor given by this service")
        xid, id_ = int(parts[1]), int(parts[2])
        if xid > _U64 or id_ > 2**63 - 1:
            raise CursorError("cursor out of range")
        snap = Snapshot.parse(parts[3]) if len(parts) == 4 else None
        if snap is not None and xid >= snap.xmax:
            snap = None
        return cls(xid, id_, snap)
