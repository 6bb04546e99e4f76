"""OpenRosa 1.0 for ODK Collect, KoboCollect and Enketo, under `/openrosa/{key}/...`: the
enumerator's key is in the URL, as ODK Central does for app users, so a phone is set up from
one URL or QR code (`kumkm openrosa qr`).

A key in a URL is a secret in a place where secrets leak. These routes are plain Starlette
routes that name themselves by their template (`/openrosa/{key}/submission`) to the access
log and the metrics, which never see the filled-in path; errors never echo it; uvicorn's own
access log, when it is on, gets the path with the key replaced
(app.observability.logs.redact_secret_paths). The audit log records the key's id only.

They are not in the OpenAPI document: the protocol is OpenRosa's (XML documents, multipart
submissions), described in docs/openrosa.md. Answers are XML, errors included: an
`<OpenRosaResponse>` whose message the phone shows, in Indonesian, with the catalog's status."""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Match, Route

from app.core.errors import FORBIDDEN, NOT_FOUND, TOO_LARGE, UNAUTHORIZED, Problem, database_problem
from app.core.settings import settings
from app.openrosa import documents, multipart, service
from app.openrosa.xlsform import ENTITY_FILE, MEDIA_FILE, Form, loaded_forms
from app.registry import daftar
from app.security.authn import authenticate
from app.security.policy import authorize
from app.security.principal import Principal
from app.web.limits import REFUSALS, BodyTooLarge

PREFIX = "/openrosa/{key}"
_HEADERS = {"X-OpenRosa-Version": documents.OPENROSA_VERSION}
_SUBMISSION_HEADERS = {**_HEADERS, "X-OpenRosa-Accept-Content-Length": str(settings.max_body_bytes)}

# What the enumerator reads on the phone when a submission or download is refused, by the
# catalog's code; the API's own detail (naming each question) follows it.
_LEADS = {
    "invalid-input": "Data ditolak, periksa isian",
    "outside-scope": "Data ditolak: wilayah di luar wilayah tugas kunci ini",
    "content-conflict": "Data ditolak: instanceID ini sudah dipakai untuk data dengan isi lain",
    "state-conflict": "Perbaikan ditolak: data ini tidak sedang berstatus ditolak",
    "not-found": "Tidak ditemukan",
    "forbidden": "Ditolak: hanya pemegang kunci yang membuat data ini yang boleh memperbaikinya",
    "role-forbidden": "Kunci ini bukan kunci petugas pendataan (enumerator)",
    "unauthorized": "Kunci tidak dikenal, sudah dicabut atau kedaluwarsa; minta kunci baru ke dinas",
    "attachment-refused": "Lampiran ditolak: formulir PL-KUMKM tidak memakai foto atau berkas",
    "unsupported-media-type": "Kiriman bukan multipart/form-data",
    "payload-too-large": "Kiriman terlalu besar",
    "too-many-requests": "Server sedang penuh; kirim lagi sebentar lagi",
    "database-unavailable": "Server sedang sibuk; kirim lagi sebentar lagi",
    "server-busy": "Server sedang sibuk; kirim lagi sebentar lagi",
    "insufficient-storage": "Server kehabisan ruang; kirim lagi nanti",
}


def _message(p: Problem) -> str:
    lead = _LEADS.get(p.code, "Ditolak")
    detail = "; ".join(_field_message(e) for e in p.errors) if p.errors else p.detail
    # the title is the catalog's English reason phrase: never shown here
    return f"{lead}. {detail}" if detail else f"{lead}."


_MESSAGE_CHARS = 500


def _field_message(e: dict) -> str:
    """One field's message as the phone shows it: the message alone, since it starts with its
    field's name (docs/decisions.md), or with `field: ` before it when it does not (none of the
    service's own; a guard, so that every item names its field once). A field's name can be what
    the phone sent (an unknown question's element name): it is cut, and so is the message."""
    field, message = str(e.get("field")), str(e.get("message"))
    for name in (field, field.rsplit(".", 1)[-1]):
        if name and message.startswith(name) and not message[len(name) : len(name) + 1].isidentifier():
            return (service.cut(name) + message[len(name) :])[:_MESSAGE_CHARS]
    return f"{service.cut(field)}: {message[:_MESSAGE_CHARS]}"


def _xml(body: bytes, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body, status_code=status, media_type=documents.XML_MEDIA, headers=headers or _HEADERS)


def _problem(p: Problem, headers: dict) -> Response:
    return _xml(documents.response(_message(p), success=False), p.status, {**headers, **(p.headers or {})})


def _too_large() -> Problem:
    return TOO_LARGE(f"body paling besar {settings.max_body_bytes} byte")


def _refusal(p: Problem) -> Response:
    """A refusal of app.web.limits.BodyGuard under /openrosa/, before any route runs: XML
    like every answer here (registered in REFUSALS by routes())."""
    return _problem(_too_large() if p.status == 413 else p, _SUBMISSION_HEADERS)


def _answering(headers: dict = _HEADERS):
    """Catalog problems and database trouble as OpenRosa XML answers, with the same status and
    Retry-After as the JSON API gives them; anything else goes to the app's handler (a 500)."""

    def wrap(endpoint):
        async def run(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Problem as p:
                return _problem(p, headers)
            except BodyTooLarge:  # a body without Content-Length that outgrew the limit
                return _problem(_too_large(), headers)
            except Exception as exc:
                trouble = database_problem(exc)
                if trouble is None:
                    raise
                return _problem(trouble, headers)

        run.__name__ = endpoint.__name__
        return run

    return wrap


async def _principal(request: Request) -> Principal:
    principal = await authenticate(request.path_params["key"])
    if principal is None:
        # A Bearer challenge: the phone must not ask for a user name and password (the key
        # is the whole credential, and it is in the URL).
        raise UNAUTHORIZED(
            "kunci di URL server ini (pengaturan proyek di ODK Collect) tidak berlaku",
            headers={"WWW-Authenticate": 'Bearer realm="kumkm-openrosa"'},
        )
    request.scope.setdefault("state", {})["principal_id"] = principal.id  # the access log's key id
    authorize(principal, "record.post", doing="mengirim data pendataan")
    return principal


def _base(request: Request) -> str:
    """The absolute URL of this key's OpenRosa server, for the links of the form list and the
    manifest (a phone keeps them, key included). KUMKM_PUBLIC_URL when set; otherwise the
    address the request came in on, as the socket says (scope["server"]), never the Host
    header: that is the client's to choose, and links to a host of its choosing would carry
    the key there (docs/openrosa.md)."""
    key = request.path_params["key"]
    if settings.public_url:
        return f"{settings.public_url}/openrosa/{key}"
    return f"{_served_origin(request.scope)}{request.scope.get('root_path', '')}/openrosa/{key}"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _served_origin(scope: MutableMapping[str, Any]) -> str:
    scheme = scope.get("scheme", "http")
    host, port = scope.get("server") or ("localhost", None)
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a name (or a socket path): used as it is
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


async def _form(request: Request) -> Form:
    """The form the path names: the census form or the follow-up visit form."""
    forms = await loaded_forms()
    asked = request.path_params.get("form_id") or ""
    for f in forms:
        if asked == f.form_id:
            return f
    names = " dan ".join(f.form_id for f in forms)
    raise NOT_FOUND(f"form_id {service.cut(asked)} tidak ada: server ini punya formulir {names}")


def _media_files(f: Form) -> tuple[str, ...]:
    # the follow-up form reads the wilayah cascade and the entity list (docs/pemutakhiran.md)
    return (MEDIA_FILE, ENTITY_FILE) if f.entities else (MEDIA_FILE,)


@_answering()
async def form_list(request: Request) -> Response:
    await _principal(request)
    forms = await loaded_forms()
    wanted = request.query_params.get("formID")
    base = _base(request)
    listed = [
        (f.form_id, f.title, f.version, f.hash, f"{base}/forms/{f.form_id}/form.xml", f"{base}/forms/{f.form_id}/manifest")
        for f in forms
        if wanted is None or wanted == f.form_id
    ]
    return _xml(documents.form_list(listed))


@_answering()
async def form_xml(request: Request) -> Response:
    await _principal(request)
    return _xml((await _form(request)).xml)


def _entity_scope(principal: Any) -> str:
    """The wilayah of a key's usaha.csv: a kabupaten/kota or smaller. A provinsi's or the
    nation's list (millions of entities) would be built whole in a worker's memory for one
    phone, and no enumerator visits a whole provinsi: such a key gets no entity list."""
    scope = principal.kode_wilayah
    if scope is None or scope.count(".") < 1:
        raise FORBIDDEN(
            f"daftar entitas usaha.csv dibuat per kabupaten/kota: kunci ini mencakup {scope or 'seluruh Indonesia'}; "
            "pakai kunci enumerator sebuah kabupaten/kota untuk formulir pemutakhiran"
        )
    return scope


@_answering()
async def form_manifest(request: Request) -> Response:
    principal = await _principal(request)
    f = await _form(request)
    base = _base(request)
    files = []
    for name in _media_files(f):
        if name == MEDIA_FILE:
            _, digest = await service.media_csv(principal.kode_wilayah)
        else:
            digest = (await daftar.usaha_csv(_entity_scope(principal))).md5
        files.append((name, digest, f"{base}/forms/{f.form_id}/media/{name}"))
    return _xml(documents.manifest(files))


@_answering()
async def form_media(request: Request) -> Response:
    principal = await _principal(request)
    f = await _form(request)
    asked = request.path_params["filename"]
    files = _media_files(f)
    if asked not in files:
        have = f"satu berkas media, {MEDIA_FILE}" if len(files) == 1 else "berkas media " + " dan ".join(files)
        raise NOT_FOUND(f"filename {service.cut(asked)} tidak ada: formulir ini hanya punya {have}")
    if asked == ENTITY_FILE:
        # the list as the manifest hashed it (cached under its change key): its bytes as built
        built = await daftar.usaha_csv(_entity_scope(principal))
        return StreamingResponse(
            iter(built.chunks),
            media_type="text/csv; charset=utf-8",
            headers={**_HEADERS, "Content-Length": str(built.size)},
        )
    data, _ = await service.media_csv(principal.kode_wilayah)
    return Response(data, media_type="text/csv; charset=utf-8", headers=_HEADERS)


@_answering(_SUBMISSION_HEADERS)
async def submission(request: Request) -> Response:
    principal = await _principal(request)
    if request.method == "HEAD":
        # ODK Collect asks first, to learn the size limit (and that the key is good)
        return Response(status_code=204, headers=_SUBMISSION_HEADERS)
    # the key and its role are checked above and the media type here, before the body is read
    content_type = multipart.check_media_type(request.headers.get("content-type", "").encode("latin-1") or None)
    body, complete = await _body_start(request, service.SUBMISSION_READ_BYTES)
    instance = await service.read_submission(content_type, body, complete)
    accepted = await service.submit(instance, principal)
    return _xml(documents.response(accepted.message, success=True), accepted.status, _SUBMISSION_HEADERS)


async def _body_start(request: Request, limit: int) -> tuple[bytes, bool]:
    """The body, or its first `limit` bytes and more (False: not all of it)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), False
    return b"".join(chunks), True


class _NamedRoute(Route):
    """A plain Starlette route that names itself by its template in the request scope, as
    FastAPI's routes do, so that the access log and the metrics use the template."""

    def matches(self, scope):
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def routes() -> list[Route]:
    # the body guard's refusals (413) under these paths are XML too
    REFUSALS["/openrosa/"] = _refusal
    return [
        _NamedRoute(f"{PREFIX}/formList", form_list, methods=["GET"]),
        _NamedRoute(f"{PREFIX}/forms/{{form_id}}/form.xml", form_xml, methods=["GET"]),
        _NamedRoute(f"{PREFIX}/forms/{{form_id}}/manifest", form_manifest, methods=["GET"]),
        _NamedRoute(f"{PREFIX}/forms/{{form_id}}/media/{{filename}}", form_media, methods=["GET"]),
        _NamedRoute(f"{PREFIX}/submission", submission, methods=["HEAD", "POST"]),
    ]
