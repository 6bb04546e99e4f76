"""The one cursor codec (app/core/pagination.py) and the lists that use it, called directly: no
database. Every cursor a client was ever given keeps naming the same place."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import pagination
from app.core.errors import Problem
from app.core.pagination import CursorError, Keyset
from app.keys.router import AUDIT_CURSOR
from app.keys.schemas import AuditPage
from app.submissions.router import LIST_CURSOR
from app.submissions.schemas import SubmissionPage
from app.sync.cursor import ClusterCursor, Cursor, Snapshot, decode_any
from app.verification.schemas import AntrianPage
from app.verification.service import CURSOR as ANTRIAN_CURSOR

SID = uuid.UUID("3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c")
AT = dt.datetime(2022, 6, 1, 2, 0, 0, 123456, tzinfo=dt.UTC)


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def assert_bad_cursor(exc: pytest.ExceptionInfo, field: str) -> None:
    problem = exc.value
    assert isinstance(problem, Problem)
    assert (problem.status, problem.code) == (422, "invalid-input")
    assert problem.errors == [{"field": field, "type": "value_error", "message": problem.detail}]
    assert problem.detail is not None and problem.detail.startswith(f"{field} bukan kursor dari layanan ini: ")


# ---------------------------------------------------------------- round trips

instants = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 12, 31), timezones=st.just(dt.UTC))


@given(instants, st.uuids())
def test_the_queue_cursor_gives_back_its_key(at, sid):
    text = ANTRIAN_CURSOR.encode(at, sid)
    assert text.replace("-", "").replace("_", "").isalnum()  # safe in a query string, no padding
    assert ANTRIAN_CURSOR.decode(text) == (at, sid)


@given(st.uuids())
def test_the_record_list_cursor_gives_back_its_key(sid):
    assert LIST_CURSOR.decode(LIST_CURSOR.encode(sid)) == (sid,)


@given(st.integers(min_value=1, max_value=2**62))
def test_the_audit_cursor_gives_back_its_key(entry_id):
    assert AUDIT_CURSOR.decode(AUDIT_CURSOR.encode(entry_id)) == (entry_id,)


def test_a_cursor_is_its_tag_and_fields_in_base64():
    assert base64.urlsafe_b64decode(ANTRIAN_CURSOR.encode(AT, SID) + "==").decode() == f"antrian.1|2022-06-01T02:00:00.123456+00:00|{SID}"
    assert AUDIT_CURSOR.encode(42) == b64("audit.1|42")
    assert LIST_CURSOR.encode(SID) == b64(f"submissions.1|{SID}")
    # an instant is written in UTC whatever its offset
    wib = AT.astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert ANTRIAN_CURSOR.encode(wib, SID) == ANTRIAN_CURSOR.encode(AT, SID)


def test_no_cursor_is_the_first_page():
    assert ANTRIAN_CURSOR.decode(None) is None
    assert LIST_CURSOR.decode(None) is None


# ---------------------------------------------------------------- the cursors clients already hold


def test_an_old_queue_cursor_names_the_same_place():
    """The queue's cursor before the tag: base64 of `<captured_at>|<submission_id>`."""
    old = b64(f"{AT.isoformat()}|{SID}")
    assert ANTRIAN_CURSOR.decode(old) == (AT, SID)
    assert ANTRIAN_CURSOR.decode(old + "=") == (AT, SID)  # padding was accepted too
    # any offset it was written with
    assert ANTRIAN_CURSOR.decode(b64(f"2022-06-01T09:00:00.123456+07:00|{SID}")) == (AT, SID)


@pytest.mark.parametrize("text", [str(SID), str(SID).upper(), SID.hex, f"{{{SID}}}", f"urn:uuid:{SID}"])
def test_an_old_record_list_cursor_names_the_same_place(text):
    """The record list's cursor before the tag: the last submission_id itself."""
    assert LIST_CURSOR.decode(text) == (SID,)


@pytest.mark.parametrize("text,entry_id", [("1", 1), ("42", 42), ("042", 42), (str(2**62), 2**62)])
def test_an_old_audit_cursor_names_the_same_place(text, entry_id):
    """The access log's cursor before the tag: the last entry's id."""
    assert AUDIT_CURSOR.decode(text) == (entry_id,)


def test_the_walidata_cursors_are_the_codecs_text_byte_for_byte():
    assert Cursor(5, 7).encode() == pagination.encode("1:5:7") == "MTo1Ojc"
    assert Cursor.decode("MTo1Ojc6Mzo5OjQsNg") == Cursor(5, 7, Snapshot(3, 9, (4, 6)))
    assert decode_any("MTo1Ojc") == Cursor(5, 7)
    assert ClusterCursor().encode() == pagination.encode("2||") == "Mnx8"
    assert decode_any("Mnx8") == ClusterCursor()


# ---------------------------------------------------------------- cursors not given by the list


@pytest.mark.parametrize(
    "text",
    [
        "",  # nothing
        "!!!",  # not base64
        "a",  # base64 of nothing
        b64("antrian.1|2022-06-01T02:00:00+00:00|" + str(SID) + "|x"),  # a field too many
        b64("antrian.1|2022-06-01T02:00:00+00:00"),  # a field short
        b64(f"antrian.2|2022-06-01T02:00:00+00:00|{SID}"),  # a version not given
        b64(f"antrian.1|2022-06-01T02:00:00|{SID}"),  # an instant without its offset
        b64(f"antrian.1|kemarin|{SID}"),
        b64(f"antrian.1|2022-06-01T02:00:00+00:00|{str(SID).upper()}"),  # not as it was given
        b64(f"antrian.1|2022-06-01T02:00:00+00:00|{str(SID)[:-1]}"),  # cut short
        b64(f"antrian.1|2022-06-01T02:00:00+00:00|{SID}")[:-3],  # the text cut short
        b64(f"2022-06-01T02:00:00|{SID}"),  # an old one without its offset
        b64(f"2022-06-01T02:00:00+00:00|{SID}|x"),
        b64("2022-06-01T02:00:00+00:00"),
        "A" * 20_001,  # longer than any cursor
        "MTo1Ojc",  # the walidata feed's
        b64(f"submissions.1|{SID}"),  # another list's
    ],
)
def test_the_queue_refuses_what_it_did_not_give(text):
    with pytest.raises(CursorError):
        ANTRIAN_CURSOR.read(text)
    with pytest.raises(Problem) as exc:
        ANTRIAN_CURSOR.decode(text)
    assert_bad_cursor(exc, "cursor")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "0",
        str(2**62 + 1),
        "9" * 20,
        "-5",
        "5.0",
        "٥",
        b64("audit.1|0"),
        b64("audit.1|x"),
        b64("audit.1|5|6"),
        b64("audit.2|5"),
        ANTRIAN_CURSOR.encode(AT, SID),
        LIST_CURSOR.encode(SID),
    ],
)
def test_the_audit_log_refuses_what_it_did_not_give(text):
    with pytest.raises(Problem) as exc:
        AUDIT_CURSOR.decode(text)
    assert_bad_cursor(exc, "cursor")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        str(SID)[:-1],
        str(SID) + "0",
        b64(f"submissions.1|{SID.hex}"),
        b64("submissions.1|"),
        AUDIT_CURSOR.encode(5),
        ANTRIAN_CURSOR.encode(AT, SID),
    ],
)
def test_the_record_list_refuses_what_it_did_not_give(text):
    with pytest.raises(Problem) as exc:
        LIST_CURSOR.decode(text)
    assert_bad_cursor(exc, "cursor")


@given(st.text(max_size=80))
def test_any_text_is_a_key_or_a_cursor_error(text):
    for codec in (ANTRIAN_CURSOR, LIST_CURSOR, AUDIT_CURSOR):
        try:
            codec.read(text)
        except CursorError as e:
            assert str(e)


def test_the_feeds_bad_cursor_is_the_same_problem_naming_after():
    problem = pagination.bad_cursor("after", "kirim cursor sebuah baris perubahan, baris akhir atau snapshot apa adanya")
    assert problem.detail == (
        "after bukan kursor dari layanan ini: kirim cursor sebuah baris perubahan, baris akhir atau snapshot apa adanya"
    )
    assert (problem.status, problem.code) == (422, "invalid-input")


def test_a_tag_cannot_pass_for_an_older_form():
    with pytest.raises(AssertionError):
        Keyset("1", pagination.UUID)
    with pytest.raises(AssertionError):
        Keyset("antrian|1", pagination.UUID)


# ---------------------------------------------------------------- the page


def test_every_page_is_one_page_model_under_its_own_name():
    for page in (AntrianPage, AuditPage, SubmissionPage):
        assert issubclass(page, pagination.Page)
        schema = page.model_json_schema()
        assert schema["title"] == page.__name__
        assert {"items", "next_cursor"} <= set(schema["properties"])
        assert "next_cursor" not in schema["required"]
