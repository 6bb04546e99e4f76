"""Request plumbing shared by the batch endpoints (records and verification decisions): the
body is read raw, so that one bad item is an outcome of its own instead of failing the whole
request in FastAPI's validation."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from app.core.errors import INVALID, MALFORMED, TOO_LARGE, joined, json_position
from app.core.settings import settings


def body_schema(item_schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of a batch endpoint: `{"items": [...]}` with 1 to the limit."""
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["items"],
                    "additionalProperties": False,
                    "properties": {
                        "items": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": settings.batch_max_items,
                            "items": item_schema,
                        }
                    },
                }
            }
        },
    }


async def read_json(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise MALFORMED(
            "body bukan JSON yang sah" + json_position(str(exc)),
            errors=[{"field": "body", "message": "body bukan JSON yang sah" + json_position(str(exc)), "type": "json_invalid"}],
        ) from None


async def read_items(request: Request) -> list[Any]:
    """The `items` of a `{"items": [...]}` body, checked for shape and size (1 to the limit)."""
    payload = await read_json(request)
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        errors = [{"field": "items", "type": "missing", "message": 'items wajib diisi: body batch adalah objek {"items": [...]}'}]
        raise INVALID(joined(errors), errors=errors)
    extra = set(payload) - {"items"}
    if extra:
        errors = [
            {"field": f, "type": "extra_forbidden", "message": f"{f} tidak dikenal: body batch hanya memuat items"} for f in sorted(extra)
        ]
        raise INVALID(joined(errors), errors=errors)
    items: list[Any] = payload["items"]
    if not items:
        errors = [{"field": "items", "type": "too_short", "message": "items paling sedikit 1 item"}]
        raise INVALID(joined(errors), errors=errors)
    if len(items) > settings.batch_max_items:
        message = f"items paling banyak {settings.batch_max_items} item; yang dikirim {len(items)}"
        raise TOO_LARGE(message, errors=[{"field": "items", "type": "too_long", "message": message}])
    return items
