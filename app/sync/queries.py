"""SQL of the sync domain. These run on the raw asyncpg connection ($n parameters): the
feed and the snapshot move millions of rows, and PostgreSQL hands over finished NDJSON text
(the stored record lines, the change fields around them) so that Python only forwards bytes."""

from dataclasses import dataclass

from app.core.timefmt import sql_utc_text

# The record as a consumer stores it is `sync_records.line`: rendered by sync_record_line()
# (migration 0004, app.record) in the statement that writes the record, so reading it
# builds nothing.

# Set at the start of every sync transaction (which runs only the statements of this module).
# Timestamps are rendered in UTC explicitly (app.core.timefmt); the session's UTC is for any
# other rendering, so that none depends on the server's configuration. The plan is pinned to the one shape
# that streams: changes in index order, each record looked up by key, snapshot pages read in
# order. A misestimated range (all changes of a bulk load share one xid) otherwise turned a
# 20,000-change range into a sort of the whole table, and PostgreSQL's parallel workers
# funnel every 1 kB line through one leader; a stream already has two connections of its own.
BEGIN_SYNC = """SET LOCAL TimeZone = 'UTC'; SET LOCAL max_parallel_workers_per_gather = 0;
    SET LOCAL enable_sort = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"""

# Every transaction with an id below the xmin of a fresh snapshot has ended, and any
# transaction that writes later gets a larger id: changes below this horizon are final.
HORIZON = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"

# In REPEATABLE READ this is the transaction's snapshot, the one every later statement
# (the whole snapshot stream) reads with.
CURRENT_SNAPSHOT = "SELECT pg_current_snapshot()::text"


def _in_scope(rel: str, scope: str) -> str:
    """`rel` lies in the caller's wilayah: the parameter `scope` (a provinsi or kabkota code)
    is NULL for a national key."""
    return f"({scope}::text IS NULL OR {rel}.kode_provinsi = {scope} OR {rel}.kode_kabkota = {scope})"


# ---- A feed: a table of events in (xid, id) order (alias `c`), with a state beside each event
# (the record, the entity). The record feed (`changes`) and the entity feed (`kumkm_peristiwa`)
# are each one Feed: the same statements over another table, so the horizon, the cursor, the
# skip of what a snapshot saw, the COPY and the parallel ranges are the same code for both
# (app.sync.service.feed). Parameters, in every feed alike:
#   rows         $1,$2 position (xid, id) · $3 horizon · $4 limit · $5 snapshot of a snapshot
#                cursor or NULL · $6 scope (provinsi or kabkota code) or NULL · $7 periode or NULL
#   lines        $1,$2 position · $3 horizon · $4 limit · $5 scope · $6 periode (no snapshot)
#   bounds       lines' parameters · $7 range size
#   range_lines  lines' parameters · $7,$8 the (xid, id) the range ends with


@dataclass(frozen=True)
class Feed:
    """The statements of one feed (see above)."""

    rows: str
    lines: str
    bounds: str
    range_lines: str


def _page_where(scope: str, periode: str, scope_rel: str = "c", periode_col: str | None = "c.periode") -> str:
    """The events a feed page may return: after the position ($1, $2), below the horizon
    ($3), in the caller's wilayah (of `scope_rel`), of the periode asked for if any (a feed
    without periode, `periode_col` None, is always asked without)."""
    by_periode = f"({periode}::text IS NULL OR {periode_col} = {periode})" if periode_col is not None else f"{periode}::text IS NULL"
    return f"""WHERE (c.xid, c.id) > (CAST($1::text AS xid8), $2::bigint)
      AND c.xid < CAST($3::text AS xid8)
      AND {_in_scope(scope_rel, scope)}
      AND {by_periode}"""


def _line_cursor(tag: str) -> str:
    """The same cursor text as app.sync.cursor.Cursor.encode (EntitasCursor's with its tag) for a
    position without snapshot: unpadded URL-safe base64 of "<tag>:<xid>:<id>" (short enough that
    encode() never wraps it)."""
    return f"""translate(rtrim(encode(convert_to('{tag}:' || c.xid::text || ':' || c.id::text, 'UTF8'),
                                         'base64'), '='), '+/', '-_')"""


def _feed(
    *, source: str, events: str, fields: str, state_key: str, state, tag: str, scope_rel: str = "c", periode_col: str | None = "c.periode"
) -> Feed:
    """A feed's statements: `source` the event table `c` with the state's relations joined,
    `events` the same for counting ranges (what the scope needs, nothing more), `fields` the
    event's JSON members, `state(scope)` the state's JSON text or NULL, under `state_key`."""
    rows = f"""
    SELECT c.xid::text AS xid, c.id,
           COALESCE(pg_visible_in_snapshot(c.xid, (SELECT CAST($5::text AS pg_snapshot))), false)
               AS skip,
           {fields} AS change,
           {state("$6")} AS line
    FROM {source}
    {_page_where("$6", "$7", scope_rel, periode_col)}
    ORDER BY c.xid, c.id
    LIMIT $4
"""
    lines = f"""
    SELECT '{{"cursor":"' || {_line_cursor(tag)} || '",' || {fields}
           || ',"{state_key}":' || COALESCE({state("$5")}, 'null') || '}}'
    FROM {source}
    {_page_where("$5", "$6", scope_rel, periode_col)}
    ORDER BY c.xid, c.id
    LIMIT $4
"""
    # the (xid, id) of the last event of every full range of the page, and of the page's last
    bounds = f"""
    SELECT t.xid::text AS last_xid, t.id AS last_id FROM (
        SELECT c.xid, c.id, row_number() OVER (ORDER BY c.xid, c.id) AS rn, count(*) OVER () AS n
        FROM (SELECT c.xid, c.id FROM {events}
              {_page_where("$5", "$6", scope_rel, periode_col)}
              ORDER BY c.xid, c.id
              LIMIT $4) c) t
    WHERE rn % $7 = 0 OR rn = n
    ORDER BY t.xid, t.id
"""
    # lines for the events in ((xid, id) after $1,$2 .. up to $7,$8 inclusive]; the page's
    # filters and horizon as there ($4 unused: the range end bounds it)
    range_lines = lines.replace(
        "    ORDER BY c.xid, c.id\n    LIMIT $4\n",
        "      AND (c.xid, c.id) <= (CAST($7::text AS xid8), $8::bigint)\n      AND $4::bigint > 0\n    ORDER BY c.xid, c.id\n",
    )
    assert range_lines != lines
    return Feed(rows, lines, bounds, range_lines)


# ---- The record feed: `changes`, each with the record's stored line.

# The change's own fields as JSON members (no braces), cheaper by concatenation than
# json_build_object, which looks up every argument's type on every row. `pada` is when the
# change was made (an event's time, docs/code.md "Naming"); `changed_at` is its old name, the
# same text, kept in the line for the ministry's consumer until release 0.2.0 (docs/sync.md).
# Both are rendered here, at read time, so no stored line carries either; format() writes the
# one to_char text twice (about 0.2 µs a line, half the cost of a second to_char).
_CHANGE_FIELDS = f"""'"jenis_perubahan":' || to_json(c.jenis_perubahan)::text
           || ',"submission_id":"' || c.submission_id::text
           || '","version":' || c.version::text
           || ',"status":' || to_json(c.status)::text
           || ',"periode":' || to_json(c.periode)::text
           || ',"kode_provinsi":' || to_json(c.kode_provinsi)::text
           || ',"kode_kabkota":' || to_json(c.kode_kabkota)::text
           || format(',"pada":"%1$s","changed_at":"%1$s"', {sql_utc_text("c.pada")})"""


# The record of a change, or null when it lies outside the caller's scope ($scope): the
# record's *current* wilayah decides (it may have moved).
def _change_record(scope: str) -> str:
    return f"CASE WHEN r.submission_id IS NOT NULL AND {_in_scope('r', scope)} THEN r.line END"


RECORD_FEED = _feed(
    source="changes c\n    LEFT JOIN sync_records r ON r.submission_id = c.submission_id",
    events="changes c",
    fields=_CHANGE_FIELDS,
    state_key="record",
    state=_change_record,
    tag="1",
)
# A change whose transaction the cursor's snapshot already saw is returned with skip=true:
# its effect is in the snapshot the consumer loaded, but the cursor still moves past it.
CHANGES = RECORD_FEED.rows
CHANGE_LINES = RECORD_FEED.lines
CHANGE_BOUNDS = RECORD_FEED.bounds
CHANGE_RANGE_LINES = RECORD_FEED.range_lines


# ---- The entity feed: `kumkm_peristiwa` (migration 0011; its `xid` and `id` as `changes`'),
# each event with the entity's *current* state (as a change carries the record's current line),
# in the caller's wilayah by the entity's current kabupaten/kota. Built on read: an entity's
# state is small, and its links are read by the index kumkm_tautan_entitas.

# The entity as the walidata keeps it: one line of the entity snapshot, `entitas` of an event.
# `submission_ids`: its linked records (oldest periode first); a merged entity has none left
# and says `digabung_ke`.
ENTITAS_LINE = f"""'{{"id_kumkm":' || to_json(k.id_kumkm)::text
           || ',"jenis":' || to_json(k.jenis)::text
           || ',"kode_provinsi":' || to_json(k.kode_provinsi)::text
           || ',"kode_kabkota":' || to_json(k.kode_kabkota)::text
           || ',"versi":' || k.versi::text
           || ',"digabung_ke":' || COALESCE(to_json(k.digabung_ke)::text, 'null')
           || ',"dibuat_pada":"' || {sql_utc_text("k.dibuat_pada")}
           || '","diperbarui_pada":"' || {sql_utc_text("k.diperbarui_pada")}
           || '","submission_ids":' || COALESCE((SELECT json_agg(t.submission_id ORDER BY t.periode, t.submission_id)
                                                   FROM kumkm_tautan t WHERE t.id_kumkm = k.id_kumkm)::text, '[]')
           || '}}'"""

# The event's own fields. `detail` is the registry's (what moved, the rule that linked, the
# periode): ids and codes, never personal data; the service masks it all the same for a key
# without personal data (app.sync.service.sources).
_PERISTIWA_FIELDS = f"""'"id_kumkm":' || to_json(c.id_kumkm)::text
           || ',"jenis":' || COALESCE(to_json(k.jenis)::text, 'null')
           || ',"aksi":' || to_json(c.aksi)::text
           || ',"pada":"' || {sql_utc_text("c.pada")}
           || '","oleh":' || to_json(c.oleh)::text
           || ',"alasan":' || COALESCE(to_json(c.alasan)::text, 'null')
           || ',"detail":' || c.detail::text"""

ENTITAS_FEED = _feed(
    source="kumkm_peristiwa c\n    LEFT JOIN kumkm k ON k.id_kumkm = c.id_kumkm",
    events="kumkm_peristiwa c\n    LEFT JOIN kumkm k ON k.id_kumkm = c.id_kumkm",
    fields=_PERISTIWA_FIELDS,
    state_key="entitas",
    state=lambda scope: f"CASE WHEN k.id_kumkm IS NOT NULL THEN {ENTITAS_LINE} END",
    tag="entitas.1",
    scope_rel="k",
    periode_col=None,
)

# Every entity in the caller's wilayah, live and merged. $1 periode (always NULL: an entity spans
# periode) · $2 scope. In physical order, as the record snapshot.
ENTITAS_SNAPSHOT = f"""SELECT {ENTITAS_LINE} FROM kumkm k
    WHERE $1::text IS NULL AND {_in_scope("k", "$2")}"""


# $1 periode or NULL · $2 scope (provinsi or kabkota code) or NULL. In physical order: the
# order of a snapshot is unspecified (docs/sync.md), and a sequential read is what keeps a
# 10-million-record snapshot fast once the table is larger than memory.
_SNAPSHOT_WHERE = f"""
    WHERE ($1::text IS NULL OR r.periode = $1)
      AND {_in_scope("r", "$2")}
"""
SNAPSHOT = "SELECT r.line FROM sync_records r" + _SNAPSHOT_WHERE
SNAPSHOT_COUNT = "SELECT count(*) FROM sync_records r" + _SNAPSHOT_WHERE

KNOWN_PERIODE = "SELECT 1 FROM periode WHERE kode = $1"
WILAYAH_LEVEL = "SELECT level FROM wilayah WHERE kode = $1"


# ---- Fast paths: PostgreSQL writes the finished NDJSON lines and COPY streams them, so the
# service forwards bytes while PostgreSQL works on the next rows (two cores both busy).
# Text format, one column: JSON text holds no control characters (JSON escapes every one), so
# the only thing COPY changes in a line is each backslash, which it doubles; unescape() undoes
# that on whole lines. Text format costs PostgreSQL about 5 µs a record less than CSV (CSV
# scans every value twice for quoting), measured with COPY TO '/dev/null' on 1M lines.
COPY_OPTIONS = {"format": "text"}


def unescape(lines: bytes) -> bytes:
    """COPY text-format output of JSON lines back to the lines as built. Every backslash was
    doubled and nothing else escaped, so pairs map back one to one, left to right."""
    return lines.replace(b"\\\\", b"\\")


# ---- Parallel fast paths: a large stream is cut into ranges; two connections build the
# ranges' lines at once and the service sends them in order.

# Pages of sync_records as this transaction's snapshot may see them: rows it sees lie in
# pages that existed when it started, and the last range is left open in any case.
SNAPSHOT_PAGES = """
    SELECT pg_relation_size('sync_records') / current_setting('block_size')::bigint
"""

# $1 periode · $2 scope · $3 first page · $4 page after the last, or NULL for the rest of the
# table. A TID range scan reads just those pages, so ranges split the rows exactly.
SNAPSHOT_RANGE_LINES = (
    SNAPSHOT
    + """
      AND r.ctid >= format('(%s,0)', $3::bigint)::tid
      AND ($4::bigint IS NULL OR r.ctid < format('(%s,0)', $4::bigint)::tid)
"""
)

EXPORT_SNAPSHOT = "SELECT pg_export_snapshot()"


# ---- The feed and the snapshot on a Citus coordinator (app.infra.citus; docs/operations.md
# "Scale-out past one primary"). Exactly once holds per provinsi: a provinsi's changes are all
# written on the one worker holding its shard group, with that worker's transaction id in
# `xid` (a trigger on the shard sets it, ops/citus/distribute.sql), so the one-server rule
# holds there when the horizon and the snapshot are that worker's too. Every statement below
# therefore names the provinsi ($PROVINSI, the distribution column) and is routed to that
# worker; the record of a change is joined on the distribution column as well. Transaction
# ids of different workers are not comparable: there is no national horizon, so the national
# feed holds a position per provinsi (app.sync.cursor.ClusterCursor) and pages them one
# provinsi after the other, each with its own worker's horizon.
HORIZON_CITUS = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text FROM provinsi_feed WHERE kode_provinsi = $1"
CURRENT_SNAPSHOT_CITUS = "SELECT pg_current_snapshot()::text FROM provinsi_feed WHERE kode_provinsi = $1"


def _on_provinsi(sql: str, param: str) -> str:
    """A feed statement routed to the worker of the provinsi in `param`."""
    out = sql.replace(
        "LEFT JOIN sync_records r ON r.submission_id = c.submission_id",
        "LEFT JOIN sync_records r ON r.kode_provinsi = c.kode_provinsi AND r.submission_id = c.submission_id",
    )
    out = out.replace("WHERE (c.xid, c.id) > ", f"WHERE c.kode_provinsi = {param} AND (c.xid, c.id) > ")
    assert out.count(f"c.kode_provinsi = {param}") == 1 and "r.kode_provinsi = c.kode_provinsi" in out
    return out


CHANGES_CITUS = _on_provinsi(CHANGES, "$8::text")  # CHANGES' parameters, then the provinsi
CHANGE_LINES_CITUS = _on_provinsi(CHANGE_LINES, "$7::text")  # CHANGE_LINES' parameters, then the provinsi
# The snapshot of one provinsi, read on its worker in the same REPEATABLE READ transaction as
# CURRENT_SNAPSHOT_CITUS. $1 periode · $2 scope · $3 provinsi.
SNAPSHOT_CITUS = SNAPSHOT + "      AND r.kode_provinsi = $3::text\n"


# ---- National streams on the cluster: every provinsi, each on its own worker.

# One connection per worker for the whole transaction. Citus may otherwise open several
# connections to a worker for one fan-out (each a worker transaction with a snapshot of its
# own): a national snapshot must read each provinsi in the worker transaction whose
# snapshot its cursor names, and a feed page needs no more than one anyway.
ONE_CONNECTION_PER_WORKER = "SET LOCAL citus.max_adaptive_executor_pool_size = 1"

# Every provinsi with its worker's horizon, or its worker's snapshot: a fan-out over
# provinsi_feed, whose row of a provinsi lies on the worker holding that provinsi's records.
HORIZONS_CITUS = "SELECT kode_provinsi, pg_snapshot_xmin(pg_current_snapshot())::text FROM provinsi_feed ORDER BY kode_provinsi"
SNAPSHOTS_CITUS = "SELECT kode_provinsi, pg_current_snapshot()::text FROM provinsi_feed ORDER BY kode_provinsi"

# One provinsi's part of a national snapshot: SNAPSHOT_CITUS ($1 periode · $2 scope · $3
# provinsi), read only in the worker transaction whose snapshot is $4, the one the cursor
# names for this provinsi; in any other the statement fails (a cut stream) rather than return
# rows the cursor does not describe. pg_current_snapshot() without columns is a one-time test,
# made before the first row is read, also when the provinsi has none.
SNAPSHOT_PART_CITUS = (
    SNAPSHOT_CITUS
    + """      AND CAST(CASE WHEN pg_current_snapshot()::text = $4::text THEN 'true'
               ELSE 'the worker snapshot of provinsi ' || $3::text || ' changed within a national snapshot'
               END AS boolean)
"""
)
