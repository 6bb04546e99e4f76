"""The change-feed cursor (app/sync/cursor.py), called directly: no database."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.sync.cursor import MAX_XIP, Cursor, CursorError, Snapshot

U64 = 2**64 - 1
I64 = 2**63 - 1


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


@st.composite
def snapshots(draw) -> Snapshot:
    xmin = draw(st.integers(min_value=0, max_value=U64))
    xmax = draw(st.integers(min_value=xmin, max_value=U64))
    xip = draw(st.lists(st.integers(min_value=xmin, max_value=xmax - 1), max_size=20)) if xmax > xmin else []
    return Snapshot(xmin, xmax, tuple(sorted(set(xip))))


cursors = st.builds(Cursor, st.integers(min_value=0, max_value=U64), st.integers(min_value=0, max_value=I64), st.none() | snapshots())


# ---------------------------------------------------------------- round trips


@given(cursors)
def test_decode_gives_back_what_encode_was_given(cursor):
    text = cursor.encode()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", text), text  # safe in a query string, no padding
    back = Cursor.decode(text)
    if cursor.snapshot is not None and cursor.xid >= cursor.snapshot.xmax:
        # a snapshot the position is already past can hide nothing more: it is dropped
        assert back == Cursor(cursor.xid, cursor.id)
    else:
        assert back == cursor
    assert Cursor.decode(back.encode()) == back


@given(snapshots())
def test_snapshot_text_round_trip(snap):
    assert Snapshot.parse(snap.text()) == snap


def test_snapshot_text_is_postgresqls_own_form():
    assert Snapshot(10, 20, (12, 15)).text() == "10:20:12,15"
    assert Snapshot(10, 20).text() == "10:20:"
    assert Snapshot.parse("10:20:12,15") == Snapshot(10, 20, (12, 15))
    assert Snapshot.parse("10:20:") == Snapshot(10, 20, ())
    assert Snapshot.parse("10:10:") == Snapshot(10, 10, ())
    assert Snapshot.parse(f"0:{U64}:0") == Snapshot(0, U64, (0,))
    assert Snapshot.parse("10:20:15,12") == Snapshot(10, 20, (15, 12))  # as given, in its order


def test_cursors_handed_out_by_earlier_versions_still_decode():
    """Consumers store cursors: the encoding of these must keep decoding to the same place."""
    assert Cursor.decode("MTo1Ojc") == Cursor(5, 7)
    assert Cursor.decode("MTo1Ojc6Mzo5OjQsNg") == Cursor(5, 7, Snapshot(3, 9, (4, 6)))
    assert Cursor.decode("MTowOjA") == Cursor()
    assert Cursor.decode("MTo1Ojc=") == Cursor(5, 7)  # padding is accepted too
    assert Cursor(5, 7).encode() == "MTo1Ojc"
    assert Cursor(5, 7, Snapshot(3, 9, (4, 6))).encode() == "MTo1Ojc6Mzo5OjQsNg"


@pytest.mark.parametrize("text", [None, ""])
def test_no_cursor_is_the_start_of_the_feed(text):
    assert Cursor.decode(text) == Cursor(0, 0, None)


def test_decode_drops_a_snapshot_the_position_is_past():
    assert Cursor.decode(b64("1:9:1:3:9:4")) == Cursor(9, 1)
    assert Cursor.decode(b64("1:8:1:3:9:4")) == Cursor(8, 1, Snapshot(3, 9, (4,)))


def test_limits_of_the_numbers():
    assert Cursor.decode(b64(f"1:{U64}:{I64}")) == Cursor(U64, I64)


# ---------------------------------------------------------------- bad cursors


@pytest.mark.parametrize(
    "text,message",
    [
        ("!!!", "not a cursor given by this service"),
        ("%%", "not a cursor given by this service"),
        ("a", "not a cursor given by this service"),  # not base64 of anything
        (b64("1:5:7:é"), "not a cursor given by this service"),  # not ASCII
        (b64("2:5:7"), "not a cursor given by this service"),  # another version
        (b64("1:5"), "not a cursor given by this service"),
        (b64("1:a:7"), "not a cursor given by this service"),
        (b64("1:-5:7"), "not a cursor given by this service"),
        (b64("1:5:7.0"), "not a cursor given by this service"),
        (b64("1: 5:7"), "not a cursor given by this service"),
        (b64("1:" + "9" * 21 + ":7"), "not a cursor given by this service"),
        (b64(f"1:{U64 + 1}:7"), "cursor out of range"),
        (b64(f"1:5:{I64 + 1}"), "cursor out of range"),
        (b64("1:5:7:"), "malformed snapshot"),
        (b64("1:5:7:3:9"), "malformed snapshot"),
        (b64("1:5:7:3:9:4,"), "malformed snapshot"),
        (b64("1:5:7:9:3:"), "inconsistent snapshot"),  # xmin above xmax
        (b64("1:5:7:3:9:9"), "inconsistent snapshot"),  # in flight at xmax
        (b64("1:5:7:3:9:2"), "inconsistent snapshot"),  # in flight below xmin
        ("A" * 20_001, "cursor too long"),
    ],
)
def test_bad_cursors_say_what_is_wrong(text, message):
    with pytest.raises(CursorError, match=f"^{re.escape(message)}$"):
        Cursor.decode(text)


def test_cursor_errors_are_value_errors():
    assert issubclass(CursorError, ValueError)


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "malformed snapshot"),
        ("10:20", "malformed snapshot"),
        ("a:b:", "malformed snapshot"),
        ("10:20:12,", "malformed snapshot"),
        ("10:20:,12", "malformed snapshot"),
        ("10:20: 12", "malformed snapshot"),
        ("-1:20:", "malformed snapshot"),
        ("1" * 21 + ":20:", "malformed snapshot"),
        ("20:10:", "inconsistent snapshot"),
        ("10:20:20", "inconsistent snapshot"),
        ("10:20:9", "inconsistent snapshot"),
        (f"0:{U64 + 1}:", "inconsistent snapshot"),
        (f"0:{MAX_XIP + 1}:" + ",".join(map(str, range(MAX_XIP + 1))), "inconsistent snapshot"),
    ],
)
def test_bad_snapshots(text, message):
    with pytest.raises(CursorError, match=f"^{re.escape(message)}$"):
        Snapshot.parse(text)


def test_the_longest_list_in_flight_is_accepted():
    text = f"0:{MAX_XIP}:" + ",".join(map(str, range(MAX_XIP)))
    assert len(Snapshot.parse(text).xip) == MAX_XIP == 600


@given(st.text(max_size=60))
def test_any_text_decodes_or_raises_a_cursor_error(text):
    try:
        cursor = Cursor.decode(text)
    except CursorError as e:
        assert str(e)
    else:
        assert 0 <= cursor.xid <= U64 and 0 <= cursor.id <= I64


# ---------------------------------------------------------------- moving along the feed


def test_after_is_the_position_just_after_a_change():
    assert Cursor().after(5, 9) == Cursor(5, 9)
    assert Cursor(5, 9).after(5, 10) == Cursor(5, 10)


def test_after_keeps_the_snapshot_only_while_it_can_hide_a_later_change():
    snap = Snapshot(10, 20, (12, 15))
    start = Cursor(0, 0, snap)
    assert start.after(12, 1) == Cursor(12, 1, snap)
    assert start.after(19, 1) == Cursor(19, 1, snap)
    assert start.after(20, 1) == Cursor(20, 1)  # at xmax: nothing later can be hidden
    assert start.after(25, 1) == Cursor(25, 1)
    assert start.after(25, 1).after(26, 1).snapshot is None


@given(snapshots(), st.lists(st.tuples(st.integers(min_value=0, max_value=U64), st.integers(min_value=1, max_value=I64)), max_size=30))
def test_walking_the_feed_in_order(snap, changes):
    """The feed delivers changes in (xid, id) order; every cursor handed out on the way decodes
    to the place it stands, and the snapshot is carried exactly until the walk passes xmax."""
    cursor = Cursor(0, 0, snap)
    for xid, id_ in sorted(changes):
        before = (cursor.xid, cursor.id)
        cursor = cursor.after(xid, id_)
        assert (cursor.xid, cursor.id) == (xid, id_) and (xid, id_) >= before
        assert cursor.snapshot == (snap if xid < snap.xmax else None)
        assert Cursor.decode(cursor.encode()) == cursor


# ---------------------------------------------------------------- the entity feed's cursor


@given(cursors)
def test_an_entity_cursor_round_trips_under_its_own_tag_and_no_feed_reads_the_others(cursor):
    from app.sync.cursor import EntitasCursor, decode_any

    entitas = EntitasCursor(cursor.xid, cursor.id, cursor.snapshot)
    text = entitas.encode()
    back = EntitasCursor.decode(text)
    assert type(back) is EntitasCursor and (back.xid, back.id) == (cursor.xid, cursor.id)
    assert back.after(back.xid + 1, 0).__class__ is EntitasCursor
    assert base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().startswith("entitas.1:")
    with pytest.raises(CursorError):
        Cursor.decode(text)
    with pytest.raises(CursorError):
        decode_any(text)
    with pytest.raises(CursorError):
        EntitasCursor.decode(cursor.encode())


def test_the_entity_feed_sql_writes_the_same_cursor_text_as_the_service():
    """queries builds a line's cursor in SQL from the tag; the service's encode must agree."""
    from app.sync import queries
    from app.sync.cursor import EntitasCursor

    assert "'entitas.1:' || c.xid::text" in queries.ENTITAS_FEED.lines
    assert "'1:' || c.xid::text" in queries.RECORD_FEED.lines
    assert EntitasCursor(12, 34).encode() == b64("entitas.1:12:34")
