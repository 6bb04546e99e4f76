"""SQL of the sync domain. These run on the raw asyncpg connection ($n parameters): the
feed and the snapshot move millions of rows, and PostgreSQL builds each record's JSON text
itself so that Python only concatenates bytes."""

# The record as a consumer stores it. `data` (the content of the current version) is kept
# apart so that masking personal data touches only that part.
RECORD_HEAD = """json_build_object(
        'submission_id', s.submission_id, 'periode', s.periode, 'jenis', s.jenis,
        'kode_wilayah', s.kode_wilayah, 'kode_provinsi', s.kode_provinsi,
        'kode_kabkota', s.kode_kabkota, 'status', s.status, 'version', s.version,
        'enumerator_id', s.enumerator_id, 'captured_at', s.captured_at,
        'skala_usaha', s.skala_usaha, 'sektor', s.sektor, 'dibuat_oleh', s.created_by,
        'dibuat_pada', s.created_at, 'diperbarui_pada', s.updated_at)::text"""

# Timestamps in the JSON text follow the session time zone; UTC makes them the same for
# every consumer whatever the server's configuration.
BEGIN_UTC = "SET LOCAL TimeZone = 'UTC'"

# Every transaction with an id below the xmin of a fresh snapshot has ended, and any
# transaction that writes later gets a larger id: changes below this horizon are final.
HORIZON = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"

# In REPEATABLE READ this is the transaction's snapshot, the one every later statement
# (the whole snapshot stream) reads with.
CURRENT_SNAPSHOT = "SELECT pg_current_snapshot()::text"

# $1,$2 position (xid, id) · $3 horizon · $4 limit · $5 snapshot of a snapshot cursor or NULL
# · $6 scope (provinsi or kabkota code) or NULL · $7 periode or NULL.
# A change whose transaction the cursor's snapshot already saw is returned with skip=true:
# its effect is in the snapshot the consumer loaded, but the cursor still moves past it.
# The record is null when its current wilayah lies outside the caller's scope (it moved).
CHANGES = f"""
    SELECT c.xid::text AS xid, c.id,
           COALESCE(pg_visible_in_snapshot(c.xid, (SELECT CAST($5::text AS pg_snapshot))), false)
               AS skip,
           json_build_object(
               'jenis_perubahan', c.jenis_perubahan, 'submission_id', c.submission_id,
               'version', c.version, 'status', c.status, 'periode', c.periode,
               'kode_provinsi', c.kode_provinsi, 'kode_kabkota', c.kode_kabkota,
               'changed_at', c.changed_at)::text AS change,
           CASE WHEN s.submission_id IS NOT NULL
                     AND ($6::text IS NULL OR s.kode_provinsi = $6 OR s.kode_kabkota = $6)
                THEN {RECORD_HEAD} END AS head,
           v.data::text AS data
    FROM changes c
    LEFT JOIN submissions s ON s.submission_id = c.submission_id
    LEFT JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    WHERE (c.xid, c.id) > (CAST($1::text AS xid8), $2::bigint)
      AND c.xid < CAST($3::text AS xid8)
      AND ($6::text IS NULL OR c.kode_provinsi = $6 OR c.kode_kabkota = $6)
      AND ($7::text IS NULL OR c.periode = $7)
    ORDER BY c.xid, c.id
    LIMIT $4
"""

# $1 periode or NULL · $2 scope (provinsi or kabkota code) or NULL.
SNAPSHOT = f"""
    SELECT {RECORD_HEAD} AS head, v.data::text AS data
    FROM submissions s
    JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    WHERE ($1::text IS NULL OR s.periode = $1)
      AND ($2::text IS NULL OR s.kode_provinsi = $2 OR s.kode_kabkota = $2)
    ORDER BY s.submission_id
"""

SNAPSHOT_COUNT = """
    SELECT count(*) FROM submissions s
    WHERE ($1::text IS NULL OR s.periode = $1)
      AND ($2::text IS NULL OR s.kode_provinsi = $2 OR s.kode_kabkota = $2)
"""

KNOWN_PERIODE = "SELECT 1 FROM periode WHERE kode = $1"
WILAYAH_LEVEL = "SELECT level FROM wilayah WHERE kode = $1"


# ---- Fast paths: PostgreSQL writes the finished NDJSON lines and COPY streams them, so the
# service forwards bytes while PostgreSQL works on the next rows (two cores both busy).
# CSV format with a delimiter and a quote byte that JSON text never contains (JSON escapes
# every control character) makes COPY emit each line exactly as built, unescaped.
COPY_OPTIONS = {"format": "csv", "delimiter": "\x02", "quote": "\x01"}

# The record line for callers who may see personal data.
RECORD_LINE = f"""left({RECORD_HEAD}, -1) || ',"pii_masked":false,"data":' || v.data::text || '}}'"""

SNAPSHOT_LINES = f"""
    SELECT {RECORD_LINE}
    FROM submissions s
    JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    WHERE ($1::text IS NULL OR s.periode = $1)
      AND ($2::text IS NULL OR s.kode_provinsi = $2 OR s.kode_kabkota = $2)
    ORDER BY s.submission_id
"""

# ---- Parallel fast paths: a large stream is cut into ranges of about RANGE_ROWS rows in key
# order; two connections build the ranges' lines at once and the service sends them in order.

# $1 periode · $2 scope · $3 range size: the last key of every full range, in key order. An
# index-only scan of the keys, far cheaper than building the lines.
SNAPSHOT_BOUNDS = """
    SELECT t.submission_id::text AS last_key FROM (
        SELECT s.submission_id, row_number() OVER (ORDER BY s.submission_id) AS rn
        FROM submissions s
        WHERE ($1::text IS NULL OR s.periode = $1)
          AND ($2::text IS NULL OR s.kode_provinsi = $2 OR s.kode_kabkota = $2)) t
    WHERE rn % $3 = 0
    ORDER BY t.submission_id
"""

# $1 periode · $2 scope · $3 after this key (exclusive) or NULL · $4 up to this key
# (inclusive) or NULL.
SNAPSHOT_RANGE_LINES = f"""
    SELECT {RECORD_LINE}
    FROM submissions s
    JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    WHERE ($1::text IS NULL OR s.periode = $1)
      AND ($2::text IS NULL OR s.kode_provinsi = $2 OR s.kode_kabkota = $2)
      AND ($3::text IS NULL OR s.submission_id > CAST($3::text AS uuid))
      AND ($4::text IS NULL OR s.submission_id <= CAST($4::text AS uuid))
    ORDER BY s.submission_id
"""

EXPORT_SNAPSHOT = "SELECT pg_export_snapshot()"

# The same cursor text as app.sync.cursor.Cursor.encode for a position without snapshot:
# unpadded URL-safe base64 of "1:<xid>:<id>" (short enough that encode() never wraps it).
_LINE_CURSOR = """translate(rtrim(encode(convert_to('1:' || c.xid::text || ':' || c.id::text, 'UTF8'),
                                         'base64'), '='), '+/', '-_')"""

# $1,$2 position · $3 horizon · $4 limit · $5 scope · $6 periode (no snapshot in the cursor).
CHANGE_LINES = f"""
    SELECT '{{"cursor":"' || {_LINE_CURSOR} || '",' ||
           left(substr(json_build_object(
               'jenis_perubahan', c.jenis_perubahan, 'submission_id', c.submission_id,
               'version', c.version, 'status', c.status, 'periode', c.periode,
               'kode_provinsi', c.kode_provinsi, 'kode_kabkota', c.kode_kabkota,
               'changed_at', c.changed_at)::text, 2), -1) ||
           ',"record":' ||
           CASE WHEN s.submission_id IS NOT NULL
                     AND ($5::text IS NULL OR s.kode_provinsi = $5 OR s.kode_kabkota = $5)
                THEN {RECORD_LINE} ELSE 'null' END || '}}'
    FROM changes c
    LEFT JOIN submissions s ON s.submission_id = c.submission_id
    LEFT JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    WHERE (c.xid, c.id) > (CAST($1::text AS xid8), $2::bigint)
      AND c.xid < CAST($3::text AS xid8)
      AND ($5::text IS NULL OR c.kode_provinsi = $5 OR c.kode_kabkota = $5)
      AND ($6::text IS NULL OR c.periode = $6)
    ORDER BY c.xid, c.id
    LIMIT $4
"""

# $1,$2 position · $3 horizon · $4 limit · $5 scope · $6 periode · $7 range size: the (xid, id)
# of the last change of every full range of the page, and of the page's last change.
CHANGE_BOUNDS = """
    SELECT t.xid::text AS last_xid, t.id AS last_id FROM (
        SELECT c.xid, c.id, row_number() OVER (ORDER BY c.xid, c.id) AS rn, count(*) OVER () AS n
        FROM (SELECT c.xid, c.id FROM changes c
              WHERE (c.xid, c.id) > (CAST($1::text AS xid8), $2::bigint)
                AND c.xid < CAST($3::text AS xid8)
                AND ($5::text IS NULL OR c.kode_provinsi = $5 OR c.kode_kabkota = $5)
                AND ($6::text IS NULL OR c.periode = $6)
              ORDER BY c.xid, c.id
              LIMIT $4) c) t
    WHERE rn % $7 = 0 OR rn = n
    ORDER BY t.xid, t.id
"""

# CHANGE_LINES for the changes in ((xid, id) after $1,$2 .. up to $7,$8 inclusive]; the page's
# filters and horizon as there ($4 unused: the range end bounds it).
CHANGE_RANGE_LINES = CHANGE_LINES.replace(
    "    ORDER BY c.xid, c.id\n    LIMIT $4\n",
    "      AND (c.xid, c.id) <= (CAST($7::text AS xid8), $8::bigint)\n"
    "      AND $4::bigint > 0\n"
    "    ORDER BY c.xid, c.id\n")
assert CHANGE_RANGE_LINES != CHANGE_LINES
