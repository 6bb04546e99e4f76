"""The backlog's age (docs/kampanye.md, backlog)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.kampanye.export import antrian_umur as export
from app.kampanye.schemas import kemajuan as schemas
from app.kampanye.service import antrian_umur as service
from app.reporting.reports import FORMAT_DESCRIPTION, ReportFormat
from app.reporting.response import REPORT_RESPONSES, report_response
from app.security.authn import require
from app.security.principal import Principal

router = APIRouter(prefix="/api/v1/kampanye", tags=["kampanye"])

CanReadReport = Annotated[Principal, Depends(require("report.read"))]


@router.get("/antrian-umur", response_model=schemas.AntrianUmurOut, responses=REPORT_RESPONSES)
async def antrian_umur(
    periode: str = Query(..., description="PL-KUMKM round, e.g. `2026`"),
    kode_wilayah: str | None = Query(None, description="a provinsi or kabupaten/kota code; omit for the nation"),
    # an int, not a constrained one: 0 or below is the service's 422 naming the field, in Indonesian
    ambang_hari: int = Query(7, description="the threshold in days the dinas sets: how many have waited longer (1 or more)"),
    format: ReportFormat = Query("json", description=FORMAT_DESCRIPTION),
    *,
    principal: CanReadReport,
):
    """How long records have waited in `masuk`, per kabupaten/kota: median, 90th percentile and
    oldest wait, and how many waited longer than `ambang_hari` days; longest waits first,
    with the area's total. The queue itself can be walked oldest-first:
    GET /api/v1/verifikasi/antrian?urut=terlama."""
    doc = await service.antrian_umur(principal, periode, kode_wilayah, ambang_hari)
    name = f"antrian-umur-{periode}-{kode_wilayah or 'nasional'}"
    return await report_response(format, name, doc, csv=export.umur_csv, xlsx=export.umur_xlsx)
