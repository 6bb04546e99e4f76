"""The map's SQL (docs/kampanye.md, Peta): the points of one kabupaten/kota and periode, read from
the partial index `submissions_lokasi` (migration 0018) alone: its key is (kode_kabkota,
periode) and it carries the coordinates, the status and the id, so none of these statements
visits the table (an index-only scan once the table is vacuumed).

Every statement takes the same filter: the kabupaten/kota, the periode, optionally one status
and optionally a box (lat and lon ranges; all four or none)."""

from __future__ import annotations

from functools import cache

from sqlalchemy import text

from app.security.personal import LOKASI_DECIMALS

# The filter every statement takes: the kabupaten/kota and periode, and where asked one status
# and a box. Each combination is a statement of its own (`statement(...)`), not one with
# `:x IS NULL OR ...`: PostgreSQL's generic plan for a prepared statement (used after five
# runs) of such an OR, or of a CASE on a parameter, was half again slower on 100,000 points.
_KABKOTA = "s.kode_kabkota = :kabkota AND s.periode = :periode AND s.lokasi_lat IS NOT NULL"
_STATUS = " AND s.status = :status"
_BOX = " AND s.lokasi_lat BETWEEN :lat_min AND :lat_max AND s.lokasi_lon BETWEEN :lon_min AND :lon_max"
_AFTER = " AND s.submission_id > CAST(:after AS uuid)"

# How many points the filter holds, per status, and the box around them: asked first when the
# map names no box (its first look at a kabupaten/kota), to choose points or clusters and the
# cell size.
_EXTENT = """
    SELECT s.status, count(*) AS n, min(s.lokasi_lat) AS lat_min, max(s.lokasi_lat) AS lat_max,
           min(s.lokasi_lon) AS lon_min, max(s.lokasi_lon) AS lon_max
    FROM submissions s WHERE {where}
    GROUP BY s.status
"""

# Grid clusters: the points grouped by the square cell of `sel` degrees they fall in, each cell
# answered as its points' mean position with its count per status and the box around its
# points (their union is the box of the answer, so a map that names its box is answered in one
# scan). For a caller without the personal-data grant (`bulat`) the points are rounded first
# to the same decimals as the record's content is (app.security.personal.round_lokasi; in
# floating point here, cheaper than numeric, and the centres are rounded again by round_lokasi):
# a cluster of one point, or the mean of a few, never says more than the rounded points would.
_CLUSTERS = """
    WITH p AS (
        SELECT {lat} AS lat, {lon} AS lon, s.status FROM submissions s WHERE {where}
    )
    SELECT count(*) AS n, avg(lat) AS lat, avg(lon) AS lon,
           count(*) FILTER (WHERE status = 'masuk') AS masuk,
           count(*) FILTER (WHERE status = 'diterima') AS diterima,
           count(*) FILTER (WHERE status = 'ditolak') AS ditolak,
           min(lat) AS lat_min, max(lat) AS lat_max, min(lon) AS lon_min, max(lon) AS lon_max
    FROM p
    GROUP BY floor(lat / :sel), floor(lon / :sel)
    ORDER BY floor(lat / :sel), floor(lon / :sel)
"""
_ROUND = f"round(s.lokasi_{{c}} * {10**LOKASI_DECIMALS}) / {10**LOKASI_DECIMALS}"

# One page of points in submission_id order (the keyset); only asked when the filter holds no
# more than the threshold, so the sort is bounded by it.
_POINTS = """
    SELECT s.submission_id, s.status, s.lokasi_lat AS lat, s.lokasi_lon AS lon
    FROM submissions s WHERE {where}
    ORDER BY s.submission_id
    LIMIT :limit
"""


@cache
def statement(kind: str, *, status: bool, box: bool, bulat: bool = False, after: bool = False):
    """`kind` (extent, clusters, points) for this combination of the filter."""
    where = _KABKOTA + (_STATUS if status else "") + (_BOX if box else "") + (_AFTER if after else "")
    if kind == "extent":
        return text(_EXTENT.format(where=where))
    if kind == "clusters":
        lat, lon = (_ROUND.format(c="lat"), _ROUND.format(c="lon")) if bulat else ("s.lokasi_lat", "s.lokasi_lon")
        return text(_CLUSTERS.format(where=where, lat=lat, lon=lon))
    return text(_POINTS.format(where=where))


# The kabupaten/kota's bounding box, where an operator loaded one (`kumkm wilayah bbox`).
BBOX = text("SELECT lat_min, lat_max, lon_min, lon_max, sumber FROM wilayah_bbox WHERE kode = :kode")

# The enumerator flag `lokasi_luar` (app.kampanye.service.titik.LUAR_*): per enumerator of a
# page of the enumerator table, its records whose lokasi lies outside their kabupaten/kota's box
# by more than :margin degrees, counted only where a box is loaded. Read from the enumerator
# table's index (submissions_kinerja carries the lokasi, migration 0018), as its other details.
LOKASI_LUAR = text(
    """
    SELECT s.enumerator_id, count(*) AS luar
    FROM submissions s JOIN wilayah_bbox b ON b.kode = s.kode_kabkota
    WHERE s.periode = :periode AND s.kode_provinsi = ANY(CAST(:provinsi AS text[]))
      AND s.enumerator_id = ANY(CAST(:ids AS text[]))
      AND s.kode_kabkota = ANY(CAST(:kabkota AS text[]))
      AND (CAST(:keys AS bigint[]) IS NULL OR s.dibuat_oleh_key = ANY(CAST(:keys AS bigint[])))
      AND s.lokasi_lat IS NOT NULL
      AND (s.lokasi_lat < b.lat_min - :margin OR s.lokasi_lat > b.lat_max + :margin
           OR s.lokasi_lon < b.lon_min - :margin OR s.lokasi_lon > b.lon_max + :margin)
    GROUP BY 1
    """
)

# Which of these kabupaten/kota have a box: without any, the flag's statement is not run.
WITH_BBOX = text("SELECT kode FROM wilayah_bbox WHERE kode = ANY(CAST(:kabkota AS text[]))")
