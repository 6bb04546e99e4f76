"""All SQL of the submissions domain. Ingest is one set-based statement per batch: the
records, their first version, the history entry and the change-feed entry are written
together, and ON CONFLICT makes replays free of side effects."""

import re

from sqlalchemy import text

from app.record import LINE_COLUMNS, ROW_COLUMNS, record_line
from app.record.read import RECORD_SELECT, RECORD_SELECT_CITUS


def native(sql, names: tuple[str, ...]) -> str:
    """The statement with asyncpg's positional `$n` parameters for the named ones, in order:
    the ingest hot path runs it on the driver connection, skipping SQLAlchemy's statement
    compilation and result wrapping (a measurable share of a single POST's CPU)."""
    sql = str(sql)
    for n, name in enumerate(names, 1):
        sql = re.sub(rf"(?<![:\w]):{name}\b", f"${n}", sql)
    if re.search(r"(?<![:\w]):[a-z_]+\b", sql):
        raise ValueError("a named parameter is left in the statement")
    return sql


_DATA_COLUMNS = [c for c, _ in ROW_COLUMNS if c != "content_hash"]
# Who wrote each row travels with it: single POSTs of many enumerators share one statement
# (service.store groups them), so the actor cannot be a parameter of the statement.
_RECORDSET = (
    ", ".join(f"{c} {t}" for c, t in ROW_COLUMNS)
    + ", data jsonb, actor text, actor_key bigint, actor_role text, id_kumkm text, versi_dasar integer"
)

INSERT_MANY = text(
    f"""
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({_RECORDSET})
    ), ins AS (
        INSERT INTO submissions ({", ".join(_DATA_COLUMNS)}, content_hash, dibuat_oleh, dibuat_oleh_key)
        SELECT {", ".join(_DATA_COLUMNS)}, decode(content_hash, 'hex'), actor, actor_key
        FROM input
        ON CONFLICT (submission_id) DO NOTHING
        RETURNING {", ".join(LINE_COLUMNS)}
    ), fresh AS (
        SELECT ins.*, input.data, input.actor, input.actor_key, input.actor_role
        FROM ins JOIN input USING (submission_id)
    ), ver AS (
        INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh, dibuat_pada)
        SELECT submission_id, 1, data, actor, dibuat_pada FROM fresh
    ), rec AS (
        INSERT INTO sync_records (submission_id, periode, kode_provinsi, kode_kabkota, line)
        SELECT submission_id, periode, kode_provinsi, kode_kabkota, {record_line("fresh", "fresh.data")}
        FROM fresh
    ), his AS (
        INSERT INTO submission_history (submission_id, version, aksi, dari, ke, oleh, oleh_key,
                                        oleh_role, pada)
        SELECT submission_id, 1, 'dibuat', NULL, 'masuk', actor, actor_key, actor_role, dibuat_pada
        FROM fresh
    ), chg AS (
        INSERT INTO changes (submission_id, version, status, jenis_perubahan, periode,
                             kode_provinsi, kode_kabkota, pada)
        SELECT submission_id, 1, 'masuk', 'dibuat', periode, kode_provinsi, kode_kabkota, dibuat_pada
        FROM ins
    ), pmt AS (
        -- A follow-up visit names its entity (docs/pemutakhiran.md): remembered with the record,
        -- its conflict judged by the table's trigger (migration 0014). In id_kumkm order: the
        -- trigger locks per entity, and two statements never lock in opposite orders.
        INSERT INTO kumkm_pemutakhiran (submission_id, id_kumkm, versi_dasar)
        SELECT ins.submission_id, input.id_kumkm, input.versi_dasar
        FROM ins JOIN input USING (submission_id)
        WHERE input.id_kumkm IS NOT NULL
        ORDER BY input.id_kumkm, ins.submission_id
    )
    -- Likely duplicates already stored (same key, other id), for the response; GET computes
    -- the same on read, so two duplicates inside one batch are still flagged there.
    SELECT ins.submission_id, ins.dibuat_pada,
           (SELECT array_agg(o.submission_id ORDER BY o.submission_id) FROM submissions o
             WHERE input.duplikat_kunci IS NOT NULL AND o.duplikat_kunci = input.duplikat_kunci
               AND o.submission_id <> ins.submission_id) AS duplikat_dengan
    FROM ins JOIN input USING (submission_id)
    """
)

# Ingest runs on the asyncpg connection itself (see native()).
INSERT_MANY_ARGS = ("rows",)
INSERT_MANY_NATIVE = native(INSERT_MANY, INSERT_MANY_ARGS)

EXISTING_HASHES = text(
    "SELECT submission_id, encode(content_hash, 'hex') AS content_hash FROM submissions WHERE submission_id = ANY(CAST(:ids AS uuid[]))"
)

EXISTING_HASHES_NATIVE = native(EXISTING_HASHES, ("ids",))


# Keyset pagination on submission_id: stable under concurrent inserts, no OFFSET scans.
LIST_TEMPLATE = (
    RECORD_SELECT
    + """
    WHERE ({wilayah_filter})
      AND (CAST(:periode AS text) IS NULL OR s.periode = :periode)
      AND (CAST(:jenis AS text) IS NULL OR s.jenis = :jenis)
      AND (CAST(:status AS text) IS NULL OR s.status = :status)
      AND (CAST(:after AS uuid) IS NULL OR s.submission_id > CAST(:after AS uuid))
    ORDER BY s.submission_id
    LIMIT :limit
"""
)
WILAYAH_FILTER = {
    None: "true",
    1: "s.kode_provinsi = :kode",
    2: "s.kode_kabkota = :kode",
    3: "s.kode_kecamatan = :kode",
    4: "s.kode_wilayah = :kode",
}
LIST = {level: text(LIST_TEMPLATE.replace("{wilayah_filter}", f)) for level, f in WILAYAH_FILTER.items()}
# On Citus the joins carry kode_provinsi (RECORD_SELECT_CITUS): each shard answers its part of
# the page from its own rows, and the coordinator merges the parts in submission_id order.
LIST_CITUS = {
    level: text((RECORD_SELECT_CITUS + LIST_TEMPLATE[len(RECORD_SELECT) :]).replace("{wilayah_filter}", f))
    for level, f in WILAYAH_FILTER.items()
}


# ---------------------------------------------------------------- on a Citus cluster
#
# The same ingest on the distributed schema (ops/citus/distribute.sql, docs/operations.md
# "Scale-out past one primary"). INSERT_MANY cannot run there as it is: its conflict target
# (submission_id) is no longer a unique key (every key of the record tables starts with
# kode_provinsi, the distribution column, since Citus enforces uniqueness only inside a
# shard), and its statement-trigger counters are dropped there. So, in ONE transaction:
#   1. CLAIM_IDS_CITUS: the directory submission_ids (distributed by submission_id, a global
#      primary key) takes the batch's ids; an id already there, from any provinsi and any
#      earlier or concurrent batch, is not returned. This is where a replay stops: it stores
#      nothing, and its content hash is compared as on one server (EXISTING_HASHES_CITUS).
#   2. INSERT_PROVINSI_CITUS, once per provinsi of the claimed items: INSERT_MANY with
#      kode_provinsi in every key, no conflict arbitration (the directory already decided),
#      and the status counters written by the statement itself (on one server the triggers do).
#      Every table it writes is co-located by kode_provinsi, so all of it lands on the one
#      worker that holds the provinsi.
CLAIM_IDS_CITUS = """
    INSERT INTO submission_ids (submission_id, kode_provinsi)
    SELECT * FROM unnest($1::uuid[], $2::text[])
    ON CONFLICT DO NOTHING
    RETURNING submission_id
"""


_PEMUTAKHIRAN = INSERT_MANY.text[INSERT_MANY.text.index("    ), pmt AS (") : INSERT_MANY.text.index("    -- Likely duplicates")]
_PEMUTAKHIRAN = _PEMUTAKHIRAN[: _PEMUTAKHIRAN.rindex("    )\n")]


def _provinsi_statement(sql: str) -> str:
    """INSERT_MANY as one Citus worker runs it for one provinsi, made from it by checked
    replacements so the two cannot drift: no conflict arbitration, kode_provinsi in the keys of
    the version and history rows, the status counters written by the statement, the
    likely-duplicate lookup kept to the provinsi's shard."""
    for old, new in (
        # the registry is not kept on Citus (docs/registry.md): neither are follow-ups
        (_PEMUTAKHIRAN, ""),
        ("        ON CONFLICT (submission_id) DO NOTHING\n", ""),
        ("INSERT INTO submission_versions (submission_id,", "INSERT INTO submission_versions (kode_provinsi, submission_id,"),
        ("SELECT submission_id, 1, data, actor,", "SELECT kode_provinsi, submission_id, 1, data, actor,"),
        ("INSERT INTO submission_history (submission_id,", "INSERT INTO submission_history (kode_provinsi, submission_id,"),
        ("SELECT submission_id, 1, 'dibuat',", "SELECT kode_provinsi, submission_id, 1, 'dibuat',"),
        (
            "        FROM ins\n    )\n",
            """        FROM ins
    ), rek AS (
        INSERT INTO rekap_status AS r (kode_provinsi, periode, kode_kabkota, status, shard, n)
        SELECT kode_provinsi, periode, kode_kabkota, 'masuk', 0, count(*)
        FROM ins GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (kode_provinsi, periode, kode_kabkota, status, shard) DO UPDATE SET n = r.n + excluded.n
    )
""",
        ),
        ("WHERE input.duplikat_kunci IS NOT NULL", "WHERE o.kode_provinsi = :provinsi AND input.duplikat_kunci IS NOT NULL"),
    ):
        if sql.count(old) != 1:
            raise ValueError(f"INSERT_MANY changed: {old.strip()!r} is not there once")
        sql = sql.replace(old, new)
    return sql


INSERT_PROVINSI_CITUS = native(_provinsi_statement(str(INSERT_MANY)), (*INSERT_MANY_ARGS, "provinsi"))

# The stored hash of ids the directory already held: the directory names each one's provinsi
# (one routed query per directory shard), then each provinsi's records are read on its worker
# (a join of the two would need repartitioning: they are distributed by different keys).
DIRECTORY_CITUS = """
    SELECT submission_id, kode_provinsi FROM submission_ids WHERE submission_id = ANY($1::uuid[])
"""
EXISTING_HASHES_CITUS = """
    SELECT submission_id, encode(content_hash, 'hex') AS content_hash FROM submissions
    WHERE kode_provinsi = $1 AND submission_id = ANY($2::uuid[])
"""


# The entities follow-up visits name (docs/pemutakhiran.md), each followed past merges to the
# live one, with its jenis and where it is: the desa of its latest linked record, as the
# entity list files it (kumkm_daftar, migration 0014), else its kabupaten/kota. A handful of
# index look-ups per id.
ENTITAS_PEMUTAKHIRAN = text(
    """
    WITH RECURSIVE hop (asked, id_kumkm, digabung_ke, depth) AS (
        SELECT q.asked, k.id_kumkm, k.digabung_ke, 0
        FROM unnest(CAST(:ids AS text[])) AS q(asked) JOIN kumkm k ON k.id_kumkm = q.asked
        UNION ALL
        SELECT h.asked, k.id_kumkm, k.digabung_ke, h.depth + 1
        FROM hop h JOIN kumkm k ON k.id_kumkm = h.digabung_ke
        WHERE h.depth < 32
    )
    SELECT h.asked, k.id_kumkm, k.jenis, k.versi,
           (SELECT a.versi FROM kumkm a WHERE a.id_kumkm = h.asked) AS versi_diminta,
           COALESCE((SELECT d.desa FROM kumkm_daftar d WHERE d.id_kumkm = k.id_kumkm), k.kode_kabkota) AS kode_wilayah
    FROM hop h JOIN kumkm k USING (id_kumkm)
    WHERE h.digabung_ke IS NULL
    """
)
# on the asyncpg connection itself (native()): every follow-up visit's post asks it
ENTITAS_PEMUTAKHIRAN_NATIVE = native(ENTITAS_PEMUTAKHIRAN, ("ids",))
