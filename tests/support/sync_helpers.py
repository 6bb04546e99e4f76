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
ENTITAS_FEED = "/api/v1/sync/entitas/feed"
ENTITAS_SNAPSHOT = "/api/v1/sync/entitas/snapshot"


def parse_stream(text: str) -> tuple[list[dict], dict]:
    """(lines before the end line, the end line). Fails when the end line is missing."""
    lines = [orjson.loads(x) for x in text.splitlines() if x]
    assert lines and lines[-1].get("end") is True, f"stream without end line: {text[-300:]!r}"
    return lines[:-1], lines[-1]


async def pull(client, key, after=None, limit=1000, path=FEED, **params) -> tuple[list[dict], dict]:
    q = {"limit": limit, **params}
    if after is not None:
        q["after"] = after
    r = await client.get(path, params=q, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return parse_stream(r.text)


async def snapshot(client, key, path=SNAPSHOT, **params) -> tuple[list[dict], str]:
    """(the snapshot's records, its cursor), checked against its header and end line."""
    r = await client.get(path, params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    records, end = parse_stream(r.text)
    assert r.headers["x-sync-cursor"] == end["cursor"] and end["count"] == len(records)
    return records, end["cursor"]


async def pull_all(client, key, after=None, limit=1000, path=FEED, **params) -> tuple[list[dict], str | None]:
    """Follow the feed until the end line says there is no more."""
    seen: list[dict] = []
    while True:
        lines, end = await pull(client, key, after, limit, path, **params)
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
        uuid.UUID(sid),
        periode,
        kode_kabkota,
        kode_kabkota.split(".")[0],
    )
    await conn.execute(
        "INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh) VALUES ($1, 1, $2::jsonb, 'raw')",
        uuid.UUID(sid),
        orjson.dumps(content).decode(),
    )
    await conn.execute(REFRESH_LINES, [uuid.UUID(sid)])
    await conn.execute(
        "INSERT INTO changes (submission_id, version, status, jenis_perubahan, periode, "
        "kode_provinsi, kode_kabkota) VALUES ($1, 1, 'masuk', 'dibuat', $2, $3, $4)",
        uuid.UUID(sid),
        periode,
        kode_kabkota.split(".")[0],
        kode_kabkota,
    )
    return sid


async def raw_decide(conn, sid: str, status: str = "diterima") -> None:
    """A state change as verification writes it: the record and its change in one transaction."""
    import uuid

    row = await conn.fetchrow(
        "UPDATE submissions SET status = $2, diperbarui_pada = now() WHERE submission_id = $1 "
        "RETURNING version, periode, kode_provinsi, kode_kabkota",
        uuid.UUID(sid),
        status,
    )
    await conn.execute(REFRESH_LINES, [uuid.UUID(sid)])
    await conn.execute(
        "INSERT INTO changes (submission_id, version, status, jenis_perubahan, periode, "
        "kode_provinsi, kode_kabkota) VALUES ($1, $2, $3, 'status', $4, $5, $6)",
        uuid.UUID(sid),
        row["version"],
        status,
        row["periode"],
        row["kode_provinsi"],
        row["kode_kabkota"],
    )


async def db_changes(pg) -> list[tuple]:
    """Every change in feed order, straight from the table."""
    rows = await pg.fetch("SELECT submission_id::text, version, jenis_perubahan, status FROM changes ORDER BY xid, id")
    return [tuple(r) for r in rows]


def key_of(line: dict) -> tuple:
    return (line["submission_id"], line["version"], line["jenis_perubahan"], line["status"])


# The entity a record is linked to (migration 0011), which its line names (0012).
_LINKED = "(SELECT t.id_kumkm FROM kumkm_tautan t WHERE t.submission_id = s.submission_id)"

# The walidata lines of the given records, rendered as the service's own statements render
# them: raw writers here keep sync_records like the ingest and verification statements do.
REFRESH_LINES = f"""
    INSERT INTO sync_records AS r (submission_id, periode, kode_provinsi, kode_kabkota, line, id_kumkm)
    SELECT s.submission_id, s.periode, s.kode_provinsi, s.kode_kabkota, {record_line("s", "v.data", _LINKED)},
           {_LINKED}
    FROM submissions s
    JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    WHERE s.submission_id = ANY($1::uuid[])
    ON CONFLICT (submission_id) DO UPDATE
        SET periode = excluded.periode, kode_provinsi = excluded.kode_provinsi,
            kode_kabkota = excluded.kode_kabkota, line = excluded.line, id_kumkm = excluded.id_kumkm
"""

# Every record whose stored line differs from a fresh rendering (its entity included), or that
# has a line but no record (or the reverse): empty when sync_records is exact.
STALE_LINES = f"""
    SELECT coalesce(s.submission_id, r.submission_id)::text
    FROM (SELECT s.*, {record_line("s", "v.data", _LINKED)} AS fresh, {_LINKED} AS linked FROM submissions s
          JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version) s
    FULL JOIN sync_records r ON r.submission_id = s.submission_id
    WHERE r.line IS DISTINCT FROM s.fresh OR r.kode_kabkota IS DISTINCT FROM s.kode_kabkota
       OR r.kode_provinsi IS DISTINCT FROM s.kode_provinsi OR r.periode IS DISTINCT FROM s.periode
       OR r.id_kumkm IS DISTINCT FROM s.linked
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


# ---- Links to entities, written the way the registry's linker writes them (migration 0011) and
# handed to the walidata by the one call it makes in its own transaction, kumkm_tautan_berubah()
# (migration 0012): the record lines then name the entity, and the feed has a change for each.


async def raw_entity(conn, kode_kabkota: str = "16.07", jenis: str = "umkm", oleh: str = "sistem") -> str:
    """A new entity and its `dibuat` event, inside the caller's transaction."""
    nomor = await conn.fetchval("SELECT nextval('kumkm_nomor')")
    id_kumkm = f"{'K' if jenis == 'koperasi' else 'U'}{nomor:09d}0"
    await conn.execute(
        "INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota) VALUES ($1, $2, $3, $4)",
        id_kumkm,
        jenis,
        kode_kabkota.split(".")[0],
        kode_kabkota,
    )
    await conn.execute("INSERT INTO kumkm_peristiwa (id_kumkm, aksi, oleh) VALUES ($1, 'dibuat', $2)", id_kumkm, oleh)
    return id_kumkm


async def raw_link(conn, sids: list[str], id_kumkm: str | None = None, kode_kabkota: str = "16.07") -> str:
    """Link the records to an entity (a new one when None), each with its `ditautkan` event, and
    tell the walidata: the linker's batch in miniature."""
    import uuid

    if id_kumkm is None:
        id_kumkm = await raw_entity(conn, kode_kabkota)
    for sid in sids:
        periode = await conn.fetchval("SELECT periode FROM submissions WHERE submission_id = $1", uuid.UUID(sid))
        await conn.execute(
            "INSERT INTO kumkm_tautan (submission_id, id_kumkm, periode, dasar) VALUES ($1, $2, $3, 'nib') "
            "ON CONFLICT (submission_id) DO UPDATE SET id_kumkm = excluded.id_kumkm, dasar = 'gabung'",
            uuid.UUID(sid),
            id_kumkm,
            periode,
        )
        await conn.execute(
            "INSERT INTO kumkm_peristiwa (id_kumkm, aksi, oleh, detail) VALUES ($1, 'ditautkan', 'sistem', "
            "jsonb_build_object('submission_id', $2::text, 'periode', $3::text, 'dasar', 'nib'))",
            id_kumkm,
            sid,
            periode,
        )
    await conn.execute("UPDATE kumkm SET versi = versi + 1, diperbarui_pada = now() WHERE id_kumkm = $1", id_kumkm)
    await conn.fetchval("SELECT kumkm_tautan_berubah($1::uuid[])", [uuid.UUID(s) for s in sids])
    return id_kumkm


async def raw_unlink(conn, sids: list[str]) -> None:
    """Remove the records' links (a reversed acceptance), each with its `dilepas` event."""
    import uuid

    for sid in sids:
        id_kumkm = await conn.fetchval("DELETE FROM kumkm_tautan WHERE submission_id = $1 RETURNING id_kumkm", uuid.UUID(sid))
        await conn.execute(
            "INSERT INTO kumkm_peristiwa (id_kumkm, aksi, oleh, detail) VALUES ($1, 'dilepas', 'sistem', "
            "jsonb_build_object('submission_id', $2::text))",
            id_kumkm,
            sid,
        )
        await conn.execute("UPDATE kumkm SET versi = versi + 1, diperbarui_pada = now() WHERE id_kumkm = $1", id_kumkm)
    await conn.fetchval("SELECT kumkm_tautan_berubah($1::uuid[])", [uuid.UUID(s) for s in sids])


async def raw_merge(conn, retired: str, survivor: str, oleh: str = "verif-banyuasin") -> list[str]:
    """Merge `retired` into `survivor` as the verifikator's `tautkan` does: its links move, it
    says digabung_ke, both get a `digabung` event with the moved records."""
    moved = [
        str(r[0])
        for r in await conn.fetch(
            "UPDATE kumkm_tautan SET id_kumkm = $2, dasar = 'gabung' WHERE id_kumkm = $1 RETURNING submission_id", retired, survivor
        )
    ]
    await conn.execute(
        "UPDATE kumkm SET digabung_ke = $2, versi = versi + 1, diperbarui_pada = now() WHERE id_kumkm = $1", retired, survivor
    )
    await conn.execute("UPDATE kumkm SET versi = versi + 1, diperbarui_pada = now() WHERE id_kumkm = $1", survivor)
    for a, b in ((retired, survivor), (survivor, retired)):
        await conn.execute(
            "INSERT INTO kumkm_peristiwa (id_kumkm, aksi, oleh, alasan, detail) VALUES ($1, 'digabung', $3, "
            "'sama: NIB dan nama', jsonb_build_object('dengan', $2::text, 'submission_ids', $4::text[]))",
            a,
            b,
            oleh,
            sorted(moved),
        )
    await conn.fetchval("SELECT kumkm_tautan_berubah($1::uuid[])", moved)
    return moved


async def db_peristiwa(pg) -> list[tuple]:
    """Every entity event in feed order, straight from the table."""
    rows = await pg.fetch("SELECT id_kumkm, aksi, id FROM kumkm_peristiwa ORDER BY xid, id")
    return [tuple(r) for r in rows]


def event_of(line: dict) -> tuple:
    """An entity feed line as db_peristiwa lists it: the event's id is its cursor's position."""
    from app.sync.cursor import EntitasCursor

    return (line["id_kumkm"], line["aksi"], EntitasCursor.decode(line["cursor"]).id)
