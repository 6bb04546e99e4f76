"""The map's SQL (docs/kampanye.md, Peta): the points of one kabupaten/kota and periode, read from
the partial index `submissions_lokasi` (migration 0018) alone: its key is (kode_kabkota,
periode) and it carries the coordinates, the status and the id, so none of these statements
visits the table (an index-only scan once the table is vacuumed).

Every statement takes the same filter: the kabupaten/kota, the periode, optionally one status
and optionally a box (lat and lon ranges; all four or none)."""

from __future__ import annotations

from sqlalchemy import text

from app.security.personal import LOKASI_DECIMALS

_WHERE = """
    WHERE s.kode_kabkota = :kabkota AND s.periode = :periode AND s.lokasi_lat IS NOT NULL
      AND (CAST(:status AS text) IS NULL OR s.status = :status)
      AND (CAST(:lat_min AS double precision) IS NULL
           OR (s.lokasi_lat BETWEEN :lat_min AND :lat_max AND s.lokasi_lon BETWEEN :lon_min AND :lon_max))
"""

# How many points the filter holds, per status, and the box around them: the service chooses
# points or clusters from the count, and the cell size from the box.
EXTENT = text(
    f"""
    SELECT count(*) AS n,
           count(*) FILTER (WHERE s.status = 'masuk') AS masuk,
           count(*) FILTER (WHERE s.status = 'diterima') AS diterima,
           count(*) FILTER (WHERE s.status = 'ditolak') AS ditolak,
           min(s.lokasi_lat) AS lat_min, max(s.lokasi_lat) AS lat_max,
           min(s.lokasi_lon) AS lon_min, max(s.lokasi_lon) AS lon_max
    FROM submissions s
    {_WHERE}
    """
)

# Grid clusters: the points grouped by the square cell of `sel` degrees they fall in, each cell
# answered as its points' mean position with its count per status. For a caller without the
# personal-data grant (`bulat`) the points are rounded first to the same decimals as the
# record's content is (app.security.personal.round_lokasi; in floating point here, cheaper than
# numeric, and the centres are rounded again by round_lokasi): a cluster of one point, or the
# mean of a few, never says more than the rounded points would.
CLUSTERS = text(
    f"""
    WITH p AS (
        SELECT CASE WHEN :bulat THEN round(s.lokasi_lat * {10**LOKASI_DECIMALS}) / {10**LOKASI_DECIMALS}
                    ELSE s.lokasi_lat END AS lat,
               CASE WHEN :bulat THEN round(s.lokasi_lon * {10**LOKASI_DECIMALS}) / {10**LOKASI_DECIMALS}
                    ELSE s.lokasi_lon END AS lon,
               s.status
        FROM submissions s
        {_WHERE}
    )
    SELECT count(*) AS n, avg(lat) AS lat, avg(lon) AS lon,
           count(*) FILTER (WHERE status = 'masuk') AS masuk,
           count(*) FILTER (WHERE status = 'diterima') AS diterima,
           count(*) FILTER (WHERE status = 'ditolak') AS ditolak
    FROM p
    GROUP BY floor(lat / :sel), floor(lon / :sel)
    ORDER BY floor(lat / :sel), floor(lon / :sel)
    """
)

# One page of points in submission_id order (the keyset); only asked when the filter holds no
# more than the threshold, so the sort is bounded by it.
POINTS = text(
    f"""
    SELECT s.submission_id, s.status, s.lokasi_lat AS lat, s.lokasi_lon AS lon
    FROM submissions s
    {_WHERE}
      AND (CAST(:after AS uuid) IS NULL OR s.submission_id > CAST(:after AS uuid))
    ORDER BY s.submission_id
    LIMIT :limit
    """
)

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
