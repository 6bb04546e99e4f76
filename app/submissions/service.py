"""Ingest and read PL-KUMKM records.

Every item goes through the same path whether it came alone, in a batch, from the `kumkm
import` CLI (importer.py) or from OpenRosa: app.record.prepare (validation, reference
checks, derivation), then one set-based insert here."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.errors import INVALID, OUTSIDE_SCOPE, fault_kind
from app.infra import citus, db
from app.infra.group_commit import PerLoop
from app.observability.metrics import INGEST_GROUP
from app.record.prepare import Prepared, Rejected, created_out, record_out
from app.record.prepare import prepare as prepare_record
from app.record.read import get_row
from app.security.principal import Principal
from app.submissions import queries

__all__ = ["Prepared", "Rejected", "Outcome", "prepare", "store", "record_out", "created_out", "get_row", "list_rows"]


# ---------------------------------------------------------------- follow-up visits


async def prepare(items: list, principal: Principal) -> tuple[list[Prepared], list[Rejected]]:
    """app.record.prepare: every way a new record comes in (POST, batch, `kumkm import`,
    OpenRosa) goes through here, then store()."""
    return await prepare_record(items, principal)


def _judge(found: dict, first: dict[str, tuple[Prepared, Principal]]) -> dict[str, Rejected]:
    """Follow-up visits (records naming an `id_kumkm`, docs/pemutakhiran.md) against the
    entities they name (`found`: queries.ENTITAS_PEMUTAKHIRAN's rows by the id asked): the
    entity must exist (422), be of the record's jenis (422) and lie in the key's wilayah
    (403). Refused items leave `first` and are answered by submission_id; a merged entity's id
    still names it, and the record goes to the live one."""
    refused: dict[str, Rejected] = {}
    for sid, (p, who) in list(first.items()):
        asked_id = p.row["id_kumkm"]
        if asked_id is None:
            continue
        e = found.get(asked_id)
        if e is None:
            message = f"id_kumkm {asked_id} tidak ada di registry: pilih usaha dari daftar entitas (usaha.csv atau /api/v1/kumkm/daftar)"
            refused[sid] = Rejected(p.index, sid, INVALID, [{"field": "id_kumkm", "type": "not_found", "message": message}])
        elif e["jenis"] != p.row["jenis"]:
            message = f"id_kumkm {asked_id} adalah entitas {e['jenis']}, bukan {p.row['jenis']}: pemutakhiran harus untuk jenis yang sama"
            refused[sid] = Rejected(p.index, sid, INVALID, [{"field": "id_kumkm", "type": "jenis", "message": message}])
        elif not who.covers(e["kode_wilayah"]):
            message = f"id_kumkm {asked_id} di luar wilayah kunci ini ({who.kode_wilayah} dan wilayah di dalamnya)"
            refused[sid] = Rejected(p.index, sid, OUTSIDE_SCOPE, [{"field": "id_kumkm", "type": "scope", "message": message}])
        elif (base := p.row["versi_dasar"]) is not None and base > e["versi_diminta"]:
            # a version the entity never had: taken as it is, it would escape the stale check
            # and mark every later follow-up of the entity as concurrent with it
            message = f"versi_dasar {base} lebih baru dari versi entitas {asked_id} ({e['versi_diminta']}): ambil ulang daftar entitas"
            refused[sid] = Rejected(p.index, sid, INVALID, [{"field": "versi_dasar", "type": "too_new", "message": message}])
        else:
            p.row["id_kumkm"] = e["id_kumkm"]
            if e["id_kumkm"] != asked_id and e["versi"] > 1:
                # merged since the phone's list: its versi_dasar counts the merged-away entity's
                # versions, not the live one's, so compared as it is it would say nothing; the
                # entity changed under the phone (the merge), which is a stale base by definition
                p.row["versi_dasar"] = min(base or e["versi"], e["versi"] - 1)
    for sid in refused:
        del first[sid]
    return refused


async def _follow_ups(conn: Any, first: dict[str, tuple[Prepared, Principal]]) -> dict[str, Rejected]:
    """The entities the group's follow-ups name, read on the group's own connection (one query
    for the whole group, none when it has no follow-up), then judged."""
    asked = sorted({p.row["id_kumkm"] for p, _ in first.values() if p.row["id_kumkm"] is not None})
    if not asked:
        return {}
    found = {r["asked"]: r for r in await conn.fetch(queries.ENTITAS_PEMUTAKHIRAN_NATIVE, asked)}
    return _judge(found, first)


# ---------------------------------------------------------------- writing


@dataclass
class Outcome:
    prepared: Prepared
    outcome: str  # created | duplicate | conflict | rejected (a follow-up's entity: `rejected` says why)
    dibuat_pada: dt.datetime | None = None
    duplikat_dengan: list | None = None
    rejected: Rejected | None = None


async def store(prepared: list[Prepared], principal: Principal) -> list[Outcome]:
    """Insert what is new; classify the rest as replay (same content) or conflict. One
    statement, so each item is all there (record, version, history, change) or not at all.
    A single item waits to share its statement with other single writes (app.infra.group_commit).

    The one write of these domains that takes no connection from its route: a single item's
    statement carries the items of several requests, so its connection (and on Citus its
    transaction) belongs to the group, not to any one route; a batch goes the same way."""
    if not prepared:
        return []
    if len(prepared) == 1:
        return [await _singles().submit((prepared[0], principal))]
    return await _store([(p, principal) for p in prepared])


async def _store(items: list[tuple[Prepared, Principal]]) -> list[Outcome]:
    # The same id twice in one statement: the first one is the record, later ones are replays
    # (or conflicts, when their content differs).
    first: dict[str, tuple[Prepared, Principal]] = {}
    for p, who in items:
        first.setdefault(p.submission_id, (p, who))
    if citus.enabled():
        refused: dict[str, Rejected] = {}
        if any(p.row["id_kumkm"] is not None for p, _ in first.values()):
            async with db.driver() as conn:
                refused = await _follow_ups(conn, first)
        created, stored_hash = await _store_citus(first)
        return _outcomes(items, first, created, stored_hash, refused)
    # One statement writes record, version, history and change together: atomic per item
    # without an explicit transaction (see db.autocommit for why that matters here).
    async with db.driver() as conn:
        refused = await _follow_ups(conn, first)
        rows = orjson.dumps([_with_actor(p, who) for p, who in first.values()]).decode()
        result = await conn.fetch(queries.INSERT_MANY_NATIVE, rows)
        created = {str(r[0]): r for r in result}
        stored_hash = {sid: first[sid][0].content_hash for sid in created}
        others = [sid for sid in first if sid not in created]
        if others:
            res = await conn.fetch(queries.EXISTING_HASHES_NATIVE, others)
            stored_hash.update({str(r[0]): r[1] for r in res})
            # a replay is acknowledged only once the record is on the synchronous standby
            await db.replay_barrier(conn)
    return _outcomes(items, first, created, stored_hash, refused)


def _with_actor(p: Prepared, who: Principal) -> dict:
    """The row as the ingest statements take it: who wrote it travels with it, since one
    statement can carry the single writes of several enumerators (app.infra.group_commit)."""
    return {**p.row, "actor": who.name, "actor_key": who.id, "actor_role": who.role}


def _outcomes(
    items: list[tuple[Prepared, Principal]],
    first: dict[str, tuple[Prepared, Principal]],
    created: dict,
    stored_hash: dict[str, str],
    refused: dict[str, Rejected],
) -> list[Outcome]:
    out = []
    for p, _ in items:
        sid = p.submission_id
        if sid in refused:
            out.append(Outcome(p, "rejected", rejected=refused[sid]))
        elif sid in created and first[sid][0] is p:
            out.append(Outcome(p, "created", created[sid][1], list(created[sid][2] or [])))
        else:
            out.append(Outcome(p, "duplicate" if stored_hash.get(sid) == p.content_hash else "conflict"))
    return out


async def _store_group(items: list[tuple[Prepared, Principal]]) -> list[Outcome | BaseException]:
    """Single writes of several callers in one statement. An error of the database itself
    (gone, busy, disk full) is every caller's; an error of the statement (a row the database
    refused) would be one item's, so the items are then stored one by one, each caller
    getting its own answer."""
    INGEST_GROUP.observe(len(items))
    try:
        return list(await _store(items))
    except Exception as exc:
        if len(items) == 1 or fault_kind(exc) is not None:
            raise
    out: list[Outcome | BaseException] = []
    for item in items:
        try:
            out.extend(await _store([item]))
        except Exception as exc:
            out.append(exc)
    return out


# One queue per event loop (group_commit.PerLoop).
_coalescers = PerLoop(_store_group)
_singles = _coalescers.get


async def _store_citus(first: dict[str, tuple[Prepared, Principal]]) -> tuple[dict, dict[str, str]]:
    """store() on a Citus coordinator (app.infra.citus): one transaction that claims the ids in
    the directory, then writes each provinsi's new records with one statement routed to the
    worker holding that provinsi (queries.py says why it differs). Same outcomes as on one
    server: what the directory did not let through is a replay or a conflict by its hash."""
    by_provinsi: dict[str, list[tuple[Prepared, Principal]]] = {}
    for p, who in first.values():
        by_provinsi.setdefault(p.row["kode_provinsi"], []).append((p, who))
    created: dict = {}
    stored_hash: dict[str, str] = {}
    async with db.driver() as conn, conn.transaction():
        ids = list(first)
        claimed = {str(r[0]) for r in await conn.fetch(queries.CLAIM_IDS_CITUS, ids, [first[i][0].row["kode_provinsi"] for i in ids])}
        # provinsi in a fixed order: two batches spanning the same provinsi lock in one order
        for provinsi in sorted(by_provinsi):
            fresh = [_with_actor(p, who) for p, who in by_provinsi[provinsi] if p.submission_id in claimed]
            if fresh:
                result = await conn.fetch(queries.INSERT_PROVINSI_CITUS, orjson.dumps(fresh).decode(), provinsi)
                created.update({str(r[0]): r for r in result})
        stored_hash.update({sid: first[sid][0].content_hash for sid in created})
        others = [sid for sid in first if sid not in claimed]
        if others:
            where: dict[str, list[str]] = {}
            for sid, provinsi in await conn.fetch(queries.DIRECTORY_CITUS, others):
                where.setdefault(provinsi, []).append(str(sid))
            for provinsi, sids in sorted(where.items()):
                res = await conn.fetch(queries.EXISTING_HASHES_CITUS, provinsi, sids)
                stored_hash.update({str(r[0]): r[1] for r in res})
    return created, stored_hash


async def list_rows(
    conn: AsyncConnection,
    *,
    level: int | None,
    kode: str | None,
    periode: str | None,
    jenis: str | None,
    status: str | None,
    after: uuid.UUID | None,
    limit: int,
):
    stmt = (queries.LIST_CITUS if citus.enabled() else queries.LIST)[level]
    return (
        await conn.execute(
            stmt,
            {
                "kode": kode,
                "periode": periode,
                "jenis": jenis,
                "status": status,
                "after": after,
                "limit": limit,
            },
        )
    ).all()
