from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.routing import APIRoute

from app.indicators import export, formulas, schemas, service
from app.infra.db import UnitOfWork
from app.reporting.reports import FORMAT_DESCRIPTION, ReportFormat
from app.reporting.response import REPORT_RESPONSES, report_response
from app.security.authn import require
from app.security.principal import Principal

# Readers and writers by role, checked before the route runs (a write's from its headers, before
# its body is read: app.security.authn.KeyFirst); the pemilik and scope rules follow in the service.
CanReadIndikator = Annotated[Principal, Depends(require("indikator.read"))]
CanWriteIndikator = Annotated[Principal, Depends(require("indikator.write"))]


class _DecimalJSONRequest(Request):
    async def json(self) -> Any:
        # JSON numbers become Decimal, not float: 0.03 must stay 0.03 (docs/domain.md).
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class DecimalRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_DecimalJSONRequest(request.scope, request.receive))

        return route


router = APIRouter(prefix="/api/v1/indikator", tags=["indikator"], route_class=DecimalRoute)


# A fresh parameter object per use: FastAPI records the parameter's name on it.
def _id():
    return Path(ge=1, le=schemas.BIGINT_MAX)


def _tahun():
    return Path(ge=2000, le=2100, description="reporting year")


def _wilayah():
    return Path(description="`nasional`, a provinsi (`16`) or a kabupaten/kota (`16.07`)")


@router.get("/formula", summary="Registry formulas and their vocabulary")
async def list_formula(principal: CanReadIndikator) -> dict:
    return formulas.katalog()


@router.get(
    "/capaian",
    response_model=schemas.Lkjip,
    responses=REPORT_RESPONSES,
    summary="LKjIP table: target, realisasi, capaian and predikat per sasaran and indikator",
)
async def capaian(
    principal: CanReadIndikator,
    tahun: int = Query(ge=2000, le=2100),
    wilayah: str | None = Query(
        None, description="`nasional`, a provinsi or kabkota; default: the key's wilayah (nasional for keys without one)"
    ),
    pemilik: str | None = Query(
        None, description="only the indicators of this owner (the wilayah or an ancestor); default: all that apply"
    ),
    sebelumnya: int = Query(2, ge=0, le=10, description="how many previous years to show"),
    as_of: dt.date | None = Query(
        None, description="date of the pendataan targets in force (capaian pendataan formula); default today (WIB)"
    ),
    format: ReportFormat = Query("json", description=FORMAT_DESCRIPTION),
):
    doc = await service.lkjip(principal, tahun, wilayah, sebelumnya, pemilik, as_of)
    name = f"lkjip-{tahun}-{doc['wilayah']['kode']}"
    return await report_response(format, name, doc, csv=export.lkjip_csv, xlsx=export.lkjip_xlsx)


@router.get("/predikat/{kode_wilayah}", response_model=schemas.PredikatOut, summary="The predikat scale in force for a wilayah")
async def get_predikat(*, kode_wilayah: str = _wilayah(), principal: CanReadIndikator):
    return await service.get_predikat(principal, kode_wilayah)


@router.put(
    "/predikat/{kode_wilayah}",
    response_model=schemas.PredikatOut,
    summary="Set a wilayah's own predikat scale (applies to it and the wilayah under it)",
)
async def put_predikat(*, body: schemas.PredikatIn, conn: UnitOfWork, kode_wilayah: str = _wilayah(), principal: CanWriteIndikator):
    return await service.put_predikat(conn, principal, kode_wilayah, body)


@router.delete(
    "/predikat/{kode_wilayah}",
    response_model=schemas.PredikatOut,
    summary="Drop a wilayah's own scale: the inherited one applies again (history kept)",
)
async def delete_predikat(*, conn: UnitOfWork, kode_wilayah: str = _wilayah(), principal: CanWriteIndikator):
    return await service.delete_predikat(conn, principal, kode_wilayah)


@router.get("/tujuan", response_model=schemas.TujuanList)
async def list_tujuan(principal: CanReadIndikator, pemilik: str | None = None):
    return {"items": await service.list_tujuan(principal, pemilik)}


@router.post("/tujuan", response_model=schemas.Tujuan, status_code=201)
async def create_tujuan(body: schemas.TujuanIn, conn: UnitOfWork, principal: CanWriteIndikator):
    return await service.create_tujuan(conn, principal, body)


@router.patch("/tujuan/{tujuan_id}", response_model=schemas.Tujuan)
async def patch_tujuan(*, tujuan_id: int = _id(), body: schemas.TujuanPatch, conn: UnitOfWork, principal: CanWriteIndikator):
    return await service.patch_tujuan(conn, principal, tujuan_id, body)


@router.get("/sasaran", response_model=schemas.SasaranList)
async def list_sasaran(principal: CanReadIndikator, pemilik: str | None = None):
    return {"items": await service.list_sasaran(principal, pemilik)}


@router.post("/sasaran", response_model=schemas.Sasaran, status_code=201)
async def create_sasaran(body: schemas.SasaranIn, conn: UnitOfWork, principal: CanWriteIndikator):
    return await service.create_sasaran(conn, principal, body)


@router.patch("/sasaran/{sasaran_id}", response_model=schemas.Sasaran)
async def patch_sasaran(*, sasaran_id: int = _id(), body: schemas.SasaranPatch, conn: UnitOfWork, principal: CanWriteIndikator):
    return await service.patch_sasaran(conn, principal, sasaran_id, body)


@router.get("", response_model=schemas.IndikatorList)
async def list_indikator(
    principal: CanReadIndikator, pemilik: str | None = None, sasaran_id: int | None = Query(None, ge=1, le=schemas.BIGINT_MAX)
):
    return {"items": await service.list_indikator(principal, pemilik, sasaran_id)}


@router.post("", response_model=schemas.Indikator, status_code=201)
async def create_indikator(body: schemas.IndikatorIn, conn: UnitOfWork, principal: CanWriteIndikator):
    return await service.create_indikator(conn, principal, body)


@router.get("/{indikator_id}", response_model=schemas.Indikator)
async def get_indikator(*, indikator_id: int = _id(), principal: CanReadIndikator):
    return await service.get_indikator(principal, indikator_id)


@router.patch("/{indikator_id}", response_model=schemas.Indikator)
async def patch_indikator(*, indikator_id: int = _id(), body: schemas.IndikatorPatch, conn: UnitOfWork, principal: CanWriteIndikator):
    return await service.patch_indikator(conn, principal, indikator_id, body)


@router.get(
    "/{indikator_id}/target/{kode_wilayah}",
    response_model=schemas.TargetList,
    summary="Targets of a wilayah per year, each with its revisions",
)
async def get_targets(
    *,
    indikator_id: int = _id(),
    kode_wilayah: str = _wilayah(),
    tahun: int | None = Query(None, ge=2000, le=2100),
    principal: CanReadIndikator,
):
    return await service.get_targets(principal, indikator_id, kode_wilayah, tahun)


@router.put(
    "/{indikator_id}/target/{kode_wilayah}/{tahun}",
    response_model=schemas.TargetTahun,
    summary="Set or revise a yearly target (the previous value stays in the history)",
)
async def put_target(
    *,
    indikator_id: int = _id(),
    body: schemas.IndikatorTargetIn,
    conn: UnitOfWork,
    kode_wilayah: str = _wilayah(),
    tahun: int = _tahun(),
    principal: CanWriteIndikator,
):
    return await service.put_target(conn, principal, indikator_id, kode_wilayah, tahun, body)


@router.get(
    "/{indikator_id}/realisasi/{kode_wilayah}/{tahun}",
    response_model=schemas.Realisasi,
    summary="Realisasi: the entered value with its history, or computed now from the registry",
)
async def get_realisasi(
    *,
    indikator_id: int = _id(),
    kode_wilayah: str = _wilayah(),
    tahun: int = _tahun(),
    as_of: dt.date | None = Query(None, description="date of the pendataan target in force; default today (WIB)"),
    principal: CanReadIndikator,
):
    return await service.get_realisasi(principal, indikator_id, kode_wilayah, tahun, as_of)


@router.put(
    "/{indikator_id}/realisasi/{kode_wilayah}/{tahun}",
    response_model=schemas.Realisasi,
    responses={409: {"description": "the indicator is computed from the registry"}},
    summary="Enter or revise a realisasi with its source (the previous value stays in the history)",
)
async def put_realisasi(
    *,
    indikator_id: int = _id(),
    body: schemas.RealisasiIn,
    conn: UnitOfWork,
    kode_wilayah: str = _wilayah(),
    tahun: int = _tahun(),
    principal: CanWriteIndikator,
):
    return await service.put_realisasi(conn, principal, indikator_id, kode_wilayah, tahun, body)
