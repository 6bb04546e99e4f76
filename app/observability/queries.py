from sqlalchemy import text

# The status counters, not a scan of the records: a scrape stays cheap at 64 million rows.
RECORDS_BY_STATUS = text(
    "SELECT s.status, COALESCE(sum(r.n), 0)::bigint FROM (VALUES ('masuk'), ('diterima'), ('ditolak')) "
    "AS s(status) LEFT JOIN rekap_status r USING (status) GROUP BY s.status"
)
