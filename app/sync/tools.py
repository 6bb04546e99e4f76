"""`kumkm export`: records out to NDJSON, CSV or Parquet from one consistent snapshot, with
the feed cursor that continues from it. (`kumkm import` is app.submissions.importer.)"""

from __future__ import annotations

import csv
import datetime as dt
import os
import time
from pathlib import Path

import orjson

from app.core.console import UsageError, progress
from app.record import flat
from app.record.reference import known_periode
from app.security.accesslog import log_access
from app.security.principal import Principal
from app.sync import queries
from app.sync.service import RawConnection, Scope, on_cluster, snapshot_cursor, snapshot_rows

EXPORT_FORMATS = ("ndjson", "csv", "parquet")
IMPORT_BATCH = 1000


# ----------------------------------------------------------------------------- export


def _parquet_schema():
    import pyarrow as pa

    def typ(col: str):
        if col in flat.INT_COLUMNS:
            return pa.int64()
        if col in flat.BOOL_COLUMNS:
            return pa.bool_()
        if col in flat.FLOAT_COLUMNS:
            return pa.float64()
        if col in flat.TIME_COLUMNS:
            return pa.timestamp("us", tz="UTC")
        return pa.string()

    return pa.schema([(c, typ(c)) for c in flat.COLUMNS])


class _ParquetOut:
    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        self.schema = _parquet_schema()
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def write(self, records: list[dict]) -> None:
        import pyarrow as pa

        rows = []
        for rec in records:
            cells = flat.flatten(rec)
            for c in flat.TIME_COLUMNS:
                if cells[c] is not None:
                    cells[c] = dt.datetime.fromisoformat(cells[c])
            rows.append(cells)
        self.writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


async def export(*, periode: str, wilayah: str | None, fmt: str, out: Path, mask_pii: bool, actor: str) -> dict:
    """Write every current record of `periode` (inside `wilayah`) to `out`, read in one
    REPEATABLE READ snapshot. The file appears only when complete (written aside, then
    renamed). Returns a summary with the feed cursor the export is consistent with."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(EXPORT_FORMATS)}")
    if periode not in await known_periode():
        raise UsageError(f"--periode: unknown periode {periode!r}")
    conn = await RawConnection().open()
    clean = False
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        pg = conn.pg
        if wilayah is not None:
            level = await pg.fetchval(queries.WILAYAH_LEVEL, wilayah)
            if level not in (1, 2):
                raise UsageError(f"--wilayah: {wilayah!r} is not an existing provinsi or kabupaten/kota code")
        # on a Citus cluster without --wilayah: every provinsi, each from its own worker's snapshot
        scope = on_cluster(Scope(wilayah, periode, not mask_pii))
        started = time.monotonic()
        n = 0
        async with pg.transaction(isolation="repeatable_read", readonly=True):
            await pg.execute(queries.BEGIN_SYNC)
            snaps, cursor = await snapshot_cursor(pg, scope)
            total = await pg.fetchval(queries.SNAPSHOT_COUNT, periode, wilayah)
            out.parent.mkdir(parents=True, exist_ok=True)
            bar = progress(total, f"export {periode}")
            if fmt == "parquet":
                sink = _ParquetOut(tmp)
                try:
                    async for lines in snapshot_rows(pg, scope, snaps):
                        sink.write([orjson.loads(flat.record_line(ln, scope.pii)) for ln in lines])
                        n += len(lines)
                        bar.update(len(lines))
                finally:
                    sink.close()
            else:
                with open(tmp, "w", encoding="utf-8", newline="") as f:
                    writer = csv.writer(f, lineterminator="\n") if fmt == "csv" else None
                    if writer:
                        writer.writerow(flat.COLUMNS)
                    async for lines in snapshot_rows(pg, scope, snaps):
                        if writer:
                            for ln in lines:
                                cells = flat.flatten(orjson.loads(flat.record_line(ln, scope.pii)))
                                writer.writerow([flat.csv_value(cells[c]) for c in flat.COLUMNS])
                        else:
                            f.write("".join(flat.record_line(ln, scope.pii) + "\n" for ln in lines))
                        n += len(lines)
                        bar.update(len(lines))
                    f.flush()
                    os.fsync(f.fileno())
            bar.close()
        os.replace(tmp, out)
        clean = True
    finally:
        await conn.close(clean=clean)
        if tmp.exists():
            tmp.unlink()
    elapsed = time.monotonic() - started
    summary = {
        "file": str(out),
        "format": fmt,
        "periode": periode,
        "kode_wilayah": wilayah,
        "records": n,
        "pii": scope.pii,
        "cursor": cursor.encode(),
        "seconds": round(elapsed, 2),
    }
    # Personal data left the service: that is on record like any other access.
    await log_access(Principal.operator(actor), "kumkm export", {k: v for k, v in summary.items() if k != "seconds"}, n)
    return summary
