from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core import timefmt
from app.core.errors import INVALID, NOT_FOUND
from app.infra import citus, db
from app.infra.db import UnitOfWork
from app.record.model import OPENAPI_RECORD_SCHEMA, SubmissionOut
from app.record.prepare import record_out
from app.record.read import get_row
from app.record.reference import check_periode
from app.security.accesslog import log_access
from app.security.authn import AnyKey, require
from app.security.personal import mask_record_data
from app.security.policy import authorize
from app.security.principal import Principal
from app.verification import service
from app.verification.schemas import (
    AntrianPage,
    BatchKeputusanResult,
    Keputusan,
    KeputusanItem,
    KeputusanOut,
    RekapVerifikasi,
    Riwayat,
    VersiList,
    VersiOut,
)
from app.web.batch import body_schema, read_items, read_json

router = APIRouter(prefix="/api/v1", tags=["verifikasi"])

# Who decides and who corrects (app.security.policy); any key reads a record's history and
# versions, inside its wilayah.
CanDecide = Annotated[Principal, Depends(require("record.decide"))]
CanCorrect = Annotated[Principal, Depends(require("record.correct"))]

_CONFLICT = {
    "description": "the record is no longer at the version/state the request saw; the body carries current_status and current_version"
}

_BATCH_BODY = body_schema(KeputusanItem.model_json_schema(by_alias=False))
# Bodies the route reads itself, as dependencies: resolved after the key's and before the unit
# of work's, so that no connection is held while a client is still sending its body.
_JsonBody = Annotated[Any, Depends(read_json)]
_Items = Annotated[list, Depends(read_items)]


async def _keputusan_unit() -> AsyncIterator[AsyncConnection]:
    """The unit of work of a keputusan route (service.decide). On one server a keputusan, or a
    batch of them, is one statement (queries.DECIDE), atomic on its own: an autocommit
    connection spares BEGIN and COMMIT, two round trips on the hot single path, and holds the
    status counters' rows only while the statement runs. On Citus it is several statements
    (directory, locks, one statement per provinsi) that commit together: one transaction."""
    if citus.enabled():
        async with db.transaction() as conn:
            yield conn
    else:
        async with db.autocommit() as conn:
            yield conn


KeputusanUnit = Annotated[AsyncConnection, Depends(_keputusan_unit, scope="function")]

# _READS: a read route opens one connection in its body for its service calls (they take it and
# open none), after the checks that may take one of their own (check_periode's cache of the
# known periode) and closed before the access log takes one: a request never holds two of the
# pool's connections at once, which many requests at a time could starve the pool with.


@router.post(
    "/submissions/{submission_id}/verifikasi",
    response_model=KeputusanOut,
    responses={
        403: {"description": "not a verifikator/admin, or the record is outside the key's scope"},
        404: {"description": "no such record"},
        409: _CONFLICT,
        422: {"description": "field errors"},
    },
)
async def verifikasi(submission_id: uuid.UUID, body: Keputusan, principal: CanDecide, *, conn: KeputusanUnit):
    """Decide one record: `masuk` -> `diterima` | `ditolak`, or reverse an earlier decision
    (`dari` = the state seen, with `catatan`). Applies only if the record is still at `version`
    and in state `dari`; otherwise 409 with the current state. Sending the same decision again
    with the same key answers 200 with `replay: true` and changes nothing."""
    errors = service.rule_errors(body)
    if errors:
        raise INVALID("; ".join(e["message"] for e in errors), errors=errors)
    k = service.Keputusan(0, str(submission_id), body.status, body.dari, body.version, body.alasan_kode, body.catatan)
    (o,) = await service.decide(conn, [k], principal)
    if o.outcome == "rejected":
        raise o.problem()
    # The hot single-decision path: serialise directly (the shape is KeputusanOut).
    return Response(timefmt.dumps(o.result), media_type="application/json")


@router.post(
    "/verifikasi/batch",
    response_model=BatchKeputusanResult,
    openapi_extra={"requestBody": _BATCH_BODY},
    responses={413: {"description": "more items than allowed"}},
)
async def verifikasi_batch(principal: CanDecide, *, items: _Items, conn: KeputusanUnit):
    """Up to 1,000 decisions; each is applied or refused on its own, with the status a single
    decision would have answered. Items for the same record after the first are judged against
    the state the first one left."""
    keputusan, outcomes = service.parse_items(items)
    outcomes += await service.decide(conn, keputusan, principal)
    outcomes.sort(key=lambda o: o.index)
    out_items = []
    for o in outcomes:
        item = {"index": o.index, "submission_id": o.submission_id, "outcome": o.outcome, "status": o.status}
        if o.errors:
            item["errors"] = o.errors
        if o.status == 409:
            item["current_status"] = o.current_status
            item["current_version"] = o.current_version
        out_items.append(item)
    counts = {k: sum(1 for o in outcomes if o.outcome == k) for k in ("decided", "duplicate", "rejected")}
    return Response(timefmt.dumps({**counts, "items": out_items}), media_type="application/json")


_PERIODE = Query(pattern=r"^[0-9]{4}$", description="PL-KUMKM round, e.g. 2022")
_KABKOTA = Query(
    None, description="kabupaten/kota code (e.g. 16.07); may be left out by a key scoped to one kabupaten/kota, which then gets its own"
)
_QUEUE_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {
        "description": "not a verifikator/admin key (`code: role-forbidden`), or the "
        "kabupaten/kota is outside the key's scope (`code: outside-scope`)"
    },
    422: {"description": "invalid filter; `errors` names it"},
}


@router.get("/verifikasi/rekap", response_model=RekapVerifikasi, responses=_QUEUE_REFUSALS)
async def rekap(principal: CanDecide, periode: str = _PERIODE, kabkota: str | None = _KABKOTA):
    """Records per status (belum_diverifikasi, i.e. in status masuk; diterima; ditolak) of one
    kabupaten/kota, or of every kabupaten/kota inside the key's wilayah, read from the status
    counters the triggers keep in the same transaction as the records."""
    await check_periode(periode)
    async with db.connect() as conn:  # after check_periode, which may take one itself (_READS)
        return await service.rekap(conn, principal, periode, kabkota)


@router.get("/verifikasi/antrian", response_model=AntrianPage, responses=_QUEUE_REFUSALS)
async def antrian(
    periode: str = _PERIODE,
    kabkota: str | None = _KABKOTA,
    status: Literal["masuk", "diterima", "ditolak"] = Query("masuk", description="the queue's status"),
    wilayah: str | None = Query(
        None,
        pattern=r"^[0-9]{2}\.[0-9]{2}\.[0-9]{2}(\.[0-9]{4})?$",
        description="only this kecamatan or desa/kelurahan of the kabupaten/kota",
    ),
    enumerator_id: str | None = Query(None, min_length=1, max_length=200, description="only this enumerator's records"),
    jenis: Literal["umkm", "koperasi"] | None = Query(None),
    captured_dari: dt.date | None = Query(None, description="captured on or after this day (WIB)"),
    captured_sampai: dt.date | None = Query(None, description="captured on or before this day (WIB)"),
    duplikat: bool | None = Query(None, description="true: only likely duplicates; false: none of them"),
    konflik: bool | None = Query(None, description="true: only follow-up visits marked as a conflict; false: none of them"),
    urut: Literal["tangkap", "terlama"] = Query(
        "tangkap",
        description="`tangkap` (default): oldest capture first; `terlama`: longest waiting in its status first (since it "
        "arrived, or was corrected back to masuk: docs/kampanye.md, backlog); a cursor belongs to its order",
    ),
    cursor: str | None = Query(None, max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=200),
    *,
    principal: CanDecide,
):
    """The verifikator's work list: a kabupaten/kota's records of one status (`masuk` unless
    asked), oldest capture first, paged by a keyset cursor (stable while records are decided
    or added: no record is shown twice or skipped among those still in the queue), with the
    kabupaten/kota's counts per status. Personal data is not in the list; open a record with
    GET /api/v1/submissions/{submission_id}."""
    await check_periode(periode)
    f = service.Filter(
        periode=periode,
        status=status,
        wilayah=wilayah,
        enumerator_id=enumerator_id,
        jenis=jenis,
        captured_dari=captured_dari,
        captured_sampai=captured_sampai,
        duplikat=duplikat,
        konflik=konflik,
        urut=urut,
    )
    async with db.connect() as conn:  # after check_periode, which may take one itself (_READS)
        page = await service.antrian_page(conn, principal, kabkota, f, cursor, limit)
    # timefmt's one text of an instant (six-digit microseconds), as every other answer
    return Response(timefmt.dumps(page), media_type="application/json")


@router.put(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": OPENAPI_RECORD_SCHEMA}}}},
    responses={
        403: {"description": "not the enumerator that created the record (nor admin)"},
        404: {"description": "no such record"},
        409: {"description": "the record is not ditolak; the body carries current_status and current_version"},
        422: {
            "description": "field errors, the same as for POST /api/v1/submissions, or a "
            "changed identity field (submission_id, periode, jenis, "
            "enumerator_id, provinsi of kode_wilayah)"
        },
    },
)
async def koreksi(submission_id: uuid.UUID, principal: CanCorrect, *, body: _JsonBody, conn: UnitOfWork):
    """Correct a `ditolak` record: the body is the whole corrected record, validated exactly as
    at ingest. It becomes the next version and the record goes back to `masuk`; earlier
    versions stay readable under `/versi`. Sending the same correction again answers 200
    without a new version."""
    await service.correct(conn, submission_id, body, principal)
    # the record as corrected, read and logged in the same unit of work, before it commits
    row = await get_row(conn, submission_id)
    out = record_out(row, principal)
    if not out["pii_masked"]:
        await log_access(principal, "PUT /api/v1/submissions/{submission_id}", {"submission_ids": [str(submission_id)]}, 1, conn=conn)
    return out


async def _head(conn: AsyncConnection, submission_id: uuid.UUID, principal: Principal):
    head = await service.record_head(conn, submission_id)
    if head is None:
        raise NOT_FOUND(f"submission_id {submission_id} tidak ditemukan")
    authorize(principal, "record.read", head.kode_wilayah)
    return head


@router.get("/submissions/{submission_id}/riwayat", response_model=Riwayat)
async def riwayat(submission_id: uuid.UUID, principal: AnyKey):
    """Every transition of the record, oldest first: dibuat, diverifikasi (incl. reversals),
    dikoreksi; with from, to, who, when, alasan and the version it applied to."""
    async with db.connect() as conn:
        await _head(conn, submission_id, principal)
        return {"submission_id": submission_id, "items": await service.riwayat_list(conn, submission_id)}


@router.get("/submissions/{submission_id}/versi", response_model=VersiList)
async def versi_list(submission_id: uuid.UUID, principal: AnyKey):
    """The record's content versions: 1 from ingest, one more per correction."""
    async with db.connect() as conn:
        head = await _head(conn, submission_id, principal)
        return {"submission_id": submission_id, "current_version": head.version, "items": await service.versi_list(conn, submission_id)}


@router.get("/submissions/{submission_id}/versi/{version}", response_model=VersiOut)
async def versi_one(principal: AnyKey, submission_id: uuid.UUID, version: int = Path(ge=1, le=2_147_483_647)):
    """One version's content as it was stored; personal data masked as for the record itself."""
    async with db.connect() as conn:  # given back before log_access takes one (_READS)
        head = await _head(conn, submission_id, principal)
        row = await service.versi_one(conn, submission_id, version)
    if row is None:
        message = f"version {version} tidak ada: versi rekaman ini 1 sampai {head.version}"
        raise NOT_FOUND(message, errors=[{"field": "version", "type": "not_found", "message": message}])
    data = row.data if isinstance(row.data, dict) else orjson.loads(row.data)
    # An old version may have been in another wilayah (a correction moved the record): its
    # personal data is shown only to whom may see it both there and where the record is now.
    visible = authorize(
        principal, "record.read", head.kode_wilayah, owner=head.owner_identity, was_in=str(data.get("kode_wilayah") or head.kode_wilayah)
    ).pii
    if visible:
        await log_access(
            principal,
            "GET /api/v1/submissions/{submission_id}/versi/{version}",
            {"submission_ids": [str(submission_id)], "version": version},
            1,
        )
    return {
        "submission_id": submission_id,
        "version": row.version,
        "current": row.version == head.version,
        "pii_masked": not visible,
        "data": data if visible else mask_record_data(data),
        "dibuat_oleh": row.dibuat_oleh,
        "dibuat_pada": row.dibuat_pada,
    }
