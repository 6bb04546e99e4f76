"""How a record looks outside the service: one NDJSON line (the snapshot and feed shape), a
flat row (CSV and Parquet), and back from a flat row to the content the API accepts."""

from __future__ import annotations

import datetime as dt
import types
import typing
import uuid
from typing import Any

import orjson

from app.core import csvcell
from app.core.timefmt import utc_text
from app.record.model import Lokasi, SubmissionKoperasi, SubmissionUmkm
from app.security.personal import mask_record_data

# What the service keeps about a record besides its content; in the order of the columns.
META_COLUMNS = (
    "submission_id",
    "periode",
    "jenis",
    "kode_wilayah",
    "kode_provinsi",
    "kode_kabkota",
    "status",
    "version",
    "enumerator_id",
    "captured_at",
    "skala_usaha",
    "sektor",
    "pii_masked",
    "dibuat_oleh",
    "dibuat_pada",
    "diperbarui_pada",
)
# Columns a flat file may carry that are not content: the service derives or assigns them,
# so an import ignores them (and says so) instead of rejecting every line of an export.
NOT_CONTENT = frozenset(META_COLUMNS) - {"submission_id", "periode", "jenis", "kode_wilayah", "enumerator_id", "captured_at"}


def _kind(annotation: Any) -> str:
    """int, bool, lokasi or str for a content field, from the pydantic model itself so the
    columns can never disagree with the API."""
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is Lokasi:
        return "lokasi"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = {_kind(a) for a in typing.get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else "str"
    return "str"


CONTENT_KINDS: dict[str, str] = {}
for _model in (SubmissionUmkm, SubmissionKoperasi):
    for _name, _field in _model.model_fields.items():
        CONTENT_KINDS.setdefault(_name, _kind(_field.annotation))

CONTENT_COLUMNS: tuple[str, ...] = tuple(
    col
    for name, kind in CONTENT_KINDS.items()
    if name not in META_COLUMNS
    for col in ((f"{name}_lat", f"{name}_lon") if kind == "lokasi" else (name,))
)
COLUMNS = META_COLUMNS + CONTENT_COLUMNS
INT_COLUMNS = frozenset({"version"} | {c for c, k in CONTENT_KINDS.items() if k == "int"})
BOOL_COLUMNS = frozenset({"pii_masked"} | {c for c, k in CONTENT_KINDS.items() if k == "bool"})
FLOAT_COLUMNS = frozenset({"lokasi_lat", "lokasi_lon"})
TIME_COLUMNS = frozenset({"captured_at", "dibuat_pada", "diperbarui_pada"})


def record_line(line: str, pii: bool) -> str:
    """The stored line of a record (sync_records.line, personal data included) as this caller
    may see it: unchanged, or with its content masked."""
    if pii:
        return line
    return orjson.dumps(_masked(orjson.loads(line))).decode()


def _masked(record: dict[str, Any]) -> dict[str, Any]:
    record["pii_masked"] = True
    record["data"] = mask_record_data(record["data"])
    return record


# sync_record_line() ends every stored line with the flag and then the content, so a masked
# line is the stored one with only its content parsed and masked: the rest of the line (the
# feed's cursor and change fields too) is copied as it is. The first match is the record's
# own: before it there are only the service's own fields, and a JSON string cannot hold an
# unescaped quote, so no value can imitate it.
_PLAIN = b',"pii_masked":false,"data":'
_MASKED = b',"pii_masked":true,"data":'
_NO_RECORD = b'"record":null}'


def mask_lines(block: bytes, nested: bool) -> bytes:
    """Whole NDJSON lines as COPY gives them, each either a stored line (a snapshot's,
    `nested` false) or a feed line carrying one under "record" (`nested` true), with every
    record's content masked as record_line() masks it. A masked feed page or snapshot costs
    the service one parse of each record's content instead of the whole line, a cursor and
    a row of Python objects (bench: `./dev bench sync --masked`)."""
    tail = 2 if nested else 1
    lines = block.split(b"\n")
    for i, line in enumerate(lines):
        at = line.find(_PLAIN)
        if at >= 0:
            end = len(line) - tail
            data = mask_record_data(orjson.loads(line[at + len(_PLAIN) : end]))
            lines[i] = b"".join((line[:at], _MASKED, orjson.dumps(data), line[end:]))
        elif line and not (nested and line.endswith(_NO_RECORD)):
            # not the shape sync_record_line() renders (never, today): masked the long way,
            # so a line of another shape can never leave with its personal data
            obj = orjson.loads(line)
            if not nested:
                obj = _masked(obj)
            elif obj.get("record") is not None:
                obj["record"] = _masked(obj["record"])
            lines[i] = orjson.dumps(obj)
    return b"\n".join(lines)


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """A record (the NDJSON shape) as one flat row keyed by COLUMNS."""
    data = record.get("data") or {}
    row = {c: record.get(c) for c in META_COLUMNS}
    for c in CONTENT_COLUMNS:
        if c in FLOAT_COLUMNS:
            lokasi = data.get("lokasi") or {}
            row[c] = lokasi.get(c.rsplit("_", 1)[1])
        else:
            row[c] = data.get(c)
    return row


def csv_value(v: object) -> str:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return csvcell.text_cell(v)
    return str(v)


_TRUE = {"true", "1", "ya", "y", "yes", "t"}
_FALSE = {"false", "0", "tidak", "n", "no", "f"}


MASKED = "pii_masked: this record's personal data is masked; it cannot be imported"


def content_from_row(row: dict[str, str]) -> tuple[dict[str, Any], list[str], str | None]:
    """The content (what the API accepts) of one CSV row, the columns that were ignored
    because the service derives them, and an error for a row that cannot be imported (its
    personal data is masked, as in an export with --mask-pii). Empty cells are absent fields.
    A value that does not convert is passed on as text, so validation names the field and
    what is wrong."""
    content: dict[str, Any] = {}
    ignored: list[str] = []
    lokasi: dict[str, Any] = {}
    for col, raw in row.items():
        col = col.strip()
        value: Any = csvcell.read_cell(raw.strip()) if isinstance(raw, str) else raw
        if col in NOT_CONTENT:
            ignored.append(col)
            if col == "pii_masked" and isinstance(value, str) and value.lower() in _TRUE:
                return {}, ignored, MASKED
            continue
        if value is None or value == "":
            continue
        if col in FLOAT_COLUMNS:
            try:
                lokasi[col.rsplit("_", 1)[1]] = float(value)
            except ValueError:
                lokasi[col.rsplit("_", 1)[1]] = value
            continue
        kind = CONTENT_KINDS.get(col)
        if kind == "int":
            try:
                value = int(value)
            except ValueError:
                pass
        elif kind == "bool":
            low = value.lower()
            value = True if low in _TRUE else False if low in _FALSE else value
        content[col] = value
    if lokasi:
        content["lokasi"] = lokasi
    return content, ignored, None


def content_from_typed(row: dict[str, Any]) -> tuple[dict[str, Any], list[str], str | None]:
    """The same for a row of typed values (the Parquet export: integers, booleans, floats and
    UTC timestamps; text as stored, with no spreadsheet escaping)."""
    content: dict[str, Any] = {}
    ignored: list[str] = []
    lokasi: dict[str, Any] = {}
    for col, value in row.items():
        if col in NOT_CONTENT:
            ignored.append(col)
            if col == "pii_masked" and value is True:
                return {}, ignored, MASKED
            continue
        if value is None:
            continue
        if col in FLOAT_COLUMNS:
            lokasi[col.rsplit("_", 1)[1]] = value
        elif isinstance(value, dt.datetime):
            content[col] = utc_text(value)
        else:
            content[col] = value
    if lokasi:
        content["lokasi"] = lokasi
    return content, ignored, None


def content_from_json(obj: Any) -> tuple[object, str | None]:
    """The content of one NDJSON line: bare content as the API takes it, or a record as the
    snapshot, the feed or `kumkm export` write it (its `data`). Returns (content, error)."""
    if isinstance(obj, dict):
        if isinstance(obj.get("record"), dict):  # a feed line
            obj = obj["record"]
        if isinstance(obj.get("data"), dict) and "pii_masked" in obj:
            if obj["pii_masked"]:
                return None, MASKED
            return obj["data"], None
    return obj, None


def parse_uuid(v: object) -> str | None:
    try:
        return str(uuid.UUID(str(v)))
    except ValueError:
        return None
