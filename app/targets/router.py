import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from app.infra.db import UnitOfWork
from app.reporting.reports import FORMAT_DESCRIPTION, ReportFormat
from app.reporting.response import REPORT_RESPONSES, report_response
from app.security.authn import require
from app.security.principal import Principal
from app.targets import export, schemas, service

router = APIRouter(prefix="/api/v1", tags=["capaian"])

# Who sets targets, and who reads them and capaian: those who report on progress (enumerators
# collect and do not). The wilayah is checked in the service.
CanWriteTarget = Annotated[Principal, Depends(require("target.write"))]
CanReadReport = Annotated[Principal, Depends(require("report.read"))]
_PERIODE = Path(description="PL-KUMKM round, e.g. `2022`", examples=["2022"])
_KODE = Path(description="Kemendagri code at any level, e.g. `16` or `16.07`", examples=["16"])


@router.put(
    "/targets/{periode}/{kode_wilayah}",
    response_model=schemas.TargetOut,
    status_code=201,
    responses={
        200: {"model": schemas.TargetOut, "description": "identical to the revision already in force on that date"},
        403: {"description": "not admin, or dinas outside its scope"},
        422: {"description": "field errors"},
    },
)
async def put_target(
    body: schemas.TargetIn,
    response: Response,
    conn: UnitOfWork,
    periode: str = _PERIODE,
    kode_wilayah: str = _KODE,
    *,
    principal: CanWriteTarget,
):
    """Set or revise a target. A revision never overwrites: it is a new entry, and reports take
    the one in force on their date. Repeating the same PUT adds nothing (200)."""
    created, doc = await service.set_target(conn, periode, kode_wilayah, body.model_dump(), principal)
    response.status_code = 201 if created else 200
    return doc


@router.get(
    "/targets/{periode}/{kode_wilayah}", response_model=schemas.TargetOut, responses={404: {"description": "no target was ever set"}}
)
async def get_target(
    periode: str = _PERIODE,
    kode_wilayah: str = _KODE,
    as_of: dt.date | None = Query(None, description="report date; default today (WIB)"),
    *,
    principal: CanReadReport,
):
    """The target in force on `as_of` and every revision."""
    return await service.get_target(principal, periode, kode_wilayah, as_of)


@router.get("/periode", response_model=schemas.PeriodeList)
async def periode_data(principal: CanReadReport):
    """Which PL-KUMKM rounds have data for this key: every known periode with the number of
    records inside the key's wilayah (any status), and the newest one with records
    (`terbaru_dengan_data`), on which the /dashboard and /verifikasi pages open."""
    return await service.periode_data(principal)


@router.get("/capaian-pendataan", response_model=schemas.CapaianOut, responses=REPORT_RESPONSES)
async def capaian_pendataan(
    periode: str = Query(..., description="e.g. `2022`"),
    wilayah: str | None = Query(None, description="the area: omit for the nation, or a provinsi, kabupaten/kota or kecamatan code"),
    as_of: dt.date | None = Query(None, description="targets in force on this date; default today (WIB). Counts are always live."),
    tingkat: schemas.Tingkat | None = Query(
        None, description="level of the rows; default the level just below `wilayah`; at most two levels below"
    ),
    format: ReportFormat = Query("json", description=FORMAT_DESCRIPTION),
    *,
    principal: CanReadReport,
):
    """the capaian pendataan table (docs/domain.md) from live data: every child wilayah in code order (zeros
    where nothing is there yet), plus the total row. `masuk = belum_diverifikasi + diterima + ditolak` in
    every row."""
    doc = await service.capaian(principal, periode, wilayah, as_of, tingkat)
    name = f"capaian-pendataan-{periode}-{wilayah or 'nasional'}"
    return await report_response(format, name, doc, csv=export.capaian_csv, xlsx=export.capaian_xlsx)
