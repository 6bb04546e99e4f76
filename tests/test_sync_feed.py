"""The walidata change feed: order, cursors, exactly once under concurrent and out-of-order
commits, scope, personal data and the access log."""
from __future__ import annotations

import asyncio
import random

import asyncpg
import orjson
import pytest

from app.sync.cursor import Cursor
from app.sync.schemas import ChangeLine, EndLine
from tests.conftest import asyncpg_params, auth
from tests.factories import DESA, umkm
from tests.sync_helpers import FEED, parse_stream, post_batch, pull, pull_all


@pytest.fixture
async def enum_key(keys):
    return await keys.make("enumerator", "16", name="enum-sumsel")


@pytest.fixture
async def walidata(keys):
    return await keys.make("walidata", name="kemenkop", pii=True)


async def test_feed_lists_created_records_in_order_with_full_content(client, enum_key, walidata):
    ids = await post_batch(client, enum_key, 3)
    ids += await post_batch(client, enum_key, 2)
    lines, end = await pull(client, walidata)
    assert [ln["submission_id"] for ln in lines] == ids
    for ln in lines:
        ChangeLine.model_validate(ln)
        assert ln["jenis_perubahan"] == "dibuat" and ln["version"] == 1 and ln["status"] == "masuk"
        rec = ln["record"]
        assert rec["submission_id"] == ln["submission_id"] and rec["pii_masked"] is False
        assert rec["data"]["submission_id"] == ln["submission_id"]
        assert rec["kode_kabkota"] == "16.07" and rec["dibuat_oleh"] == "enum-sumsel"
    EndLine.model_validate(end)
    assert end["count"] == 5 and end["more"] is False and end["cursor"] == lines[-1]["cursor"]
    # Nothing new: the same cursor comes back and no line.
    again, end2 = await pull(client, walidata, end["cursor"])
    assert again == [] and end2["cursor"] == end["cursor"] and end2["more"] is False


async def test_limit_pages_and_every_line_cursor_resumes_right_after_it(client, enum_key, walidata):
    ids = await post_batch(client, enum_key, 7)
    lines, end = await pull(client, walidata, limit=3)
    assert [ln["submission_id"] for ln in lines] == ids[:3] and end["more"] is True
    for i, ln in enumerate((await pull(client, walidata, limit=100))[0]):
        rest, _ = await pull(client, walidata, ln["cursor"], limit=100)
        assert [r["submission_id"] for r in rest] == ids[i + 1:]


async def test_empty_feed_end_line(client, walidata):
    lines, end = await pull(client, walidata)
    assert lines == [] and end["count"] == 0 and end["more"] is False
    again, end2 = await pull(client, walidata, end["cursor"])
    assert again == [] and end2["cursor"] == end["cursor"]
