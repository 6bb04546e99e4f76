"""Paged lists: one cursor codec and one page shape, Page[T].

A cursor is opaque to its client: the unpadded URL-safe base64 (`encode`, `decode`) of an
ASCII text that starts with its format's tag, which is also its version: `1:` and `2|` for the
walidata feed and `entitas.1:` for its entity feed (app.sync.cursor, whose texts clients store
for months), `antrian.1|` for the
verifikator's queue, `submissions.1|` and `audit.1|` for the record list and the access log.

Tamper-evident enough: a list reads only its own tag, and each field strictly (a bounded
integer, a UUID, an instant with its offset), so a cursor cut short, garbled or given by
another list is refused with one problem, `bad_cursor` (422 invalid-input naming the query
parameter), never read as some other place. There is no signature: a cursor edited into one
that still reads names a place the caller could reach by paging anyway, since every list
applies the key's scope itself and never takes the cursor's word for it.

A list that handed out cursors before it had a tag keeps reading them (Keyset's `older`):
clients keep cursors across releases."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from app.core.errors import INVALID, Problem

# The longest cursor text read: a national walidata cursor of a cluster carries a position per
# provinsi and their snapshots; anything longer was not made here.
MAX_TEXT = 20_000


class CursorError(ValueError):
    """A text that is no cursor of the list it was given to; the message (English) says why,
    for tests and logs. Clients get bad_cursor."""


def encode(raw: str) -> str:
    """The cursor text of a raw ASCII text: unpadded URL-safe base64, safe in a query string."""
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def decode(text: str) -> str:
    """The raw text of a cursor text (padding accepted); CursorError when it cannot be one."""
    if len(text) > MAX_TEXT:
        raise CursorError("cursor too long")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError("not a cursor given by this service") from None


NEXT_PAGE_HINT = "kirim next_cursor halaman sebelumnya apa adanya"


def bad_cursor(field: str = "cursor", hint: str = NEXT_PAGE_HINT) -> Problem:
    """The one answer to a cursor this service did not give: 422 invalid-input, naming the
    query parameter that carried it."""
    message = f"{field} bukan kursor dari layanan ini: {hint}"
    return INVALID(message, errors=[{"field": field, "type": "value_error", "message": message}])


# ---------------------------------------------------------------- keyset cursors

V = TypeVar("V")


@dataclass(frozen=True)
class KeyField(Generic[V]):
    """One field of a sort key: its text in a cursor and back. `read` raises ValueError for
    any text `show` does not give."""

    show: Callable[[V], str]
    read: Callable[[str], V]


_DIGITS = re.compile(r"^[0-9]{1,19}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _read_instant(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError("an instant without its offset")
    return when


def _read_uuid(text: str) -> uuid.UUID:
    if not _UUID.match(text):
        raise ValueError("not a UUID in its canonical form")
    return uuid.UUID(text)


def int_field(lo: int, hi: int) -> KeyField[int]:
    """A whole number from lo to hi, in decimal."""

    def read(text: str) -> int:
        if not _DIGITS.match(text) or not lo <= int(text) <= hi:
            raise ValueError(f"not a whole number from {lo} to {hi}")
        return int(text)

    return KeyField(str, read)


# An instant, written in UTC (the offset is kept on reading, so an older cursor's own offset works too).
INSTANT: KeyField[dt.datetime] = KeyField(lambda at: at.astimezone(dt.UTC).isoformat(), _read_instant)
UUID: KeyField[uuid.UUID] = KeyField(str, _read_uuid)


class Keyset:
    """The cursor of a list paged by its sort key, the key of the last row given: the raw text
    is `tag|field|field...`. `older` reads a form the list gave before it had a tag: it returns
    the key, None when the text is not in that form (it is then read as a tagged one), or
    raises ValueError when it is but cannot be read."""

    def __init__(self, tag: str, *fields: KeyField[Any], older: Callable[[str], tuple[Any, ...] | None] | None = None):
        # a tag starts with a letter and has no separator, so no older form (a digit, a UUID)
        # passes for it
        assert re.match(r"^[a-z][a-z.]*[0-9]+$", tag), tag
        self.tag = tag
        self.fields = fields
        self.older = older

    def encode(self, *key: Any) -> str:
        return encode("|".join([self.tag, *(f.show(v) for f, v in zip(self.fields, key, strict=True))]))

    def read(self, text: str) -> tuple[Any, ...]:
        """The key a cursor text names; CursorError when this list did not give it."""
        try:
            if self.older is not None:
                key = self.older(text)
                if key is not None:
                    return key
            parts = decode(text).split("|")
            if parts[0] != self.tag:
                raise CursorError("not a cursor of this list")
            if len(parts) != len(self.fields) + 1:
                raise CursorError("malformed cursor")
            return tuple(f.read(p) for f, p in zip(self.fields, parts[1:], strict=True))
        except CursorError:
            raise
        except ValueError:
            raise CursorError("malformed cursor") from None

    def decode(self, text: str | None, field: str = "cursor") -> tuple[Any, ...] | None:
        """The key after which the page starts: None for no cursor (the first page); bad_cursor,
        naming the query parameter `field`, for a text this list did not give."""
        if text is None:
            return None
        try:
            return self.read(text)
        except CursorError:
            raise bad_cursor(field) from None


# ---------------------------------------------------------------- the page

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list. A list's page is a subclass (`class AuditPage(Page[AuditEntry])`),
    so its schema keeps the list's own name; it may add fields, or describe these its way."""

    items: list[T]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null at the end")
