"""`kumkm import`: records in from NDJSON or CSV through exactly the API's validation and
idempotency (app.core.record.prepare, then service.store), in batches, with every rejected line
reported by its line number."""
from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from app.core.access import Principal
from app.core.cli import UsageError, progress
from app.core.record import flat
from app.core.record.prepare import prepare
from app.submissions import service

IMPORT_BATCH = 1000


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
            content, ignored = flat.content_from_row(row)
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
    principal = Principal.operator(actor)
    summary = ImportSummary()
    started = time.monotonic()
    total = _count_lines(path) - (1 if fmt == "csv" else 0)
    bar = progress(max(total, 0), f"import {path.name}")

    def report(no: int, message: str) -> None:
        summary.rejected += 1
        bar.clear()
        print(f"{path.name}: line {no}: {message}", file=errors)

    pending: list[tuple[int, object]] = []

    async def flush() -> None:
        if not pending:
            return
        items = [item for _, item in pending]
        prepared, rejected = await prepare(items, principal)
        for rj in rejected:
            report(pending[rj.index][0], "; ".join(f"{e['field']}: {e['message']}" for e in rj.errors))
        for o in await service.store(prepared, principal):
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
