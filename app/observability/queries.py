from sqlalchemy import text

# The status counters, not a scan of the records: a scrape stays cheap at 64 million rows.
RECORDS_BY_STATUS = text(
    "SELECT s.status, COALESCE(sum(r.n), 0)::bigint FROM (VALUES ('masuk'), ('diterima'), ('ditolak')) "
    "AS s(status) LEFT JOIN rekap_status r USING (status) GROUP BY s.status"
)

# The registry linker's queue (app.registry.linker): records accepted or reversed and not yet
# linked, and how long the oldest has waited. Short but for a migration's backlog, when a
# scrape reads it whole (about a tenth of a second a million rows).
LINKER_QUEUE = text(
    "SELECT count(*) AS n, COALESCE(extract(epoch FROM clock_timestamp() - min(pada)), 0)::float8 AS lag FROM kumkm_antrian"
)
