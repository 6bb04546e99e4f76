"""Wilayah listings for the API. The in-memory index every domain validates against is
app.record.reference."""

from __future__ import annotations

from app.infra import db
from app.wilayah import queries


async def children(parent: str | None) -> list[dict]:
    async with db.connect() as conn:
        rows = (await conn.execute(queries.CHILDREN, {"parent": parent})).mappings().all()
    return [dict(r) for r in rows]


async def get(kode: str) -> dict | None:
    async with db.connect() as conn:
        row = (await conn.execute(queries.ONE, {"kode": kode})).mappings().first()
    return dict(row) if row else None
