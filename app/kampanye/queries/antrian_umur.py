"""The SQL of the backlog's age (docs/kampanye.md, backlog).

A record waits in `masuk` from the moment it entered it: its arrival, or the correction that
sent it back (`diperbarui_pada`, set by both and by nothing else while it waits). The partial
index `submissions_masuk_umur` (migration 0016_kampanye) holds only the waiting records, by
kabupaten/kota and that moment, so the figures cost the backlog's size, not the records'."""

from __future__ import annotations

from sqlalchemy import text

# Per kabupaten/kota and for the whole area (the grouping set `()`, kode NULL): how many wait,
# the moment entered at the median and the 90th percentile of the wait (percentile_disc: a
# real record's, the lower middle for an even count), the oldest, and how many have waited
# longer than the threshold, all as of :pada.
_UMUR = """
    SELECT kode_kabkota AS kode, count(*) AS n,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY diperbarui_pada DESC) AS t50,
           percentile_disc(0.9) WITHIN GROUP (ORDER BY diperbarui_pada DESC) AS t90,
           min(diperbarui_pada) AS t_min,
           count(*) FILTER (WHERE diperbarui_pada < CAST(:pada AS timestamptz) - make_interval(days => CAST(:ambang AS int))) AS lewat
    FROM submissions
    WHERE status = 'masuk' AND periode = :periode AND {area}
    GROUP BY GROUPING SETS ((kode_kabkota), ())
"""

UMUR = {
    0: text(_UMUR.format(area="true")),
    1: text(_UMUR.format(area="kode_provinsi = :area")),
    2: text(_UMUR.format(area="kode_kabkota = :area")),
}
