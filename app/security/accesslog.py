"""The access log: who saw personal data unmasked or pulled the feed, and what (read back by
GET /api/v1/audit). Written in the caller's transaction when it has one, else in its own."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.infra import db
from app.security.principal import Principal

_LOG_ACCESS = text(
    """
    INSERT INTO access_log (key_id, key_name, role, endpoint, detail, rows)
    VALUES (:key_id, :key_name, :role, :endpoint, CAST(:detail AS jsonb), :rows)
    """
)


async def log_access(
    principal: Principal, endpoint: str, detail: dict[str, Any], rows: int | None = None, conn: AsyncConnection | None = None
) -> None:
    """Append to the access log: who saw personal data or pulled the feed, and what."""
    params = {
        "key_id": principal.id,
        "key_name": principal.name,
        "role": principal.role,
        "endpoint": endpoint,
        "detail": orjson.dumps(detail).decode(),
        "rows": rows,
    }
    if conn is not None:
        await conn.execute(_LOG_ACCESS, params)
    else:
        async with db.transaction() as c:
            await c.execute(_LOG_ACCESS, params)
