"""All SQL of the verification domain.

Every state change is ONE statement: the conditional UPDATE of submissions, its history row
and its change-feed row are written together, and the statement-level triggers on
submissions move rekap_status in the same statement. So nothing can commit half a
transition, and a concurrent writer never holds rekap rows while waiting for a record."""

from sqlalchemy import text

from app.record import LINE_COLUMNS, ROW_COLUMNS, record_line


def rewrite_line(source: str, data: str) -> str:
    """The walidata's line of every record `upd` changed, rewritten in the same statement from
    the record as updated and its current content `data` read from `source` (a correction may
    also move the record's wilayah), with the entity its line already names (`r.id_kumkm`: the
    row being updated, read again after a lock wait, so a link committed meanwhile is kept)."""
    return f"""UPDATE sync_records r
        SET kode_provinsi = upd.kode_provinsi, kode_kabkota = upd.kode_kabkota,
            line = {record_line("upd", data, "r.id_kumkm")}
        FROM {source}
        WHERE r.submission_id = upd.submission_id"""


# Decisions, set-based: one statement for one decision or a thousand. An item changes the
# record only when the record is still at the version and state its decider saw (the
# optimistic concurrency rule) and lies inside the decider's scope. Rows are locked in
# submission_id order first, so two overlapping batches cannot deadlock on each other.
DECIDE = text(
    f"""
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(CAST(:items AS jsonb))
            AS i(submission_id uuid, ke text, dari text, version integer, alasan_kode text,
                 catatan text)
    ), target AS (
        SELECT s.submission_id FROM submissions s JOIN input i USING (submission_id)
        WHERE s.version = i.version AND s.status = i.dari
          AND (CAST(:scope AS text) IS NULL OR s.kode_provinsi = :scope OR s.kode_kabkota = :scope)
        ORDER BY s.submission_id
        FOR UPDATE OF s
    ), upd AS (
        UPDATE submissions s SET status = i.ke, diperbarui_pada = now()
        FROM input i, target t
        WHERE t.submission_id = s.submission_id AND i.submission_id = s.submission_id
          AND s.version = i.version AND s.status = i.dari
        RETURNING {", ".join(f"s.{c}" for c in LINE_COLUMNS)},
                  i.ke, i.dari, i.alasan_kode, i.catatan
    ), rec AS (
        {rewrite_line("upd JOIN submission_versions v ON v.submission_id = upd.submission_id AND v.version = upd.version", "v.data")}
    ), his AS (
        INSERT INTO submission_history (submission_id, version, aksi, dari, ke, oleh, oleh_key,
                                        oleh_role, pada, alasan_kode, catatan)
        SELECT submission_id, version, 'diverifikasi', dari, ke, :actor, :actor_key, :actor_role,
               diperbarui_pada, alasan_kode, catatan
        FROM upd
    ), chg AS (
        INSERT INTO changes (submission_id, version, status, jenis_perubahan, periode,
                             kode_provinsi, kode_kabkota, pada)
        SELECT submission_id, version, ke, 'status', periode, kode_provinsi, kode_kabkota, diperbarui_pada
        FROM upd
    )
    SELECT submission_id, version, ke AS status, dari, alasan_kode, catatan, diperbarui_pada AS pada
    FROM upd
    """
)


# ---- DECIDE on a Citus coordinator (app.infra.citus; docs/operations.md "Scale-out past one
# primary"). The records of a batch may lie on several workers, and a multi-shard UPDATE
# under a FOR UPDATE is not something Citus plans; so the directory names each record's
# provinsi (queries of app.record.read), and the service runs this statement once per
# provinsi, all in one transaction. It is DECIDE with kode_provinsi, the distribution column,
# in every condition and join, so it routes to that provinsi's worker, with two differences:
# the walidata line is rewritten without setting kode_provinsi (Citus refuses a SET of the
# distribution column, and a decision never moves a record), and the status counters move in
# the statement itself (the one-server triggers that do it are dropped there).
def _citus_decide() -> str:
    sql = str(DECIDE)
    for old, new in (
        # the rows are locked in submission_id order by LOCK_CITUS first (a FOR UPDATE CTE
        # joined back to the record is a join Citus does not plan); the scope moves here
        (
            """    ), target AS (
        SELECT s.submission_id FROM submissions s JOIN input i USING (submission_id)
        WHERE s.version = i.version AND s.status = i.dari
          AND (CAST(:scope AS text) IS NULL OR s.kode_provinsi = :scope OR s.kode_kabkota = :scope)
        ORDER BY s.submission_id
        FOR UPDATE OF s
    ), upd AS (""",
            "    ), upd AS (",
        ),
        ("FROM input i, target t", "FROM input i"),
        (
            "WHERE t.submission_id = s.submission_id AND i.submission_id = s.submission_id",
            "WHERE s.kode_provinsi = :provinsi AND i.submission_id = s.submission_id"
            " AND (CAST(:scope AS text) IS NULL OR s.kode_provinsi = :scope OR s.kode_kabkota = :scope)",
        ),
        ("SET kode_provinsi = upd.kode_provinsi, kode_kabkota", "SET kode_kabkota"),
        ("WHERE r.submission_id = upd.submission_id", "WHERE r.kode_provinsi = :provinsi AND r.submission_id = upd.submission_id"),
        ("JOIN submission_versions v ON v.submission_id", "JOIN submission_versions v ON v.kode_provinsi = :provinsi AND v.submission_id"),
        ("INSERT INTO submission_history (submission_id,", "INSERT INTO submission_history (kode_provinsi, submission_id,"),
        ("SELECT submission_id, version, 'diverifikasi',", "SELECT kode_provinsi, submission_id, version, 'diverifikasi',"),
        (
            """    )
    SELECT submission_id, version, ke AS status""",
            """    ), rek AS (
        INSERT INTO rekap_status AS r (kode_provinsi, periode, kode_kabkota, status, shard, n)
        SELECT kode_provinsi, periode, kode_kabkota, status, 0, sum(d)
        FROM (SELECT kode_provinsi, periode, kode_kabkota, ke AS status, 1 AS d FROM upd
              UNION ALL
              SELECT kode_provinsi, periode, kode_kabkota, dari, -1 FROM upd) AS x
        GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (kode_provinsi, periode, kode_kabkota, status, shard) DO UPDATE SET n = r.n + excluded.n
    )
    SELECT submission_id, version, ke AS status""",
        ),
    ):
        assert sql.count(old) == 1, old
        sql = sql.replace(old, new)
    return sql


DECIDE_CITUS = text(_citus_decide())
LOCK_CITUS = text(
    "SELECT submission_id FROM submissions WHERE kode_provinsi = :provinsi "
    "AND submission_id = ANY(CAST(:ids AS uuid[])) ORDER BY submission_id FOR UPDATE"
)
DIRECTORY_CITUS = text("SELECT submission_id, kode_provinsi FROM submission_ids WHERE submission_id = ANY(CAST(:ids AS uuid[]))")


# The state of records whose decision did not apply, with their latest transition, to tell
# a replay (200) from a lost race or stale view (409), a missing record (404) or scope (403).
CURRENT_WITH_LAST = text(
    """
    SELECT s.submission_id, s.status, s.version, s.kode_wilayah, s.dibuat_oleh,
           (SELECT k.identity_id FROM api_keys k WHERE k.id = s.dibuat_oleh_key) AS owner_identity,
           encode(s.content_hash, 'hex') AS content_hash, s.periode, s.jenis, s.enumerator_id,
           s.kode_provinsi, s.kode_kabkota,
           h.aksi, h.dari, h.ke, h.oleh, h.alasan_kode, h.catatan, h.pada, h.version AS h_version
    FROM submissions s
    LEFT JOIN LATERAL (
        SELECT aksi, dari, ke, oleh, alasan_kode, catatan, pada, version
        FROM submission_history h WHERE h.submission_id = s.submission_id
        ORDER BY h.id DESC LIMIT 1
    ) h ON true
    WHERE s.submission_id = ANY(CAST(:ids AS uuid[]))
    """
)

# On Citus: per provinsi (the directory names it), routed to its worker, the history joined on
# the distribution column too.
CURRENT_WITH_LAST_CITUS = text(
    str(CURRENT_WITH_LAST)
    .replace("WHERE h.submission_id = s.submission_id", "WHERE h.kode_provinsi = s.kode_provinsi AND h.submission_id = s.submission_id")
    .replace("WHERE s.submission_id = ANY(", "WHERE s.kode_provinsi = :provinsi AND s.submission_id = ANY(")
)
assert str(CURRENT_WITH_LAST_CITUS).count(":provinsi") == 1

# Columns a correction rewrites. Identity (submission_id, periode, jenis, enumerator_id) is
# checked equal by the service before this runs, so it is not rewritten.
_FIXED = {"submission_id", "periode", "jenis", "enumerator_id"}
_SET = ", ".join(
    f"{c} = decode(i.content_hash, 'hex')" if c == "content_hash" else f"{c} = i.{c}" for c, _ in ROW_COLUMNS if c not in _FIXED
)
_RECORDSET = ", ".join(f"{c} {t}" for c, t in ROW_COLUMNS) + ", data jsonb"

# A correction: only from ditolak, only at the version the service checked ownership and
# identity against. The new content becomes the next version; the record goes back to masuk.
CORRECT = text(
    f"""
    WITH i AS (
        SELECT * FROM jsonb_to_record(CAST(:row AS jsonb)) AS r({_RECORDSET})
    ), upd AS (
        UPDATE submissions s SET {_SET},
               status = 'masuk', version = s.version + 1, diperbarui_pada = now()
        FROM i
        WHERE s.submission_id = i.submission_id AND s.version = :seen_version
          AND s.status = 'ditolak'
        RETURNING {", ".join(f"s.{c}" for c in LINE_COLUMNS)}
    ), rec AS (
        {rewrite_line("upd, i", "i.data")}  -- the new version is not visible inside this statement
    ), ver AS (
        INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh, dibuat_pada)
        SELECT upd.submission_id, upd.version, i.data, :actor, upd.diperbarui_pada FROM upd, i
    ), his AS (
        INSERT INTO submission_history (submission_id, version, aksi, dari, ke, oleh, oleh_key,
                                        oleh_role, pada)
        SELECT submission_id, version, 'dikoreksi', 'ditolak', 'masuk', :actor, :actor_key,
               :actor_role, diperbarui_pada
        FROM upd
    ), chg AS (
        INSERT INTO changes (submission_id, version, status, jenis_perubahan, periode,
                             kode_provinsi, kode_kabkota, pada)
        SELECT submission_id, version, 'masuk', 'dikoreksi', periode, kode_provinsi, kode_kabkota,
               diperbarui_pada
        FROM upd
    )
    SELECT submission_id, version FROM upd
    """
)


# CORRECT on a Citus coordinator, once the directory named the provinsi: routed to its worker
# as DECIDE_CITUS is, without setting kode_provinsi (the distribution column; a correction
# stays in its provinsi, which the service checks first), and moving the status counters
# itself: ditolak -1 where the record was (:old_kabkota, the kabupaten/kota of the version the
# service saw and the statement requires), masuk +1 where it is now.
def _citus_correct() -> str:
    sql = str(CORRECT)
    for old, new in (
        (_SET, ", ".join(p for p in _SET.split(", ") if not p.startswith("kode_provinsi ="))),
        ("WHERE s.submission_id = i.submission_id", "WHERE s.kode_provinsi = :provinsi AND s.submission_id = i.submission_id"),
        ("SET kode_provinsi = upd.kode_provinsi, kode_kabkota", "SET kode_kabkota"),
        ("WHERE r.submission_id = upd.submission_id", "WHERE r.kode_provinsi = :provinsi AND r.submission_id = upd.submission_id"),
        ("INSERT INTO submission_versions (submission_id,", "INSERT INTO submission_versions (kode_provinsi, submission_id,"),
        ("SELECT upd.submission_id, upd.version, i.data", "SELECT upd.kode_provinsi, upd.submission_id, upd.version, i.data"),
        ("INSERT INTO submission_history (submission_id,", "INSERT INTO submission_history (kode_provinsi, submission_id,"),
        ("SELECT submission_id, version, 'dikoreksi',", "SELECT kode_provinsi, submission_id, version, 'dikoreksi',"),
        (
            """    )
    SELECT submission_id, version FROM upd""",
            """    ), rek AS (
        INSERT INTO rekap_status AS r (kode_provinsi, periode, kode_kabkota, status, shard, n)
        SELECT kode_provinsi, periode, kode_kabkota, status, 0, sum(d)
        FROM (SELECT kode_provinsi, periode, kode_kabkota, 'masuk' AS status, 1 AS d FROM upd
              UNION ALL
              SELECT kode_provinsi, periode, CAST(:old_kabkota AS text), 'ditolak', -1 FROM upd) AS x
        GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (kode_provinsi, periode, kode_kabkota, status, shard) DO UPDATE SET n = r.n + excluded.n
    )
    SELECT submission_id, version FROM upd""",
        ),
    ):
        assert sql.count(old) == 1, old
        sql = sql.replace(old, new)
    return sql


CORRECT_CITUS = text(_citus_correct())

RIWAYAT = text(
    """
    SELECT aksi, dari, ke, version, oleh, oleh_role, pada, alasan_kode, catatan
    FROM submission_history WHERE submission_id = :id ORDER BY id
    """
)

RECORD_HEAD = text(
    "SELECT submission_id, status, version, kode_wilayah, dibuat_oleh, "
    "(SELECT k.identity_id FROM api_keys k WHERE k.id = s.dibuat_oleh_key) AS owner_identity FROM submissions s WHERE submission_id = :id"
)

VERSI_LIST = text("SELECT version, dibuat_oleh, dibuat_pada FROM submission_versions WHERE submission_id = :id ORDER BY version")

VERSI_ONE = text("SELECT version, data, dibuat_oleh, dibuat_pada FROM submission_versions WHERE submission_id = :id AND version = :version")


# ---------------------------------------------------------------- the verifikator's queue

# The most rows one queue request walks. Filters the driving index cannot answer (jenis,
# enumerator, desa, likely duplicate) are checked row by row while walking it; a rare one
# then fills a page only over several requests (each answers what it found and a cursor to
# go on from), but no request ever walks the whole backlog.
SCAN_MAX = 2000

# The driving index: kecamatan (migration 0006's submissions_antrian_kecamatan) when the
# filter names one, else the kabupaten/kota's queue (submissions_antrian).
_DRIVE = {
    "kabkota": "s.kode_kabkota = :kabkota",
    "kecamatan": "s.kode_kecamatan = :kecamatan AND s.kode_kabkota = :kabkota",
}

# Filters checked while walking; each reads only the row itself (and, for duplicates, the
# duplikat_kunci index).
_RESIDUAL = {
    # a kecamatan under `urut=terlama`: no index walks a kecamatan in that order, so it is
    # checked while walking the kabupaten/kota's (bounded as any filter) rather than searched for
    "kecamatan": "s.kode_kecamatan = :kecamatan",
    "desa": "s.kode_wilayah = :desa",
    "jenis": "s.jenis = :jenis",
    "enumerator_id": "s.enumerator_id = :enumerator_id",
    "duplikat": "EXISTS (SELECT 1 FROM submissions o WHERE o.duplikat_kunci = s.duplikat_kunci "
    "AND o.submission_id <> s.submission_id) = :duplikat",
    # a follow-up visit marked as a conflict (migration 0014, docs/pemutakhiran.md)
    "konflik": "EXISTS (SELECT 1 FROM kumkm_pemutakhiran pk WHERE pk.submission_id = s.submission_id "
    "AND pk.konflik IS NOT NULL) = :konflik",
}

# A follow-up visit's two sides, for the queue (docs/pemutakhiran.md): the entity it names as it
# is now (its versi and its latest linked record: name, skala, desa, periode, what that visit
# found) beside the record's own (in the row itself). Nothing personal on either side.
_PEMUTAKHIRAN_COLS = """,
           pm.id_kumkm AS pm_id_kumkm, pm.versi_dasar AS pm_versi_dasar, pm.versi_entitas AS pm_versi_entitas,
           pm.konflik AS pm_konflik, s.keadaan_usaha AS pm_keadaan, ek.versi AS pm_versi_sekarang,
           el.nama AS pm_nama, el.skala_usaha AS pm_skala, el.kode_wilayah AS pm_wilayah, el.periode AS pm_periode,
           el.keadaan_usaha AS pm_keadaan_entitas, el.submission_id AS pm_submission_id"""
_PEMUTAKHIRAN_JOIN = """
    LEFT JOIN kumkm_pemutakhiran pm ON pm.submission_id = s.submission_id
    LEFT JOIN kumkm ek ON ek.id_kumkm = pm.id_kumkm
    LEFT JOIN LATERAL (
        SELECT t.submission_id, es.skala_usaha, es.kode_wilayah, es.periode, es.keadaan_usaha,
               COALESCE(ev.data ->> 'nama_usaha', ev.data ->> 'nama_koperasi') AS nama
        FROM kumkm_tautan t JOIN submissions es USING (submission_id)
        LEFT JOIN submission_versions ev ON ev.submission_id = es.submission_id AND ev.version = es.version
        WHERE t.id_kumkm = pm.id_kumkm
        ORDER BY t.periode DESC, es.diperbarui_pada DESC, t.submission_id
        LIMIT 1
    ) el ON true"""

# The walk streams: the page takes hits until it has `limit` of them or meets the walk's last
# row (rn = scan), so a request stops as soon as its page is full. That last row comes back as
# a sentinel (hit false) when it is not a hit, for the cursor to go on from. `scan` and
# `limit` are written into the statement as numbers: with parameters PostgreSQL may settle on
# a generic plan that cannot see the LIMIT and sorts the whole backlog instead of walking the
# index.
_ANTRIAN = """
    WITH walk AS (
        SELECT s.submission_id, s.captured_at, {key} AS k, {hit} AS hit,
               row_number() OVER (ORDER BY {key}, s.submission_id) AS rn
        FROM submissions s
        WHERE {drive} AND s.periode = :periode AND s.status = {status}
          {after} {dari} {sampai}
        ORDER BY {key}, s.submission_id
        LIMIT {scan}
    ), page AS (
        SELECT * FROM walk WHERE hit OR rn = {scan}
        ORDER BY k, submission_id
        LIMIT {limit}
    )
    SELECT p.rn, p.hit, p.submission_id, p.captured_at, p.k, s.status, s.version, s.jenis, s.kode_wilayah,
           s.enumerator_id, s.skala_usaha, s.diperbarui_pada,
           COALESCE(v.data ->> 'nama_usaha', v.data ->> 'nama_koperasi') AS nama,
           (s.duplikat_kunci IS NOT NULL AND EXISTS (
               SELECT 1 FROM submissions o WHERE o.duplikat_kunci = s.duplikat_kunci
                 AND o.submission_id <> s.submission_id)) AS kemungkinan_duplikat{pm_cols}
    FROM page p
    JOIN submissions s ON s.submission_id = p.submission_id
    LEFT JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version{pm_join}
    ORDER BY p.k, p.submission_id
"""

# The queue's orders: oldest capture first (the default), or longest waiting first
# (`urut=terlama`: by the moment the record entered its status, diperbarui_pada). The
# longest-waiting walk runs on one of two partial indexes: submissions_masuk_umur (0016) for
# masuk, submissions_antrian_terlama (0021) for diterima and ditolak. A partial index serves
# only a statement whose WHERE proves its predicate, which a `:status` parameter cannot do in a
# generic plan: for this order the status is written into the statement as a constant (one
# of STATUS_SQL's, never the caller's text).
URUT_KEY = {"tangkap": "s.captured_at", "terlama": "s.diperbarui_pada"}
STATUS_SQL = {"masuk": "'masuk'", "diterima": "'diterima'", "ditolak": "'ditolak'"}

_antrian_cache: dict[tuple, object] = {}


def antrian(
    drive: str,
    residual: tuple[str, ...],
    after: bool,
    dari: bool,
    sampai: bool,
    scan: int,
    limit: int,
    citus: bool = False,
    urut: str = "tangkap",
    status: str = "masuk",
):
    """The queue statement for one combination of filters: each combination is its own
    statement, so PostgreSQL plans it for the index that fits (a catch-all `:x IS NULL OR`
    form would be planned once for the worst case). `citus`: the form for a Citus
    coordinator, every table restricted to the kabupaten/kota's provinsi (`:provinsi`, the
    distribution column), so the whole walk (a window over the rows, the joins, the duplicate
    checks) is one query on that provinsi's worker. `status` matters only for `urut=terlama`
    (written in as a constant, above); the default order keeps it a parameter."""
    status_sql = STATUS_SQL[status] if urut == "terlama" else ":status"
    key = (drive, residual, after, dari, sampai, int(scan), int(limit), citus, urut, status_sql)
    stmt = _antrian_cache.get(key)
    if stmt is None:
        stmt = text(
            _ANTRIAN.format(
                drive=_DRIVE[drive],
                hit=" AND ".join(_RESIDUAL[f] for f in residual) or "true",
                key=URUT_KEY[urut],
                status=status_sql,
                after=f"AND ({URUT_KEY[urut]}, s.submission_id) > (:after_at, CAST(:after_id AS uuid))" if after else "",
                dari="AND s.captured_at >= :dari" if dari else "",
                sampai="AND s.captured_at < :sampai" if sampai else "",
                scan=int(scan),
                limit=int(limit),
                # the registry is not kept on Citus (docs/registry.md): no follow-ups there
                pm_cols="" if citus else _PEMUTAKHIRAN_COLS,
                pm_join="" if citus else _PEMUTAKHIRAN_JOIN,
            )
        )
        if citus:
            sql = str(stmt)
            for a, b in (
                ("WHERE o.duplikat_kunci", "WHERE o.kode_provinsi = :provinsi AND o.duplikat_kunci"),
                ("WHERE s.kode_", "WHERE s.kode_provinsi = :provinsi AND s.kode_"),
                ("JOIN submissions s ON s.submission_id", "JOIN submissions s ON s.kode_provinsi = :provinsi AND s.submission_id"),
                (
                    "JOIN submission_versions v ON v.submission_id",
                    "JOIN submission_versions v ON v.kode_provinsi = :provinsi AND v.submission_id",
                ),
            ):
                sql = sql.replace(a, b)
            stmt = text(sql)
        _antrian_cache[key] = stmt
    return stmt


# Status counts per kabupaten/kota from the counters the triggers keep (rekap_status), so
# they cost the same for 100 records or 10 million.
REKAP = text(
    """
    SELECT kode_kabkota, status, sum(n)::bigint AS n FROM rekap_status
    WHERE periode = :periode
      AND (CAST(:kabkota AS text) IS NULL OR kode_kabkota = :kabkota)
      AND (CAST(:provinsi AS text) IS NULL OR kode_kabkota LIKE :provinsi || '.%')
    GROUP BY 1, 2
    HAVING sum(n) <> 0
    """
)
