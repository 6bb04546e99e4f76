"""The OpenAPI document the app serves (/openapi.json) and `kumkm openapi` commits
(openapi/openapi.json): FastAPI's document, then what FastAPI cannot be told through a route:
the record bodies the service parses itself, the problem-details shape of every error, and
NDJSON streams."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from app.core.errors import FieldError, ProblemDetails
from app.record.model import SubmissionKoperasi, SubmissionUmkm


def install(app: FastAPI) -> None:
    """The app's document, built on first use with the corrections below. Record bodies are
    parsed by the service itself (one validation path for single posts, batches and imports,
    with per-item outcomes), so FastAPI does not see their models: they are added to the
    document's components for the routes' $refs."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _, defs = models_json_schema(
                [(SubmissionUmkm, "validation"), (SubmissionKoperasi, "validation")], ref_template="#/components/schemas/{model}"
            )
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(defs.get("$defs", {}))
            _problem_responses(doc)
            _ndjson_streams(doc)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_responses(doc: dict[str, Any]) -> None:
    """Every error is RFC 9457 problem details (app/core/errors.py), FastAPI's validation errors
    included: say so in the document instead of FastAPI's default 422 shape."""
    schemas = doc["components"]["schemas"]
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["FieldError"] = FieldError.model_json_schema()
    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    problem.pop("$defs", None)
    schemas["ProblemDetails"] = problem
    content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    for path, operations in doc.get("paths", {}).items():
        for op in operations.values():
            responses = op.setdefault("responses", {})
            for code, response in list(responses.items()):
                if code.startswith(("4", "5")):
                    response["content"] = content
            if path.startswith("/api/"):
                responses.setdefault("401", {"description": "missing, unknown, revoked or expired key", "content": content})
                responses.setdefault("403", {"description": "role or wilayah scope does not allow it", "content": content})
            responses.setdefault("422", {"description": "invalid input; `errors` names each field", "content": content})
            responses["422"]["content"] = content
            responses.setdefault("default", {"description": "any other error", "content": content})


def _ndjson_streams(doc: dict[str, Any]) -> None:
    """A streamed NDJSON response declares its lines as `"model": Union[Line, EndLine]` (so
    FastAPI puts the line models in the components), which FastAPI writes as the schema of the
    whole body and merges with the body's `{"type": "string"}`: a schema nothing satisfies.
    OpenAPI 3.1 has no keyword for the items of a stream, so the body's schema becomes text that
    names its lines, and `x-itemSchema` (OpenAPI 3.2's `itemSchema`) the schema of one line."""
    for operations in doc.get("paths", {}).values():
        for op in operations.values():
            for response in op.get("responses", {}).values():
                media = response.get("content", {}).get("application/x-ndjson")
                if not media or "anyOf" not in media.get("schema", {}):
                    continue
                lines = media["schema"]["anyOf"]
                *items, end = [f"`{line['$ref'].rsplit('/', 1)[-1]}` ({line['$ref']})" for line in lines]
                media["schema"] = {
                    "type": "string",
                    "description": f"NDJSON, one JSON object per line: {' or '.join(items)} "
                    f"lines, then one {end} that ends every complete "
                    "stream. `x-itemSchema`, beside this schema, is the "
                    "schema of one line.",
                }
                media["x-itemSchema"] = {"anyOf": lines}
