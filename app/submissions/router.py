from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from app.core import pagination, timefmt
from app.core.errors import CONTENT_CONFLICT, INVALID, NOT_FOUND
from app.infra import db
from app.observability.metrics import INGESTED
from app.record.model import OPENAPI_RECORD_SCHEMA
from app.record.reference import KODE_PATTERN, get_index
from app.security.accesslog import log_access
from app.security.authn import AnyKey, principal_for, require
from app.security.policy import authorize
from app.security.principal import Principal
from app.submissions import service
from app.submissions.schemas import BatchResult, SubmissionOut, SubmissionPage
from app.web.batch import body_schema, read_items, read_json
from app.web.lean import LeanRoute

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"])

# The key that may post records; any key reads them, inside its wilayah (authorize, below).
CanPost = Annotated[Principal, Depends(require("record.post"))]

_BATCH_BODY = body_schema(OPENAPI_RECORD_SCHEMA)
# The 409 of an id stored before with other content (a single POST and a batch item alike).
REUSED_ID = "submission_id sudah dipakai untuk isi yang lain: rekaman yang tersimpan tidak diubah; rekaman baru perlu submission_id baru"
_SINGLE_BODY = {"required": True, "content": {"application/json": {"schema": OPENAPI_RECORD_SCHEMA}}}


def _older_cursor(text: str) -> tuple[uuid.UUID] | None:
    """The cursor this list gave before it had a tag (app.core.pagination): the last record's
    submission_id as it is."""
    if len(text) > 45:  # the longest text uuid.UUID reads (urn:uuid:...)
        return None
    try:
        return (uuid.UUID(text),)
    except ValueError:
        return None


# The record list's keyset: the submission_id of the last record given.
LIST_CURSOR = pagination.Keyset("submissions.1", pagination.UUID, older=_older_cursor)


def _json(content, status: int = 200) -> Response:
    return Response(timefmt.dumps(content), status_code=status, media_type="application/json")


@router.post(
    "",
    response_model=SubmissionOut,
    status_code=201,
    openapi_extra={"requestBody": _SINGLE_BODY},
    responses={
        200: {"model": SubmissionOut, "description": "identical replay"},
        409: {"description": "same submission_id, different content"},
        422: {"description": "field errors"},
    },
)
async def create_submission(request: Request, principal: CanPost):
    return await _create(request, principal)


async def create_submission_lean(request: Request) -> Response:
    """The same route as create_submission, served as a plain Starlette route ahead of it
    (app.web.lean, app.main): FastAPI's per-request routing and dependency resolution cost
    about a tenth of a single POST's CPU on the service's hottest path. create_submission stays
    registered for the OpenAPI document; exception handlers and middleware apply to both alike."""
    return await _create(request, await principal_for(request, "record.post"))


def lean_route() -> LeanRoute:
    return LeanRoute(router.prefix, create_submission_lean, methods=["POST"])


async def _create(request: Request, principal: Principal) -> Response:
    # The body is validated once, by the same code path as batches and `kumkm import`.
    prepared, rejected = await service.prepare([await read_json(request)], principal)
    if rejected:
        INGESTED.labels("rejected").inc()
        raise rejected[0].problem()
    (outcome,) = await service.store(prepared, principal)
    INGESTED.labels("rejected" if outcome.outcome == "conflict" else outcome.outcome).inc()
    if outcome.rejected is not None:  # a follow-up visit naming an entity it may not (docs/pemutakhiran.md)
        raise outcome.rejected.problem()
    sid = prepared[0].submission_id
    if outcome.outcome == "conflict":
        raise CONTENT_CONFLICT(
            REUSED_ID, errors=[{"field": "submission_id", "message": REUSED_ID, "type": "content_conflict"}], submission_id=sid
        )
    if outcome.outcome == "created":
        return _json(service.created_out(outcome.prepared, outcome.dibuat_pada, principal, outcome.duplikat_dengan), 201)
    return _json(await _read(uuid.UUID(sid), principal, "POST /api/v1/submissions"))


@router.post(
    "/batch",
    response_model=BatchResult,
    openapi_extra={"requestBody": _BATCH_BODY},
    responses={413: {"description": "more items than allowed"}},
)
async def create_batch(request: Request, principal: CanPost):
    items = await read_items(request)
    prepared, rejected = await service.prepare(items, principal)
    outcomes: list[dict] = [{}] * len(items)
    for rj in rejected:
        outcomes[rj.index] = {
            "index": rj.index,
            "submission_id": rj.submission_id,
            "outcome": "rejected",
            "status": rj.status,
            "errors": rj.errors,
        }
    for o in await service.store(prepared, principal):
        i, sid = o.prepared.index, o.prepared.submission_id
        if o.rejected is not None:
            outcomes[i] = {
                "index": i,
                "submission_id": sid,
                "outcome": "rejected",
                "status": o.rejected.status,
                "errors": o.rejected.errors,
            }
        elif o.outcome == "conflict":
            outcomes[i] = {
                "index": i,
                "submission_id": sid,
                "outcome": "rejected",
                "status": CONTENT_CONFLICT.status,
                "errors": [{"field": "submission_id", "message": REUSED_ID, "type": "content_conflict"}],
            }
        else:
            outcomes[i] = {"index": i, "submission_id": sid, "outcome": o.outcome, "status": 201 if o.outcome == "created" else 200}
    counts = {k: sum(1 for o in outcomes if o["outcome"] == k) for k in ("created", "duplicate", "rejected")}
    for k, n in counts.items():
        INGESTED.labels(k).inc(n)
    return _json({**counts, "items": outcomes})


@router.get("/{submission_id}", response_model=SubmissionOut)
async def get_submission(submission_id: uuid.UUID, principal: AnyKey):
    return await _read(submission_id, principal, "GET /api/v1/submissions/{submission_id}")


async def _read(submission_id: uuid.UUID, principal: Principal, endpoint: str) -> dict:
    async with db.connect() as conn:  # given back before log_access takes one
        row = await service.get_row(conn, submission_id)
    if row is None:
        raise NOT_FOUND(f"submission_id {submission_id} tidak ditemukan")
    authorize(principal, "record.read", row.kode_wilayah)
    out = service.record_out(row, principal)
    if not out["pii_masked"]:
        await log_access(principal, endpoint, {"submission_ids": [str(submission_id)]}, 1)
    return out


@router.get("", response_model=SubmissionPage)
async def list_submissions(
    principal: AnyKey,
    kode_wilayah: str | None = Query(None, description="any level: provinsi, kabkota, kecamatan or desa"),
    periode: str | None = Query(None, pattern=r"^[0-9]{4}$"),
    jenis: Literal["umkm", "koperasi"] | None = None,
    status: Literal["masuk", "diterima", "ditolak"] | None = None,
    cursor: str | None = Query(None, max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
):
    kode = kode_wilayah or principal.kode_wilayah
    level = None
    if kode is not None:
        if not KODE_PATTERN.match(kode) or not (await get_index()).exists(kode):
            message = f"kode_wilayah {kode} bukan kode wilayah yang ada"
            raise INVALID(message, errors=[{"field": "kode_wilayah", "type": "value_error", "message": message}])
        authorize(principal, "record.read", kode)
        level = kode.count(".") + 1
    after = LIST_CURSOR.decode(cursor)
    # given back before log_access takes one: a request never holds two of the pool's connections
    async with db.connect() as conn:
        rows = await service.list_rows(
            conn, level=level, kode=kode, periode=periode, jenis=jenis, status=status, after=after[0] if after else None, limit=limit
        )
    items = [service.record_out(r, principal) for r in rows]
    revealed = [str(i["submission_id"]) for i in items if not i["pii_masked"]]
    if revealed:
        await log_access(
            principal,
            "GET /api/v1/submissions",
            {"kode_wilayah": kode, "periode": periode, "first": revealed[0], "last": revealed[-1]},
            len(revealed),
        )
    next_cursor = LIST_CURSOR.encode(items[-1]["submission_id"]) if len(items) == limit else None
    return {"items": items, "next_cursor": next_cursor}
