"""A record's riwayat (every transition, oldest first) and its versi (the content as each
ingest or correction stored it)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from app.verification import queries


async def record_head(conn: AsyncConnection, submission_id: uuid.UUID):
    return (await conn.execute(queries.RECORD_HEAD, {"id": submission_id})).first()


async def riwayat_list(conn: AsyncConnection, submission_id: uuid.UUID) -> list[dict]:
    return [dict(r) for r in (await conn.execute(queries.RIWAYAT, {"id": submission_id})).mappings()]


async def versi_list(conn: AsyncConnection, submission_id: uuid.UUID) -> list[dict]:
    return [
        {"version": r.version, "dibuat_oleh": r.dibuat_oleh, "dibuat_pada": r.dibuat_pada}
        for r in await conn.execute(queries.VERSI_LIST, {"id": submission_id})
    ]


async def versi_one(conn: AsyncConnection, submission_id: uuid.UUID, version: int):
    return (await conn.execute(queries.VERSI_ONE, {"id": submission_id, "version": version})).first()
