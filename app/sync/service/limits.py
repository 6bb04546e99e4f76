"""How a stream is paced and cut: chunk sizes, parallel ranges."""

from __future__ import annotations

from app.core.settings import settings

CHUNK = 2000
MAX_LIMIT = 1_000_000
COPY_BLOCK = 256 * 1024
# A stream of at least PARALLEL_MIN rows is cut into ranges of about RANGE_ROWS rows (changes
# in (xid, id) order; snapshot rows by ranges of table pages, ROWS_PER_PAGE lines of about
# 1.2 kB a page), read by two connections at once (one query runs on one core) and sent in
# order. At most PARALLEL ranges are held at a time, so memory stays flat: two ranges of about
# a kilobyte a row (20,000 rows: peak RSS ~155 MB; 100,000 rows measured ~280 MB, too close
# to the 300 MB budget).
# KUMKM_SYNC_PARALLEL=1 turns it off (one connection per stream); only 1 and 2 are meaningful.
PARALLEL = settings.sync_parallel
PARALLEL_MIN = 100_000
RANGE_ROWS = settings.sync_range_rows
ROWS_PER_PAGE = 6
HELPER_WAIT = 1.0  # seconds to wait for a second pooled connection, else run alone
