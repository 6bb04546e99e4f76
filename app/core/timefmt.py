"""One way to write an instant, everywhere the service writes one: RFC 3339 in UTC with `Z`
and always six digits of microseconds, e.g. `2022-06-01T02:30:00.000000Z`.

The API (pydantic response models through `UtcTime`, orjson responses through `dumps`), the
walidata line and the feed (PostgreSQL through `SQL_FORMAT`), the snapshot and the exports all
use it, so a consumer compares the same instant as the same text: a 201 and its replay, a feed
line and the API's record, an export of today and of yesterday. Fixed width also sorts as
text in time order."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from pydantic import PlainSerializer, WithJsonSchema

# PostgreSQL's to_char pattern for the same text; apply it to `ts AT TIME ZONE 'UTC'`.
SQL_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"


def utc_text(v: dt.datetime) -> str:
    """An aware instant as RFC 3339 UTC text with fixed microseconds."""
    return v.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def sql_utc_text(expr: str) -> str:
    """SQL rendering `expr` (a timestamptz) as utc_text does, whatever the session's TimeZone."""
    return f"to_char({expr} AT TIME ZONE 'UTC', '{SQL_FORMAT}')"


# A response field holding an instant: serialized by utc_text, documented as date-time.
UtcTime = Annotated[
    dt.datetime,
    PlainSerializer(utc_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "description": "RFC 3339, UTC, six digits of microseconds: 2022-06-01T02:30:00.000000Z"},
        mode="serialization",
    ),
]


def _default(o: Any) -> Any:
    if isinstance(o, dt.datetime):
        return utc_text(o)
    return str(o)  # Decimal (exact amounts as text), and anything else orjson leaves out


def dumps(obj: Any) -> bytes:
    """orjson with every datetime written by utc_text (orjson's own form drops trailing zeros
    of the microseconds and writes +00:00)."""
    return orjson.dumps(obj, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
