"""`kumkm import`: records in from NDJSON, CSV or Parquet through exactly the API's validation and
idempotency (app.record.prepare, then service.store), in batches, with every rejected line
reported by its line number."""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from app.core.console import UsageError, progress
from app.record import flat
from app.security.principal import Principal
from app.submissions import service

IMPORT_BATCH = 1000
FORMATS = ("ndjson", "csv", "parquet")
PARQUET_MAGIC = b"PAR1"


@dataclass
class ImportSummary:
    lines: int = 0
    created: int = 0
    duplicate: int = 0
    rejected: int = 0
    ignored_columns: set[str] = field(default_factory=set)
    seconds: float = 0.0


def _detect_format(path: Path, forced: str | None) -> str:
    with open(path, "rb") as f:
        head = f.read(4096)
    if forced:
        if forced != "parquet" and head.startswith(PARQUET_MAGIC):
            raise UsageError(f"{path}: this is a Parquet file, not {forced}: leave out --format (or give --format parquet)")
        return forced
    if head.startswith(PARQUET_MAGIC) or path.suffix.lower() in (".parquet", ".pq"):
        return "parquet"
    ext = path.suffix.lower()
    if ext in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    if ext == ".csv":
        return "csv"
    return "ndjson" if head.lstrip().startswith(b"{") else "csv"


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def _ndjson_items(path: Path, summary: ImportSummary):
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
            content, err = flat.content_from_json(obj)
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
            content, ignored, err = flat.content_from_row(row)
            summary.ignored_columns.update(ignored)
            yield no, content, err


def _parquet_items(path: Path, summary: ImportSummary):
    """Rows of a Parquet file (as `kumkm export --format parquet` writes it), numbered from 1."""
    import pyarrow.parquet as pq

    no = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=IMPORT_BATCH):
        for row in batch.to_pylist():
            no += 1
            content, ignored, err = flat.content_from_typed(row)
            summary.ignored_columns.update(ignored)
            yield no, content, err


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception as exc:  # pyarrow's errors for a damaged or foreign file vary
        raise UsageError(f"{path}: cannot be read as Parquet ({exc})") from None


async def import_file(
    path: Path, *, actor: str, fmt: str | None = None, batch: int = IMPORT_BATCH, errors=None, name: str | None = None
) -> ImportSummary:
    """Load records through the API's own path. Each rejected line is reported as
    `FILE: line N: message` (`row N` in Parquet), in line order, FILE as the caller gave it
    (`name`); the summary counts created, duplicate (identical replay) and rejected lines."""
    errors = errors or sys.stderr
    shown = name or str(path)
    if not path.is_file():
        raise UsageError(f"{shown}: no such file")
    fmt = _detect_format(path, fmt)
    principal = Principal.operator(actor)
    summary = ImportSummary()
    started = time.monotonic()
    if fmt == "parquet":
        total = _parquet_rows(path)
    else:
        total = _count_lines(path) - (1 if fmt == "csv" else 0)
    bar = progress(max(total, 0), f"import {path.name}")
    unit = "row" if fmt == "parquet" else "line"
    # Refusals of the lines read since the last batch was stored; printed sorted when it is,
    # so the report reads in file order whatever step refused a line.
    refused: list[tuple[int, str]] = []

    def report(no: int, message: str) -> None:
        summary.rejected += 1
        refused.append((no, message))

    def say() -> None:
        if refused:
            bar.clear()
            for no, message in sorted(refused):
                print(f"{shown}: {unit} {no}: {message}", file=errors)
            refused.clear()

    pending: list[tuple[int, object]] = []

    async def flush() -> None:
        if pending:
            items = [item for _, item in pending]
            prepared, rejected = await service.prepare(items, principal)
            for rj in rejected:
                report(pending[rj.index][0], "; ".join(_message(e) for e in rj.errors))
            for o in await service.store(prepared, principal):
                if o.outcome == "created":
                    summary.created += 1
                elif o.outcome == "duplicate":
                    summary.duplicate += 1
                elif o.rejected is not None:
                    report(pending[o.prepared.index][0], "; ".join(_message(e) for e in o.rejected.errors))
                else:
                    report(pending[o.prepared.index][0], "submission_id: already stored with different content")
            bar.update(len(pending))
            bar.set_postfix(created=summary.created, rejected=summary.rejected, refresh=False)
            pending.clear()
        say()

    readers = {"ndjson": _ndjson_items, "csv": _csv_items, "parquet": _parquet_items}
    try:
        for no, content, err in readers[fmt](path, summary):
            summary.lines += 1
            if err is not None:
                report(no, err)
                bar.update(1)
                continue
            pending.append((no, content))
            if len(pending) >= batch:
                await flush()
    except UnicodeDecodeError as exc:
        await flush()
        raise UsageError(
            f"{shown}: not UTF-8 text (byte {exc.start} of a line); kumkm import reads "
            f"NDJSON or CSV in UTF-8, or Parquet as kumkm export writes it"
        ) from None
    await flush()
    bar.close()
    summary.seconds = time.monotonic() - started
    return summary


def _message(e: dict) -> str:
    """An error entry as one phrase: its message names the field already, or is prefixed with it."""
    message, name = e["message"], e["field"]
    return message if message.startswith(name) else f"{name}: {message}"
