"""Reading one record as the API shows it (app.core.record.prepare.record_out): shared by
GET /submissions, corrections and the verification page, so a column added to the answer is
selected in one place."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, text

from app.core import db

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


async def get_row(submission_id: uuid.UUID | str) -> Row[Any] | None:
    async with db.connect() as conn:
        return (await conn.execute(GET_ONE, {"id": submission_id})).first()
