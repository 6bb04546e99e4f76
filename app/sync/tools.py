"""`kumkm export` and `kumkm import`: records out to NDJSON, CSV or Parquet from one consistent
snapshot, and records in from NDJSON or CSV through exactly the API's validation and
idempotency (app.submissions.service.prepare and store)."""
from __future__ import annotations

import csv
import datetime as dt
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from app.core.access import Principal, log_access
from app.core.reference import known_periode
from app.submissions import service as submissions
from app.sync import formats, queries
from app.sync.cursor import Cursor, Snapshot
from app.sync.service import RawConnection, Scope, snapshot_rows

EXPORT_FORMATS = ("ndjson", "csv", "parquet")
IMPORT_BATCH = 1000


class UsageError(Exception):
    """Bad arguments: the CLI prints the message and exits 2."""


def _progress(total: int | None, desc: str, stream=None):
    """A progress bar with rate and ETA on a terminal; silent when output is redirected."""
    from tqdm import tqdm

    stream = stream or sys.stderr
    return tqdm(total=total, desc=desc, unit=" rec", unit_scale=True, file=stream,
                disable=not stream.isatty(), smoothing=0.1, mininterval=0.5)


# ----------------------------------------------------------------------------- export

def _parquet_schema():
    import pyarrow as pa

    def typ(col: str):
        if col in formats.INT_COLUMNS:
            return pa.int64()
        if col in formats.BOOL_COLUMNS:
            return pa.bool_()
        if col in formats.FLOAT_COLUMNS:
            return pa.float64()
        if col in formats.TIME_COLUMNS:
            return pa.timestamp("us", tz="UTC")
        return pa.string()

    return pa.schema([(c, typ(c)) for c in formats.COLUMNS])


class _ParquetOut:
    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        self.schema = _parquet_schema()
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def write(self, records: list[dict]) -> None:
        import pyarrow as pa

        rows = []
        for rec in records:
            flat = formats.flatten(rec)
            for c in formats.TIME_COLUMNS:
                if flat[c] is not None:
                    flat[c] = dt.datetime.fromisoformat(flat[c])
            rows.append(flat)
        self.writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


async def export(*, periode: str, wilayah: str | None, fmt: str, out: Path, mask_pii: bool,
                 actor: str) -> dict:
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
        scope = Scope(wilayah, periode, not mask_pii)
        started = time.monotonic()
        n = 0
        async with pg.transaction(isolation="repeatable_read", readonly=True):
            await pg.execute(queries.BEGIN_SYNC)
            snap = Snapshot.parse(await pg.fetchval(queries.CURRENT_SNAPSHOT))
            total = await pg.fetchval(queries.SNAPSHOT_COUNT, periode, wilayah)
            out.parent.mkdir(parents=True, exist_ok=True)
            bar = _progress(total, f"export {periode}")
            if fmt == "parquet":
                sink = _ParquetOut(tmp)
                try:
                    async for lines in snapshot_rows(pg, scope):
                        sink.write([orjson.loads(formats.record_line(ln, scope.pii)) for ln in lines])
                        n += len(lines)
                        bar.update(len(lines))
                finally:
                    sink.close()
            else:
                with open(tmp, "w", encoding="utf-8", newline="") as f:
                    writer = csv.writer(f, lineterminator="\n") if fmt == "csv" else None
                    if writer:
                        writer.writerow(formats.COLUMNS)
                    async for lines in snapshot_rows(pg, scope):
                        if writer:
                            for ln in lines:
                                flat = formats.flatten(orjson.loads(formats.record_line(ln, scope.pii)))
                                writer.writerow([formats.csv_value(flat[c]) for c in formats.COLUMNS])
                        else:
                            f.write("".join(formats.record_line(ln, scope.pii) + "\n" for ln in lines))
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
    cursor = Cursor(snap.xmin, 0, snap if snap.xmax > snap.xmin else None).encode()
    elapsed = time.monotonic() - started
    summary = {"file": str(out), "format": fmt, "periode": periode, "kode_wilayah": wilayah,
               "records": n, "pii": scope.pii, "cursor": cursor, "seconds": round(elapsed, 2)}
    # Personal data left the service: that is on record like any other access.
    await log_access(Principal(None, actor, "admin", None), "kumkm export",  # type: ignore[arg-type]
                     {k: v for k, v in summary.items() if k != "seconds"}, n)
    return summary


# ----------------------------------------------------------------------------- import

@dataclass
class ImportSummary:
    lines: int = 0
    created: int = 0
    duplicate: int = 0
    rejected: int = 0
    ignored_columns: set[str] = field(default_factory=set)
    seconds: float = 0.0


def _detect_format(path: Path, forced: str | None) -> str:
    if forced:
        return forced
    ext = path.suffix.lower()
    if ext in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    if ext == ".csv":
        return "csv"
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    return "ndjson" if head.startswith(b"{") else "csv"


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def _ndjson_items(path: Path):
    """(line number, content or None, error or None) for every non-blank line."""
    with open(path, "rb") as f:
        for no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield no, None, f"not valid JSON: {exc}"
                continue
            content, err = formats.content_from_json(obj)
            yield no, content, err


def _csv_items(path: Path, summary: ImportSummary):
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            return
        for row in reader:
            no = reader.line_num
            if None in row:
                yield no, None, f"{len(row[None])} more cells than the header has columns"
                continue
            if all(v in (None, "") for v in row.values()):
                continue
            content, ignored = formats.content_from_row(row)
            summary.ignored_columns.update(ignored)
            yield no, content, None


async def import_file(path: Path, *, actor: str, fmt: str | None = None, batch: int = IMPORT_BATCH,
                      errors=None) -> ImportSummary:
    """Load records through the API's own path. Each rejected line is reported as
    `line N: field: message`; the summary counts created, duplicate (identical replay) and
    rejected lines."""
    errors = errors or sys.stderr
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    fmt = _detect_format(path, fmt)
    principal = Principal(None, actor, "admin", None)  # type: ignore[arg-type]
    summary = ImportSummary()
    started = time.monotonic()
    total = _count_lines(path) - (1 if fmt == "csv" else 0)
    bar = _progress(max(total, 0), f"import {path.name}")

    def report(no: int, message: str) -> None:
        summary.rejected += 1
        bar.clear()
        print(f"{path.name}: line {no}: {message}", file=errors)

    pending: list[tuple[int, object]] = []

    async def flush() -> None:
        if not pending:
            return
        items = [item for _, item in pending]
        prepared, rejected = await submissions.prepare(items, principal)
        for rj in rejected:
            report(pending[rj.index][0], "; ".join(f"{e['field']}: {e['message']}" for e in rj.errors))
        for o in await submissions.store(prepared, principal):
            if o.outcome == "created":
                summary.created += 1
            elif o.outcome == "duplicate":
                summary.duplicate += 1
            else:
                report(pending[o.prepared.index][0],
                       "submission_id: already stored with different content")
        bar.update(len(pending))
        bar.set_postfix(created=summary.created, rejected=summary.rejected, refresh=False)
        pending.clear()

    items = _ndjson_items(path) if fmt == "ndjson" else _csv_items(path, summary)
    for no, content, err in items:
        summary.lines += 1
        if err is not None:
            report(no, err)
            bar.update(1)
            continue
        pending.append((no, content))
        if len(pending) >= batch:
            await flush()
    await flush()
    bar.close()
    summary.seconds = time.monotonic() - started
    return summary
