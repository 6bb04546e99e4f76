"""The records on a map: `GET /api/v1/kampanye/titik` (docs/kampanye.md, Peta)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.core.timefmt import dumps
from app.kampanye.service import titik as service
from app.security.authn import require
from app.security.principal import Principal

router = APIRouter(prefix="/api/v1/kampanye", tags=["kampanye"])

CanReadPeta = Annotated[Principal, Depends(require(service.ACTION))]


class Geometri(BaseModel):
    type: Literal["Point"]
    coordinates: list[float] = Field(description="[lon, lat] in decimal degrees (WGS 84), GeoJSON's order")


class SifatTitik(BaseModel):
    status: Literal["masuk", "diterima", "ditolak"] | None = None
    submission_id: str | None = Field(None, description="a point's record, for a caller who may open it")
    klaster: bool | None = Field(None, description="true for a cluster")
    jumlah: int | None = Field(None, description="a cluster's points")
    masuk: int | None = None
    diterima: int | None = None
    ditolak: int | None = None


class Fitur(BaseModel):
    type: Literal["Feature"]
    id: str | None = Field(None, description="the record's submission_id, for a caller who may open it")
    geometry: Geometri
    properties: SifatTitik


class KotakWilayah(BaseModel):
    bbox: list[float] = Field(description="[lon_min, lat_min, lon_max, lat_max] of the kabupaten/kota")
    sumber: str = Field(description="where the operator's box came from")


class TitikOut(BaseModel):
    """A GeoJSON FeatureCollection (RFC 7946) with the map's own members beside it."""

    type: Literal["FeatureCollection"]
    jenis: Literal["titik", "klaster"] = Field(description="`titik`: the points themselves; `klaster`: grid clusters")
    periode: str
    kode_wilayah: str
    jumlah: int = Field(description="points in the asked area (the kabupaten/kota, or bbox) and status")
    per_status: dict[str, int] = Field(description="the same, per status")
    lokasi_dibulatkan: bool = Field(description="true: lokasi rounded to 2 decimals (about 1 km), the personal-data rule")
    ukuran_sel: float | None = Field(description="a cluster's cell, in degrees")
    batas_titik: int = Field(description="above this many points the answer is clusters (KUMKM_MAP_MAX_POINTS)")
    next_cursor: str | None = Field(description="the next page of points, or null at the end")
    bbox: list[float] | None = Field(None, description="[lon_min, lat_min, lon_max, lat_max] around the points")
    kotak_wilayah: KotakWilayah | None = Field(description="the kabupaten/kota's bounding box, where the operator loaded one")
    features: list[Fitur]


@router.get(
    "/titik",
    response_class=Response,
    responses={200: {"model": TitikOut, "content": {"application/geo+json": {}, "application/json": {}}}},
)
async def titik(
    principal: CanReadPeta,
    periode: str = Query(..., description="e.g. `2022`"),
    kode_wilayah: str = Query(..., description="a kabupaten/kota, e.g. `16.07`"),
    status: Literal["masuk", "diterima", "ditolak"] | None = Query(None, description="only records in this state"),
    bbox: str | None = Query(None, description="only inside this box: `lon_min,lat_min,lon_max,lat_max`"),
    zoom: int | None = Query(None, ge=0, le=22, description="the map's zoom: clusters' cells are a quarter tile at it"),
    cursor: str | None = Query(None, description="next_cursor of the previous page of points"),
    limit: int | None = Query(None, description="points per page, 1 to KUMKM_MAP_MAX_POINTS (its value is the default)"),
) -> Any:
    """The records with lokasi of one kabupaten/kota and periode as GeoJSON: the points (paged)
    up to KUMKM_MAP_MAX_POINTS in the asked area, grid clusters above it. Lokasi rounded to
    about 1 km for a caller without the personal-data grant, as the record's content is."""
    doc = await service.titik(principal, periode, kode_wilayah, status=status, bbox=bbox, zoom=zoom, cursor=cursor, limit=limit)
    return Response(dumps(doc), media_type="application/geo+json")
