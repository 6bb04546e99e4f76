"""A unit of work: the caller opens the transaction, the services run in it, and what must wait
for the commit (the key cache) waits for it (app.infra.db.after_commit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.infra import db

ROOT = Path(__file__).resolve().parent.parent

# Run in a process of its own: the test server of the other tests runs in this process, on
# another event loop, and shares the module's request pool, which a test here must not take
# from under it.
SCENARIO = r'''
import asyncio, json

from sqlalchemy import text

from app.infra import db
from app.keys import service


async def holders():
    """The holder's keys as another connection of the pool sees them."""
    async with db.connect() as other:
        return (await other.execute(text("SELECT count(*) FROM api_keys WHERE name = 'uow-holder'"))).scalar()


async def main():
    seen = {}
    ran = []
    async with db.transaction() as conn:
        await conn.execute(text("SELECT 1"))
        db.after_commit(conn, lambda: ran.append("first"))
        db.after_commit(conn, lambda: ran.append("second"))
        seen["before_commit"] = list(ran)
    seen["after_commit"] = list(ran)

    ran.clear()
    try:
        async with db.transaction() as conn:
            db.after_commit(conn, lambda: ran.append("rolled back"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    seen["after_rollback"] = list(ran)

    async with db.connect() as conn:
        try:
            db.after_commit(conn, lambda: None)
            seen["outside"] = "accepted"
        except RuntimeError as exc:
            seen["outside"] = str(exc)

    async with db.transaction() as conn:
        issued = await service.create(conn, "uow-holder", "dinas", "16")
    calls = []
    service.clear_cache = lambda: calls.append("cleared")
    async with db.transaction() as conn:
        successor = await service.rotate(conn, str(issued.id))
        seen["rotate_cleared_inside"] = list(calls)
        seen["rotate_keys_inside"] = await holders()
    seen["rotate_cleared_after"] = list(calls)
    seen["rotate_keys_after"] = await holders()

    calls.clear()
    try:
        async with db.transaction() as conn:
            await service.revoke(conn, str(successor[0]))
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    seen["revoke_rolled_back_cleared"] = list(calls)
    async with db.connect() as other:
        seen["revoked_at"] = str((await other.execute(text("SELECT revoked_at FROM api_keys WHERE id = :id"),
                                                      {"id": successor[0]})).scalar())
    await db.dispose_engine()
    print(json.dumps(seen))


asyncio.run(main())
'''


def test_after_commit_and_key_rotation_in_a_unit_of_work(database_url):
    out = subprocess.run(
        [sys.executable, "-c", SCENARIO],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": database_url, "KUMKM_SKIP_MIGRATE": "1"},
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    # after_commit: in order, once committed; never on rollback; only inside a transaction
    assert seen["before_commit"] == []
    assert seen["after_commit"] == ["first", "second"]
    assert seen["after_rollback"] == []
    assert "after_commit needs" in seen["outside"]
    # a rotation empties the key cache only once the new key is committed (visible elsewhere)
    assert (seen["rotate_cleared_inside"], seen["rotate_keys_inside"]) == ([], 1)
    assert (seen["rotate_cleared_after"], seen["rotate_keys_after"]) == (["cleared"], 2)
    # a revocation rolled back with its unit of work neither revokes nor empties the cache
    assert seen["revoke_rolled_back_cleared"] == [] and seen["revoked_at"] == "None"


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

    writes = [r for r in indicators.routes + targets.routes if isinstance(r, APIRoute) and r.methods & {"POST", "PUT", "PATCH", "DELETE"}]
    assert len(writes) == 11
    assert [r.path for r in writes if db.unit_of_work not in calls(r.dependant)] == []
