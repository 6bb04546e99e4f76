"""Hot routes served as plain Starlette routes ahead of FastAPI's routing.

FastAPI 0.165 finds a route by walking every included router's routes in turn, and then
resolves the route's dependencies and validates its answer through its response model: on a
request that does little else (a single record posted, a partner's look-up) that is a fifth of
the service's CPU (py-spy over `./dev bench mitra`). A lean route is matched first
(app.main puts it at the head of the routes) and calls the domain's service itself. The
documented APIRoute stays registered behind it, for the OpenAPI document, and, when the lean
route gives a request back (`fast` answers None), to answer it exactly as FastAPI would: its
body validation errors word for word."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Message, Receive, Scope, Send

# The request, and the response; None: not for the lean path, the full route answers it.
Fast = Callable[[Request], Awaitable[Response | None]]


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body the lean route already read, once, for the full route; then the client's own
    channel (a disconnect is still heard)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class LeanRoute(Route):
    """`fast` at `path` for `methods`, ahead of FastAPI's routing; `full`: the APIRoute whose
    own app answers what `fast` gives back. Metrics and the access log name the route by its
    path, as an APIRoute's."""

    def __init__(self, path: str, fast: Fast, *, methods: list[str], full: Any = None) -> None:
        self._fast = fast
        self._full = full
        super().__init__(path, self._endpoint, methods=methods, include_in_schema=False)

    async def _endpoint(self, request: Request) -> Response:  # the Route's own wrapper calls it
        raise AssertionError("LeanRoute.handle answers")  # pragma: no cover

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            await super().handle(scope, receive, send)  # 405, as Starlette answers it
            return
        request = Request(scope, receive, send)
        response = await self._fast(request)
        if response is None:
            if self._full is None:  # pragma: no cover - a lean route without a full one answers all
                raise AssertionError("a lean route gave back a request with no full route behind it")
            body = await request.body()
            await self._full.app(scope, _replay(body, receive), send)
            return
        await response(scope, receive, send)
