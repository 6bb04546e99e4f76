"""Ingest and read PL-KUMKM records.

Every item goes through the same path whether it came alone, in a batch, from the `kumkm
import` CLI (importer.py) or from OpenRosa: app.core.record.prepare (validation, reference
checks, derivation), then one set-based insert here."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import orjson

from app.core import citus, db
from app.core.access import Principal, roles
from app.core.record.prepare import Prepared, Rejected, created_out, prepare, record_out
from app.core.record.read import get_row
from app.submissions import queries

__all__ = ["Prepared", "Rejected", "Outcome", "prepare", "store", "record_out", "created_out", "get_row",
           "list_rows", "POSTING_ROLES"]

POSTING_ROLES = roles("record.post")


# ---------------------------------------------------------------- writing

@dataclass
class Outcome:
    prepared: Prepared
    outcome: str        # created | duplicate | conflict
    created_at: dt.datetime | None = None
    duplikat_dengan: list | None = None


async def store(prepared: list[Prepared], principal: Principal) -> list[Outcome]:
    """Insert what is new; classify the rest as replay (same content) or conflict. One
    statement, so each item is all there (record, version, history, change) or not at all."""
    if not prepared:
        return []
    # The same id twice in one batch: the first one is the record, later ones are replays.
    first: dict[str, Prepared] = {}
    for p in prepared:
        first.setdefault(p.submission_id, p)
    if citus.enabled():
        created, stored_hash = await _store_citus(first, principal)
        return _outcomes(prepared, first, created, stored_hash)
    rows = orjson.dumps([p.row for p in first.values()]).decode()
    # One statement writes record, version, history and change together: atomic per item
    # without an explicit transaction (see db.autocommit for why that matters here).
    async with db.driver() as conn:
        result = await conn.fetch(queries.INSERT_MANY_NATIVE, rows, principal.name, principal.id,
                                  principal.role)
        created = {str(r[0]): r for r in result}
        stored_hash = {sid: first[sid].content_hash for sid in created}
        others = [sid for sid in first if sid not in created]
        if others:
            res = await conn.fetch(queries.EXISTING_HASHES_NATIVE, others)
            stored_hash.update({str(r[0]): r[1] for r in res})
    return _outcomes(prepared, first, created, stored_hash)


def _outcomes(prepared: list[Prepared], first: dict[str, Prepared], created: dict,
              stored_hash: dict[str, str]) -> list[Outcome]:
    out = []
    for p in prepared:
        sid = p.submission_id
        if sid in created and first[sid] is p:
            out.append(Outcome(p, "created", created[sid][1], list(created[sid][2] or [])))
        else:
            out.append(Outcome(p, "duplicate" if stored_hash.get(sid) == p.content_hash else "conflict"))
    return out


async def _store_citus(first: dict[str, Prepared], principal: Principal) -> tuple[dict, dict[str, str]]:
    """store() on a Citus coordinator (app.core.citus): one transaction that claims the ids in
    the directory, then writes each provinsi's new records with one statement routed to the
    worker holding that provinsi (queries.py says why it differs). Same outcomes as on one
    server: what the directory did not let through is a replay or a conflict by its hash."""
    by_provinsi: dict[str, list[Prepared]] = {}
    for p in first.values():
        by_provinsi.setdefault(p.row["kode_provinsi"], []).append(p)
    created: dict = {}
    stored_hash: dict[str, str] = {}
    async with db.driver() as conn, conn.transaction():
        ids = list(first)
        claimed = {str(r[0]) for r in await conn.fetch(
            queries.CLAIM_IDS_CITUS, ids, [first[i].row["kode_provinsi"] for i in ids])}
        # provinsi in a fixed order: two batches spanning the same provinsi lock in one order
        for provinsi in sorted(by_provinsi):
            fresh = [p.row for p in by_provinsi[provinsi] if p.submission_id in claimed]
            if fresh:
                result = await conn.fetch(queries.INSERT_PROVINSI_CITUS, orjson.dumps(fresh).decode(),
                                          principal.name, principal.id, principal.role, provinsi)
                created.update({str(r[0]): r for r in result})
        stored_hash.update({sid: first[sid].content_hash for sid in created})
        others = [sid for sid in first if sid not in claimed]
        if others:
            where: dict[str, list[str]] = {}
            for sid, provinsi in await conn.fetch(queries.DIRECTORY_CITUS, others):
                where.setdefault(provinsi, []).append(str(sid))
            for provinsi, sids in sorted(where.items()):
                res = await conn.fetch(queries.EXISTING_HASHES_CITUS, provinsi, sids)
                stored_hash.update({str(r[0]): r[1] for r in res})
    return created, stored_hash


async def list_rows(*, level: int | None, kode: str | None, periode: str | None, jenis: str | None,
                    status: str | None, after: uuid.UUID | None, limit: int):
    async with db.connect() as conn:
        stmt = (queries.LIST_CITUS if citus.enabled() else queries.LIST)[level]
        return (await conn.execute(stmt, {
            "kode": kode, "periode": periode, "jenis": jenis, "status": status,
            "after": after, "limit": limit,
        })).all()
