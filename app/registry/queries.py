"""All SQL of the registry domain (Basis Data Tunggal, docs/registry.md).

Sections: the linker's (app.registry.linker), then the entity API's reads and the
verifikator's actions (app.registry.service.entitas, .kandidat). The actions lock the entities
they touch `FOR UPDATE` in id_kumkm order before anything else, then the candidate rows: every
action takes its locks in that one order, as the linker does, so they cannot deadlock."""

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
# and soft evidence (the version at submissions.version), and its link if it has one. Locked
# FOR SHARE, in submission_id order as decisions lock them (no deadlock): a decision that
# changed the record meanwhile is waited for and its status read; one that comes later waits
# for this batch's commit, then queues the record again. Without the lock, a decision
# committed between this read and the queue row's deletion would find the row still there
# (only locked, so its INSERT ... ON CONFLICT DO NOTHING does nothing) and be lost.
BACA_CATATAN = text("""
    SELECT s.submission_id, s.status, s.jenis, s.periode, s.kode_provinsi, s.kode_kabkota,
           v.data->>'nib' AS nib, v.data->>'nik_koperasi' AS nik_koperasi,
           v.data->>'nomor_badan_hukum' AS nomor_badan_hukum,
           v.data->>'nik_pemilik' AS nik_pemilik, v.data->>'nama_usaha' AS nama_usaha,
           t.id_kumkm, p.id_kumkm AS pemutakhiran
    FROM unnest(CAST(:ids AS uuid[])) AS q(submission_id)
    JOIN submissions s USING (submission_id)
    LEFT JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    LEFT JOIN kumkm_tautan t ON t.submission_id = s.submission_id
    LEFT JOIN kumkm_pemutakhiran p ON p.submission_id = s.submission_id
    ORDER BY s.submission_id
    FOR SHARE OF s
""")

# The live entity of each id (past merges): where a follow-up visit's record goes (migration
# 0014, docs/pemutakhiran.md), looked up again once the entities are locked.
HIDUP = text("""
    WITH RECURSIVE rantai AS (
        SELECT q.asal, k.id_kumkm, k.digabung_ke, 0 AS langkah
        FROM unnest(CAST(:ids AS text[])) AS q(asal) JOIN kumkm k ON k.id_kumkm = q.asal
        UNION ALL
        SELECT r.asal, k.id_kumkm, k.digabung_ke, r.langkah + 1
        FROM rantai r JOIN kumkm k ON k.id_kumkm = r.digabung_ke
        WHERE r.langkah < 50
    )
    SELECT asal, id_kumkm FROM rantai WHERE digabung_ke IS NULL
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

# The walidata (migration 0012, docs/sync.md): every record whose link this transaction made,
# moved or removed gets its line's `id_kumkm` rewritten and one change in the record feed
# (`ditautkan`, `dilepas`); records whose link did not change are left alone, so naming more
# than changed is harmless. Called before the queue rows are deleted (SELESAI_ANTRIAN): it locks
# the named lines, and a decision on one of these records, holding its line, may be inserting
# its queue row meanwhile, which must not wait on a row this transaction has deleted.
TAUTAN_BERUBAH = text("SELECT kumkm_tautan_berubah(CAST(:ids AS uuid[]))")

# The indicator counts of the entities of these records (migration 0013, docs/registry-indikator.md):
# their states computed again and every count moved by the difference; the trigger on kumkm_tautan
# calls it for the records whose link changed.
REKAP_SEGARKAN = text("SELECT kumkm_rekap_segarkan(CAST(:ids AS uuid[]))")

SELESAI_ANTRIAN = text("DELETE FROM kumkm_antrian WHERE submission_id = ANY(CAST(:ids AS uuid[]))")


# ================================================================ entity API: reads

# The live entity an id names: itself, or the one its merges lead to (`digabung_ke` is kept on
# a retired id, so an id once printed stays valid).
RESOLVE = text(
    """
    WITH RECURSIVE r AS (
        SELECT id_kumkm, digabung_ke, 0 AS langkah FROM kumkm WHERE id_kumkm = :id
        UNION ALL
        SELECT k.id_kumkm, k.digabung_ke, r.langkah + 1
        FROM kumkm k JOIN r ON k.id_kumkm = r.digabung_ke
        WHERE r.langkah < 1000
    )
    SELECT id_kumkm FROM r WHERE digabung_ke IS NULL
    """
)

ENTITAS = text(
    """
    SELECT id_kumkm, jenis, kode_provinsi, kode_kabkota, versi, digabung_ke, dibuat_pada, diperbarui_pada
    FROM kumkm WHERE id_kumkm = :id
    """
)

# Every record linked to an entity, newest first (periode, then the latest decision): the
# profile takes each field's first value in this order.
TAUTAN = text(
    """
    SELECT t.submission_id, t.periode, t.dasar, t.pada, s.status, s.skala_usaha, s.kode_wilayah,
           s.kode_kabkota, s.diperbarui_pada, v.data
    FROM kumkm_tautan t
    JOIN submissions s ON s.submission_id = t.submission_id
    JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
    WHERE t.id_kumkm = :id
    ORDER BY t.periode DESC, s.diperbarui_pada DESC, t.submission_id
    """
)

PERISTIWA = text(
    """
    SELECT id, aksi, oleh, pada, alasan, detail FROM kumkm_peristiwa
    WHERE id_kumkm = :id ORDER BY id
    """
)

PENGENAL = text(
    """
    SELECT id_kumkm, jenis_pengenal, nilai FROM kumkm_pengenal
    WHERE id_kumkm = ANY(CAST(:ids AS text[])) ORDER BY id_kumkm, jenis_pengenal, nilai
    """
)

# The retired ids whose merges lead into this entity (directly or through another retired id).
ID_LAMA = text(
    """
    WITH RECURSIVE r AS (
        SELECT id_kumkm, 0 AS langkah FROM kumkm WHERE digabung_ke = :id
        UNION ALL
        SELECT k.id_kumkm, r.langkah + 1 FROM kumkm k JOIN r ON k.digabung_ke = r.id_kumkm WHERE r.langkah < 1000
    )
    SELECT id_kumkm FROM r ORDER BY id_kumkm
    """
)

# The summary of several entities (a candidate's two sides, a page of the list): the latest
# linked record's name, alamat and skala, and every periode the entity has a record in.
RINGKASAN = text(
    """
    SELECT k.id_kumkm, k.jenis, k.kode_provinsi, k.kode_kabkota, k.versi, k.digabung_ke, k.diperbarui_pada,
           l.submission_id, l.kode_wilayah, l.skala_usaha,
           COALESCE(l.data->>'nama_usaha', l.data->>'nama_koperasi') AS nama, l.data->>'alamat' AS alamat,
           COALESCE(p.periode, '{}') AS periode, COALESCE(p.n, 0) AS jumlah_rekaman
    FROM kumkm k
    LEFT JOIN LATERAL (
        SELECT s.submission_id, s.kode_wilayah, s.skala_usaha, v.data
        FROM kumkm_tautan t
        JOIN submissions s ON s.submission_id = t.submission_id
        JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
        WHERE t.id_kumkm = k.id_kumkm
        ORDER BY t.periode DESC, s.diperbarui_pada DESC, t.submission_id
        LIMIT 1
    ) l ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(DISTINCT t.periode ORDER BY t.periode) AS periode, count(*) AS n
        FROM kumkm_tautan t WHERE t.id_kumkm = k.id_kumkm
    ) p ON true
    WHERE k.id_kumkm = ANY(CAST(:ids AS text[]))
    """
)

# Look-up by a hard identifier, normalised as the linker stores it.
CARI_SATU_PENGENAL = text("SELECT id_kumkm FROM kumkm_pengenal WHERE jenis_pengenal = :jenis AND nilai = :nilai")

# The live entities of a wilayah (a kabupaten/kota or a provinsi), by id, after the cursor.
DAFTAR = text(
    """
    SELECT id_kumkm FROM kumkm
    WHERE digabung_ke IS NULL
      AND (CAST(:wilayah AS text) IS NULL OR kode_kabkota = :wilayah OR kode_provinsi = :wilayah)
      AND (CAST(:jenis AS text) IS NULL OR jenis = :jenis)
      AND (CAST(:after AS text) IS NULL OR id_kumkm > :after)
    ORDER BY id_kumkm
    LIMIT :limit
    """
)

# ================================================================ verifikator: candidates

KANDIDAT_PAGE = text(
    """
    SELECT id, id_a, id_b, kode_kabkota, skor, alasan, status, versi, dibuat_pada,
           diputuskan_oleh, diputuskan_pada, catatan
    FROM kumkm_kandidat
    WHERE kode_kabkota = :kabkota AND status = :status
      AND (CAST(:skor AS numeric) IS NULL OR skor < :skor OR (skor = :skor AND id > :id))
    ORDER BY skor DESC, id
    LIMIT :limit
    """
)

KANDIDAT = text(
    """
    SELECT id, id_a, id_b, kode_kabkota, skor, alasan, status, versi FROM kumkm_kandidat WHERE id = :id
    """
)
KANDIDAT_LOCK = text(
    """
    SELECT id, id_a, id_b, kode_kabkota, skor, alasan, status, versi FROM kumkm_kandidat WHERE id = :id FOR UPDATE
    """
)

# ================================================================ verifikator: actions

# The entities an action touches, locked in id order (the one order of every action).
KUNCI_ENTITAS_AKSI = text(
    """
    SELECT id_kumkm, jenis, kode_provinsi, kode_kabkota, versi, digabung_ke, dibuat_pada
    FROM kumkm WHERE id_kumkm = ANY(CAST(:ids AS text[]))
    ORDER BY id_kumkm
    FOR UPDATE
    """
)

# Merge: every link of the retired entity moves into the survivor; what each link's rule was
# is returned so that the peristiwa keeps it (a split that undoes the merge restores it).
PINDAH_SEMUA = text(
    """
    UPDATE kumkm_tautan t SET id_kumkm = :ke, dasar = 'gabung', pada = now()
    FROM kumkm_tautan lama
    WHERE lama.submission_id = t.submission_id AND t.id_kumkm = :dari
    RETURNING t.submission_id, lama.dasar
    """
)
PINDAH_PENGENAL_SEMUA = text(
    """
    UPDATE kumkm_pengenal SET id_kumkm = :ke WHERE id_kumkm = :dari RETURNING jenis_pengenal, nilai
    """
)
PENSIUN = text(
    """
    UPDATE kumkm SET digabung_ke = :ke, versi = versi + 1, diperbarui_pada = now() WHERE id_kumkm = :id
    RETURNING versi
    """
)
HIDUPKAN = text(
    """
    UPDATE kumkm SET digabung_ke = NULL, versi = versi + 1, diperbarui_pada = now() WHERE id_kumkm = :id
    RETURNING versi
    """
)

# The entity's kabupaten/kota and provinsi become those of its latest-periode linked record
# (kept as they were when it has none left), and its version goes up.
SEGARKAN = text(
    """
    UPDATE kumkm k
    SET versi = k.versi + 1, diperbarui_pada = now(),
        kode_kabkota = COALESCE(x.kode_kabkota, k.kode_kabkota),
        kode_provinsi = COALESCE(x.kode_provinsi, k.kode_provinsi)
    FROM (SELECT 1) one
    LEFT JOIN LATERAL (
        SELECT s.kode_kabkota, s.kode_provinsi
        FROM kumkm_tautan t JOIN submissions s ON s.submission_id = t.submission_id
        WHERE t.id_kumkm = :id
        ORDER BY t.periode DESC, s.diperbarui_pada DESC, t.submission_id
        LIMIT 1
    ) x ON true
    WHERE k.id_kumkm = :id
    RETURNING k.versi, k.kode_kabkota
    """
)

PERISTIWA_TULIS = text(
    """
    INSERT INTO kumkm_peristiwa (id_kumkm, aksi, detail, oleh, oleh_key, alasan)
    VALUES (:id, :aksi, CAST(:detail AS jsonb), :oleh, :oleh_key, :alasan)
    """
)

KANDIDAT_PUTUS = text(
    """
    UPDATE kumkm_kandidat
    SET status = :status, versi = versi + 1, diputuskan_oleh = :oleh, diputuskan_oleh_key = :oleh_key,
        diputuskan_pada = now(), catatan = :catatan
    WHERE id = :id
    RETURNING id, status, versi
    """
)

# The open candidates between the two entities of a merge (the one decided, and any other
# naming the same pair the other way round cannot exist: id_a < id_b): all are now ditautkan.
KANDIDAT_PASANGAN = text(
    """
    UPDATE kumkm_kandidat
    SET status = 'ditautkan', versi = versi + 1, diputuskan_oleh = :oleh, diputuskan_oleh_key = :oleh_key,
        diputuskan_pada = now(), catatan = :catatan
    WHERE status = 'terbuka' AND id_a = LEAST(CAST(:x AS text), CAST(:y AS text))
      AND id_b = GREATEST(CAST(:x AS text), CAST(:y AS text))
    RETURNING id, status, versi
    """
)

# The retired entity's other open candidates: closed `usang` where re-pointing them to the
# survivor would pair it with itself, with a pair said not the same, or with a pair already
# open; the rest re-pointed to the survivor (their versi goes up: a verifikator who saw the old
# pair gets a 409).
KANDIDAT_USANG = text(
    """
    WITH lain AS (
        SELECT c.id, CASE WHEN c.id_a = :dari THEN c.id_b ELSE c.id_a END AS lain
        FROM kumkm_kandidat c
        WHERE c.status = 'terbuka' AND (c.id_a = :dari OR c.id_b = :dari)
    )
    UPDATE kumkm_kandidat c
    SET status = 'usang', versi = c.versi + 1, diputuskan_oleh = :oleh, diputuskan_oleh_key = :oleh_key,
        diputuskan_pada = now()
    FROM lain
    WHERE c.id = lain.id AND (
        lain.lain = :ke
        OR EXISTS (SELECT 1 FROM kumkm_bukan_sama b
                   WHERE b.id_a = LEAST(lain.lain, CAST(:ke AS text)) AND b.id_b = GREATEST(lain.lain, CAST(:ke AS text)))
        OR EXISTS (SELECT 1 FROM kumkm_kandidat o
                   WHERE o.status = 'terbuka' AND o.id_a = LEAST(lain.lain, CAST(:ke AS text))
                     AND o.id_b = GREATEST(lain.lain, CAST(:ke AS text))))
    RETURNING c.id
    """
)
KANDIDAT_ALIH = text(
    """
    UPDATE kumkm_kandidat c
    SET id_a = LEAST(CASE WHEN c.id_a = :dari THEN c.id_b ELSE c.id_a END, CAST(:ke AS text)),
        id_b = GREATEST(CASE WHEN c.id_a = :dari THEN c.id_b ELSE c.id_a END, CAST(:ke AS text)),
        versi = c.versi + 1
    WHERE c.status = 'terbuka' AND (c.id_a = :dari OR c.id_b = :dari)
    RETURNING c.id
    """
)

BUKAN_SAMA_TULIS = text(
    """
    INSERT INTO kumkm_bukan_sama (id_a, id_b, oleh, oleh_key, alasan)
    VALUES (:id_a, :id_b, :oleh, :oleh_key, :alasan)
    ON CONFLICT (id_a, id_b) DO NOTHING
    """
)
BUKAN_SAMA_HAPUS = text(
    """
    DELETE FROM kumkm_bukan_sama WHERE id_a = :id_a AND id_b = :id_b RETURNING id_a, id_b, oleh, pada, alasan
    """
)

# Split: the links of the named records, each with its entity, locked.
TAUTAN_KUNCI = text(
    """
    SELECT submission_id, id_kumkm, dasar FROM kumkm_tautan WHERE id_kumkm = :id
    ORDER BY submission_id FOR UPDATE
    """
)

# The merges into the entity, latest first (a split of exactly the records one moved undoes it).
GABUNGAN = text(
    """
    SELECT detail FROM kumkm_peristiwa
    WHERE id_kumkm = :id AND aksi = 'digabung' AND detail->>'peran' = 'penerus'
    ORDER BY id DESC
    """
)

NOMOR_PISAH = text("SELECT nextval('kumkm_nomor')")
ENTITAS_BARU = text(
    """
    INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota) VALUES (:id, :jenis, :provinsi, :kabkota)
    """
)

# Links of the named records move to another entity, each with its own rule (`dasar`).
PINDAH_TAUTAN = text(
    """
    UPDATE kumkm_tautan t SET id_kumkm = :ke, dasar = i.dasar, pada = now()
    FROM jsonb_to_recordset(CAST(:items AS jsonb)) AS i(submission_id uuid, dasar text)
    WHERE t.submission_id = i.submission_id AND t.id_kumkm = :dari
    RETURNING t.submission_id
    """
)
