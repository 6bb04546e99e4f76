"""Request plumbing shared by the batch endpoints (records and verification decisions): the
body is read raw, so that one bad item is an outcome of its own instead of failing the whole
request in FastAPI's validation."""
from __future__ import annotations

import orjson
from fastapi import Request

from app.core.errors import INVALID, MALFORMED, TOO_LARGE
from app.core.settings import settings


def body_schema(item_schema: dict) -> dict:
    """The OpenAPI request body of a batch endpoint: `{"items": [...]}` with 1 to the limit."""
    return {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["items"],
            "additionalProperties": False,
            "properties": {"items": {
                "type": "array", "minItems": 1, "maxItems": settings.batch_max_items,
                "items": item_schema,
            }},
        }}},
    }


async def read_json(request: Request):
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise MALFORMED(f"the request body is not valid JSON: {exc}") from None


async def read_items(request: Request) -> list:
    """The `items` of a `{"items": [...]}` body, checked for shape and size (1 to the limit)."""
    payload = await read_json(request)
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        raise INVALID("the body must be an object with an `items` array",
                      errors=[{"field": "items", "message": "required array"}])
    extra = set(payload) - {"items"}
    if extra:
        raise INVALID("unknown fields in the batch body",
                      errors=[{"field": f, "message": "unknown field"} for f in sorted(extra)])
    items = payload["items"]
    if not items:
        raise INVALID("a batch needs at least one item",
                      errors=[{"field": "items", "message": "at least 1 item"}])
    if len(items) > settings.batch_max_items:
        raise TOO_LARGE(f"a batch holds at most {settings.batch_max_items} items; got {len(items)}",
                      errors=[{"field": "items", "message": f"at most {settings.batch_max_items} items"}])
    return items
