"""One error shape for every failure: RFC 9457 problem details, with `errors` naming each
field and its reason so an enumerator app can point at the input to fix."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

log = logging.getLogger("kumkm.errors")

MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str
    type: str | None = None


class ProblemDetails(BaseModel):
    model_config = {"extra": "allow"}  # e.g. the current state and version on a 409

    type: str = Field("about:blank", description="urn:kumkm:problem:<code>")
    code: str = Field("", description="stable machine-readable problem code; see docs/errors.md")
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


TYPE_PREFIX = "urn:kumkm:problem:"


class Problem(Exception):
    """An answer other than success. Raise one from a catalog entry (`NOT_FOUND("...")`), so
    the status, title and code of every kind of failure are decided here once."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        **extra: Any,
    ):
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.code = code or _DEFAULT_CODE.get(status, "error")
        self.extra = extra

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": TYPE_PREFIX + self.code, "code": self.code, "title": self.title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if self.errors:
            out["errors"] = self.errors
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class ProblemType:
    """One kind of failure: a stable code clients may branch on, its HTTP status and title.
    Services raise these (or return them in per-item outcomes); routers never pick a status."""

    code: str
    status: int
    title: str
    about: str

    def __call__(
        self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None, **extra: Any
    ) -> Problem:
        return Problem(self.status, self.title, detail, errors=errors, headers=headers, code=self.code, **extra)


CATALOG: dict[str, ProblemType] = {}


def _kind(code: str, status: int, title: str, about: str) -> ProblemType:
    kind = ProblemType(code, status, title, about)
    CATALOG[code] = kind
    return kind


MALFORMED = _kind("malformed-json", 400, "Malformed JSON", "the body is not valid JSON")
BAD_REQUEST = _kind("bad-request", 400, "Bad Request", "the request cannot be read (e.g. a bad cursor)")
UNAUTHORIZED = _kind("unauthorized", 401, "Unauthorized", "no API key, or one that is unknown, revoked or expired")
ROLE_FORBIDDEN = _kind("role-forbidden", 403, "Forbidden", "the key's role may not do this")
OUTSIDE_SCOPE = _kind("outside-scope", 403, "Forbidden", "the wilayah is outside the key's scope")
FORBIDDEN = _kind("forbidden", 403, "Forbidden", "refused for another reason the detail names")
NOT_FOUND = _kind("not-found", 404, "Not Found", "no such record, wilayah, version, target or indicator")
METHOD_NOT_ALLOWED = _kind(
    "method-not-allowed", 405, "Method Not Allowed", "the path does not serve this HTTP method; the `Allow` header names those it does"
)
STATE_CONFLICT = _kind(
    "state-conflict",
    409,
    "Conflict",
    "the record is no longer at the version/status the request saw; the body carries current_status and current_version",
)
CONTENT_CONFLICT = _kind("content-conflict", 409, "Conflict", "the submission_id was already stored with different content")
ALREADY_EXISTS = _kind("already-exists", 409, "Conflict", "an item with this key already exists")
CONFLICT = _kind("conflict", 409, "Conflict", "the request conflicts with what is stored")
TOO_LARGE = _kind("payload-too-large", 413, "Payload Too Large", "the body or batch exceeds the limit")
UNSUPPORTED_MEDIA = _kind("unsupported-media-type", 415, "Unsupported Media Type", "the body is not of the media type the route takes")
INVALID = _kind("invalid-input", 422, "Invalid input", "one or more fields are invalid; `errors` names each")
ATTACHMENT_REFUSED = _kind(
    "attachment-refused",
    422,
    "Attachment refused",
    "an OpenRosa submission carried a file, which the PL-KUMKM form never asks for; nothing was stored (docs/openrosa.md)",
)
TOO_MANY = _kind("too-many-requests", 429, "Too Many Requests", "a limit is reached; wait Retry-After seconds")
INTERNAL = _kind("internal-error", 500, "Internal Server Error", "a fault of this service (logged)")
UNAVAILABLE = _kind(
    "database-unavailable", 503, "Service Unavailable", "the database is busy, away or restarting; wait Retry-After seconds"
)
SERVER_BUSY = _kind(
    "server-busy",
    503,
    "Service Unavailable",
    "this process is doing as much of this work at once as it allows (e.g. reading "
    "OpenRosa submissions, or holding open connections, docs/limits.md); wait "
    "Retry-After seconds",
)
NO_SPACE = _kind("insufficient-storage", 507, "Insufficient Storage", "the database server's disk is full; nothing was written")

_DEFAULT_CODE = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    429: "too-many-requests",
    500: "internal-error",
    503: "database-unavailable",
    507: "insufficient-storage",
}


def invalid_field(field: str, reason: str) -> Problem:
    """422 for one named field: `reason` continues a sentence that starts with the field's name
    ("periode" + "tidak dikenal: 1999"), as every field message does (docs/decisions.md)."""
    message = f"{field} {reason}"
    return INVALID(message, errors=[{"field": field, "message": message, "type": "value_error"}])


def joined(errors: list[dict[str, Any]]) -> str:
    """The `detail` of a problem with field errors: their messages, joined."""
    return "; ".join(str(e["message"]) for e in errors)


def catalog_markdown() -> str:
    """docs/errors.md, generated from the catalog (a test keeps them equal)."""
    lines = [
        "# Error catalog",
        "",
        "Every error is an RFC 9457 problem-details body (`application/problem+json`) with a",
        "stable `code` (also in `type` as `urn:kumkm:problem:<code>`), the HTTP `status`, a",
        "`title`, a `detail` sentence and, for input errors, `errors`: one entry per field with",
        "its reason. Clients branch on `code`, never on `detail`. Generated from",
        "`app/core/errors.py` by `python -m app.core.errors > docs/errors.md`.",
        "",
        "| code | status | meaning |",
        "|---|---|---|",
    ]
    for kind in sorted(CATALOG.values(), key=lambda k: (k.status, k.code)):
        lines.append(f"| `{kind.code}` | {kind.status} | {kind.about} |")
    return "\n".join(lines) + "\n"


def route_of(request: Request) -> str:
    """The route template for a log line, never the filled-in path: a path can carry a secret
    (the OpenRosa routes have the enumerator's key in it) or personal data."""
    return str(getattr(request.scope.get("route"), "path", None) or "unmatched")


def problem_response(p: Problem) -> JSONResponse:
    return JSONResponse(p.body(), status_code=p.status, media_type=MEDIA_TYPE, headers=p.headers)


# Domains register a better message for fields a client must not send (e.g. derived ones),
# and for what a field's pattern asks for (keyed by the pattern).
UNKNOWN_FIELD_HINTS: dict[str, str] = {}
PATTERN_HINTS: dict[str, str] = {}

_UNION_TAGS = {"umkm", "koperasi", "SubmissionUmkm", "SubmissionKoperasi"}
_DIGITS = re.compile(r"^\^\[0-9\]\{([0-9]+)\}\$$")


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'umkm', 'nik_pemilik') -> 'nik_pemilik'; ('query', 'limit') -> 'limit'.
    The discriminated-union tag that pydantic puts in the path is not a field the client sent."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    parts = [p for p in parts if p not in _UNION_TAGS and not p.startswith("function-")]
    return ".".join(parts) or "body"


def _choices(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" as "a, b atau c"."""
    names: list[str] = re.findall(r"'([^']*)'", expected)
    if not names:
        return expected
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " atau " + names[-1]


_REASONS: dict[str, str] = {
    "missing": "wajib diisi",
    "string_type": "harus berupa teks",
    "string_too_long": "paling banyak {max_length} karakter",
    "int_type": "harus bilangan bulat (angka JSON tanpa tanda kutip, titik ribuan atau koma)",
    "int_parsing": "harus bilangan bulat",
    "int_from_float": "harus bilangan bulat, tanpa pecahan",
    "bool_type": "harus true atau false",
    "bool_parsing": "harus true atau false",
    "float_type": "harus angka",
    "float_parsing": "harus angka",
    "finite_number": "harus angka terhingga",
    "greater_than_equal": "paling kecil {ge}",
    "greater_than": "harus lebih dari {gt}",
    "less_than_equal": "paling besar {le}",
    "less_than": "harus kurang dari {lt}",
    "uuid_type": "harus UUID, mis. 7b0d6c1e-4a8e-4b55-9a3f-2f1d8e6b9c01",
    "uuid_parsing": "harus UUID, mis. 7b0d6c1e-4a8e-4b55-9a3f-2f1d8e6b9c01",
    "datetime_type": "harus tanggal dan waktu RFC 3339 dengan zona waktu, mis. 2022-06-01T09:30:00+07:00",
    "datetime_parsing": "harus tanggal dan waktu RFC 3339 dengan zona waktu, mis. 2022-06-01T09:30:00+07:00",
    "datetime_from_date_parsing": "harus tanggal dan waktu RFC 3339 dengan zona waktu, mis. 2022-06-01T09:30:00+07:00",
    "date_type": "harus tanggal YYYY-MM-DD",
    "date_parsing": "harus tanggal YYYY-MM-DD",
    "date_from_datetime_parsing": "harus tanggal YYYY-MM-DD",
    "model_type": "harus objek JSON ({...})",
    "model_attributes_type": "harus objek JSON ({...})",
    "dict_type": "harus objek JSON ({...})",
    "list_type": "harus array JSON ([...])",
    "too_short": "paling sedikit {min_length} item",
    "too_long": "paling banyak {max_length} item",
    "decimal_type": "harus angka desimal",
    "decimal_parsing": "harus angka desimal",
    "json_invalid": "bukan JSON yang sah",
    "multiple_of": "harus kelipatan {multiple_of}",
    "decimal_max_digits": "paling banyak {max_digits} angka",
    "decimal_max_places": "paling banyak {decimal_places} angka desimal",
    "decimal_whole_digits": "paling banyak {whole_digits} angka sebelum titik desimal",
    "time_type": "harus waktu HH:MM:SS",
    "time_parsing": "harus waktu HH:MM:SS",
    "timezone_aware": "harus memuat zona waktu (mis. +07:00 atau Z)",
    "timezone_naive": "tidak boleh memuat zona waktu",
    "none_required": "harus null",
    "set_type": "harus array JSON ([...]) tanpa nilai kembar",
    "string_unicode": "harus teks UTF-8 yang sah",
}


_POSITION = re.compile(r"line (\d+) column (\d+)")


def json_position(parser_message: str) -> str:
    """Where a JSON parser stopped, from its English message, in Indonesian: " (baris 1,
    kolom 16)", or "" when it does not say."""
    m = _POSITION.search(parser_message)
    return f" (baris {m.group(1)}, kolom {m.group(2)})" if m else ""


def _reason(e: Mapping[str, Any], field: str) -> str:
    """Why the field is invalid, in Indonesian (docs/decisions.md: the people reading these
    are the developers of enumerator apps and the dinas, in Indonesia)."""
    typ = e.get("type") or ""
    ctx = e.get("ctx") or {}
    if typ == "extra_forbidden":
        return UNKNOWN_FIELD_HINTS.get(field, "tidak dikenal: field ini tidak ada di formulir (periksa ejaannya)")
    if typ == "string_too_short":
        return "tidak boleh kosong" if ctx.get("min_length") == 1 else "paling sedikit {min_length} karakter".format(**ctx)
    if typ == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if pattern in PATTERN_HINTS:
            return PATTERN_HINTS[pattern]
        digits = _DIGITS.match(pattern)
        return f"harus tepat {digits.group(1)} angka" if digits else f"tidak sesuai pola {pattern}"
    if typ == "json_invalid":
        return "bukan JSON yang sah" + json_position(str(ctx.get("error", "")))
    if typ in ("literal_error", "enum"):
        return "harus salah satu dari: " + _choices(str(ctx.get("expected", "")))
    template = _REASONS.get(typ)
    if template is not None:
        try:
            return template.format(**ctx)
        except (KeyError, IndexError, ValueError):
            return template
    # A type without words of its own: pydantic's English `msg` would break the Indonesian
    # list; `type` beside the message names the rule for the app's developer.
    return "tidak sah"


def pydantic_errors(errors: Iterable[Mapping[str, Any]], prefix: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """pydantic's errors as `errors` entries: the field's path and a message that starts with
    it ("nik_pemilik wajib diisi"), so each message stands on its own where an app shows it."""
    out = []
    for e in errors:
        field = field_path(tuple(prefix) + tuple(e.get("loc", ())))
        typ = e.get("type")
        if typ in ("union_tag_invalid", "union_tag_not_found"):
            ctx = e.get("ctx") or {}
            tag = str(ctx.get("discriminator", "")).strip("'")
            field = f"{field}.{tag}" if field != "body" else tag
            if typ == "union_tag_not_found":
                msg = f"{field} wajib diisi"
            else:
                msg = f"{field} harus salah satu dari: {_choices(str(ctx.get('expected_tags', '')))}"
        elif typ in ("value_error", "assertion_error"):
            # our own validators' words, which name the field themselves
            msg = str(e.get("msg", ""))
            for lead in ("Value error, ", "Assertion failed, "):
                if msg.startswith(lead):
                    msg = msg[len(lead) :]
            if field != "body" and not msg.startswith(field.rsplit(".", 1)[-1]):
                msg = f"{field}: {msg}"
        else:
            msg = f"{field} {_reason(e, field)}"
        out.append({"field": field, "message": msg, "type": typ})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return problem_response(MALFORMED("body bukan JSON yang sah", errors=pydantic_errors(errs)))
        errors = pydantic_errors(errs)
        return problem_response(INVALID(joined(errors), errors=errors))

    @app.exception_handler(ValidationError)
    async def _model_validation(_: Request, exc: ValidationError) -> JSONResponse:
        errors = pydantic_errors(exc.errors())
        return problem_response(INVALID(joined(errors), errors=errors))

    @app.exception_handler(ClientDisconnect)
    async def _gone(_: Request, exc: ClientDisconnect) -> Response:
        # The client closed its connection before its body had all come (a phone losing its
        # signal): nothing was stored, since the body was never whole, and nobody is left to
        # answer. Not the service's fault: 499 in the access log and the metrics (nginx's
        # "client closed request"), not a 500 with a traceback.
        return Response(status_code=CLIENT_GONE)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, ClientDisconnect):
            return Response(status_code=CLIENT_GONE)  # FastAPI's 400 for a body it could not read
        detail = str(exc.detail)
        if detail == _title(exc.status_code):
            # Starlette's own (an unknown path, a method the path does not serve): its English
            # phrase is already the title; the detail says it in the users' words.
            detail = _HTTP_DETAIL.get(exc.status_code, "permintaan ini tidak dapat dilayani")
        return problem_response(Problem(exc.status_code, _title(exc.status_code), detail, headers=getattr(exc, "headers", None)))

    from asyncpg import PostgresError
    from asyncpg.exceptions import InterfaceError as DriverInterfaceError
    from asyncpg.exceptions import InternalClientError as DriverClientError
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PostgresError)  # statements run on the driver connection (db.driver)
    @app.exception_handler(DriverInterfaceError)
    @app.exception_handler(DriverClientError)  # a broken connection's protocol; no primary found
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OSError)  # connecting: refused, reset, unreachable
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        p = database_problem(exc)
        if p is None:
            log.exception("database error on %s %s", request.method, route_of(request))
            return problem_response(INTERNAL(_INTERNAL_DETAIL))
        _note(exc, p)
        return problem_response(p)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A database fault can arrive wrapped where the handlers above do not see it: in an
        # exception group (a task group of a parallel read) or as the context of an error raised
        # while cleaning up after it (a rollback on a connection that just died).
        p = fault_problem(exc)
        if p is not None:
            _note(exc, p)
            return problem_response(p)
        log.exception("unhandled error on %s %s", request.method, route_of(request))
        return problem_response(INTERNAL(_INTERNAL_DETAIL))


# What the access log and the metrics say of a request whose client left before its body had come.
CLIENT_GONE = 499

_INTERNAL_DETAIL = "terjadi kesalahan tak terduga di layanan ini (sudah dicatat di log)"
_HTTP_DETAIL = {404: "path ini tidak ada di layanan ini (periksa alamat dan /api/v1)", 405: "metode HTTP ini tidak dilayani untuk path ini"}


# Who hears of a database fault met while answering a request: app.infra.health registers
# itself (a log line when a fault starts and when it ends, gauges), so that operators are not
# told by a line per request (the access log has those). A listener, so that this module, below
# health, never imports it.
FaultListener = Callable[[str | None, BaseException, Problem], None]
fault_listeners: list[FaultListener] = []


def _note(exc: BaseException, p: Problem) -> None:
    kind = fault_kind(exc)
    for listener in fault_listeners:
        listener(kind, exc, p)


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


def describe(exc: BaseException) -> str:
    """`ConnectionRefusedError: [Errno 111] Connection refused`: the innermost error, one line,
    for logs and /readyz (never SQL or parameters)."""
    root = _root(exc)
    return f"{type(root).__name__}: {_first_line(root)}"


def unavailable(detail: str = "basis data tidak tersedia; coba lagi sebentar lagi") -> Problem:
    return UNAVAILABLE(detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


POOL_BUSY = "semua koneksi basis data sedang sibuk; coba lagi sebentar lagi"


class Fault:
    """What a failure of the database means for this process (fault_kind)."""

    UNAVAILABLE = "unavailable"  # server gone, refusing, shutting down, in recovery; connection broken
    READ_ONLY = "read-only"  # the server no longer takes writes: a primary demoted by a failover
    BUSY = "busy"  # pool exhausted, server out of connections or memory
    DISK_FULL = "disk-full"  # SQLSTATE 53100


def fault_kind(exc: BaseException) -> str | None:
    """The kind of database fault an error is (a Fault), or None for an error of the statement
    itself (a constraint, bad input, a bug). UNAVAILABLE and READ_ONLY mean the connection, and
    every other one to the same server, should not be used again (app.infra.db drops them)."""
    from asyncpg.exceptions import InterfaceError as DriverInterfaceError
    from asyncpg.exceptions import InternalClientError as DriverClientError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout):
        return Fault.BUSY
    # A full disk under the WAL makes the server panic: the error that says so can come wrapped
    # in the one about the connection it took down. Disk full wins, it is what to fix.
    if any(getattr(e, "sqlstate", None) == "53100" for e in _chain(exc)):
        return Fault.DISK_FULL
    state = sqlstate_of(exc)
    if state is not None:
        # 08: connection; 57P: shutting down, crashed, starting up or in recovery; 3D000: the
        # database does not exist (yet: a server being provisioned); 28: refused credentials.
        # The last two are mistakes of configuration rather than outages, but to the client
        # they are the same: come back later; the log says which.
        if state.startswith(("08", "57P", "28")) or state == "3D000":
            return Fault.UNAVAILABLE
        if state == "25006":  # read_only_sql_transaction: a standby, or a demoted primary
            return Fault.READ_ONLY
        if state in ("53300", "53200"):
            return Fault.BUSY
        return None
    # Connecting to a host that does not answer ends in a TimeoutError around the cancelled
    # connect (the innermost error is a CancelledError): as much an outage as a refusal.
    if any(isinstance(e, TimeoutError) for e in _chain(exc)):
        return Fault.UNAVAILABLE
    root = _root(exc)
    if isinstance(root, OSError | DriverClientError):
        # Connecting failed (refused, reset, no such socket, timed out), or the driver found the
        # connection's protocol in a state it cannot continue from (a server that vanished
        # mid-statement), or no host of a multi-host URL takes writes.
        return Fault.UNAVAILABLE
    if isinstance(root, DriverInterfaceError) and "closed" in str(root):
        return Fault.UNAVAILABLE
    return None


def database_problem(exc: BaseException) -> Problem | None:
    """What a database failure means for the client, or None for a fault of this service.

    Input PostgreSQL cannot store or compute with (SQLSTATE class 22: out-of-range numbers and
    dates, NUL or invalid bytes in text; the driver's own refusal to encode a value) is the
    client's error: 422, the failed statement rolled back and nothing is half-written. A
    database that is busy (pool exhausted), away or restarting (class 08, 57P, connection
    refused or reset), or read-only in a failover (25006) is 503 with Retry-After; a full disk
    (53100) is 507."""
    state = sqlstate_of(exc)
    if state is not None and state.startswith("22"):
        if state in ("22P05", "22021"):
            return INVALID("teks tidak boleh memuat karakter NUL (U+0000) atau karakter yang tidak sah")
        # asyncpg's refusal to encode an argument (22000) names it only by position, and
        # PostgreSQL's own message names the value: say what it was, never the SQL.
        reason = _first_line(_root(exc)) or "out of range"
        return INVALID(f"sebuah nilai di luar rentang yang dapat disimpan atau dihitung registri (PostgreSQL: {reason})")
    kind = fault_kind(exc)
    if kind == Fault.BUSY:
        if state is None:
            return unavailable(POOL_BUSY)
        return unavailable("basis data sedang sibuk; coba lagi sebentar lagi")
    if kind == Fault.UNAVAILABLE:
        return unavailable()
    if kind == Fault.READ_ONLY:
        return unavailable("basis data sedang tidak menerima penulisan (mungkin sedang berpindah ke primary baru); coba lagi sebentar lagi")
    if kind == Fault.DISK_FULL:
        return NO_SPACE("disk server basis data penuh; tidak ada yang ditulis. Coba lagi nanti", headers={"Retry-After": "60"})
    return None


def fault_problem(exc: BaseException) -> Problem | None:
    """database_problem for an error that may carry the database fault deeper: inside an
    exception group, or as the error during whose handling this one was raised."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen or len(seen) > 20:
            continue
        seen.add(id(e))
        p = database_problem(e)
        if p is not None and p.status >= 500:
            return p
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        for inner in (e.__cause__, e.__context__):
            if inner is not None:
                todo.append(inner)
    return None


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


if __name__ == "__main__":
    print(catalog_markdown(), end="")
