"""Partner programs' look-ups (docs/mitra.md): POST /api/v1/kumkm/cek (one question, JSON),
POST /api/v1/kumkm/cek/batch (a CSV of up to 10,000, answered as CSV or xlsx in the same
order), and the admin's GET /api/v1/audit/mitra (look-ups per partner, purpose and day)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from app.core.errors import TOO_LARGE
from app.mitra import berkas, export, schemas, service
from app.reporting.reports import DATA, csv_response
from app.reporting.response import report_response
from app.reporting.xlsx import DOWNLOADS
from app.reporting.xlsx import response as workbook_response
from app.security.authn import principal_for, require
from app.security.principal import Principal
from app.web.lean import LeanRoute
from app.web.limits import OTHER_MEDIA

router = APIRouter(prefix="/api/v1")

# A partner's key (role mitra), the only one that looks up; the admin reads the audit.
CanCek = Annotated[Principal, Depends(require("kumkm.cek"))]
CanReadAudit = Annotated[Principal, Depends(require("audit.read"))]

BATCH_PATH = "/api/v1/kumkm/cek/batch"
CSV_MEDIA = (b"text/csv", b"application/csv")
OTHER_MEDIA[BATCH_PATH] = CSV_MEDIA

_BATCH_BODY = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {"type": "string"},
            "example": "tujuan,nib,nik_pemilik,nama_usaha\nkur,9120001234567,,\nkur,,3507014101900001,Warung Bu Siti\n",
        }
    },
    "description": "RFC 4180 CSV, UTF-8 (a byte order mark allowed; `;` when the header has no comma), up to "
    f"{berkas.MAX_ROWS:,} rows and {berkas.MAX_BYTES // (1024 * 1024)} MiB. Header: any of tujuan, nib, nik_koperasi, "
    "nomor_badan_hukum, nik_pemilik, nama_usaha (at least one identifier column). Each row is one question.",
}


class _CekRoute(APIRoute):
    """POST /api/v1/kumkm/cek, whose body refusals (not JSON, a field that is not a string or
    too long, an unknown field: FastAPI's 422 before the route runs) are look-ups too: counted
    against the bounds and recorded as refused, as the rules' own refusals are. The key was
    checked before the body (KeyFirst), so a refusal here always has one."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                principal = await principal_for(request, "kumkm.cek")
                await service.tolak_badan(principal, await request.body(), exc.errors())
                raise

        return route


async def cek(body: schemas.Cek, principal: CanCek):
    """Is this usaha or koperasi registered? By `nib`, `nik_koperasi`, `nomor_badan_hukum`, or
    `nik_pemilik` with `nama_usaha` (exact, after normalising), for a `tujuan` the key allows.
    Registered: its id_kumkm, jenis, skala usaha, sektor, kabupaten/kota, verification status
    and latest periode; never a name, NIK, address or phone. Partial identifiers, wildcards and
    a NIK without a name: 422. Beyond the key's rate or daily quota: 429 with Retry-After.
    Every look-up, refused ones too, is in the access log with its purpose and outcome."""
    return await service.cek(principal, body.model_dump())


router.add_api_route("/kumkm/cek", cek, methods=["POST"], response_model=schemas.Jawaban, tags=["mitra"], route_class_override=_CekRoute)
_CEK_ROUTE = cast(APIRoute, router.routes[-1])


async def _cek_lean(request: Request) -> Response | None:
    """`cek` for a JSON object the question's schema takes as it is (every look-up a partner's
    program sends); anything else (another media type, not JSON, a field refused) goes to the
    documented route, whose refusals stay FastAPI's own, counted and recorded (_CekRoute)."""
    principal = await principal_for(request, "kumkm.cek")
    media = request.headers.get("content-type", "")
    if media.partition(";")[0].strip().lower() != "application/json":
        return None
    try:
        body = schemas.Cek.model_validate_json(await request.body())
    except ValidationError:
        return None
    found = await service.cek(principal, body.model_dump())
    try:
        answer = schemas.Jawaban.model_validate(found)
    except ValidationError as exc:
        # the service's answer outside its own model: the service's fault (500, logged), never
        # the 422 the app's handler would make of a ValidationError, which blames the client
        raise RuntimeError("POST /api/v1/kumkm/cek: the answer does not fit schemas.Jawaban") from exc
    return Response(answer.model_dump_json(), media_type="application/json")


def lean_route() -> LeanRoute:
    """POST /api/v1/kumkm/cek ahead of FastAPI's routing (app.web.lean; app.main). What it gives
    back runs the route's own app, not the copy `include_router` makes: dependencies, overrides
    or a response class given at inclusion would not apply there. This router is included
    plainly and the app sets no dependency_overrides; one that does must pass them here."""
    return LeanRoute(_CEK_ROUTE.path, _cek_lean, methods=["POST"], full=_CEK_ROUTE)


@router.post(
    "/kumkm/cek/batch",
    tags=["mitra"],
    response_class=Response,
    responses={200: DOWNLOADS},
    openapi_extra={"requestBody": _BATCH_BODY},
)
async def cek_batch(
    request: Request,
    principal: CanCek,
    tujuan: str | None = Query(None, max_length=40, description="the purpose of every row whose own `tujuan` cell is empty"),
    format: Literal["csv", "xlsx"] = Query("csv", description="the answer: `csv` (UTF-8) or `xlsx`"),
):
    """A CSV of questions (one a row, the columns of the single look-up) answered as a CSV or
    workbook in the same order: each row's line in the file, purpose, outcome (`terdaftar`,
    `tidak_terdaftar`, `ditolak` with the reason) and, when registered, what the single look-up
    answers. A file that cannot be read: 422 naming the row and column; over 10,000 rows or
    4 MiB: 413. Every row counts against the daily quota (429 when they do not all fit)."""
    await service.cek_batch_mulai(principal)
    data = await _body(request)
    parsed = berkas.read(data)
    hasil = await service.cek_batch(principal, parsed.rows, parsed.baris, tujuan)
    if format == "xlsx":
        return await workbook_response("cek-kumkm.xlsx", export.hasil_table(principal.name, parsed.baris, hasil))
    return csv_response("cek-kumkm", export.HASIL_HEADER, export.hasil_rows(parsed.baris, hasil), DATA)


async def _body(request: Request) -> bytes:
    """The body, read up to berkas.MAX_BYTES (413 past it): a file never takes more memory
    than that, whatever its Content-Length said."""
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > berkas.MAX_BYTES:
            raise TOO_LARGE(f"berkas paling besar {berkas.MAX_BYTES // (1024 * 1024)} MiB ({berkas.MAX_ROWS:,} baris)".replace(",", "."))
    return bytes(buf)


@router.get("/audit/mitra", response_model=schemas.AuditMitra, tags=["audit"], responses={200: DOWNLOADS})
async def audit_mitra(
    _: CanReadAudit,
    dari: dt.date | None = Query(None, description="first day (WIB), default 30 days before `sampai`"),
    sampai: dt.date | None = Query(None, description="last day (WIB), default today"),
    key_id: int | None = Query(None, ge=1, le=2**62, description="one partner: the id of any of its keys"),
    format: Literal["json", "csv", "csv-data", "xlsx"] = Query("json"),
):
    """Partners' look-ups per purpose per WIB day, by outcome (terdaftar, tidak_terdaftar,
    ditolak). Admin only. The detail of each look-up is in GET /api/v1/audit."""
    doc = await service.audit(dari, sampai, key_id)
    name = f"audit-mitra-{doc['dari'].isoformat()}-{doc['sampai'].isoformat()}"
    return await report_response(format, name, doc, csv=export.audit_csv, xlsx=export.audit_xlsx)
