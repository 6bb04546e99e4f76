"""The SQL of the enumerator table (docs/kampanye.md, "Enumerators and quality").

The counts come from `kinerja_harian` (kept by triggers on submissions, migration 0017), the
reasons from `kinerja_tolak`, the kabupaten/kota's rates from `rekap_status`: none of these
reads a record. The details that need the records themselves (median time from capture to
arrival, last arrival, the densest ten minutes, the most repeated NIK) are read for one page of
enumerators at a time, from the index `submissions_kinerja` alone."""

from sqlalchemy import text

# Per enumerator and kabupaten/kota: the counts by status, and the enumerator's local capture
# days (over every kabupaten/kota asked). `keys` (the key ids of one holder) narrows to the
# records that holder sent (GET /me/kinerja); NULL for every record.
COUNTS = text(
    """
    WITH h AS (
        SELECT enumerator_id, kode_kabkota, hari, sum(masuk) AS m, sum(diterima) AS d, sum(ditolak) AS t
        FROM kinerja_harian
        WHERE periode = :periode AND kode_kabkota = ANY(CAST(:kabkota AS text[]))
          AND (CAST(:keys AS bigint[]) IS NULL OR kunci = ANY(CAST(:keys AS bigint[])))
        GROUP BY 1, 2, 3
        HAVING sum(masuk) + sum(diterima) + sum(ditolak) > 0
    ), e AS (
        SELECT enumerator_id, count(DISTINCT hari) AS hari_aktif, max(hari) AS hari_terakhir
        FROM h GROUP BY 1
    )
    SELECT h.enumerator_id, h.kode_kabkota, sum(h.m)::bigint AS belum_diverifikasi, sum(h.d)::bigint AS diterima,
           sum(h.t)::bigint AS ditolak, e.hari_aktif, e.hari_terakhir
    FROM h JOIN e USING (enumerator_id)
    GROUP BY h.enumerator_id, h.kode_kabkota, e.hari_aktif, e.hari_terakhir
    """
)

# The kabupaten/kota a holder's records lie in (GET /me/kinerja), from its keys' rows.
HOLDER_KABKOTA = text(
    """
    SELECT DISTINCT kode_kabkota FROM kinerja_harian
    WHERE kunci = ANY(CAST(:keys AS bigint[])) AND periode = :periode AND masuk + diterima + ditolak > 0
    """
)

# A holder's keys: the one calling and every key it was rotated from or to.
HOLDER_KEYS = text("SELECT id FROM api_keys WHERE identity_id = :identity")

# The kabupaten/kota's own counts by decision, every enumerator's: the rate an enumerator is
# compared with.
KABKOTA_RATES = text(
    """
    SELECT kode_kabkota, COALESCE(sum(n) FILTER (WHERE status = 'diterima'), 0)::bigint AS diterima,
           COALESCE(sum(n) FILTER (WHERE status = 'ditolak'), 0)::bigint AS ditolak
    FROM rekap_status WHERE periode = :periode AND kode_kabkota = ANY(CAST(:kabkota AS text[]))
    GROUP BY 1
    """
)

# The reasons of the records now ditolak, per enumerator of the page.
REASONS = text(
    """
    SELECT enumerator_id, alasan_kode, count(*) AS n
    FROM kinerja_tolak
    WHERE periode = :periode AND kode_kabkota = ANY(CAST(:kabkota AS text[]))
      AND enumerator_id = ANY(CAST(:ids AS text[]))
      AND (CAST(:keys AS bigint[]) IS NULL OR kunci = ANY(CAST(:keys AS bigint[])))
    GROUP BY 1, 2
    """
)

# The details of a page of enumerators, from the index alone. `jeda` is arrival minus capture;
# its median is percentile_disc (a real record's value: the lower of the two middle ones),
# in whole seconds rounded down. `terpadat`: the most records captured in any ten minutes
# (a record and those captured up to ten minutes after it). `nik_terbanyak`: the most records
# sharing one NIK pemilik.
DETAILS = text(
    """
    WITH r AS MATERIALIZED (
        SELECT enumerator_id, captured_at, dibuat_pada, nik_kunci
        FROM submissions
        WHERE periode = :periode AND kode_provinsi = ANY(CAST(:provinsi AS text[]))
          AND enumerator_id = ANY(CAST(:ids AS text[]))
          AND kode_kabkota = ANY(CAST(:kabkota AS text[]))
          AND (CAST(:keys AS bigint[]) IS NULL OR dibuat_oleh_key = ANY(CAST(:keys AS bigint[])))
    ), j AS (
        SELECT enumerator_id,
               floor(extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY dibuat_pada - captured_at)))::bigint
                   AS jeda_median_detik,
               max(dibuat_pada) AS terakhir_terlihat
        FROM r GROUP BY 1
    ), b AS (
        SELECT enumerator_id, max(n) AS terpadat
        FROM (SELECT enumerator_id,
                     count(*) OVER (PARTITION BY enumerator_id ORDER BY captured_at
                                    RANGE BETWEEN CURRENT ROW AND :menit * interval '1 minute' FOLLOWING) AS n
              FROM r) x
        GROUP BY 1
    ), k AS (
        SELECT enumerator_id, max(n) AS nik_terbanyak
        FROM (SELECT enumerator_id, count(*) AS n FROM r WHERE nik_kunci IS NOT NULL GROUP BY enumerator_id, nik_kunci) y
        GROUP BY 1
    )
    SELECT j.enumerator_id, j.jeda_median_detik, j.terakhir_terlihat, b.terpadat, COALESCE(k.nik_terbanyak, 0) AS nik_terbanyak
    FROM j JOIN b USING (enumerator_id) LEFT JOIN k USING (enumerator_id)
    """
)
