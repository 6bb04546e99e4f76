"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the ingest hot path): a request
id for every request, echoed as X-Request-ID, latency and status into the metrics, and one
JSON access line per request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from app.infra import health
from app.infra.load import counts, load
from app.observability import metrics
from app.observability.logs import request_id

access = logging.getLogger("kumkm.access")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Observe:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                rid = candidate if _VALID_ID.match(candidate) else None
                break
        rid = rid or uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        # the load the registry's background linker yields to (app.infra.load)
        counted = counts(scope["path"])
        if counted:
            load.enter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if counted:
                load.leave()
            elapsed = time.perf_counter() - start
            # a mounted app (the dashboard's static files) has no route, but its mount path
            route = getattr(scope.get("route"), "path", None) or scope.get("root_path") or "unmatched"
            method = scope["method"]
            if health.state.disk_full_since is not None and method in _WRITES and 200 <= status < 300:
                health.note_write_accepted()  # space was freed: say so, and the gauge drops
            metrics.REQUESTS.labels(method, route, str(status)).inc()
            metrics.LATENCY.labels(method, route).observe(elapsed)
            if access.isEnabledFor(logging.INFO):
                principal = scope.get("state", {}).get("principal_id")
                access.info(
                    "request",
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "key_id": principal,
                    },
                )
            request_id.reset(token)
