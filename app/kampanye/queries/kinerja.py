"""The SQL of the enumerator table (docs/kampanye.md, "Enumerators and quality").

The counts come from `kinerja_enumerator` (kept by triggers on submissions, migration 0017),
the reasons from `kinerja_tolak`, the kabupaten/kota's rates from `rekap_status`: none of these
reads a record. The details that need the records themselves (median time from capture to
arrival, last arrival, the densest ten minutes, the most repeated NIK, days active) are read for
one page of enumerators at a time, from the index `submissions_kinerja` alone."""

from sqlalchemy import text

# Per enumerator and kabupaten/kota: the counts by status. `keys` (the key ids of one holder)
# narrows to the records that holder sent (GET /me/kinerja); NULL for every record.
COUNTS = text(
    """
    SELECT enumerator_id, kode_kabkota, sum(masuk)::bigint AS belum_diverifikasi, sum(diterima)::bigint AS diterima,
           sum(ditolak)::bigint AS ditolak
    FROM kinerja_enumerator
    WHERE periode = :periode AND kode_kabkota = ANY(CAST(:kabkota AS text[]))
      AND (CAST(:keys AS bigint[]) IS NULL OR kunci = ANY(CAST(:keys AS bigint[])))
    GROUP BY 1, 2
    HAVING sum(masuk) + sum(diterima) + sum(ditolak) > 0
    """
)

# The kabupaten/kota a holder's records lie in (GET /me/kinerja), from its keys' rows.
HOLDER_KABKOTA = text(
    """
    SELECT DISTINCT kode_kabkota FROM kinerja_enumerator
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

# The details of a page of enumerators in one provinsi, from the index alone: per enumerator
# one ordered range of the index (no sort for the window). `jeda` is
# arrival minus capture; its median is percentile_disc (a real record's value: the lower of the
# two middle ones), in whole seconds rounded down. `padat`: the records captured from a record
# to :menit minutes after it, inclusive; its maximum is the densest window. `hari`: the local
# capture day in the record's provinsi's zone (kumkm_zona_jam, migration 0016). `nik_terbanyak`:
# the most records sharing one NIK pemilik.
_DETAILS = """
    SELECT e.enumerator_id, d.*
    FROM unnest(CAST(:ids AS text[])) AS e (enumerator_id)
    CROSS JOIN LATERAL (
        WITH r AS MATERIALIZED (
            SELECT dibuat_pada - captured_at AS jeda, dibuat_pada, nik_kunci,
                   ((captured_at AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date AS hari,
                   count(*) OVER (ORDER BY captured_at RANGE BETWEEN CURRENT ROW AND make_interval(mins => :menit) FOLLOWING) AS padat
            FROM submissions s
            WHERE s.periode = :periode AND {provinsi} AND s.enumerator_id = e.enumerator_id
              AND s.kode_kabkota = ANY(CAST(:kabkota AS text[]))
              AND (CAST(:keys AS bigint[]) IS NULL OR s.dibuat_oleh_key = ANY(CAST(:keys AS bigint[])))
        )
        SELECT floor(extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY jeda)))::bigint AS jeda_median_detik,
               max(dibuat_pada) AS terakhir_terlihat, max(padat) AS terpadat,
               count(DISTINCT hari) AS hari_aktif, max(hari) AS hari_terakhir,
               (SELECT COALESCE(max(n), 0) FROM (SELECT count(*) AS n FROM r WHERE nik_kunci IS NOT NULL GROUP BY nik_kunci) y)
                   AS nik_terbanyak
        FROM r
    ) d
    WHERE d.terakhir_terlihat IS NOT NULL
"""
DETAILS = text(_DETAILS.format(provinsi="s.kode_provinsi = :provinsi"))
# The same over the records of several provinsi at once (`provinsi` an array): GET /me/kinerja of
# a holder whose records lie in two (its key's scope changed). One statement, so that every figure
# is over all of them: a day active in both counts once (a local date, whatever the zone), a NIK or
# a dense ten minutes across the border counts whole, the median is the median of them all. The
# ranges of the provinsi are merged by a sort of one holder's records.
DETAILS_PROVINSI = text(_DETAILS.format(provinsi="s.kode_provinsi = ANY(CAST(:provinsi AS text[]))"))
