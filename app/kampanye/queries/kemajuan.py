"""The SQL of progress over time (docs/kampanye.md, progress).

Every count comes from rekap_harian, kept by the statement triggers on `submissions`
(migration 0016_kampanye) in the writer's own transaction: a kabupaten/kota's days are a few
hundred rows whatever the number of records, the nation's a few tens of thousands. The area
is one of three fixed templates (nation, provinsi, kabupaten/kota); no request value is ever
spliced into SQL."""

from __future__ import annotations

from sqlalchemy import text

# The area's rows of rekap_harian, and the child each belongs to, by the area's level (0: the
# nation, whose children are the provinsi; 1: a provinsi, whose children are its
# kabupaten/kota; 2: a kabupaten/kota, its own only child).
_AREA = {
    0: ("left(kode_kabkota, 2)", "true"),
    1: ("kode_kabkota", "kode_kabkota LIKE :area || '.%'"),
    2: ("kode_kabkota", "kode_kabkota = :area"),
}

# Per day and status over the whole periode (the cumulative counts start at its first record,
# whatever `dari` is): at most a year of days times three statuses.
_HARIAN = """
    SELECT hari, status, sum(n)::bigint AS n
    FROM rekap_harian
    WHERE periode = :periode AND menurut = :menurut AND {area}
    GROUP BY hari, status
    HAVING sum(n) <> 0
"""

# Per child: the cumulative counts per status up to :sampai, and the records of the 7 and 14
# days ending at :akhir_laju (the pace windows).
_ANAK = """
    SELECT {anak} AS kode, status,
           sum(n) FILTER (WHERE hari <= CAST(:sampai AS date))::bigint AS kumulatif,
           sum(n) FILTER (WHERE hari > CAST(:akhir_laju AS date) - 7 AND hari <= CAST(:akhir_laju AS date))::bigint AS n7,
           sum(n) FILTER (WHERE hari > CAST(:akhir_laju AS date) - 14 AND hari <= CAST(:akhir_laju AS date))::bigint AS n14
    FROM rekap_harian
    WHERE periode = :periode AND menurut = :menurut AND {area}
    GROUP BY 1, 2
"""

HARIAN = {level: text(_HARIAN.format(area=area)) for level, (_, area) in _AREA.items()}
ANAK = {level: text(_ANAK.format(anak=anak, area=area)) for level, (anak, area) in _AREA.items()}

# Every revision of the area's own target and of its children's (a provinsi's kabupaten/kota,
# the nation's provinsi), in entry order: a handful of rows, the in-force rule applied per day.
TARGETS = {
    0: text(
        """
        SELECT kode_wilayah, id, target, dasar_hukum, berlaku_mulai, batas_waktu FROM target_pendataan
        WHERE periode = :periode AND kode_wilayah ~ '^[0-9]{2}([.][0-9]{2})?$' ORDER BY id
        """
    ),
    1: text(
        """
        SELECT kode_wilayah, id, target, dasar_hukum, berlaku_mulai, batas_waktu FROM target_pendataan
        WHERE periode = :periode AND (kode_wilayah = :area OR kode_wilayah LIKE :area || '.__') ORDER BY id
        """
    ),
    2: text(
        """
        SELECT kode_wilayah, id, target, dasar_hukum, berlaku_mulai, batas_waktu FROM target_pendataan
        WHERE periode = :periode AND kode_wilayah = :area ORDER BY id
        """
    ),
}

# The child wilayah of the area (every one, listed even without records or target).
ANAK_WILAYAH = {
    0: text("SELECT kode, nama FROM wilayah WHERE level = 1 ORDER BY kode"),
    1: text("SELECT kode, nama FROM wilayah WHERE parent_kode = :area ORDER BY kode"),
    2: text("SELECT kode, nama FROM wilayah WHERE kode = :area"),
}
