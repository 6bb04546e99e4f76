"""All SQL of the registry domain (Basis Data Tunggal, docs/registry.md)."""
from sqlalchemy import text

# ====================================================================== the linker (linker.py)
#
# One transaction per batch. The queue rows are taken with SKIP LOCKED (two linkers never take
# the same record); identifiers are serialised by transaction-level advisory locks (two linkers
# never make two entities for one NIB); entities about to change are locked FOR UPDATE in
# id order (a merge by a verifikator and a link never interleave on one entity).

# The batch: queue rows no other linker holds. Key order uses the primary key's index, whose
# entries of rows already linked and deleted are skipped cheaply once marked dead.
AMBIL_ANTRIAN = text("""
    SELECT submission_id FROM kumkm_antrian
    ORDER BY submission_id
    LIMIT :batas
    FOR UPDATE SKIP LOCKED
""")

ADA_ANTRIAN = "SELECT EXISTS (SELECT 1 FROM kumkm_antrian)"

SISA_ANTRIAN = text("SELECT count(*) FROM kumkm_antrian")

# Each queued record as it is now: its status, where it is, its current content's identifiers
# and soft evidence (the version at submissions.version), and its link if it has one.
BACA_CATATAN = text("""
    SELECT s.submission_id, s.status, s.jenis, s.periode, s.kode_provinsi, s.kode_kabkota,
           v.data->>'nib' AS nib, v.data->>'nik_koperasi' AS nik_koperasi,
           v.data->>'nomor_badan_hukum' AS nomor_badan_hukum,
           v.data->>'nik_pemilik' AS nik_pemilik, v.data->>'nama_usaha' AS nama_usaha,
           t.id_kumkm
    FROM unnest(CAST(:ids AS uuid[])) AS q(submission_id)
    JOIN submissions s USING (submission_id)
    LEFT JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    LEFT JOIN kumkm_tautan t ON t.submission_id = s.submission_id
    ORDER BY s.periode, s.submission_id
""")

# The same for the records linked to some entities (their identifiers rebuilt after a record
# left, or after a verifikator's merge or split).
BACA_TAUTAN_ENTITAS = text("""
    SELECT t.id_kumkm, t.submission_id, s.jenis, s.periode,
           v.data->>'nib' AS nib, v.data->>'nik_koperasi' AS nik_koperasi,
           v.data->>'nomor_badan_hukum' AS nomor_badan_hukum
    FROM kumkm_tautan t
    JOIN submissions s USING (submission_id)
    LEFT JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    WHERE t.id_kumkm = ANY(CAST(:ids AS text[]))
    ORDER BY t.id_kumkm, s.periode, t.submission_id
""")

# One advisory lock per identifier value, taken in key order so two linkers cannot deadlock.
KUNCI_PENGENAL = text("""
    SELECT pg_advisory_xact_lock(k)::text
    FROM (SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS ordered
""")

# Identifiers -> the live entity holding each (following digabung_ke past merged entities).
CARI_PENGENAL = text("""
    WITH RECURSIVE q AS (
        SELECT * FROM unnest(CAST(:jenis_pengenal AS text[]), CAST(:nilai AS text[])) AS q(jenis_pengenal, nilai)
    ), rantai AS (
        SELECT p.jenis_pengenal, p.nilai, k.id_kumkm, k.jenis, k.digabung_ke, 0 AS langkah
        FROM q JOIN kumkm_pengenal p USING (jenis_pengenal, nilai)
        JOIN kumkm k ON k.id_kumkm = p.id_kumkm
        UNION ALL
        SELECT r.jenis_pengenal, r.nilai, k.id_kumkm, k.jenis, k.digabung_ke, r.langkah + 1
        FROM rantai r JOIN kumkm k ON k.id_kumkm = r.digabung_ke
        WHERE r.langkah < 50
    )
    SELECT jenis_pengenal, nilai, id_kumkm, jenis FROM rantai WHERE digabung_ke IS NULL
""")

KUNCI_ENTITAS = text("""
    SELECT id_kumkm, digabung_ke FROM kumkm
    WHERE id_kumkm = ANY(CAST(:ids AS text[]))
    ORDER BY id_kumkm
    FOR UPDATE
""")

NOMOR_BARU = text("SELECT nextval('kumkm_nomor') FROM generate_series(1, :n)")

BUAT_ENTITAS = text("""
    INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota)
    SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:jenis AS text[]), CAST(:provinsi AS text[]),
                         CAST(:kabkota AS text[]))
""")

TAUTKAN = text("""
    INSERT INTO kumkm_tautan (submission_id, id_kumkm, periode, dasar, kode_kabkota, nik_pemilik)
    SELECT * FROM unnest(CAST(:submission_ids AS uuid[]), CAST(:ids AS text[]), CAST(:periode AS text[]),
                         CAST(:dasar AS text[]), CAST(:kabkota AS text[]), CAST(:nik AS text[]))
""")

LEPAS = text("""
    DELETE FROM kumkm_tautan WHERE submission_id = ANY(CAST(:submission_ids AS uuid[]))
    RETURNING submission_id, id_kumkm, periode
""")

DAFTAR_PENGENAL = text("""
    INSERT INTO kumkm_pengenal (jenis_pengenal, nilai, id_kumkm)
    SELECT * FROM unnest(CAST(:jenis_pengenal AS text[]), CAST(:nilai AS text[]), CAST(:ids AS text[]))
    ON CONFLICT DO NOTHING
""")

HAPUS_PENGENAL_ENTITAS = text("DELETE FROM kumkm_pengenal WHERE id_kumkm = ANY(CAST(:ids AS text[]))")

CATAT_PERISTIWA = text("""
    INSERT INTO kumkm_peristiwa (id_kumkm, aksi, detail, oleh)
    SELECT id, aksi, detail, :oleh
    FROM unnest(CAST(:ids AS text[]), CAST(:aksi AS text[]), CAST(:detail AS jsonb[])) AS e(id, aksi, detail)
""")

# Every entity a batch changed: a new version (the token of the verifikator's concurrent
# actions), and the wilayah of its latest-periode record (latest decided first within one).
PERBARUI_ENTITAS = text("""
    WITH terbaru AS (
        SELECT DISTINCT ON (t.id_kumkm) t.id_kumkm, s.kode_provinsi, s.kode_kabkota
        FROM kumkm_tautan t JOIN submissions s USING (submission_id)
        WHERE t.id_kumkm = ANY(CAST(:ids AS text[]))
        ORDER BY t.id_kumkm, t.periode DESC, s.diperbarui_pada DESC, t.submission_id
    )
    UPDATE kumkm k
    SET versi = k.versi + CASE WHEN k.id_kumkm = ANY(CAST(:baru AS text[])) THEN 0 ELSE 1 END,
        diperbarui_pada = now(),
        kode_provinsi = coalesce(terbaru.kode_provinsi, k.kode_provinsi),
        kode_kabkota = coalesce(terbaru.kode_kabkota, k.kode_kabkota)
    FROM (SELECT unnest(CAST(:ids AS text[])) AS id_kumkm) AS q
    LEFT JOIN terbaru USING (id_kumkm)
    WHERE k.id_kumkm = q.id_kumkm
""")

# Soft evidence: the linked UMKM records with one of these owners in the same kabupaten/kota
# (the index kumkm_tautan_pemilik; a handful of rows per owner), and their current names.
SAMA_PEMILIK = text("""
    SELECT q.nik, q.kabkota, t.id_kumkm, t.submission_id, v.data->>'nama_usaha' AS nama_usaha
    FROM (SELECT DISTINCT * FROM unnest(CAST(:nik AS text[]), CAST(:kabkota AS text[]))) AS q(nik, kabkota)
    JOIN kumkm_tautan t ON t.nik_pemilik = q.nik AND t.kode_kabkota = q.kabkota
    JOIN submissions s ON s.submission_id = t.submission_id
    JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
""")

# A pair is proposed unless a verifikator said it is not the same, or it is open already.
USULKAN_KANDIDAT = text("""
    INSERT INTO kumkm_kandidat (id_a, id_b, kode_kabkota, skor, alasan)
    SELECT a, b, kabkota, skor, alasan
    FROM unnest(CAST(:id_a AS text[]), CAST(:id_b AS text[]), CAST(:kabkota AS text[]),
                CAST(:skor AS numeric[]), CAST(:alasan AS jsonb[])) AS c(a, b, kabkota, skor, alasan)
    WHERE NOT EXISTS (SELECT 1 FROM kumkm_bukan_sama n WHERE n.id_a = c.a AND n.id_b = c.b)
    ON CONFLICT (id_a, id_b) WHERE status = 'terbuka' DO NOTHING
""")

SELESAI_ANTRIAN = text("DELETE FROM kumkm_antrian WHERE submission_id = ANY(CAST(:ids AS uuid[]))")
