"""GET /api/v1/kampanye/enumerator (the enumerator table of a wilayah) and GET
/api/v1/me/kinerja (an enumerator's own row). docs/kampanye.md, "Enumerators and quality"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.infra import db
from app.kampanye.export.kinerja import kinerja_csv, kinerja_xlsx
from app.kampanye.schemas.kinerja import KinerjaOut, Urut
from app.kampanye.service import kinerja as service
from app.reporting.reports import FORMAT_DESCRIPTION, ReportFormat
from app.reporting.response import REPORT_RESPONSES, report_response
from app.security.authn import require
from app.security.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["kampanye"])

# Who reads the table: those who read reports, inside their wilayah. An enumerator reads only
# itself, at /me/kinerja.
CanReadReport = Annotated[Principal, Depends(require("report.read"))]
CanReadOwn = Annotated[Principal, Depends(require("kinerja.sendiri"))]

_PERIODE = Query(..., description="PL-KUMKM round, e.g. `2022`", max_length=20)
_CURSOR = Query(None, max_length=200, description="next_cursor of the previous page")
_LIMIT = Query(50, ge=1, le=service.MAX_LIMIT, description="enumerators per page (downloads hold every one)")
_FORMAT = Query("json", description=FORMAT_DESCRIPTION + " A download holds every enumerator, not one page.")


@router.get("/kampanye/enumerator", response_model=KinerjaOut, responses=REPORT_RESPONSES)
async def enumerator_table(
    periode: str = _PERIODE,
    kode_wilayah: str | None = Query(
        None, max_length=20, description="a provinsi or kabupaten/kota inside the key's wilayah; default the key's own"
    ),
    enumerator_id: str | None = Query(None, min_length=1, max_length=200, description="only this enumerator's row"),
    urut: Urut = Query("tingkat_tolak", description="highest rejection rate first (default), most records first, or by id"),
    cursor: str | None = _CURSOR,
    limit: int = _LIMIT,
    format: ReportFormat = _FORMAT,
    *,
    principal: CanReadReport,
):
    """Per enumerator in a provinsi or kabupaten/kota and periode: records sent and their state,
    the rejection rate (exact fraction; `persen` for display) and the reasons of the records now
    ditolak, the median time from capture to arrival, days active and last seen, and the flags
    with their rules (`aturan`; docs/kampanye.md)."""
    async with db.connect() as conn:
        doc = await service.tabel(
            conn,
            principal,
            periode=periode,
            kode_wilayah=kode_wilayah,
            enumerator_id=enumerator_id,
            urut=urut,
            cursor=cursor,
            limit=limit,
            semua=format != "json",
        )
    name = f"kinerja-enumerator-{periode}-{doc['wilayah']['kode']}"
    return await report_response(format, name, doc, csv=kinerja_csv, xlsx=kinerja_xlsx)


@router.get("/me/kinerja", response_model=KinerjaOut, responses=REPORT_RESPONSES)
async def kinerja_sendiri(
    periode: str = _PERIODE,
    kode_wilayah: str | None = Query(None, max_length=20, description="a provinsi or kabupaten/kota inside the key's wilayah"),
    enumerator_id: str | None = Query(
        None, min_length=1, max_length=200, description="one of the enumerator_id its own records carry (another one: 403)"
    ),
    cursor: str | None = _CURSOR,
    limit: int = _LIMIT,
    format: ReportFormat = _FORMAT,
    *,
    principal: CanReadOwn,
):
    """The enumerator table's rows of the records this key's holder sent (through this key or
    any key it was rotated from), compared with their kabupaten/kota's rates. Enumerator keys only."""
    async with db.connect() as conn:
        doc = await service.milik_sendiri(
            conn,
            principal,
            periode=periode,
            kode_wilayah=kode_wilayah,
            enumerator_id=enumerator_id,
            cursor=cursor,
            limit=limit,
            semua=format != "json",
        )
    return await report_response(format, f"kinerja-saya-{periode}", doc, csv=kinerja_csv, xlsx=kinerja_xlsx)
