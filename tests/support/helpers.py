"""Steps many tests take over HTTP: post generated records as a client would."""

from __future__ import annotations

import csv
import io

from tests.support.common import auth
from tests.support.factories import umkm

# An instant as the service writes it everywhere (API, feed, snapshot, export): UTC, six digits
# of microseconds, a Z; and the record's fields that hold one.
UTC_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"
TIME_FIELDS = ("captured_at", "dibuat_pada", "diperbarui_pada")


async def post_records(client, key, n: int = 1, **over) -> list[dict]:
    """Post `n` generated UMKM records (`factories.umkm(**over)`) in one batch, check that every
    one was created, and return the records as sent, in order."""
    items = [umkm(**over) for _ in range(n)]
    r = await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == n, r.text
    return items


async def post_one(client, key, **over) -> dict:
    (rec,) = await post_records(client, key, 1, **over)
    return rec


def submission_ids(records: list[dict]) -> list[str]:
    return [rec["submission_id"] for rec in records]


def report_csv(r) -> list[list[str]]:
    """The rows of a report CSV download, which starts with a UTF-8 byte order mark (so
    spreadsheet programs read it as UTF-8)."""
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"\xef\xbb\xbf"), r.content[:20]
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


# Records not stored whole after a crash or a fault: each needs exactly one version, one
# history entry and one change entry (none was decided or corrected), and its walidata line.
HALF_STORED = """
    SELECT count(*) FROM submissions s
    WHERE (SELECT count(*) FROM submission_versions v WHERE v.submission_id = s.submission_id) <> 1
       OR (SELECT count(*) FROM submission_history h WHERE h.submission_id = s.submission_id) <> 1
       OR (SELECT count(*) FROM changes c WHERE c.submission_id = s.submission_id) <> 1
       OR NOT EXISTS (SELECT 1 FROM sync_records r WHERE r.submission_id = s.submission_id)
"""
