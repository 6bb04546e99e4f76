"""Helpers for the sync tests: read the feed and the snapshot as a consumer would, and write
changes on raw connections."""
from __future__ import annotations

import orjson
import pytest

from app.record import record_line
from tests.support.common import auth
from tests.support.factories import umkm

FEED = "/api/v1/sync/changes"
SNAPSHOT = "/api/v1/sync/snapshot"


def parse_stream(text: str) -> tuple[list[dict], dict]:
    """(lines before the end line, the end line). Fails when the end line is missing."""
    lines = [orjson.loads(x) for x in text.splitlines() if x]
    assert lines and lines[-1].get("end") is True, f"stream without end line: {text[-300:]!r}"
    return lines[:-1], lines[-1]


async def pull(client, key, after=None, limit=1000, **params) -> tuple[list[dict], dict]:
    q = {"limit": limit, **params}
    if after is not None:
        q["after"] = after
    r = await client.get(FEED, params=q, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return parse_stream(r.text)


async def snapshot(client, key, **params) -> tuple[list[dict], str]:
    """(the snapshot's records, its cursor), checked against its header and end line."""
    r = await client.get(SNAPSHOT, params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    records, end = parse_stream(r.text)
    assert r.headers["x-sync-cursor"] == end["cursor"] and end["count"] == len(records)
    return records, end["cursor"]


async def pull_all(client, key, after=None, limit=1000, **params) -> tuple[list[dict], str | None]:
    """Follow the feed until the end line says there is no more."""
    seen: list[dict] = []
    while True:
        lines, end = await pull(client, key, after, limit, **params)
        seen += lines
        after = end["cursor"]
        if not end["more"]:
            return seen, after


async def raw_create(conn, kode_kabkota: str = "16.07", periode: str = "2022") -> str:
    """Insert one record with its version and change on a raw connection, the way the ingest
    statement does, inside whatever transaction the caller holds open."""
    import uuid

    sid = str(uuid.uuid4())
    content = umkm(submission_id=sid, kode_wilayah=kode_kabkota, periode=periode)
    await conn.execute(
        "INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, "
        "kode_kabkota, enumerator_id, captured_at, content_hash, dibuat_oleh) "
        "VALUES ($1, $2, 'umkm', $3, $4, $3, 'ENUM-RAW', now(), '\\x00', 'raw')",
        uuid.UUID(sid), periode, kode_kabkota, kode_kabkota.split(".")[0])
    await conn.execute(
        "INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh) "
        "VALUES ($1, 1, $2::jsonb, 'raw')", uuid.UUID(sid), orjson.dumps(content).decode())
    await conn.execute(REFRESH_LINES, [uuid.UUID(sid)])
    await conn.execute(
        "INSERT INTO changes (submission_id, version, status, jenis_perubahan, periode, "
        "kode_provinsi, kode_kabkota) VALUES ($1, 1, 'masuk', 'dibuat', $2, $3, $4)",
        uuid.UUID(sid), periode, kode_kabkota.split(".")[0], kode_kabkota)
    return sid


async def raw_decide(conn, sid: str, status: str = "diterima") -> None:
    """A state change as verification writes it: the record and its change in one transaction."""
    import uuid

    row = await conn.fetchrow(
        "UPDATE submissions SET status = $2, diperbarui_pada = now() WHERE submission_id = $1 "
        "RETURNING version, periode, kode_provinsi, kode_kabkota", uuid.UUID(sid), status)
    await conn.execute(REFRESH_LINES, [uuid.UUID(sid)])
    await conn.execute(
        "INSERT INTO changes (submission_id, version, status, jenis_perubahan, periode, "
        "kode_provinsi, kode_kabkota) VALUES ($1, $2, $3, 'status', $4, $5, $6)",
        uuid.UUID(sid), row["version"], status, row["periode"], row["kode_provinsi"], row["kode_kabkota"])


async def db_changes(pg) -> list[tuple]:
    """Every change in feed order, straight from the table."""
    rows = await pg.fetch("SELECT submission_id::text, version, jenis_perubahan, status FROM changes "
                          "ORDER BY xid, id")
    return [tuple(r) for r in rows]


def key_of(line: dict) -> tuple:
    return (line["submission_id"], line["version"], line["jenis_perubahan"], line["status"])


# The walidata lines of the given records, rendered as the service's own statements render
# them: raw writers here keep sync_records like the ingest and verification statements do.
REFRESH_LINES = f"""
    INSERT INTO sync_records AS r (submission_id, periode, kode_provinsi, kode_kabkota, line)
    SELECT s.submission_id, s.periode, s.kode_provinsi, s.kode_kabkota, {record_line("s", "v.data")}
    FROM submissions s
    JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    WHERE s.submission_id = ANY($1::uuid[])
    ON CONFLICT (submission_id) DO UPDATE
        SET periode = excluded.periode, kode_provinsi = excluded.kode_provinsi,
            kode_kabkota = excluded.kode_kabkota, line = excluded.line
"""

# Every record whose stored line differs from a fresh rendering, or that has a line but no
# record (or the reverse): empty when sync_records is exact.
STALE_LINES = f"""
    SELECT coalesce(s.submission_id, r.submission_id)::text
    FROM (SELECT s.*, {record_line("s", "v.data")} AS fresh FROM submissions s
          JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version) s
    FULL JOIN sync_records r ON r.submission_id = s.submission_id
    WHERE r.line IS DISTINCT FROM s.fresh OR r.kode_kabkota IS DISTINCT FROM s.kode_kabkota
       OR r.kode_provinsi IS DISTINCT FROM s.kode_provinsi OR r.periode IS DISTINCT FROM s.periode
"""

BULK_SQL = """
    WITH src AS (
        SELECT gen_random_uuid() AS sid,
               jsonb_build_object('submission_id', sid, 'periode', '2022', 'jenis', 'umkm',
                                  'nama_usaha', 'Usaha ' || g, 'nik_pemilik', '1607015205850001',
                                  'alamat', 'Jl. Merdeka No. ' || g) AS data
        FROM (SELECT gen_random_uuid() AS sid, g FROM generate_series(1, $1) g OFFSET 0) u
    ), rec AS (
        INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi,
                                 kode_kabkota, enumerator_id, captured_at, content_hash, dibuat_oleh)
        SELECT sid, '2022', 'umkm', '16.07', '16', '16.07', 'ENUM-BULK', now(), '\\x00', 'bulk' FROM src
        RETURNING *
    ), ver AS (
        INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh)
        SELECT sid, 1, data, 'bulk' FROM src
    ), lin AS (
        INSERT INTO sync_records (submission_id, periode, kode_provinsi, kode_kabkota, line)
        SELECT rec.submission_id, rec.periode, rec.kode_provinsi, rec.kode_kabkota, {LINE}
        FROM rec JOIN src ON src.sid = rec.submission_id
    )
    INSERT INTO changes (submission_id, version, status, jenis_perubahan, periode, kode_provinsi, kode_kabkota)
    SELECT sid, 1, 'masuk', 'dibuat', '2022', '16', '16.07' FROM src
""".replace("{LINE}", record_line("rec", "src.data"))


async def bulk_records(pg, n: int) -> None:
    """Many records at once, straight in SQL, for tests that need volume rather than realism."""
    await pg.execute(BULK_SQL, n)


@pytest.fixture(autouse=True, params=["one", "parallel"])
def sync_connections(request, monkeypatch):
    """Every sync test runs twice: as a small stream (one connection) and with the parallel
    path forced, cut into ranges of two rows built by two connections."""
    if request.param == "parallel":
        from app.sync.service import limits
        monkeypatch.setattr(limits, "PARALLEL_MIN", 2)
        monkeypatch.setattr(limits, "RANGE_ROWS", 2)
    return request.param
