"""Masking whole NDJSON blocks (app.record.flat.mask_lines) is masking each record as
record_line() does, whatever shape a line has."""

from __future__ import annotations

import orjson
import pytest

from app.record import flat

DATA = {
    "nama_usaha": 'Toko ,"pii_masked":false,"data":{}',
    "nama_pemilik": "Siti  Aminah",
    "nik_pemilik": "1607014105850123",
    "alamat": "Jl. Merdeka 1",
    "telepon": "+62 812-0001-2345",
    "lokasi": {"lat": -2.87654, "lon": 104.74321},
}
STORED = '{"submission_id":"x","status":"masuk","pii_masked":false,"data":' + orjson.dumps(DATA, option=orjson.OPT_SORT_KEYS).decode() + "}"


def _feed(record: str) -> bytes:
    return ('{"cursor":"MTo1Ojc","jenis_perubahan":"dibuat","record":' + record + "}").encode()


def _expected(record: str) -> dict:
    return orjson.loads(flat.record_line(record, False))


@pytest.mark.parametrize(
    "stored",
    [
        STORED,
        # another shape: content first, flag after it; masked the long way
        orjson.dumps({"data": DATA, "pii_masked": False, "submission_id": "x"}).decode(),
    ],
)
def test_every_line_of_a_block_is_masked_as_record_line_masks_it(stored):
    snapshot = flat.mask_lines(((stored + "\n") * 3).encode(), nested=False)
    lines = snapshot.split(b"\n")
    assert lines[-1] == b"" and [orjson.loads(x) for x in lines[:-1]] == [_expected(stored)] * 3
    feed = flat.mask_lines(b"\n".join([_feed(stored), _feed("null"), _feed(stored)]), nested=True)
    got = [orjson.loads(x) for x in feed.split(b"\n")]
    assert [g["record"] for g in got] == [_expected(stored), None, _expected(stored)]
    assert all(g["cursor"] == "MTo1Ojc" for g in got)
    masked = got[0]["record"]["data"]
    assert masked["nik_pemilik"] == "1607**********23" and masked["nama_pemilik"] == "S*** A*****"
    assert masked["telepon"] == "**********345" and masked["alamat"] == "(disamarkan)"
    assert masked["lokasi"] == {"lat": -2.88, "lon": 104.74} and masked["nama_usaha"] == DATA["nama_usaha"]


def test_an_empty_block_stays_empty():
    assert flat.mask_lines(b"", nested=True) == b""
