"""Reading one record as the API shows it (app.record.prepare.record_out): shared by
GET /submissions, corrections and the verification page, so a column added to the answer is
selected in one place."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.infra import citus

RECORD_SELECT = """
    SELECT s.submission_id, s.periode, s.jenis, s.kode_wilayah, s.kode_kabkota, s.status,
           s.version, s.enumerator_id, s.captured_at, s.skala_usaha, s.sektor,
           s.dibuat_oleh, s.dibuat_pada, s.diperbarui_pada, v.data,
           COALESCE(d.ids, '{}') AS duplikat_dengan,
           -- records belong to the holder of the key that created them, never to a name
           (SELECT k.identity_id FROM api_keys k WHERE k.id = s.dibuat_oleh_key) AS owner_identity
    FROM submissions s
    JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    LEFT JOIN LATERAL (
        SELECT array_agg(o.submission_id ORDER BY o.submission_id) AS ids FROM submissions o
        WHERE s.duplikat_kunci IS NOT NULL AND o.duplikat_kunci = s.duplikat_kunci
          AND o.submission_id <> s.submission_id
    ) d ON true
"""

GET_ONE = text(RECORD_SELECT + " WHERE s.submission_id = :id")

# On a Citus coordinator (app.infra.citus) the version and the likely duplicates are joined on
# kode_provinsi too, the distribution column: the joins stay on the record's own worker (the
# duplicate key holds the kabupaten/kota, so duplicates share the provinsi). One record is
# found by the directory first (one routed query names its provinsi), then read with the
# provinsi named, so that one shard answers instead of all of them.
RECORD_SELECT_CITUS = RECORD_SELECT.replace(
    "v.submission_id = s.submission_id AND", "v.kode_provinsi = s.kode_provinsi AND v.submission_id = s.submission_id AND"
).replace("WHERE s.duplikat_kunci IS NOT NULL", "WHERE o.kode_provinsi = s.kode_provinsi AND s.duplikat_kunci IS NOT NULL")
assert RECORD_SELECT_CITUS.count("kode_provinsi") == 4
PROVINSI_OF = text("SELECT kode_provinsi FROM submission_ids WHERE submission_id = :id")
GET_ONE_CITUS = text(RECORD_SELECT_CITUS + " WHERE s.kode_provinsi = :provinsi AND s.submission_id = :id")


async def get_row(conn: AsyncConnection, submission_id: uuid.UUID | str) -> Row[Any] | None:
    """One record, read through the caller's connection (a unit of work reads what it just wrote)."""
    if citus.enabled():
        provinsi = (await conn.execute(PROVINSI_OF, {"id": submission_id})).scalar()
        if provinsi is None:
            return None
        return (await conn.execute(GET_ONE_CITUS, {"id": submission_id, "provinsi": provinsi})).first()
    return (await conn.execute(GET_ONE, {"id": submission_id})).first()
