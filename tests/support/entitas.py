"""Entities for the tests of what is computed from them (indicators, dashboard counts).

`linker(database_url)` keeps the live service's background linker idle (its turn's session
lock held, as tests/api/test_registry_linker.py does) and gives a function that links the
queue with the linker itself (app.registry.linker.tautkan_semua): a test decides when records
become entities, and what it sees is what that run did. `gabung(pg, a, b)` moves every link of
record b's entity into record a's entity, as a verifikator's `tautkan` of a candidate does
(branch reg-api; the test needs only its outcome)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.infra import db
from app.registry.linker import KUNCI_LATAR, Hasil, tautkan_semua
from tests.support.common import asyncpg_params


@asynccontextmanager
async def linker(database_url: str) -> AsyncIterator[Callable[[], Awaitable[Hasil]]]:
    holder = await asyncpg.connect(**asyncpg_params(database_url))
    await holder.execute(f"SELECT pg_advisory_lock({KUNCI_LATAR})")
    engine = create_async_engine(db.normalize_url(database_url), poolclass=NullPool)

    async def tautkan() -> Hasil:
        return await tautkan_semua(transaction=engine.begin)

    try:
        yield tautkan
    finally:
        await engine.dispose()
        await holder.close()


async def entitas_of(pg, submission_id: str) -> str:
    return await pg.fetchval("SELECT id_kumkm FROM kumkm_tautan WHERE submission_id = $1::uuid", submission_id)


async def gabung(pg, submission_a: str, submission_b: str) -> None:
    """The entity of record b merged into the entity of record a (a verifikator's tautkan)."""
    a, b = await entitas_of(pg, submission_a), await entitas_of(pg, submission_b)
    assert a and b and a != b
    async with pg.transaction():
        await pg.execute("UPDATE kumkm_tautan SET id_kumkm = $1, dasar = 'gabung' WHERE id_kumkm = $2", a, b)
        await pg.execute("UPDATE kumkm_pengenal SET id_kumkm = $1 WHERE id_kumkm = $2", a, b)
        await pg.execute(
            "UPDATE kumkm_kandidat SET status = 'ditautkan' WHERE status = 'terbuka' AND $1 IN (id_a, id_b) AND $2 IN (id_a, id_b)", a, b
        )
        await pg.execute("UPDATE kumkm SET digabung_ke = $1, versi = versi + 1 WHERE id_kumkm = $2", a, b)
        await pg.execute("UPDATE kumkm SET versi = versi + 1 WHERE id_kumkm = $1", a)
