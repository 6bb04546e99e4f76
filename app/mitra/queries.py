"""All of the partner look-ups' SQL: the look-up of single questions (bounds, look-up and
record in one statement), the bounds and the look-up of a batch, the access log and counts of
what was asked, the audit per purpose per day.

The hot statements are asyncpg's own ($1, ...), run on the pooled driver connection
(db.driver()): at hundreds of look-ups a second, SQLAlchemy's work per call cost more than the
statements."""

from sqlalchemy import text

# A WIB day and second, from the database server's clock: every process of the service counts
# against the same clock (Indonesia's western time has no daylight saving: UTC+7 all year).
_HARI = "(clock_timestamp() AT TIME ZONE INTERVAL '+07:00')::date"
# The moment, in epoch seconds (the rate's GCRA state, mitra_batas.jadwal, is on this scale).
_DETIK = "extract(epoch FROM clock_timestamp())::float8"
# Seconds to the next WIB midnight: the quota's Retry-After.
_SISA = (
    "ceil(extract(epoch FROM (date_trunc('day', clock_timestamp() AT TIME ZONE INTERVAL '+07:00') + interval '1 day')"
    " - (clock_timestamp() AT TIME ZONE INTERVAL '+07:00')))::int"
)
# Rounding of the float arithmetic of the GCRA: a request exactly on its time is let through.
_EPS = "1e-6"

# The rate is a GCRA (generic cell rate algorithm, a token bucket kept as one number) per key
# holder: `jadwal` is the time its next request is due at the steady rate r. A request at `t`
# is let through when max(jadwal, t) - t <= 1 - 1/r (so up to r at once after a pause, then
# one every 1/r s), and moves jadwal to max(jadwal, t) + 1/r. Unlike the fixed one-second
# window before it (migration 0020), no second's edge lets 2r through at once. The quota
# counts look-ups of the WIB day. `kini` is read once per statement.

# A batch's bounds (app/mitra/service.py, cek_batch_mulai and cek_batch): its request
# (`permintaan` 1; 0 for the second count, of its rows) against the rate and `n` look-ups
# against the day's quota, counted only when both fit (no row returned: refused, nothing
# counted). This statement commits without waiting for the WAL to reach the disk
# (synchronous_commit off for its own transaction, set by the statement itself): it updates the
# one row every look-up of a holder updates, and held across a disk flush that row lock would
# serialise the holder's look-ups at the disk's pace. The price: a crash of the database server
# forgets the last moment's counts (up to about 3 x wal_writer_delay, 0.6 s): a little more
# quota, never a look-up unlogged.
BATAS = f"""
    WITH kini AS (SELECT {_HARI} AS hari, {_DETIK} AS t, set_config('synchronous_commit', 'off', true) AS tanpa_tunggu,
                         {_SISA} AS sisa_detik),
    naik AS (
        INSERT INTO mitra_batas AS b (identity_id, hari, jumlah_hari, jadwal, diterima)
        SELECT $1::bigint, hari, $2::bigint, t + $3::int / $5::float8, $2::bigint FROM kini
        WHERE $2::bigint <= $4::bigint
        ON CONFLICT (identity_id) DO UPDATE SET (hari, jumlah_hari, jadwal, diterima) = (
            SELECT kini.hari, CASE WHEN b.hari = kini.hari THEN b.jumlah_hari ELSE 0 END + $2::bigint,
                   GREATEST(b.jadwal, kini.t) + $3::int / $5::float8, $2::bigint
            FROM kini)
        WHERE CASE WHEN b.hari = (SELECT hari FROM kini) THEN b.jumlah_hari ELSE 0 END + $2::bigint <= $4::bigint
          AND ($3::int = 0 OR GREATEST(b.jadwal, (SELECT t FROM kini)) - (SELECT t FROM kini) <= 1 - 1 / $5::float8 + {_EPS})
        RETURNING b.jumlah_hari
    )
    SELECT (SELECT jumlah_hari FROM naik) AS jumlah_hari,
           CASE WHEN b.hari = kini.hari THEN b.jumlah_hari ELSE 0 END AS sudah_hari,
           kini.sisa_detik
    FROM kini LEFT JOIN mitra_batas b ON b.identity_id = $1::bigint
"""

# An entity followed past its merges to the live one: per row, only for an entity merged away
# (rare). `k0`: the entity found.
_LIVE = """CASE WHEN k0.digabung_ke IS NULL THEN k0.id_kumkm ELSE (
        WITH RECURSIVE r AS (
            SELECT k0.digabung_ke AS id, 0 AS langkah
            UNION ALL
            SELECT m.digabung_ke, r.langkah + 1 FROM r JOIN kumkm m ON m.id_kumkm = r.id
            WHERE m.digabung_ke IS NOT NULL AND r.langkah < 1000
        )
        SELECT id FROM r ORDER BY langkah DESC LIMIT 1) END"""

# The live entity `k`'s latest linked record: its periode, status, skala and sektor.
_LATEST = """
        SELECT t.periode, s.status, s.skala_usaha, s.sektor
        FROM kumkm_tautan t JOIN submissions s ON s.submission_id = t.submission_id
        WHERE t.id_kumkm = k.id_kumkm
        ORDER BY t.periode DESC, s.diperbarui_pada DESC, t.submission_id
        LIMIT 1
    """

# Single look-ups, any number of them from any partners (the group commit of
# app/mitra/service.py carries every look-up that arrived while the previous one ran), in ONE
# CALL of the procedure mitra_cek (migration 0020, where its SQL is): one round trip, two
# transactions. The holders' bounds first, committed without waiting for the disk (the
# holder's row is locked for microseconds, never across a flush); then the look-up of the
# questions let through, and their access-log rows and audit counts, committed durably before
# the CALL returns. $1: a jsonb array of questions (service._soal); answers a jsonb array, one
# object per question in order (service._satu reads it).
SATU = "CALL mitra_cek(NULL, $1::jsonb, $2::text)"

# The look-up of every question of a request at once (one, or a batch's 10,000): the entities
# holding the hard identifiers (kumkm_pengenal) and those with a linked record of the NIK
# pemilik (kumkm_tautan, index kumkm_tautan_pemilik) with that record's current nama usaha (the
# service compares it, normalised); each followed past its merges to the live entity, with
# the kabupaten/kota and the latest linked record's periode, status, skala and sektor.
CARI = f"""
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
    JOIN kumkm k ON k.id_kumkm = {_LIVE}
    LEFT JOIN wilayah w ON w.kode = k.kode_kabkota
    LEFT JOIN LATERAL ({_LATEST}) x ON true
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
