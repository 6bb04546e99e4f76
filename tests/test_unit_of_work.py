"""A unit of work: the caller opens the transaction, the services run in it, and what must wait
for the commit (the key cache) waits for it (app.infra.db.after_commit)."""
from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text

from app.infra import db
from app.keys import service as keys_service
from tests.conftest import asyncpg_params


@pytest.fixture
async def engine(database_url):
    # the request pool is bound to the event loop that made it: one per test
    yield
    await db.dispose_engine()


async def test_after_commit_runs_after_the_commit_and_never_on_rollback(engine):
    ran: list[str] = []
    async with db.transaction() as conn:
        await conn.execute(text("SELECT 1"))
        db.after_commit(conn, lambda: ran.append("first"))
        db.after_commit(conn, lambda: ran.append("second"))
        assert ran == []
    assert ran == ["first", "second"]

    ran.clear()
    with pytest.raises(RuntimeError, match="boom"):
        async with db.transaction() as conn:
            db.after_commit(conn, lambda: ran.append("rolled back"))
            raise RuntimeError("boom")
    assert ran == []


async def test_after_commit_needs_a_transaction(engine):
    async with db.connect() as conn:
        with pytest.raises(RuntimeError, match="after_commit"):
            db.after_commit(conn, lambda: None)


async def test_rotation_empties_the_key_cache_only_once_committed(engine, database_url, monkeypatch):
    async with db.transaction() as conn:
        issued = await keys_service.create(conn, "uow-holder", "dinas", "16")
    seen: list[int] = []

    async def committed() -> int:
        """The holder's keys as another connection sees them."""
        pg = await asyncpg.connect(**asyncpg_params(database_url))
        try:
            return await pg.fetchval("SELECT count(*) FROM api_keys WHERE name = 'uow-holder'")
        finally:
            await pg.close()

    calls: list[str] = []
    monkeypatch.setattr(keys_service, "clear_cache", lambda: calls.append("cleared"))
    async with db.transaction() as conn:
        successor = await keys_service.rotate(conn, str(issued.id))
        assert successor is not None
        assert calls == []                       # not before the commit
        seen.append(await committed())
    assert calls == ["cleared"]
    seen.append(await committed())
    assert seen == [1, 2]                        # the successor was invisible until the commit

    calls.clear()
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await keys_service.revoke(conn, str(successor[0]))
            raise RuntimeError("rolled back")
    assert calls == []
    pg = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        assert await pg.fetchval("SELECT revoked_at FROM api_keys WHERE id = $1", successor[0]) is None
    finally:
        await pg.close()


def test_every_indicator_and_target_write_route_opens_a_unit_of_work():
    """Their services take the route's connection; none opens a transaction of its own."""
    from fastapi.routing import APIRoute

    from app.indicators.router import router as indicators
    from app.targets.router import router as targets

    def calls(dependant) -> set:
        found = set()
        for sub in dependant.dependencies:
            found.add(sub.call)
            found |= calls(sub)
        return found

    writes = [r for r in indicators.routes + targets.routes
              if isinstance(r, APIRoute) and r.methods & {"POST", "PUT", "PATCH", "DELETE"}]
    assert len(writes) == 11
    assert [r.path for r in writes if db.unit_of_work not in calls(r.dependant)] == []
