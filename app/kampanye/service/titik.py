"""The records on a map (docs/kampanye.md, Peta): `GET /api/v1/kampanye/titik` answers a GeoJSON
FeatureCollection of the records with lokasi of one kabupaten/kota and periode.

- At most `KUMKM_MAP_MAX_POINTS` points in the asked area (the kabupaten/kota, or the box the
  map shows): the points themselves, in pages of at most that many (keyset on submission_id).
- More: grid clusters computed by the database, one per square cell with its count per status.
  The cell is 1/4 of a 256-pixel tile at the map's zoom (about 64 pixels on screen), and never
  smaller than 1/32 of the area's larger side, so an answer holds at most 32 x 32 clusters
  whatever the zoom asked (1/16 without a zoom: the first look at a whole kabupaten/kota).

The personal-data rule is the record's: a caller who would see the record's personal data
(authorize(...).pii) gets the exact lokasi; any other gets it rounded as the record's content
is (app.security.personal.round_lokasi, 2 decimals, about 1 km), the clusters computed from the
rounded points. The submission_id is in a point only for a caller who may open the record."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.core import pagination
from app.core.errors import Problem, invalid_field
from app.core.settings import settings
from app.infra import replicas
from app.kampanye.queries import titik as queries
from app.record.reference import LEVEL_KABKOTA, check_periode, check_wilayah
from app.security.accesslog import log_access
from app.security.personal import LOKASI_DECIMALS, round_lokasi
from app.security.policy import authorize
from app.security.principal import Principal

ENDPOINT = "GET /api/v1/kampanye/titik"
ACTION = "report.read"
CURSOR = pagination.Keyset("titik.1", pagination.UUID)
# at most this many cells along the larger side of the asked area: at most 32 x 32 clusters
# (a map 1,280 pixels wide shows 20 cells of a quarter tile across)
MAX_CELLS_PER_SIDE = 32
# without a zoom (the first look at a whole kabupaten/kota) cells of 1/16 of its larger side
CELLS_WITHOUT_ZOOM = 16
# a tile is 256 pixels; a cell is a quarter of it (about 64 pixels on screen)
CELLS_PER_TILE = 4
STATUSES = ("masuk", "diterima", "ditolak")


@dataclass(frozen=True)
class Kotak:
    """A box in degrees (GeoJSON order in the query: lon_min,lat_min,lon_max,lat_max)."""

    lon_min: float
    lat_min: float
    lon_max: float
    lat_max: float


def parse_bbox(raw: str | None) -> Kotak | None:
    """`bbox=lon_min,lat_min,lon_max,lat_max` (GeoJSON's order, what Leaflet's
    getBounds().toBBoxString() writes), else a 422 naming bbox."""
    if raw is None:
        return None
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise invalid_field("bbox", "harus empat angka lon_min,lat_min,lon_max,lat_max (mis. 104.5,-3.2,105.1,-2.4)")
    box = Kotak(*values)
    if not (-180 <= box.lon_min <= box.lon_max <= 180 and -90 <= box.lat_min <= box.lat_max <= 90):
        raise invalid_field("bbox", "harus lon_min <= lon_max di antara -180 dan 180, lat_min <= lat_max di antara -90 dan 90")
    return box


def may_open(principal: Principal) -> bool:
    """Whether this caller may open a record (GET /api/v1/submissions/{id}) of the wilayah it
    reads the map of: then its points carry their submission_id."""
    try:
        authorize(principal, "record.read")
    except Problem:
        return False
    return True


def cell_size(zoom: int | None, area: Kotak) -> float:
    """The side of a cluster's cell in degrees: a quarter tile at `zoom`, but at least the
    area's larger side / MAX_CELLS_PER_SIDE (and some width for an area of one point)."""
    side = max(area.lon_max - area.lon_min, area.lat_max - area.lat_min)
    if zoom is None:
        return max(side / CELLS_WITHOUT_ZOOM, 1e-6)
    return max(360.0 / (2**zoom) / CELLS_PER_TILE, side / MAX_CELLS_PER_SIDE, 1e-6)


async def titik(
    principal: Principal,
    periode: str,
    kode_wilayah: str,
    *,
    status: str | None = None,
    bbox: str | None = None,
    zoom: int | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    await check_periode(periode)
    if await check_wilayah(kode_wilayah, "kode_wilayah") != LEVEL_KABKOTA:
        raise invalid_field("kode_wilayah", "harus kode kabupaten/kota (mis. 16.07): peta dibuat per kabupaten/kota")
    box = parse_bbox(bbox)
    grant = authorize(principal, ACTION, kode_wilayah, field="kode_wilayah")
    maks = settings.map_max_points
    if limit is not None and not 1 <= limit <= maks:
        raise invalid_field("limit", f"harus 1 sampai {maks}")
    after = CURSOR.decode(cursor)
    rounded = not grant.pii
    if rounded and box is not None:
        box = _whole_cells(box)
    params: dict[str, Any] = {
        "kabkota": kode_wilayah,
        "periode": periode,
        "status": status,
        "lat_min": box.lat_min if box else None,
        "lat_max": box.lat_max if box else None,
        "lon_min": box.lon_min if box else None,
        "lon_max": box.lon_max if box else None,
    }
    has = {"status": status is not None, "box": box is not None}
    show_id = may_open(principal)
    features: list[dict[str, Any]] = []
    next_cursor = None
    sel: float | None = None
    async with replicas.connect() as conn:
        kabkota_box = (await conn.execute(queries.BBOX, {"kode": kode_wilayah})).one_or_none()
        if box is None and after is None:
            # the first look at a kabupaten/kota: how many points, and where, decide the rest
            rows = (await conn.execute(queries.statement("extent", **has), params)).all()
            counted = _Hitung.of(rows)
            if counted.n > maks:
                sel = cell_size(zoom, counted.kotak())
        elif after is None:
            # a map naming what it shows: the clusters' scan also counts (one scan when it is
            # clusters, the usual case while a map of many points moves)
            assert box is not None
            sel = cell_size(zoom, box)
            rows = (await conn.execute(queries.statement("clusters", **has, bulat=rounded), {**params, "sel": sel})).all()
            counted = _Hitung.of(rows)
            if counted.n > maks:
                features = [_cluster(r, rounded) for r in rows]
            else:
                sel = None
        else:
            counted = _Hitung.of((await conn.execute(queries.statement("extent", **has), params)).all())
        if sel is not None and not features:
            rows = (await conn.execute(queries.statement("clusters", **has, bulat=rounded), {**params, "sel": sel})).all()
            features = [_cluster(r, rounded) for r in rows]
        if sel is None:
            # the points themselves (a cursor keeps paging points: the count may have crossed the
            # threshold since the first page, and a client half-way through a list should get its end)
            page = limit or maks
            q = queries.statement("points", **has, after=after is not None)
            rows = (await conn.execute(q, {**params, "after": str(after[0]) if after else None, "limit": page + 1})).all()
            more = len(rows) > page
            rows = rows[:page]
            features = [_point(r, rounded, show_id) for r in rows]
            if more:
                next_cursor = CURSOR.encode(rows[-1].submission_id)
    jenis = "klaster" if sel is not None else "titik"
    if grant.pii and features:
        detail = {"periode": periode, "kode_wilayah": kode_wilayah, "jenis": jenis, "lokasi": "tepat"}
        await log_access(principal, ENDPOINT, detail, rows=len(features))
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "jenis": jenis,
        "periode": periode,
        "kode_wilayah": kode_wilayah,
        "jumlah": counted.n,
        "per_status": counted.per_status,
        "lokasi_dibulatkan": rounded,
        "ukuran_sel": sel,
        "batas_titik": maks,
        "next_cursor": next_cursor,
        "features": features,
    }
    if counted.n:
        doc["bbox"] = _box_list(counted.kotak(), rounded)
    doc["kotak_wilayah"] = (
        {
            "bbox": [kabkota_box.lon_min, kabkota_box.lat_min, kabkota_box.lon_max, kabkota_box.lat_max],
            "sumber": kabkota_box.sumber,
        }
        if kabkota_box
        else None
    )
    return doc


# ---------------------------------------------------------------- the enumerator flag lokasi_luar

# lokasi_luar: at least LUAR_MINIMAL of an enumerator's records lie outside their kabupaten/kota's
# bounding box by more than LUAR_MARGIN degrees (about 1 km: a GPS fix's error near the border,
# and a box drawn a little tight), counted only in the kabupaten/kota whose box an operator loaded
# (`kumkm wilayah bbox`). One record outside is a bad fix; three are a habit (capturing from home,
# or records made up at one place). A box is the rectangle around the kabupaten/kota, so a
# record just across a diagonal border is not caught: the flag finds the far ones.
LUAR_MINIMAL = 3
LUAR_MARGIN = 0.01


def lokasi_luar_rule() -> dict[str, Any]:
    return {"minimal": LUAR_MINIMAL, "margin_derajat": LUAR_MARGIN}


async def lokasi_luar(
    conn: Any, *, periode: str, kabkota: list[str], ids: list[str], keys: list[int] | None
) -> tuple[dict[str, int], bool]:
    """Per enumerator of `ids`: its records (of `keys` when given) in `kabkota` whose lokasi lies
    outside their kabupaten/kota's box, and whether any of `kabkota` has a box at all (without
    one the flag cannot apply, and nothing is read)."""
    with_box = [r[0] for r in (await conn.execute(queries.WITH_BBOX, {"kabkota": kabkota})).all()]
    if not with_box or not ids:
        return {}, bool(with_box)
    params = {
        "periode": periode,
        "provinsi": sorted({k[:2] for k in with_box}),
        "kabkota": with_box,
        "ids": ids,
        "keys": keys,
        "margin": LUAR_MARGIN,
    }
    return {r.enumerator_id: r.luar for r in (await conn.execute(queries.LOKASI_LUAR, params)).all()}, True


@dataclass(frozen=True)
class _Hitung:
    """Points counted per status, and the box around them, from rows that each carry n, a
    status or the per-status counts, and their own box (the extent's or the clusters')."""

    n: int
    per_status: dict[str, int]
    lat_min: float | None
    lat_max: float | None
    lon_min: float | None
    lon_max: float | None

    @classmethod
    def of(cls, rows: Any) -> _Hitung:
        per = dict.fromkeys(STATUSES, 0)
        for r in rows:
            if hasattr(r, "status"):
                per[r.status] += r.n
            else:
                for st in STATUSES:
                    per[st] += getattr(r, st)
        return cls(
            sum(r.n for r in rows),
            per,
            min((r.lat_min for r in rows), default=None),
            max((r.lat_max for r in rows), default=None),
            min((r.lon_min for r in rows), default=None),
            max((r.lon_max for r in rows), default=None),
        )

    def kotak(self) -> Kotak:
        assert self.lat_min is not None and self.lat_max is not None and self.lon_min is not None and self.lon_max is not None
        return Kotak(self.lon_min, self.lat_min, self.lon_max, self.lat_max)


def _whole_cells(box: Kotak) -> Kotak:
    """A box asked by a caller without the personal-data grant, widened to whole cells of the
    rounding (edges at (k + 0.5) / 100 degrees): the records inside are then exactly those whose
    rounded lokasi lies inside, so halving boxes and watching the counts (a bisection) tells
    no more than the rounded points already do."""
    step = 10**LOKASI_DECIMALS

    def edge(value: float, side: float) -> float:
        return (math.floor(value * step + 0.5) + side) / step

    return Kotak(
        lon_min=edge(box.lon_min, -0.5), lat_min=edge(box.lat_min, -0.5), lon_max=edge(box.lon_max, 0.5), lat_max=edge(box.lat_max, 0.5)
    )


def _box_list(box: Kotak, rounded: bool) -> list[float]:
    if rounded:
        lo = round_lokasi({"lon": box.lon_min, "lat": box.lat_min})
        hi = round_lokasi({"lon": box.lon_max, "lat": box.lat_max})
        return [lo["lon"], lo["lat"], hi["lon"], hi["lat"]]
    return [box.lon_min, box.lat_min, box.lon_max, box.lat_max]


def _point(r: Any, rounded: bool, show_id: bool) -> dict[str, Any]:
    where = {"lat": r.lat, "lon": r.lon}
    if rounded:
        where = round_lokasi(where)
    props: dict[str, Any] = {"status": r.status}
    feature: dict[str, Any] = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [where["lon"], where["lat"]]}}
    if show_id:
        feature["id"] = str(r.submission_id)
        props["submission_id"] = str(r.submission_id)
    feature["properties"] = props
    return feature


def _cluster(r: Any, rounded: bool) -> dict[str, Any]:
    where = {"lat": float(r.lat), "lon": float(r.lon)}
    if rounded:
        where = round_lokasi(where)
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [where["lon"], where["lat"]]},
        "properties": {"klaster": True, "jumlah": r.n, "masuk": r.masuk, "diterima": r.diterima, "ditolak": r.ditolak},
    }
