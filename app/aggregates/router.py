from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from app.aggregates import export, schemas, service
from app.infra.replicas import FRESHNESS_HEADERS
from app.reporting.reports import FORMAT_DESCRIPTION, ReportFormat
from app.reporting.response import REPORT_RESPONSES, report_response
from app.security.authn import require
from app.security.principal import Principal

router = APIRouter(prefix="/api/v1/agregat", tags=["agregat"])

# Who reads reports; the wilayah asked is checked in the service (the nation needs a national key).
CanReadReport = Annotated[Principal, Depends(require("report.read"))]
_PERIODE = Query(..., description="e.g. `2022`")
_WILAYAH = Query(None, description="omit for the nation, or a provinsi, kabupaten/kota, kecamatan or desa code")
_STATUS = Query(None, description="record states counted: repeat or comma-separate; default `diterima`")
_FORMAT = Query("json", description=FORMAT_DESCRIPTION)


@router.get("/keragaan-koperasi", response_model=schemas.KeragaanOut, responses=REPORT_RESPONSES)
async def keragaan_koperasi(
    periode: str = _PERIODE,
    wilayah: str | None = Query(
        None, description="a provinsi (rows per kabupaten/kota), a kabupaten/kota (rows per kecamatan) or none (rows per provinsi)"
    ),
    status: list[str] | None = _STATUS,
    format: ReportFormat = _FORMAT,
    *,
    principal: CanReadReport,
):
    """the ODS keragaan koperasi table (docs/domain.md): koperasi under kabupaten/kota authority per child wilayah,
    then Binaan Provinsi, Binaan Nasional and Jumlah, with persentase aktif in every row."""
    doc = await service.keragaan_koperasi(principal, periode, wilayah, service.parse_status(status))
    name = f"keragaan-koperasi-{periode}-{wilayah or 'nasional'}"
    return await report_response(format, name, doc, csv=export.keragaan_csv, xlsx=export.keragaan_xlsx)


@router.get("/umkm", response_model=schemas.UmkmOut, responses=REPORT_RESPONSES)
async def agregat_umkm(
    periode: str = _PERIODE,
    wilayah: str | None = _WILAYAH,
    status: list[str] | None = _STATUS,
    format: ReportFormat = _FORMAT,
    *,
    principal: CanReadReport,
):
    """UMKM by skala usaha (mikro, kecil, menengah): jumlah, modal, omzet, aset, tenaga kerja,
    with NIB and using digital platforms."""
    doc = await service.umkm(principal, periode, wilayah, service.parse_status(status))
    name = f"umkm-{periode}-{wilayah or 'nasional'}"
    return await report_response(format, name, doc, csv=export.umkm_csv, xlsx=export.umkm_xlsx)


@router.get("/entitas", response_model=schemas.AgregatEntitasOut, responses={200: {"headers": FRESHNESS_HEADERS}})
async def agregat_entitas(periode: str = _PERIODE, wilayah: str | None = _WILAYAH, *, principal: CanReadReport):
    """Usaha and koperasi (entities of the Basis Data Tunggal) beside the records diterima: a round
    counts records, the registry counts usaha. For the periode and over every periode; an entity
    counts in the wilayah when one of its records lies there (docs/registry.md)."""
    return await service.entitas(principal, periode, wilayah)


@router.get("", response_model=schemas.AgregatOut, responses=REPORT_RESPONSES)
async def agregat(
    periode: str = _PERIODE,
    wilayah: str | None = _WILAYAH,
    by: list[str] = Query(..., description="dimensions, repeated or comma-separated: see docs/capaian.md for the list"),
    status: list[str] | None = _STATUS,
    jenis: Literal["umkm", "koperasi"] | None = Query(None, description="only this kind; also picks the measures"),
    format: ReportFormat = _FORMAT,
    *,
    principal: CanReadReport,
):
    """Counts and exact sums over records grouped by up to 4 of the documented dimensions."""
    doc = await service.agregat(principal, periode, wilayah, service.parse_by(by), service.parse_status(status), jenis)
    name = f"agregat-{periode}-{wilayah or 'nasional'}"
    return await report_response(format, name, doc, csv=export.agregat_csv, xlsx=export.agregat_xlsx)
