"""Progress over time and the backlog's age (docs/kampanye.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.kampanye.export import kemajuan as export
from app.kampanye.schemas import kemajuan as schemas
from app.kampanye.service import kemajuan as service
from app.reporting.reports import FORMAT_DESCRIPTION, ReportFormat
from app.reporting.response import REPORT_RESPONSES, report_response
from app.security.authn import require
from app.security.principal import Principal

router = APIRouter(prefix="/api/v1/kampanye", tags=["kampanye"])

# Who follows the campaign: those who read reports (enumerators collect and do not); the
# wilayah is checked in the service (403 outside the key's scope).
CanReadReport = Annotated[Principal, Depends(require("report.read"))]


@router.get("/kemajuan", response_model=schemas.KemajuanOut, responses=REPORT_RESPONSES)
async def kemajuan(
    periode: str = Query(..., description="PL-KUMKM round, e.g. `2026`"),
    kode_wilayah: str | None = Query(None, description="a provinsi or kabupaten/kota code; omit for the nation"),
    menurut: schemas.Menurut = Query(
        "terima", description="`terima`: days by arrival at the server (default); `tangkap`: by capture on the device"
    ),
    dari: dt.date | None = Query(None, description="first day shown; default the periode's first day with records"),
    sampai: dt.date | None = Query(
        None, description="last day shown and the date of the cumulative counts and targets; default today in the area's zone"
    ),
    tabel: schemas.TabelKemajuan = Query("harian", description="for csv/xlsx: `harian` (the days) or `anak` (child wilayah)"),
    format: ReportFormat = Query("json", description=FORMAT_DESCRIPTION),
    *,
    principal: CanReadReport,
):
    """Progress over time: daily counts per local day, cumulative counts against the target in
    force, pace (7- and 14-day averages and the pace needed by the deadline), the projected
    completion date, and the child wilayah most behind their pace first (docs/kampanye.md).
    At most 366 days (one round) per answer."""
    doc = await service.kemajuan(principal, periode, kode_wilayah, menurut, dari, sampai)
    name = f"kemajuan-{periode}-{kode_wilayah or 'nasional'}-{tabel}"
    if tabel == "anak":
        return await report_response(format, name, doc, csv=export.anak_csv, xlsx=export.anak_xlsx)
    return await report_response(format, name, doc, csv=export.harian_csv, xlsx=export.harian_xlsx)
