"""docs/record.md, generated from the record's models (app.record.model): every field a
client sends, with its type, whether it is required, its values and what it means, then every
field the service answers with. The models are the one place a field is described (the
OpenAPI document reads the same descriptions), so the page cannot drift from what the service
accepts: tests/test_api_polish.py keeps the file equal to this output.

    python -m app.record.doc > docs/record.md
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.record.model import SubmissionKoperasi, SubmissionOut, SubmissionUmkm
from app.record.prepare import DERIVED_FIELDS, MODAL_ATAU_PENJUALAN

_TYPES = {"string": "text", "integer": "integer", "number": "number", "boolean": "boolean", "object": "object", "array": "array"}
_FORMATS = {"uuid": "UUID", "date-time": "date-time (RFC 3339)", "date": "date (YYYY-MM-DD)"}


def _plain(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema without its `null` alternative, and whether null is allowed."""
    alternatives = schema.get("anyOf")
    if not alternatives:
        return schema, False
    others = [a for a in alternatives if a.get("type") != "null"]
    merged = {**others[0], **{k: v for k, v in schema.items() if k not in ("anyOf",)}} if len(others) == 1 else schema
    return merged, len(others) < len(alternatives)


def _number(n: Any) -> str:
    if isinstance(n, int) and abs(n) >= 10**6 and str(abs(n)).rstrip("0") == "1":
        return ("-" if n < 0 else "") + f"10^{len(str(abs(n))) - 1}"
    return str(n)


def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return "object"
    kind = str(schema.get("type", "?"))
    return _FORMATS.get(str(schema.get("format")), _TYPES.get(kind, kind))


def _values(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """The values a field takes, from its JSON schema: a fixed list, a pattern, bounds."""
    if "$ref" in schema:
        sub = defs[schema["$ref"].rsplit("/", 1)[-1]]
        return "; ".join(f"`{name}` {_type(p, defs)}, {_values(p, defs)}" for name, p in sub["properties"].items())
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return ", ".join(f"`{v}`" for v in schema["enum"])
    parts = []
    if "pattern" in schema:
        parts.append(f"pattern `{schema['pattern']}`")
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and hi is not None:
        parts.append(f"{_number(lo)} to {_number(hi)}")
    elif lo is not None:
        parts.append(f"at least {_number(lo)}")
    lo, hi = schema.get("minLength"), schema.get("maxLength")
    if lo is not None or hi is not None:
        parts.append(f"{lo or 0} to {hi} characters")
    if schema.get("type") == "boolean":
        parts.append("`true`, `false`")
    return "; ".join(parts) or "-"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(model: type[BaseModel], names: list[str], *, answered: bool = False) -> list[str]:
    schema = model.model_json_schema(mode="serialization" if answered else "validation")
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    head = (
        ["| field | type | values | meaning |", "|---|---|---|---|"]
        if answered
        else ["| field | type | required | values | meaning |", "|---|---|---|---|---|"]
    )
    rows = []
    for name in names:
        raw = schema["properties"][name]
        prop, nullable = _plain(raw)
        kind = _type(prop, defs) + (" or null" if nullable else "")
        meaning = prop.get("description") or raw.get("description") or ""
        if answered:
            rows.append(f"| `{name}` | {kind} | {_cell(_values(prop, defs))} | {_cell(meaning)} |")
            continue
        if name in required:
            need = "yes"
        elif "default" in raw and raw["default"] is not None:
            need = f"no (default `{str(raw['default']).lower() if isinstance(raw['default'], bool) else raw['default']}`)"
        else:
            need = "no"
        rows.append(f"| `{name}` | {kind} | {need} | {_cell(_values(prop, defs))} | {_cell(meaning)} |")
    return head + rows


def record_markdown() -> str:
    umkm = list(SubmissionUmkm.model_fields)
    koperasi = list(SubmissionKoperasi.model_fields)
    common = [f for f in umkm if f in koperasi and f not in ("jenis", "aset", "alamat", "telepon")]
    lines = [
        "# The PL-KUMKM record",
        "",
        "What an enumerator app sends (`POST /api/v1/submissions`, `/batch`, a correction with",
        "`PUT /api/v1/submissions/{submission_id}`, `kumkm import`, an ODK form) and what the",
        "service answers. A record is one JSON object; `jenis` says which fields follow. Field",
        "names are exact, an unknown field is refused, and a refusal names every invalid field at",
        "once, each message in Indonesian and starting with the field ([errors.md](errors.md)).",
        "Text fields are trimmed of surrounding spaces. Money is integer rupiah (a JSON number",
        "without quotes, dots or commas). Personal data (NIK, nama pemilik, alamat, telepon) is",
        "masked for keys that may not see it ([authorization.md](authorization.md)).",
        "",
        "Generated from `app/record/model.py` by `python -m app.record.doc > docs/record.md`",
        "(a test keeps them equal); the same descriptions are in the OpenAPI document",
        "(`SubmissionUmkm`, `SubmissionKoperasi`, `SubmissionOut`).",
        "",
        "## Every record",
        "",
        *_table(SubmissionUmkm, common),
        "",
        '## UMKM (`"jenis": "umkm"`)',
        "",
        *_table(SubmissionUmkm, [f for f in umkm if f not in common]),
        "",
        f"One rule over two fields: {MODAL_ATAU_PENJUALAN['message']} (field `modal_usaha`).",
        "",
        '## Koperasi (`"jenis": "koperasi"`)',
        "",
        *_table(SubmissionKoperasi, [f for f in koperasi if f not in common]),
        "",
        "## Derived by the service, never sent",
        "",
        "Sending one of these is refused, with the message:",
        "",
        *[f"- `{name}`: {name} {reason}" for name, reason in DERIVED_FIELDS.items()],
        "",
        "## What the service answers",
        "",
        "`POST` (201 created, 200 for an identical replay), `GET /api/v1/submissions/{submission_id}`,",
        "the list `GET /api/v1/submissions` and a correction answer with this object (`SubmissionOut`);",
        "`data` holds the fields above as stored. Every instant, `captured_at` in `data` included, is",
        "RFC 3339 in UTC with six digits of microseconds: `2022-06-01T02:30:00.000000Z`.",
        "",
        *_table(SubmissionOut, list(SubmissionOut.model_fields), answered=True),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(record_markdown(), end="")
