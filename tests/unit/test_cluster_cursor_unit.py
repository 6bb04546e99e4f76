"""The national cursor of a Citus cluster (app/sync/cursor.py, ClusterCursor): a position per
provinsi, each with its snapshot written once, and the text the docs name. No cluster needed;
the service on a real cluster is tests/ops/test_citus.py."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.sync.cursor import ClusterCursor, Cursor, CursorError, Snapshot, decode_any

U64 = 2**64 - 1
provinsi_codes = st.from_regex(r"[1-9][0-9]", fullmatch=True)


@st.composite
def snapshots(draw) -> Snapshot:
    xmin = draw(st.integers(min_value=3, max_value=U64 - 1))
    xmax = draw(st.integers(min_value=xmin + 1, max_value=U64))
    xip = draw(st.lists(st.integers(min_value=xmin, max_value=xmax - 1), max_size=5))
    return Snapshot(xmin, xmax, tuple(sorted(set(xip))))


@st.composite
def cluster_cursors(draw) -> ClusterCursor:
    shared = draw(st.lists(snapshots(), max_size=3))  # provinsi of one worker share theirs
    positions = {}
    for p in draw(st.lists(provinsi_codes, max_size=38, unique=True)):
        snap = draw(st.sampled_from(shared)) if shared and draw(st.booleans()) else None
        xid = draw(st.integers(min_value=0, max_value=(snap.xmax - 1) if snap else U64))
        positions[p] = Cursor(xid, draw(st.integers(min_value=0, max_value=2**63 - 1)), snap)
    return ClusterCursor.of(positions, draw(st.sampled_from(["", *positions])))


def raw(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


@given(cluster_cursors())
def test_a_national_cursor_decodes_to_what_it_encodes_and_each_snapshot_is_written_once(cursor):
    text = cursor.encode()
    assert ClusterCursor.decode(text) == cursor and decode_any(text) == cursor
    assert ClusterCursor.decode(text).encode() == text  # canonical: one text a cursor
    snaps = {c.snapshot for _, c in cursor.positions if c.snapshot is not None}
    assert len(raw(text).split("|")) == 3 + len(snaps)


@given(
    cluster_cursors(), provinsi_codes, st.integers(min_value=1, max_value=U64), st.integers(min_value=1, max_value=2**63 - 1), st.booleans()
)
def test_a_line_cursor_is_the_national_cursor_with_its_provinsi_moved(cursor, provinsi, xid, id_, keep):
    """The feed builds each line's cursor from a prefix and a suffix (line_encoder): the same
    text as encoding the whole cursor, with or without the provinsi's snapshot."""
    old = cursor.position(provinsi).snapshot
    pos = Cursor(xid, id_, old if keep and old is not None and xid < old.xmax else None)
    line = cursor.line_encoder(provinsi, "")(pos)
    assert line == ClusterCursor.of({**dict(cursor.positions), provinsi: pos}).encode()
    assert ClusterCursor.decode(line).position(provinsi) == pos


def test_the_national_cursor_text_is_the_documented_one():
    snap = Snapshot(700, 705, (701, 703))
    cursor = ClusterCursor.of({"16": Cursor(702, 41, snap), "15": Cursor(690, 12), "11": Cursor(700, 0, snap), "12": Cursor()}, at="31")
    assert raw(cursor.encode()) == "2|31|11:700:0:0;15:690:12;16:702:41:0|700:705:701,703"
    assert ClusterCursor().encode() == "Mnx8"  # "2||": every provinsi at its start
    # a position past its snapshot's xmax drops it, as one provinsi's cursor does
    passed = base64.urlsafe_b64encode(b"2||16:705:3:0|700:705:701").decode().rstrip("=")
    assert ClusterCursor.decode(passed) == ClusterCursor.of({"16": Cursor(705, 3)})
    # one position and a national one are told apart, and neither passes for the other
    assert decode_any(Cursor(5, 7).encode()) == Cursor(5, 7)
    with pytest.raises(CursorError):
        Cursor.decode(cursor.encode())
    with pytest.raises(CursorError):
        ClusterCursor.decode(Cursor(5, 7).encode())


@pytest.mark.parametrize(
    "text",
    [
        "2",
        "2|",
        "3||",
        "2|1|",
        "2|x1|",
        "2||16:1",
        "2||16:1:2:3:4",
        "2||16:a:1",
        "2||1:1:1",
        "2||16:1:1;16:2:2",
        "2||16:1:1:0",
        "2||16:1:1:1|1:9:",
        "2||16:1:1|9:1:",
        "2||16:1:1|1:9:20",
        f"2||16:{U64 + 1}:1",
        "2||16:1:" + str(2**63),
        "2||" + ";".join(f"{i:02d}:1:1" for i in range(100)) + ";x",
        "2||16:1:1" + "|1:9:" * 101,
    ],
)
def test_a_national_cursor_not_made_by_the_service_is_refused(text):
    with pytest.raises(CursorError):
        ClusterCursor.decode(base64.urlsafe_b64encode(text.encode()).decode().rstrip("="))
