"""Guards on request bodies, applied before anything parses them: a body larger than the limit
gets 413 (so a huge or deeply nested JSON document cannot take the process down), and a body
sent to the JSON API under any other media type gets 415 (a client that posts form data or
plain text by mistake is told so, instead of having its bytes read as JSON).

A refusal is problem+json, except under a path prefix whose clients read another format: a
transport registers how its refusals are written (`REFUSALS`; the OpenRosa routes answer an
<OpenRosaResponse> the phone shows, app.openrosa.router)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from fastapi import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import Problem

_WRITES = frozenset({"POST", "PUT", "PATCH"})

# path prefix -> the response of a refusal there. Looked up per refusal, so a prefix registered
# after the middleware was built (routes are made before it) applies.
RenderRefusal = Callable[[Problem], Response]
REFUSALS: dict[str, RenderRefusal] = {}

# The few routes of the JSON API that take another media type (a partner's batch CSV,
# app/mitra): exact path -> the media types it takes (lower case, without parameters). Anything
# else sent there is refused 415 as elsewhere, naming what the route takes.
OTHER_MEDIA: dict[str, tuple[bytes, ...]] = {}


def is_json_media_type(value: bytes) -> bool:
    """application/json or any application/*+json, parameters (charset) allowed."""
    media = value.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class BodyGuard:
    def __init__(self, app: ASGIApp, max_bytes: int, json_prefix: str = "/api/", refusals: Mapping[str, RenderRefusal] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.json_prefix = json_prefix
        self.refusals = REFUSALS if refusals is None else refusals
        self.too_large = f"body permintaan paling besar {max_bytes} byte"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        content_type = None
        has_body = False
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = 0
                if length > self.max_bytes:
                    return await self._reject(scope, receive, send, 413, "Payload Too Large", self.too_large)
                has_body = has_body or length > 0
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"content-type":
                content_type = value
        if has_body and scope["method"] in _WRITES and scope["path"].startswith(self.json_prefix):
            other = OTHER_MEDIA.get(scope["path"])
            media = None if content_type is None else content_type.split(b";", 1)[0].strip().lower()
            if other is not None and media not in other:
                wanted = " atau ".join(m.decode() for m in other)
                sent = "tidak ada" if content_type is None else content_type.decode("latin-1")[:100]
                return await self._reject(
                    scope, receive, send, 415, "Unsupported Media Type", f"Content-Type harus {wanted} (yang dikirim: {sent})"
                )
            if other is None and (content_type is None or not is_json_media_type(content_type)):
                sent = "tidak ada" if content_type is None else content_type.decode("latin-1")[:100]
                return await self._reject(
                    scope,
                    receive,
                    send,
                    415,
                    "Unsupported Media Type",
                    f"Content-Type harus application/json: API ini menerima body JSON (yang dikirim: {sent})",
                )
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.too_large)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            # Raised where nothing turned it into a response (outside a route's body reading).
            await self._reject(scope, receive, send, 413, "Payload Too Large", self.too_large)

    async def _reject(self, scope: Any, receive: Any, send: Any, status: int, title: str, detail: str) -> None:
        path, root = scope["path"], scope.get("root_path") or ""
        if root and path.startswith(root):  # served under a proxy's prefix (--root-path)
            path = path[len(root) :]
        for prefix, render in self.refusals.items():
            if path.startswith(prefix):
                return await render(Problem(status, title, detail))(scope, receive, send)
        await _reject(send, status, title, detail)


class BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI's body reading passes it on as it is (any other
    exception there becomes a 400), and the problem handler answers 413."""

    def __init__(self, detail: str):
        super().__init__(413, detail)


async def _reject(send: Send, status: int, title: str, detail: str) -> None:
    # Answered below the app (no exception handler runs here); the same body as Problem.body().
    body = orjson.dumps(Problem(status, title, detail).body())
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
