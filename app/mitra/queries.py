"""All of the partner look-ups' SQL: the bounds, the look-up of a whole batch in one statement,
the access log and counts of what was asked, the audit per purpose per day.

The three statements of every look-up (BATAS, CARI, CATAT) are asyncpg's own ($1, ...), run on
the pooled driver connection (db.driver()): at hundreds of look-ups a second, SQLAlchemy's work
per call cost more than the statements."""

from sqlalchemy import text

# A WIB day and second, from the database server's clock: every process of the service counts
# against the same clock (Indonesia's western time has no daylight saving: UTC+7 all year).
_HARI = "(clock_timestamp() AT TIME ZONE INTERVAL '+07:00')::date"
_DETIK = "floor(extract(epoch FROM clock_timestamp()))::bigint"

# The bounds' statement commits without waiting for the WAL to reach the disk (synchronous_commit
# off for its own transaction, set by the statement itself: one round trip): it updates the one
# row every look-up of a key holder updates, and held across a disk flush that row lock would
# serialise the holder's look-ups at the disk's pace (28 look-ups/s on the bench machine). The
# price: a crash of the database server forgets the last moment's counts (up to about
# 3 x wal_writer_delay, 0.6 s): a little more quota, never a look-up unlogged. The access log
# (CATAT) commits durably before the answer leaves: its counts are spread over slots, so
# concurrent look-ups of one partner share disk flushes (group commit) instead of a row lock.
_ASYNC = "set_config('synchronous_commit', 'off', true)"

# Check and count in one statement, for every process of the service at once: the request
# counts `permintaan` (1; 0 for a batch's second count, of its rows) against the key holder's
# requests of this second, and `n` look-ups against its look-ups of this WIB day, only when
# both stay within the key's bounds (no row returned: refused, nothing counted). The row lock
# is held by this statement alone (autocommit), never while a look-up runs. `sisa_detik`:
# seconds to the next WIB midnight, the quota's Retry-After.
BATAS = f"""
    WITH kini AS (SELECT {_HARI} AS hari, {_DETIK} AS detik, {_ASYNC} AS tanpa_tunggu,
                         ceil(extract(epoch FROM (date_trunc('day', clock_timestamp() AT TIME ZONE INTERVAL '+07:00')
                                                  + interval '1 day') - (clock_timestamp() AT TIME ZONE INTERVAL '+07:00')))::int
                         AS sisa_detik),
    naik AS (
        INSERT INTO mitra_batas AS b (identity_id, hari, jumlah_hari, detik, jumlah_detik)
        SELECT $1::bigint, hari, $2::bigint, detik, $3::int FROM kini
        WHERE $2::bigint <= $4::bigint
        ON CONFLICT (identity_id) DO UPDATE SET
            jumlah_hari = CASE WHEN b.hari = excluded.hari THEN b.jumlah_hari ELSE 0 END + excluded.jumlah_hari,
            hari = excluded.hari,
            jumlah_detik = CASE WHEN b.detik = excluded.detik THEN b.jumlah_detik ELSE 0 END + excluded.jumlah_detik,
            detik = excluded.detik
        WHERE CASE WHEN b.hari = excluded.hari THEN b.jumlah_hari ELSE 0 END + excluded.jumlah_hari <= $4::bigint
          AND CASE WHEN b.detik = excluded.detik THEN b.jumlah_detik ELSE 0 END + excluded.jumlah_detik <= $5::int
        RETURNING b.jumlah_hari
    )
    SELECT (SELECT jumlah_hari FROM naik) AS jumlah_hari,
           CASE WHEN b.hari = kini.hari THEN b.jumlah_hari ELSE 0 END AS sudah_hari,
           kini.sisa_detik
    FROM kini LEFT JOIN mitra_batas b ON b.identity_id = $1::bigint
"""

# The look-up of every question of a request at once (one, or a batch's 10,000): the entities
# holding the hard identifiers (kumkm_pengenal) and those with a linked record of the NIK
# pemilik (kumkm_tautan, index kumkm_tautan_pemilik) with that record's current nama usaha (the
# service compares it, normalised); each followed past its merges to the live entity, with
# the kabupaten/kota and the latest linked record's periode, status, skala and sektor.
CARI = """
    WITH q AS (
        SELECT * FROM unnest($1::int[], $2::text[], $3::text[]) AS q(idx, dengan, nilai)
    ),
    hit AS (
        SELECT q.idx, p.id_kumkm, NULL::text AS nama_usaha
        FROM q JOIN kumkm_pengenal p ON p.jenis_pengenal = q.dengan AND p.nilai = q.nilai
        WHERE q.dengan <> 'nik_pemilik'
        UNION ALL
        SELECT q.idx, t.id_kumkm, v.data->>'nama_usaha'
        FROM q
        JOIN kumkm_tautan t ON t.nik_pemilik = q.nilai
        JOIN submissions s ON s.submission_id = t.submission_id
        JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
        WHERE q.dengan = 'nik_pemilik'
    )
    SELECT h.idx, h.nama_usaha, k.id_kumkm, k.jenis, k.kode_kabkota, w.nama AS nama_kabkota,
           x.periode, x.status, x.skala_usaha, x.sektor
    FROM hit h
    JOIN kumkm k0 ON k0.id_kumkm = h.id_kumkm
    -- past its merges to the live entity; per row, only for an entity merged away (rare)
    JOIN kumkm k ON k.id_kumkm = CASE WHEN k0.digabung_ke IS NULL THEN k0.id_kumkm ELSE (
        WITH RECURSIVE r AS (
            SELECT k0.digabung_ke AS id, 0 AS langkah
            UNION ALL
            SELECT m.digabung_ke, r.langkah + 1 FROM r JOIN kumkm m ON m.id_kumkm = r.id
            WHERE m.digabung_ke IS NOT NULL AND r.langkah < 1000
        )
        SELECT id FROM r ORDER BY langkah DESC LIMIT 1) END
    LEFT JOIN wilayah w ON w.kode = k.kode_kabkota
    LEFT JOIN LATERAL (
        SELECT t.periode, s.status, s.skala_usaha, s.sektor
        FROM kumkm_tautan t JOIN submissions s ON s.submission_id = t.submission_id
        WHERE t.id_kumkm = k.id_kumkm
        ORDER BY t.periode DESC, s.diperbarui_pada DESC, t.submission_id
        LIMIT 1
    ) x ON true
"""

# What was asked, written once per request whatever its size: one access-log row per look-up
# (key, purpose, outcome; never a NIK or a name) and the holder's counts of the WIB day per
# purpose and outcome (what the audit answers).
CATAT = f"""
    WITH log AS (
        INSERT INTO access_log (key_id, key_name, role, endpoint, detail, rows)
        SELECT $1::bigint, $2::text, $3::text, $4::text, d, 1
        FROM unnest($5::jsonb[]) AS d
    )
    INSERT INTO mitra_pemakaian AS p (identity_id, hari, tujuan, slot, terdaftar, tidak, ditolak)
    SELECT $6::bigint, {_HARI}, tujuan, pg_backend_pid() % 16, sum(terdaftar), sum(tidak), sum(ditolak)
    FROM unnest($7::text[], $8::int[], $9::int[], $10::int[])
         AS c(tujuan, terdaftar, tidak, ditolak)
    GROUP BY tujuan
    ON CONFLICT (identity_id, hari, tujuan, slot) DO UPDATE SET
        terdaftar = p.terdaftar + excluded.terdaftar,
        tidak = p.tidak + excluded.tidak,
        ditolak = p.ditolak + excluded.ditolak
"""

# A partner's look-ups per purpose per WIB day (every partner's, or one holder's: the key named
# by its id, any of the holder's keys), the holder named by its newest key's name.
AUDIT = text(
    """
    SELECT p.hari, p.identity_id, n.name AS nama, p.tujuan, p.terdaftar, p.tidak, p.ditolak
    FROM (
        SELECT hari, identity_id, tujuan, sum(terdaftar)::bigint AS terdaftar, sum(tidak)::bigint AS tidak,
               sum(ditolak)::bigint AS ditolak
        FROM mitra_pemakaian
        WHERE hari >= :dari AND hari <= :sampai AND (CAST(:identity AS bigint) IS NULL OR identity_id = :identity)
        GROUP BY hari, identity_id, tujuan
    ) p
    LEFT JOIN LATERAL (SELECT name FROM api_keys k WHERE k.identity_id = p.identity_id ORDER BY id DESC LIMIT 1) n ON true
    ORDER BY p.hari, n.name, p.identity_id, p.tujuan
    LIMIT :limit
    """
)

# The holder of a key, by id.
IDENTITAS = text("SELECT identity_id FROM api_keys WHERE id = :id AND role = 'mitra'")
