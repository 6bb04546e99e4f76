"""One error shape for every failure: RFC 9457 problem details, with `errors` naming each
field and its reason so an enumerator app can point at the input to fix."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("kumkm.errors")

MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str
    type: str | None = None


class ProblemDetails(BaseModel):
    model_config = {"extra": "allow"}  # e.g. the current state and version on a 409

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 errors: list[dict] | None = None, headers: dict | None = None, **extra: Any):
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra

    def body(self) -> dict:
        out: dict[str, Any] = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extra)
        return out


def problem_response(p: Problem) -> JSONResponse:
    return JSONResponse(p.body(), status_code=p.status, media_type=MEDIA_TYPE, headers=p.headers)


# Domains register a better message for fields a client must not send (e.g. derived ones).
UNKNOWN_FIELD_HINTS: dict[str, str] = {}

_UNION_TAGS = {"umkm", "koperasi", "SubmissionUmkm", "SubmissionKoperasi"}


def field_path(loc: tuple | list) -> str:
    """('body', 'umkm', 'nik_pemilik') -> 'nik_pemilik'; ('query', 'limit') -> 'limit'.
    The discriminated-union tag that pydantic puts in the path is not a field the client sent."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    parts = [p for p in parts if p not in _UNION_TAGS and not p.startswith("function-")]
    return ".".join(parts) or "body"


def pydantic_errors(errors: list[dict], prefix: tuple = ()) -> list[dict]:
    out = []
    for e in errors:
        msg = e.get("msg", "invalid")
        field = field_path(tuple(prefix) + tuple(e.get("loc", ())))
        if e.get("type") in ("union_tag_invalid", "union_tag_not_found"):
            tag = str((e.get("ctx") or {}).get("discriminator", "")).strip("'")
            field = f"{field}.{tag}" if field != "body" else tag
        if e.get("type") == "extra_forbidden":
            msg = UNKNOWN_FIELD_HINTS.get(field, "unknown field")
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        out.append({"field": field, "message": msg,
                    "type": e.get("type")})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem):
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return problem_response(Problem(400, "Malformed JSON", "the request body is not valid JSON",
                                            errors=pydantic_errors(errs)))
        return problem_response(Problem(422, "Invalid input", "one or more fields are invalid",
                                        errors=pydantic_errors(errs)))

    @app.exception_handler(ValidationError)
    async def _model_validation(_: Request, exc: ValidationError):
        return problem_response(Problem(422, "Invalid input", "one or more fields are invalid",
                                        errors=pydantic_errors(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        return problem_response(Problem(exc.status_code, _title(exc.status_code), str(exc.detail),
                                        headers=getattr(exc, "headers", None)))

    from asyncpg import PostgresError
    from asyncpg.exceptions import InterfaceError as DriverInterfaceError
    from asyncpg.exceptions import InternalClientError
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PostgresError)  # statements run on the driver connection (db.driver)
    @app.exception_handler(DriverInterfaceError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OSError)        # connecting: refused, reset, unreachable
    @app.exception_handler(InternalClientError)  # a connection left broken by a lost server
    async def _database(request: Request, exc: Exception):
        p = database_problem(exc)
        if p is None:
            log.exception("database error on %s %s", request.method, request.url.path)
            return problem_response(Problem(500, "Internal Server Error", "an unexpected error occurred"))
        if p.status >= 500:
            log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                        _describe(exc))
        return problem_response(p)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "Internal Server Error", "an unexpected error occurred"))


# Seconds a client is asked to wait when the database is busy or away: long enough for a pool
# slot to free or a restarted server to finish crash recovery, short enough for a phone.
RETRY_AFTER_SECONDS = 2


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps, outermost first: SQLAlchemy's error around the asyncpg
    adapter's around asyncpg's own (a few levels at most)."""
    for _ in range(6):
        yield exc
        inner = getattr(exc, "orig", None) or exc.__cause__
        if inner is None:
            return
        exc = inner


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, however it is wrapped."""
    for e in _chain(exc):
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def _root(exc: BaseException) -> BaseException:
    *_, innermost = _chain(exc)
    return innermost


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""


def _describe(exc: BaseException) -> str:
    root = _root(exc)
    return f"{type(root).__name__}: {_first_line(root)}"


def unavailable(detail: str = "the database is unavailable; try again shortly") -> Problem:
    return Problem(503, "Service Unavailable", detail,
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def database_problem(exc: BaseException) -> Problem | None:
    """What a database failure means for the client, or None for a fault of this service.

    Input PostgreSQL cannot store or compute with (SQLSTATE class 22: out-of-range numbers and
    dates, NUL or invalid bytes in text; the driver's own refusal to encode a value) is the
    client's error: 422, the failed statement rolled back and nothing is half-written. A
    database that is busy (pool exhausted), away or restarting (class 08, 57P, connection
    refused or reset) is 503 with Retry-After; a full disk (53100) is 507."""
    from asyncpg.exceptions import InterfaceError as DriverInterfaceError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout):
        return unavailable("every database connection is busy; try again shortly")
    state = sqlstate_of(exc)
    root = _root(exc)
    if state is not None:
        if state in ("22P05", "22021"):
            return Problem(422, "Invalid input", "text must not contain NUL (U+0000) or invalid characters")
        if state.startswith("22"):
            # asyncpg's refusal to encode an argument (22000) names it only by position, and
            # PostgreSQL's own message names the value: say what it was, never the SQL.
            reason = _first_line(root) or "out of range"
            return Problem(422, "Invalid input", "a value is out of the range the registry can "
                                                 f"store or compute with: {reason}")
        if state.startswith(("08", "57P")) or state in ("53300", "53200"):
            return unavailable()
        if state == "53100":
            return Problem(507, "Insufficient Storage",
                           "the database server has no disk space left; nothing was written. "
                           "Try again later", headers={"Retry-After": "60"})
        return None
    if isinstance(root, OSError) or (isinstance(root, DriverInterfaceError) and "closed" in str(root)):
        return unavailable()
    from asyncpg.exceptions import InternalClientError

    if isinstance(root, InternalClientError) and "another operation" in str(root):
        # A pooled connection whose server died while it sat idle (a killed postmaster's
        # backends say FATAL on their way out) is found in that state on its next use; the
        # connection is discarded (db.driver) and the client asked to try again.
        return unavailable()
    return None


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
