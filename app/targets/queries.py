"""All SQL of targets and capaian pendataan.

Capaian for provinsi and kabupaten/kota rows reads rekap_status, the per-kabkota status
counts that the submissions triggers keep in the same transaction as every write, so the
table costs a few hundred rows whatever the number of records. Kecamatan and desa rows are
not kept there and come from a GROUP BY on the records of one kabupaten/kota or provinsi.
Statements are picked from fixed templates by (area level, row level); no request value is
ever spliced into SQL."""

from sqlalchemy import text

LOCK_TARGET = text("SELECT pg_advisory_xact_lock(hashtext('target:' || :periode || ':' || :kode))")

# Revisions in entry order (revisi = 1, 2, ...); callers sort for display.
HISTORY = text(
    """
    SELECT row_number() OVER (ORDER BY id) AS revisi, target, dasar_hukum, berlaku_mulai, batas_waktu,
           dibuat_oleh, dibuat_pada
    FROM target_pendataan
    WHERE periode = :periode AND kode_wilayah = :kode
    ORDER BY id
    """
)

INSERT = text(
    """
    INSERT INTO target_pendataan (periode, kode_wilayah, target, dasar_hukum, berlaku_mulai, batas_waktu, dibuat_oleh)
    VALUES (:periode, :kode, :target, :dasar_hukum, :berlaku_mulai, :batas_waktu, :oleh)
    """
)

# Bulk import: one statement, and rows equal to an existing revision (same date, value,
# deadline and basis) are skipped so importing a file twice changes nothing.
INSERT_MANY = text(
    """
    WITH input AS (
        SELECT e->>'periode' AS periode, e->>'kode_wilayah' AS kode_wilayah,
               (e->>'target')::bigint AS target, e->>'dasar_hukum' AS dasar_hukum,
               (e->>'berlaku_mulai')::date AS berlaku_mulai, (e->>'batas_waktu')::date AS batas_waktu, n
        FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS x(e, n)
    ), ins AS (
        -- in file order, so revision numbers follow the lines
        INSERT INTO target_pendataan (periode, kode_wilayah, target, dasar_hukum, berlaku_mulai, batas_waktu, dibuat_oleh)
        SELECT i.periode, i.kode_wilayah, i.target, i.dasar_hukum, i.berlaku_mulai, i.batas_waktu, :oleh
        FROM input i
        WHERE NOT EXISTS (
            SELECT 1 FROM target_pendataan t
            WHERE t.periode = i.periode AND t.kode_wilayah = i.kode_wilayah
              AND t.berlaku_mulai = i.berlaku_mulai AND t.target = i.target
              AND t.dasar_hukum = i.dasar_hukum AND t.batas_waktu IS NOT DISTINCT FROM i.batas_waktu)
        ORDER BY i.n
        RETURNING 1
    )
    SELECT count(*) FROM ins
    """
)

LOCK_IMPORT = text("SELECT pg_advisory_xact_lock(hashtext('target:import'))")

KNOWN_PERIODE = text("SELECT kode FROM periode")

# Records per periode inside a wilayah (a provinsi or kabupaten/kota; NULL: the nation), from
# the status counters: which rounds have data for a key, at the cost of a few hundred rows.
DATA_PER_PERIODE = text(
    """
    SELECT periode, sum(n)::bigint AS n FROM rekap_status
    WHERE CAST(:scope AS text) IS NULL OR kode_kabkota = :scope OR kode_kabkota LIKE :scope || '.%'
    GROUP BY periode
    HAVING sum(n) <> 0
    """
)

# ---------------------------------------------------------------- capaian pendataan

# The wilayah listed as rows, by (area level, row level); area level 0 is the nation.
_ANAK = {
    (0, 1): "SELECT kode, nama FROM wilayah WHERE parent_kode IS NULL",
    (0, 2): "SELECT kode, nama FROM wilayah WHERE parent_kode IN (SELECT kode FROM wilayah WHERE parent_kode IS NULL)",
    (1, 2): "SELECT kode, nama FROM wilayah WHERE parent_kode = :area",
    (1, 3): "SELECT kode, nama FROM wilayah WHERE parent_kode IN (SELECT kode FROM wilayah WHERE parent_kode = :area)",
    (2, 3): "SELECT kode, nama FROM wilayah WHERE parent_kode = :area",
    (2, 4): "SELECT kode, nama FROM wilayah WHERE parent_kode IN (SELECT kode FROM wilayah WHERE parent_kode = :area)",
    (3, 4): "SELECT kode, nama FROM wilayah WHERE parent_kode = :area",
}
ROW_LEVELS = {area: sorted(lv for (a, lv) in _ANAK if a == area) for area in range(5)}

# Counts per row, from the maintained rollup (row level 1 or 2)...
_HITUNG_REKAP = """
    SELECT {key} AS kode,
           COALESCE(sum(n) FILTER (WHERE status = 'masuk'), 0)::bigint AS belum_diverifikasi,
           COALESCE(sum(n) FILTER (WHERE status = 'diterima'), 0)::bigint AS diterima,
           COALESCE(sum(n) FILTER (WHERE status = 'ditolak'), 0)::bigint AS ditolak
    FROM rekap_status
    WHERE periode = :periode AND {area}
    GROUP BY 1
"""
# ...or from the records (row level 3 or 4). Records placed at a kabupaten/kota only have no
# kecamatan or desa: they form one row with kode null, so the total still counts them.
_HITUNG_RECORDS = """
    SELECT {key} AS kode,
           count(*) FILTER (WHERE status = 'masuk') AS belum_diverifikasi,
           count(*) FILTER (WHERE status = 'diterima') AS diterima,
           count(*) FILTER (WHERE status = 'ditolak') AS ditolak
    FROM submissions
    WHERE periode = :periode AND {area}
    GROUP BY 1
"""
_KABKOTA_OF_PROVINSI = "kode_kabkota IN (SELECT kode FROM wilayah WHERE parent_kode = :area)"
_HITUNG = {
    (0, 1): _HITUNG_REKAP.format(key="left(kode_kabkota, 2)", area="true"),
    (0, 2): _HITUNG_REKAP.format(key="kode_kabkota", area="true"),
    (1, 2): _HITUNG_REKAP.format(key="kode_kabkota", area=_KABKOTA_OF_PROVINSI),
    (1, 3): _HITUNG_RECORDS.format(key="kode_kecamatan", area=_KABKOTA_OF_PROVINSI),
    (2, 3): _HITUNG_RECORDS.format(key="kode_kecamatan", area="kode_kabkota = :area"),
    (2, 4): _HITUNG_RECORDS.format(key="CASE WHEN kode_kecamatan IS NOT NULL THEN kode_wilayah END", area="kode_kabkota = :area"),
    (3, 4): _HITUNG_RECORDS.format(key="kode_wilayah", area="kode_kabkota = :kabkota AND kode_kecamatan = :area"),
}

_CAPAIAN = """
    WITH anak AS ({anak}),
    hitung AS ({hitung}),
    target AS (
        SELECT DISTINCT ON (kode_wilayah) kode_wilayah AS kode, target
        FROM target_pendataan
        WHERE periode = :periode AND berlaku_mulai <= :as_of
          AND kode_wilayah IN (SELECT kode FROM anak)
        ORDER BY kode_wilayah, berlaku_mulai DESC, id DESC
    )
    SELECT COALESCE(a.kode, h.kode) AS kode, a.nama, a.target,
           COALESCE(h.belum_diverifikasi, 0) AS belum_diverifikasi,
           COALESCE(h.diterima, 0) AS diterima,
           COALESCE(h.ditolak, 0) AS ditolak
    FROM (SELECT anak.kode, anak.nama, target.target
          FROM anak LEFT JOIN target ON target.kode = anak.kode) a
    FULL JOIN hitung h ON h.kode = a.kode
    -- every child wilayah, with nothing yet or not: those are the ones a dinas must chase;
    -- besides them, records without a wilayah at the row level (kode null)
    WHERE a.kode IS NOT NULL
       OR h.belum_diverifikasi + h.diterima + h.ditolak > 0
    ORDER BY 1 NULLS LAST
"""
CAPAIAN = {k: text(_CAPAIAN.format(anak=_ANAK[k], hitung=_HITUNG[k])) for k in _ANAK}
