"""A record's day is its provinsi's local day (app/record/zona.py)."""

import datetime as dt

from app.record import zona


def test_zones_of_provinsi():
    assert zona.zona("16") == "WIB" and zona.zona("31.71") == "WIB" and zona.zona("11") == "WIB"
    assert [zona.zona(p) for p in ("51", "52", "53", "63", "64", "65", "71", "76")] == ["WITA"] * 8
    assert zona.zona("62") == zona.zona("61") == "WIB"  # Kalimantan Tengah and Barat are WIB
    assert [zona.zona(p) for p in ("81", "82", "91", "94", "97")] == ["WIT"] * 5


def test_local_day_differs_across_zones():
    # 16:30 UTC is 23:30 in Palembang, 00:30 the next day in Makassar, 01:30 in Jayapura
    t = dt.datetime(2026, 12, 5, 16, 30, tzinfo=dt.UTC)
    assert zona.hari_lokal(t, "16.71") == dt.date(2026, 12, 5)
    assert zona.hari_lokal(t, "73.71") == dt.date(2026, 12, 6)
    assert zona.hari_lokal(t, "91.71") == dt.date(2026, 12, 6)
    assert zona.hari_lokal(dt.datetime(2026, 12, 5, 16, 59, 59, tzinfo=dt.UTC), "16") == dt.date(2026, 12, 5)
    assert zona.hari_lokal(dt.datetime(2026, 12, 5, 17, 0, tzinfo=dt.UTC), "16") == dt.date(2026, 12, 6)
