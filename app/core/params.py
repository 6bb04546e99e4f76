"""Query parameter types shared by the routers: values PostgreSQL can store, refused at the
edge with the parameter's name rather than failing inside the database."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator


def _storable_instant(v: dt.datetime) -> dt.datetime:
    # PostgreSQL keeps timestamptz in UTC: 0001-01-01T00:00:00+14:00 is in year 0 there, which
    # Python's datetime (and so the driver) cannot represent.
    if v.tzinfo is None:
        v = v.replace(tzinfo=dt.UTC)
    try:
        return v.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("di luar rentang: waktu harus antara 0001-01-01 dan 9999-12-31 (UTC)") from None


# A point in time; without an offset it is taken as UTC.
Instant = Annotated[dt.datetime, AfterValidator(_storable_instant)]
